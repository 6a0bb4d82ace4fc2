"""Live group quizzes, played through the fake Bot API: lobby, timed polls, scores, /stopquiz,
leaderboards, and sessions that survive a restart."""

from __future__ import annotations

import datetime as dt
from collections.abc import AsyncIterator
from typing import Any

import pytest
from sqlalchemy.engine import Engine
from sqlmodel import select

from bot.clock import VirtualClock
from bot.emulator import TelegramEmulator
from bot.handlers.group import run_group_tick
from storage.db import session_scope
from storage.models import Attempt, GroupAnswer, GroupSession, GroupSessionStatus, PollRecord
from tests.harness import START, Harness, start_harness

GROUP = -1001000000001
OTHER_GROUP = -1001000000002
ALICE, BOB, CAROL, DAVE, ADMIN, STRANGER = 11, 12, 13, 14, 15, 16
NAMES = {ALICE: "Alice", BOB: "Bob", CAROL: "Carol", DAVE: "Dave", ADMIN: "Ada", STRANGER: "Sam"}
THREAD = "csf-leak-blood-patch"


def _add_people(emulator: TelegramEmulator) -> None:
    emulator.add_chat(GROUP, "supergroup", "Neuroradiology residents")
    emulator.add_chat(OTHER_GROUP, "supergroup", "Night shift")
    for user_id, name in NAMES.items():
        emulator.add_user(user_id, name)
        emulator.set_member(GROUP, user_id, "member")
    emulator.set_member(GROUP, ADMIN, "administrator")


@pytest.fixture
async def gh(emulator: TelegramEmulator, sqlite_engine: Engine) -> AsyncIterator[Harness]:
    """The shared harness, with three questions a session."""
    _add_people(emulator)
    async with start_harness(emulator, sqlite_engine, group_quiz_max_questions=3) as h:
        yield h


@pytest.fixture
async def gh_both(emulator: TelegramEmulator, engine: Engine) -> AsyncIterator[Harness]:
    """Like `gh`, on SQLite and on PostgreSQL (when TEST_DATABASE_URL is set)."""
    _add_people(emulator)
    async with start_harness(emulator, engine, group_quiz_max_questions=2) as h:
        yield h


# --- helpers ---------------------------------------------------------------------------------


async def say(h: Harness, user_id: int, text: str, chat_id: int = GROUP) -> Any:
    await h.send(user_id, text, chat_id=chat_id)
    return h.last_message(chat_id)


def session_row(h: Harness, chat_id: int = GROUP) -> GroupSession:
    with session_scope(h.engine) as session:
        return session.exec(
            select(GroupSession)
            .where(GroupSession.chat_id == chat_id)
            .order_by(GroupSession.id.desc())  # type: ignore[union-attr]
        ).first()  # type: ignore[return-value]


def polls(h: Harness, chat_id: int = GROUP) -> list[Any]:
    return [m for m in h.messages(chat_id) if m.poll is not None]


def right(poll_message: Any) -> list[int]:
    return list(poll_message.poll["correct_option_ids"])


def wrong(poll_message: Any) -> list[int]:
    correct = set(poll_message.poll["correct_option_ids"])
    return [next(i for i in range(len(poll_message.poll["options"])) if i not in correct)]


async def tick(h: Harness, chat_id: int = GROUP) -> dt.datetime | None:
    """Run the session's timer now (as its JobQueue job would) and wait for its sends."""
    due = await run_group_tick(h.app, session_row(h, chat_id).id)  # type: ignore[arg-type]
    await h.services.drain()
    return due


async def open_lobby(h: Harness, args: str = THREAD, starter: int = ALICE) -> Any:
    lobby = await say(h, starter, f"/groupquiz {args}".strip())
    assert lobby.callback_data, lobby.content
    return lobby


async def join(h: Harness, lobby: Any, *users: int) -> None:
    for user in users:
        await h.press(user, lobby, "gq:join")


async def start_game(h: Harness, lobby: Any, *others: int, starter: int = ALICE) -> None:
    await join(h, lobby, *others)
    await h.press(starter, lobby, "gq:start")


