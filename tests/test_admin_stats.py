"""/stats and /broadcast: what an admin learns about the trainees, and what reaches them."""

from __future__ import annotations

import datetime as dt

from sqlalchemy.engine import Engine
from sqlmodel import select

from bot.emulator import TelegramEmulator
from content.loader import bundled_library
from storage.admin import collect_stats, progress_rows
from storage.db import session_scope
from storage.models import (
    Attempt,
    Delivery,
    DeliveryStatus,
    PlanKind,
    PollKind,
    Subscription,
    SubscriptionKind,
    SubscriptionStatus,
)
from tests.harness import ADMIN_ID, START, Harness, start_harness

UTC = dt.UTC


def add_trainee(engine: Engine, chat_id: int, status: SubscriptionStatus) -> int:
    with session_scope(engine) as session:
        sub = Subscription(
            kind=SubscriptionKind.trainee,
            chat_id=chat_id,
            user_id=chat_id,
            name=f"Trainee {chat_id}",
            status=status,
            plan_kind=PlanKind.track,
            plan_id="neuroradiology",
        )
        session.add(sub)
        session.flush()
        assert sub.id is not None
        return sub.id


def deliver(engine: Engine, sub_id: int, thread_id: str, items: list[str], at: dt.datetime) -> None:
    with session_scope(engine) as session:
        for seq, item in enumerate(items, 1):
            session.add(
                Delivery(
                    subscription_id=sub_id,
                    thread_id=thread_id,
                    item=item,
                    seq=seq,
                    installment=1,
                    status=DeliveryStatus.sent,
                    sent_at=at,
                )
            )


def answer(engine: Engine, user_id: int, question_id: str, correct: bool, at: dt.datetime) -> None:
    with session_scope(engine) as session:
        session.add(
            Attempt(
                user_id=user_id,
                poll_id=f"{user_id}-{question_id}-{at.timestamp()}",
                kind=PollKind.drip,
                thread_id="brocas-area",
                question_id=question_id,
                option_ids=[0],
                correct=correct,
                seconds_taken=5.0,
                answered_at=at,
            )
        )


def seed_activity(engine: Engine, now: dt.datetime) -> None:
    """Three active trainees, one of each other status; a week of drip and some answers."""
    ids = {
        chat: add_trainee(engine, chat, status)
        for chat, status in [
            (601, SubscriptionStatus.active),
            (602, SubscriptionStatus.active),
            (603, SubscriptionStatus.active),
            (604, SubscriptionStatus.paused),
            (605, SubscriptionStatus.blocked),
            (606, SubscriptionStatus.stopped),
        ]
    }
    yesterday = now - dt.timedelta(days=1)
    deliver(engine, ids[601], "brocas-area", ["h1", "p1", "p2", "p3", "end"], yesterday)
    deliver(engine, ids[602], "brocas-area", ["h1", "p1", "p2"], now - dt.timedelta(hours=1))
    deliver(engine, ids[603], "brocas-area", ["h1", "p1"], now - dt.timedelta(days=10))
    for user, correct in [(601, True), (602, False), (603, False)]:
        answer(engine, user, "q1", correct, yesterday)
    answer(engine, 601, "q2", True, yesterday)
    answer(engine, 602, "q2", True, yesterday + dt.timedelta(hours=2))


def test_stats_count_subscribers_deliveries_completions_and_hardest_questions(
    engine: Engine,
) -> None:
    seed_activity(engine, START)
    with session_scope(engine) as session:
        stats = collect_stats(session, bundled_library(), START)
    assert {k: stats.subscribers[k] for k in ("active", "paused", "blocked", "stopped")} == {
        "active": 3,
        "paused": 1,
        "blocked": 1,
        "stopped": 1,
    }
    assert stats.deliveries_last_7_days == 8  # the delivery ten days ago is not counted
    assert stats.installments_last_7_days == 2
    assert [count for _, count in stats.deliveries_by_day][-2:] == [5, 3]
    completions = {c.thread_id: c.completions for c in stats.completions}
    assert completions["brocas-area"] == 1 and completions["stroke-dating-mri"] == 0
    hardest, easiest = stats.questions
    assert (hardest.question_id, hardest.correct, hardest.attempts) == ("q1", 1, 3)
    assert (easiest.question_id, easiest.accuracy) == ("q2", 1.0)


