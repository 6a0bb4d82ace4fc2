"""Group quizzes survive a restart: a second bot on the same database and emulator picks the
session up (or ends it cleanly), and no question is ever asked twice."""

from __future__ import annotations

import datetime as dt
from collections import Counter

import pytest
from sqlalchemy.engine import Engine

from bot.clock import VirtualClock
from bot.emulator import TelegramEmulator
from bot.handlers import group as group_handlers
from bot.handlers.group import job_name, resume_group_sessions
from storage import groups as q
from storage.db import session_scope
from storage.models import GroupSessionStatus
from tests.harness import START, start_harness
from tests.test_group_quiz import (
    ALICE,
    BOB,
    CAROL,
    GROUP,
    _add_people,
    next_question,
    open_lobby,
    polls,
    right,
    session_row,
    start_game,
    tick,
    wrong,
)

SETTINGS = {"group_quiz_max_questions": 3}


def asked_questions(emulator: TelegramEmulator) -> list[str]:
    return [c.params["question"] for c in emulator.calls_of("sendPoll") if c.ok]


async def test_a_restart_mid_question_closes_it_and_goes_on_without_asking_twice(
    emulator: TelegramEmulator, sqlite_engine: Engine
) -> None:
    _add_people(emulator)
    clock = VirtualClock(START)
    async with start_harness(emulator, sqlite_engine, clock=clock, **SETTINGS) as h1:
        lobby = await open_lobby(h1)
        await start_game(h1, lobby, BOB)
        first = polls(h1)[-1]
        clock.advance(dt.timedelta(seconds=5))
        await h1.answer_poll(ALICE, first.poll["id"], right(first))
        assert job_name(session_row(h1).id) in {  # type: ignore[arg-type]
            j.name
            for j in h1.app.job_queue.jobs()  # type: ignore[union-attr]
        }
    # The bot is down while the first question's time runs out.
    clock.advance(dt.timedelta(seconds=40))

    async with start_harness(emulator, sqlite_engine, clock=clock, **SETTINGS) as h2:
        assert h2.app.post_init is not None
        await h2.app.post_init(h2.app)  # what run_polling/run_webhook do at start-up
        await h2.services.drain()
        assert len(polls(h2)) == 1  # nothing re-sent
        assert emulator.calls_of("stopPoll") == []  # Telegram closed it on time
        second = await next_question(h2)
        assert second.poll["question"].startswith("2/3 · ")
        clock.advance(dt.timedelta(seconds=3))
        await h2.answer_poll(ALICE, second.poll["id"], right(second))
        await h2.answer_poll(BOB, second.poll["id"], wrong(second))
        third = await next_question(h2)
        for user in (ALICE, BOB):
            await h2.answer_poll(user, third.poll["id"], right(third))
        clock.advance(dt.timedelta(seconds=10))
        await tick(h2)
        final = h2.last_message(GROUP).content
        row = session_row(h2)

    questions = asked_questions(emulator)
    assert [text.split(" · ")[0] for text in questions] == ["1/3", "2/3", "3/3"]
    assert max(Counter(questions).values()) == 1
    assert "Quiz over" in final and "🥇 Alice" in final
    assert row.status == GroupSessionStatus.finished and row.ended_reason == "completed"


async def test_a_question_claimed_but_not_recorded_before_a_crash_is_skipped_not_resent(
    emulator: TelegramEmulator, sqlite_engine: Engine
) -> None:
    _add_people(emulator)
    clock = VirtualClock(START)
    async with start_harness(emulator, sqlite_engine, clock=clock, **SETTINGS) as h1:
        lobby = await open_lobby(h1)
        await start_game(h1, lobby, BOB)
        first = polls(h1)[-1]
        for user in (ALICE, BOB):
            await h1.answer_poll(user, first.poll["id"], right(first))
        sid = session_row(h1).id
        assert sid is not None
    # The crash window: question 2 was marked as asked, then the process died, so nobody
    # knows whether its poll went out.
    clock.advance(dt.timedelta(seconds=10))
    with session_scope(sqlite_engine) as session:
        assert q.claim_question(
            session, sid, 1, clock.now(), clock.now() + dt.timedelta(seconds=45)
        )

    async with start_harness(emulator, sqlite_engine, clock=clock, **SETTINGS) as h2:
        await resume_group_sessions(h2.app)
        await h2.services.drain()
        assert len(polls(h2)) == 1  # question 2 is not sent (again)
        clock.advance(dt.timedelta(seconds=46))
        await tick(h2)
        third = await next_question(h2)
        assert third.poll["question"].startswith("3/3 · ")
    assert [t.split(" · ")[0] for t in asked_questions(emulator)] == ["1/3", "3/3"]


async def test_a_lobby_resumes_its_countdown_after_a_restart(
    emulator: TelegramEmulator, sqlite_engine: Engine
) -> None:
    _add_people(emulator)
    clock = VirtualClock(START)
    async with start_harness(emulator, sqlite_engine, clock=clock, **SETTINGS) as h1:
        lobby = await open_lobby(h1)
        await h1.press(BOB, lobby, "gq:join")
    clock.advance(dt.timedelta(seconds=60))
    async with start_harness(emulator, sqlite_engine, clock=clock, **SETTINGS) as h2:
        await resume_group_sessions(h2.app)
        row = session_row(h2)
        assert row.status == GroupSessionStatus.lobby
        jobs = h2.app.job_queue.get_jobs_by_name(job_name(row.id))  # type: ignore[union-attr, arg-type]
        assert len(jobs) == 1  # the countdown's timer, under its stable name
        clock.advance(dt.timedelta(seconds=60))
        await tick(h2)
        assert session_row(h2).status == GroupSessionStatus.running
        assert len(polls(h2)) == 1


async def test_a_session_left_too_long_ends_cleanly_with_its_standings(
    emulator: TelegramEmulator, sqlite_engine: Engine
) -> None:
    _add_people(emulator)
    clock = VirtualClock(START)
    async with start_harness(emulator, sqlite_engine, clock=clock, **SETTINGS) as h1:
        lobby = await open_lobby(h1)
        await start_game(h1, lobby, BOB, CAROL)
        first = polls(h1)[-1]
        clock.advance(dt.timedelta(seconds=3))
        await h1.answer_poll(CAROL, first.poll["id"], right(first))
    clock.advance(dt.timedelta(hours=2))
    async with start_harness(emulator, sqlite_engine, clock=clock, **SETTINGS) as h2:
        await resume_group_sessions(h2.app)
        await h2.services.drain()
        final = h2.last_message(GROUP).content
        row = session_row(h2)
    assert "Quiz interrupted" in final and "after 1 of 3 questions" in final
    assert "🥇 Carol — 19 pts" in final
    assert row.ended_reason == "interrupted" and row.active_chat_id is None
    assert len(asked_questions(emulator)) == 1


async def test_the_session_timer_runs_on_the_job_queue(
    emulator: TelegramEmulator, sqlite_engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The lobby edit after a quick second join is left to the session's JobQueue job."""
    monkeypatch.setattr(group_handlers, "LOBBY_EDIT_INTERVAL_SECONDS", 0.2)
    _add_people(emulator)
    async with start_harness(emulator, sqlite_engine, **SETTINGS) as h:
        lobby = await open_lobby(h)
        await h.press(BOB, lobby, "gq:join")
        await h.press(CAROL, lobby, "gq:join")
        await emulator.wait_for(
            lambda: "Alice, Bob, Carol" in emulator.message(GROUP, lobby.message_id).content,
            timeout=5,
        )