async def next_question(h: Harness) -> Any:
    """Let the pause between questions pass and return the poll that follows."""
    before = len(polls(h))
    h.advance(seconds=10)
    await tick(h)
    assert len(polls(h)) == before + 1
    return polls(h)[-1]


# --- the tests -------------------------------------------------------------------------------


async def test_a_full_session_scores_speed_and_correctness_and_ends_with_standings(
    gh: Harness,
) -> None:
    lobby = await open_lobby(gh)
    assert "csf leaks" in lobby.content.lower() and "3 questions · 30 s each" in lobby.content
    await start_game(gh, lobby, BOB, CAROL, DAVE)
    started = gh.emulator.message(GROUP, lobby.message_id)
    assert "Started with 4 players: Alice, Bob, Carol, Dave" in started.content
    assert not started.callback_data  # the buttons are gone

    poll = polls(gh)[-1]
    for number in range(1, 4):
        assert poll.poll["question"].startswith(f"{number}/3 · ")
        assert poll.poll["type"] == "quiz" and poll.poll["is_anonymous"] is False
        assert poll.poll["open_period"] == 30
        # Alice is right after 2 s, Carol wrong after 5 s, Bob right after 10 s; Dave never answers.
        gh.advance(seconds=2)
        await gh.answer_poll(ALICE, poll.poll["id"], right(poll))
        gh.advance(seconds=3)
        await gh.answer_poll(CAROL, poll.poll["id"], wrong(poll))
        gh.advance(seconds=5)
        await gh.answer_poll(BOB, poll.poll["id"], right(poll))
        assert len(polls(gh)) == number  # Dave has not answered: the question stays open
        gh.advance(seconds=20)  # 30 s after the poll went out
        await tick(gh)
        if number < 3:
            poll = await next_question(gh)
    assert gh.emulator.calls_of("stopPoll") == []  # every question ran its full time
    gh.advance(seconds=3)  # a moment to read the last answer, then the standings
    await tick(gh)

    final = gh.last_message(GROUP).content
    assert "Quiz over" in final and "3 questions · 4 players" in final
    lines = [line for line in final.splitlines() if " pts · " in line]
    # 10 + round(10 * 28/30) = 19 a question for Alice; 10 + round(10 * 20/30) = 17 for Bob.
    assert lines == [
        "🥇 Alice — 57 pts · 3/3 right · 6.0 s",
        "🥈 Bob — 51 pts · 3/3 right · 30.0 s",
        "🥉 Carol — 0 pts · 0/3 right · 15.0 s",
        "4. Dave — 0 pts · 0/3 right · 90.0 s",
    ]
    row = session_row(gh)
    assert row.status == GroupSessionStatus.finished and row.ended_reason == "completed"
    assert row.active_chat_id is None
    with session_scope(gh.engine) as session:
        assert len(session.exec(select(GroupAnswer)).all()) == 9
        kinds = {r.kind for r in session.exec(select(PollRecord)).all()}
        # Group answers are the group's: they do not enter anyone's private quiz record.
        assert session.exec(select(Attempt)).all() == []
    assert kinds == {"group"}
    assert not gh.app.job_queue.get_jobs_by_name(f"groupquiz:{row.id}")  # type: ignore[union-attr]


async def test_a_question_closes_early_with_stop_poll_when_every_player_has_answered(
    gh: Harness,
) -> None:
    lobby = await open_lobby(gh)
    await start_game(gh, lobby, BOB)
    poll = polls(gh)[-1]
    gh.advance(seconds=4)
    await gh.answer_poll(BOB, poll.poll["id"], right(poll))
    assert gh.emulator.calls_of("stopPoll") == []
    gh.advance(seconds=1)
    await gh.answer_poll(ALICE, poll.poll["id"], wrong(poll))
    stops = gh.emulator.calls_of("stopPoll")
    assert [c.params["message_id"] for c in stops] == [poll.message_id]
    assert gh.emulator.poll(poll.poll["id"]).is_closed

    # The next question follows after a short pause, not after the 30 s.
    gh.advance(seconds=2)
    await tick(gh)
    assert len(polls(gh)) == 1
    second = await next_question(gh)
    assert second.poll["question"].startswith("2/3 · ")


