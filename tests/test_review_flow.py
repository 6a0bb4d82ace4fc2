"""Due reviews reach the trainee with the daily installment and on demand with /review."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy.engine import Engine
from sqlmodel import select

from bot.emulator import TelegramEmulator
from storage.db import session_scope
from storage.models import Attempt, Delivery, PollKind, PollRecord, ReviewCard
from tests.harness import Harness, start_harness
from tests.test_quiz import (
    DAY1,
    TRAINEE,
    answer,
    first_installment,
    polls,
    right_option,
    wrong_option,
)

REVIEW_HEADER = "review"


def day(n: int, hour: int = 8) -> dt.datetime:
    return DAY1 + dt.timedelta(days=n - 1, hours=hour - 8)


def review_polls(h: Harness) -> list[Any]:
    with session_scope(h.engine) as session:
        ids = set(
            session.exec(select(PollRecord.poll_id).where(PollRecord.kind == PollKind.review))
        )
    return [m for m in polls(h) if m.poll["id"] in ids]


def since(h: Harness, count: int) -> list[Any]:
    return h.messages(TRAINEE)[count:]


async def test_due_reviews_come_with_the_installment_on_the_day_fsrs_says(
    harness: Harness,
) -> None:
    await first_installment(harness)
    q1, q2 = polls(harness)
    harness.advance(minutes=5)
    await answer(harness, q1, right_option(q1))  # right: back in two days
    await answer(harness, q2, wrong_option(q2))  # wrong: back tomorrow

    harness.clock.set(day(2))
    before = len(harness.messages(TRAINEE))
    await harness.dispatch()
    today = since(harness, before)
    header = next(m for m in today if "due" in m.content and "🔁" in m.content)
    assert "1 review due" in header.content
    reviews = review_polls(harness)
    assert [m.poll["question"] for m in reviews] == [q2.poll["question"]]
    # The review follows the installment's own questions, after the header.
    assert today.index(header) < today.index(reviews[0])
    assert today[-1].message_id == reviews[0].message_id

    await answer(harness, reviews[0], right_option(reviews[0]))
    with session_scope(harness.engine) as session:
        due_on = {c.question_id: c.due_at.date() for c in session.exec(select(ReviewCard))}
    assert due_on["q1"] == day(3).date()  # right on day 1: two days later
    harness.clock.set(day(3))
    before = len(harness.messages(TRAINEE))
    await harness.dispatch()
    today = since(harness, before)
    expected = sorted(q for q, due in due_on.items() if due <= day(3).date())
    header = next(m.content for m in today if "🔁" in m.content)
    assert f"{len(expected)} review" in header
    sent = [m.poll["question"] for m in review_polls(harness)[1:]]
    questions = {"q1": q1.poll["question"], "q2": q2.poll["question"]}
    assert sorted(sent) == sorted(questions[q] for q in expected)
    with session_scope(harness.engine) as session:
        kinds = [a.kind for a in session.exec(select(Attempt).order_by(Attempt.id))]
    assert kinds == [PollKind.drip, PollKind.drip, PollKind.review]


async def test_a_review_is_sent_once_a_day_and_the_day_is_capped(
    emulator: TelegramEmulator, sqlite_engine: Engine
) -> None:
    async with start_harness(emulator, sqlite_engine, max_reviews_per_day=1) as h:
        await first_installment(h)
        q1, q2 = polls(h)
        await answer(h, q1, wrong_option(q1))
        await answer(h, q2, wrong_option(q2))  # both wrong: both due tomorrow
        h.clock.set(day(2))
        await h.dispatch()
        assert len(review_polls(h)) == 1
        # A second installment the same day (/next) brings no second review.
        h.advance(minutes=30)
        await h.send(TRAINEE, "/next")
        assert len(review_polls(h)) == 1
        with session_scope(h.engine) as session:
            items = session.exec(select(Delivery.item).where(Delivery.item.startswith("r"))).all()
        assert sorted(i.split(":")[0] for i in items) == ["r", "rh"]
        # Next day the other card (and the unanswered one) come back, again within the cap.
        h.clock.set(day(3))
        await h.dispatch()
        assert len(review_polls(h)) == 2


async def test_review_asks_due_questions_one_at_a_time(harness: Harness) -> None:
    await first_installment(harness)
    q1, q2 = polls(harness)
    await answer(harness, q1, wrong_option(q1))
    await answer(harness, q2, wrong_option(q2))
    harness.clock.set(day(2, hour=7))  # before the installment
    await harness.send(TRAINEE, "/review")
    assert "2 reviews due today" in harness.messages(TRAINEE)[-2].content
    first = harness.last_message(TRAINEE)
    assert first.poll and first.poll["question"] == q1.poll["question"]
    await answer(harness, first, right_option(first))
    second = harness.last_message(TRAINEE)
    assert second.poll and second.poll["question"] == q2.poll["question"]
    await answer(harness, second, right_option(second))
    assert "That's all your reviews for today" in harness.last_message(TRAINEE).content
    # Both were answered right: the 08:00 installment brings no review.
    harness.clock.set(day(2))
    before = len(harness.messages(TRAINEE))
    await harness.dispatch()
    assert not any("🔁" in m.content for m in since(harness, before))
    await harness.send(TRAINEE, "/review")
    assert "No reviews due today" in harness.last_message(TRAINEE).content


async def test_review_points_at_reviews_already_waiting_in_the_chat(harness: Harness) -> None:
    await first_installment(harness)
    q1, _q2 = polls(harness)
    await answer(harness, q1, wrong_option(q1))
    harness.clock.set(day(2))
    await harness.dispatch()
    await harness.send(TRAINEE, "/review")
    assert "already waiting in the chat above" in harness.last_message(TRAINEE).content


async def test_review_before_any_answer_explains_itself(harness: Harness) -> None:
    await first_installment(harness)
    await harness.send(TRAINEE, "/review")
    assert "Nothing to review yet" in harness.last_message(TRAINEE).content
    with session_scope(harness.engine) as session:
        assert session.exec(select(ReviewCard)).all() == []