def test_progress_has_one_row_per_trainee_per_thread(engine: Engine) -> None:
    seed_activity(engine, START)
    with session_scope(engine) as session:
        rows = progress_rows(session, bundled_library())
    by_user = {(r.user_id, r.thread_id): r for r in rows}
    assert set(by_user) == {(601, "brocas-area"), (602, "brocas-area"), (603, "brocas-area")}
    first = by_user[(601, "brocas-area")]
    assert (first.posts_delivered, first.questions_answered, first.accuracy) == (3, 2, 1.0)
    second = by_user[(602, "brocas-area")]
    assert second.accuracy == 0.5
    assert second.last_activity == START - dt.timedelta(hours=1)  # the later of post and answer


async def test_stats_command_sends_the_report_and_a_chart(harness: Harness) -> None:
    seed_activity(harness.engine, harness.now)
    await harness.send(ADMIN_ID, "/stats")
    report, chart = harness.messages(ADMIN_ID)[-2:]
    assert "active            3" in report.content
    assert "Deliveries, last 7 days: 8 messages in 2 installments" in report.content
    lines = report.content.splitlines()
    q1 = next(i for i, line in enumerate(lines) if " q1:" in line)
    q2 = next(i for i, line in enumerate(lines) if " q2:" in line)
    assert q1 < q2 and "33%" in lines[q1]
    assert chart.photo and chart.caption == "tweetdrip statistics"
    (call,) = [c for c in harness.emulator.calls if c.method == "sendPhoto"]
    assert call.ok


async def test_broadcast_reaches_active_trainees_counts_and_marks_the_blocked(
    emulator: TelegramEmulator, sqlite_engine: Engine
) -> None:
    for chat in (601, 602, 603, 604, 605):
        emulator.add_user(chat, f"Trainee {chat}")
        add_trainee(sqlite_engine, chat, SubscriptionStatus.active)
    emulator.block(605)
    emulator.add_user(606, "Paused")
    add_trainee(sqlite_engine, 606, SubscriptionStatus.paused)
    add_trainee(sqlite_engine, 607, SubscriptionStatus.active)  # a chat Telegram doesn't know
    text = "Journal club moves to Thursday.\nBring questions!"

    async with start_harness(emulator, sqlite_engine, broadcast_progress_every=2) as h:
        await h.send(ADMIN_ID, f"/broadcast {text}")

        for chat in (601, 602, 603, 604):
            assert h.texts(chat) == [text]
        assert h.messages(606) == []
        progress = h.last_message(ADMIN_ID)
        assert progress.content == (
            "📣 Broadcast finished: sent 4, blocked 1, failed 1 (of 6 subscribers)."
        )
        assert progress.edit_count >= 3  # after 2 and 4 sends, and at the end
        with session_scope(h.engine) as session:
            blocked = session.exec(select(Subscription).where(Subscription.chat_id == 605)).one()
        assert blocked.status == SubscriptionStatus.blocked and blocked.next_due_at is None


async def test_broadcast_without_text_or_subscribers_sends_nothing(harness: Harness) -> None:
    await harness.send(ADMIN_ID, "/broadcast")
    assert "Usage" in harness.last_message(ADMIN_ID).content
    await harness.send(ADMIN_ID, "/broadcast Hello")
    assert "no active subscribers" in harness.last_message(ADMIN_ID).content


async def test_editing_a_broadcast_does_not_send_it_again(harness: Harness) -> None:
    harness.emulator.add_user(601, "Trainee")
    add_trainee(harness.engine, 601, SubscriptionStatus.active)
    message = await harness.send(ADMIN_ID, "/broadcast Hello")
    replies = len(harness.messages(ADMIN_ID))
    edited = {**message, "text": "/broadcast Hello again", "edit_date": message["date"] + 5}
    harness.emulator.world.enqueue("edited_message", edited)
    await harness.settle()
    assert harness.texts(601) == ["Hello"]
    assert len(harness.messages(ADMIN_ID)) == replies  # no "unknown command" either


async def test_a_broadcast_reaches_trainees_exactly_as_the_admin_typed_it(
    harness: Harness,
) -> None:
    harness.emulator.add_user(601, "Trainee 601")
    add_trainee(harness.engine, 601, SubscriptionStatus.active)
    text = "Exam <b>moved</b> to room 3 & 4 — bring a pen <3"
    await harness.send(ADMIN_ID, f"/broadcast {text}")
    assert harness.texts(601) == [text]
    assert "entities" not in harness.messages(601)[0].data  # no bold: the tags are text