async def test_someone_who_missed_the_lobby_joins_by_answering(gh: Harness) -> None:
    lobby = await open_lobby(gh)
    await start_game(gh, lobby, BOB)
    poll = polls(gh)[-1]
    gh.advance(seconds=3)
    await gh.answer_poll(CAROL, poll.poll["id"], right(poll))
    gh.advance(seconds=30)
    await tick(gh)
    await gh.send(ALICE, "/stopquiz", chat_id=GROUP)
    final = gh.last_message(GROUP).content
    assert "🥇 Carol — 19 pts · 1/1 right · 3.0 s" in final


async def test_answers_after_a_question_closed_do_not_count(gh: Harness) -> None:
    lobby = await open_lobby(gh)
    await start_game(gh, lobby, BOB, CAROL)
    first = polls(gh)[-1]
    gh.advance(seconds=31)
    await tick(gh)  # closed on our side; Telegram's own timer has not run in the test
    await gh.answer_poll(BOB, first.poll["id"], right(first))
    with session_scope(gh.engine) as session:
        assert session.exec(select(GroupAnswer)).all() == []


async def test_only_the_starter_or_a_group_admin_can_stop_the_quiz(gh: Harness) -> None:
    lobby = await open_lobby(gh)
    await start_game(gh, lobby, BOB)
    poll = polls(gh)[-1]
    gh.advance(seconds=5)
    await gh.answer_poll(BOB, poll.poll["id"], right(poll))

    refusal = await say(gh, STRANGER, "/stopquiz")
    assert "Only Alice (who started it) or a group admin can stop this quiz" in refusal.content
    refusal = await say(gh, BOB, "/stopquiz")
    assert "Only Alice" in refusal.content
    assert session_row(gh).status == GroupSessionStatus.running

    stopped = await say(gh, ALICE, "/stopquiz")
    assert "Quiz stopped by Alice after 1 of 3 questions" in stopped.content
    assert "🥇 Bob — 18 pts · 1/1 right · 5.0 s" in stopped.content  # 10 + round(10 * 25/30)
    assert [c.params["message_id"] for c in gh.emulator.calls_of("stopPoll")] == [poll.message_id]
    assert session_row(gh).ended_reason == "stopped"

    # A group admin who did not start it may stop the next one (asked with getChatMember).
    lobby = await open_lobby(gh, starter=BOB)
    await start_game(gh, lobby, CAROL, starter=BOB)
    stopped = await say(gh, ADMIN, "/stopquiz")
    assert "Quiz stopped by Ada after 1 of 3 questions" in stopped.content
    checks = gh.emulator.calls_of("getChatMember")
    assert {(c.params["user_id"], c.result["status"]) for c in checks} >= {
        (STRANGER, "member"),
        (ADMIN, "administrator"),
    }


async def test_stopping_in_the_lobby_calls_the_quiz_off(gh: Harness) -> None:
    lobby = await open_lobby(gh)
    await say(gh, ALICE, "/stopquiz")
    assert "called off by Alice" in gh.last_message(GROUP).content
    assert not gh.emulator.message(GROUP, lobby.message_id).callback_data
    assert session_row(gh).status == GroupSessionStatus.finished
    assert polls(gh) == []


async def test_one_session_per_group_at_a_time(gh: Harness) -> None:
    lobby = await open_lobby(gh)
    again = await say(gh, BOB, "/groupquiz csf-leaks")
    assert "A quiz is waiting for players here already" in again.content
    assert again.reply_to_message_id == lobby.message_id
    await start_game(gh, lobby, BOB)
    again = await say(gh, CAROL, "/groupquiz")
    assert "A quiz is on here already" in again.content
    # Another group is free to play at the same time.
    other = await say(gh, CAROL, "/groupquiz csf-leaks", chat_id=OTHER_GROUP)
    assert other.callback_data
    with session_scope(gh.engine) as session:
        active = session.exec(
            select(GroupSession).where(GroupSession.status != GroupSessionStatus.finished)
        ).all()
    assert sorted(s.chat_id for s in active) == sorted([GROUP, OTHER_GROUP])


async def test_ties_share_a_place_and_the_leaderboard_sums_finished_sessions(
    gh: Harness,
) -> None:
    async def play(answers: dict[int, bool]) -> None:
        lobby = await open_lobby(gh)
        await start_game(gh, lobby, *[u for u in answers if u != ALICE])
        for number in range(3):
            poll = polls(gh)[-1]
            gh.advance(seconds=6)  # everyone answers at the same instant
            for user, is_right in answers.items():
                await gh.answer_poll(
                    user, poll.poll["id"], right(poll) if is_right else wrong(poll)
                )
            if number < 2:
                await next_question(gh)
        gh.advance(seconds=8)
        await tick(gh)

    await play({ALICE: True, BOB: True, CAROL: False})
    final = gh.last_message(GROUP).content
    assert "🥇 Alice — 54 pts" in final and "🥇 Bob — 54 pts" in final
    assert "🥉 Carol — 0 pts" in final  # places 1, 1, 3
    assert "🥈" not in final

    await play({ALICE: False, BOB: True, CAROL: True})
    board = (await say(gh, DAVE, "/leaderboard")).content
    lines = [line for line in board.splitlines() if " pts · " in line]
    assert "2 quizzes" in board.splitlines()[0]
    assert lines == [
        "🥇 Bob — 108 pts · 6 right · 2 quizzes · 36.0 s",
        "🥈 Alice — 54 pts · 3 right · 2 quizzes · 36.0 s",
        "🥈 Carol — 54 pts · 3 right · 2 quizzes · 36.0 s",
    ]


async def test_leaderboard_before_any_quiz_says_how_to_start(gh: Harness) -> None:
    board = await say(gh, ALICE, "/leaderboard")
    assert "No finished quizzes in this group yet" in board.content


async def test_the_lobby_starts_by_itself_after_the_countdown_or_is_called_off(
    gh: Harness,
) -> None:
    lobby = await open_lobby(gh)
    assert "starts in 2 min if at least 2 players joined" in lobby.content
    gh.advance(seconds=119)
    await tick(gh)
    assert session_row(gh).status == GroupSessionStatus.lobby
    gh.advance(seconds=1)
    await tick(gh)
    assert (
        "Not enough players joined (1 of 2 needed)"
        in gh.emulator.message(GROUP, lobby.message_id).content
    )
    assert session_row(gh).ended_reason == "cancelled"

    lobby = await open_lobby(gh)
    await join(gh, lobby, BOB)
    gh.advance(seconds=120)
    await tick(gh)
    assert len(polls(gh)) == 1 and session_row(gh).status == GroupSessionStatus.running


async def test_lobby_buttons_join_leave_and_start_only_for_the_starter(gh: Harness) -> None:
    lobby = await open_lobby(gh)
    query = await gh.press(BOB, lobby, "gq:join")
    assert "You're in! 2 players so far." in gh.emulator.callback_answer(query)["text"]
    query = await gh.press(BOB, lobby, "gq:start")
    assert (
        "Only Alice or a group admin can start early" in gh.emulator.callback_answer(query)["text"]
    )
    query = await gh.press(BOB, lobby, "gq:leave")
    assert "You left" in gh.emulator.callback_answer(query)["text"]
    query = await gh.press(ALICE, lobby, "gq:start")
    assert "Waiting for at least 2 players (1 so far)" in gh.emulator.callback_answer(query)["text"]
    assert polls(gh) == []
    await join(gh, lobby, CAROL)
    await tick(gh)
    assert "Players (2): Alice, Carol" in gh.emulator.message(GROUP, lobby.message_id).content


async def test_without_a_topic_a_thread_is_picked_and_named(gh: Harness) -> None:
    lobby = await say(gh, ALICE, "/groupquiz")
    assert "No topic given, so I picked this one" in lobby.content
    row = session_row(gh)
    assert row.plan_kind == "thread" and row.title in lobby.content
    assert len(row.questions) == 3


async def test_seconds_per_question_can_be_set_per_session(gh: Harness) -> None:
    lobby = await open_lobby(gh, "csf-leaks 20")
    assert "3 questions · 20 s each" in lobby.content
    await start_game(gh, lobby, BOB)
    assert polls(gh)[-1].poll["open_period"] == 20


async def test_an_unknown_or_ambiguous_topic_gets_the_list_to_choose_from(gh: Harness) -> None:
    reply = await say(gh, ALICE, "/groupquiz csf")
    assert "Which one do you mean by “csf”" in reply.content
    assert "csf-leaks" in reply.content and "csf-leak-blood-patch" in reply.content
    reply = await say(gh, ALICE, "/groupquiz knitting")
    assert "brocas-area" in reply.content
    reply = await say(gh, ALICE, "/groupquiz csf-leaks 2")
    assert "between 5 and 600" in reply.content
    assert session_row(gh) is None


async def test_group_commands_in_a_private_chat_explain_where_they_work(gh: Harness) -> None:
    for command in ("/groupquiz", "/stopquiz"):
        await gh.send(ALICE, command)
        assert "add me to a group and send /groupquiz there" in gh.last_message(ALICE).content
    await gh.send(ALICE, "/leaderboard")
    assert "Leaderboards belong to groups" in gh.last_message(ALICE).content


async def test_a_fast_group_never_gets_more_than_twenty_requests_a_minute(
    sqlite_engine: Engine,
) -> None:
    """Ten questions everyone answers within a second: the pacing, not the rate limiter,
    keeps the group within Telegram's 20 messages a minute."""
    clock = VirtualClock(START)
    async with TelegramEmulator(clock=clock.now) as emulator:
        _add_people(emulator)
        async with start_harness(
            emulator, sqlite_engine, clock=clock, group_quiz_max_questions=10
        ) as h:
            lobby = await open_lobby(h, "csf-leaks")
            await start_game(h, lobby, BOB, CAROL)
            while session_row(h).status == GroupSessionStatus.running:
                poll = polls(h)[-1]
                if not emulator.poll(poll.poll["id"]).is_closed:
                    h.advance(seconds=1)
                    for user in (ALICE, BOB, CAROL):
                        await h.answer_poll(user, poll.poll["id"], right(poll))
                h.advance(seconds=1)  # tick every second: as eager as a timer could be
                await tick(h)
            await say(h, DAVE, "/leaderboard")
    assert len(polls(h)) == 10 and len(emulator.calls_of("stopPoll")) == 10
    times = sorted(c.at for c in emulator.calls if c.chat_id == GROUP)
    minute = dt.timedelta(minutes=1)
    busiest = max(sum(1 for t in times if start <= t < start + minute) for start in times)
    assert busiest <= 20


async def test_a_group_admin_may_start_early(gh: Harness) -> None:
    lobby = await open_lobby(gh)
    await join(gh, lobby, BOB)
    query = await gh.press(ADMIN, lobby, "gq:start")
    assert gh.emulator.callback_answer(query)["text"] == "Starting!"
    assert len(polls(gh)) == 1
    assert not gh.emulator.message(GROUP, lobby.message_id).callback_data


async def test_a_session_plays_through_on_sqlite_and_postgresql(gh_both: Harness) -> None:
    h = gh_both
    lobby = await open_lobby(h)
    await start_game(h, lobby, BOB)
    for number in range(2):
        poll = polls(h)[-1]
        h.advance(seconds=3)
        await h.answer_poll(BOB, poll.poll["id"], right(poll))
        await h.answer_poll(ALICE, poll.poll["id"], wrong(poll))
        if number == 0:
            await next_question(h)
    h.advance(seconds=10)
    await tick(h)
    final = h.last_message(GROUP).content
    assert "Quiz over" in final and "🥇 Bob — 38 pts · 2/2 right · 6.0 s" in final
    assert len(h.emulator.calls_of("stopPoll")) == 2
    board = (await say(h, CAROL, "/leaderboard")).content
    assert "🥇 Bob — 38 pts · 2 right · 1 quiz · 6.0 s" in board
