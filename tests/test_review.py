"""Spaced review: every answer schedules a card with FSRS; cards come back on the day it says."""

from __future__ import annotations

import datetime as dt
from itertools import pairwise
from zoneinfo import ZoneInfo

import pytest
from fsrs import Card, Rating, Scheduler
from sqlalchemy.engine import Engine
from sqlmodel import select

from bot.domain.review import (
    as_fsrs_utc,
    review_answer,
    review_horizon,
    reviews_to_add,
    scheduler,
)
from bot.services.quiz import record_answer
from storage.db import session_scope
from storage.models import PollKind, PollRecord, ReviewCard, ReviewLogRecord
from storage.quiz import count_due_cards, due_cards

USER = 777
T0 = dt.datetime(2026, 1, 5, 8, 0, tzinfo=dt.UTC)


def test_a_new_card_answered_right_comes_back_in_two_days_wrong_tomorrow() -> None:
    right = review_answer(None, 1, True, T0, retention=0.9, fuzz=False)
    wrong = review_answer(None, 2, False, T0, retention=0.9, fuzz=False)
    assert right.due_at - T0 == dt.timedelta(days=2)
    assert wrong.due_at - T0 == dt.timedelta(days=1)
    assert (right.rating, wrong.rating) == (int(Rating.Good), int(Rating.Again))
    assert right.card["card_id"] == 1


def test_fsrs_gets_timezone_utc_even_from_a_zoneinfo_utc_clock() -> None:
    zoned = T0.astimezone(ZoneInfo("UTC"))
    with pytest.raises(ValueError, match="UTC"):
        scheduler(0.9).review_card(Card(card_id=1, due=T0), Rating.Good, zoned)
    result = review_answer(None, 1, True, zoned, retention=0.9, fuzz=False)
    assert result.reviewed_at.tzinfo is dt.UTC
    assert as_fsrs_utc(T0.astimezone(ZoneInfo("Asia/Tokyo"))) == T0


def test_a_higher_retention_brings_cards_back_sooner() -> None:
    card = review_answer(None, 1, True, T0, retention=0.9, fuzz=False)
    later = card.due_at
    relaxed = review_answer(card.card, 1, True, later, retention=0.8, fuzz=False)
    strict = review_answer(card.card, 1, True, later, retention=0.97, fuzz=False)
    assert strict.due_at < relaxed.due_at


def test_the_scheduler_is_built_once_per_retention() -> None:
    assert scheduler(0.9) is scheduler(0.9)
    assert scheduler(0.9) is not scheduler(0.85)


def test_a_card_due_this_morning_counts_for_the_whole_local_day() -> None:
    # Reviewed at 08:05, due two days later at 08:05: the 08:00 installment must include it.
    horizon = review_horizon(dt.datetime(2026, 1, 7, 8, 0, tzinfo=dt.UTC), "Europe/London")
    assert horizon == dt.datetime(2026, 1, 8, 0, 0, tzinfo=dt.UTC)
    # In Chicago 08:00 UTC on the 7th is still the 7th, which ends at 06:00 UTC on the 8th.
    chicago = review_horizon(dt.datetime(2026, 1, 7, 8, 0, tzinfo=dt.UTC), "America/Chicago")
    assert chicago == dt.datetime(2026, 1, 8, 6, 0, tzinfo=dt.UTC)


def test_reviews_per_day_are_capped() -> None:
    assert reviews_to_add(due=9, sent_today=0, max_per_day=5) == 5
    assert reviews_to_add(due=9, sent_today=4, max_per_day=5) == 1
    assert reviews_to_add(due=2, sent_today=0, max_per_day=5) == 2
    assert reviews_to_add(due=9, sent_today=7, max_per_day=5) == 0


def _poll(engine: Engine, poll_id: str, question_id: str, sent_at: dt.datetime) -> None:
    with session_scope(engine) as session:
        session.add(
            PollRecord(
                poll_id=poll_id,
                kind=PollKind.review,
                chat_id=USER,
                message_id=1,
                user_id=USER,
                thread_id="csf-leak-blood-patch",
                question_id=question_id,
                correct_option_ids=[0],
                sent_at=sent_at,
            )
        )


def _answer(engine: Engine, poll_id: str, option: int, at: dt.datetime) -> dt.datetime:
    with session_scope(engine) as session:
        outcome = record_answer(
            session.connection(), poll_id, USER, [option], at, retention=0.9, fuzz=False
        )
    assert outcome is not None
    return outcome.due_at


def test_stored_cards_follow_fsrs_day_by_day(engine: Engine) -> None:
    """Right, right, wrong, right over weeks of a virtual clock, stored between every step."""
    reference = Scheduler(learning_steps=(), relearning_steps=(), enable_fuzzing=False)
    expected = Card(card_id=1, due=T0)
    now = T0
    for step, option in enumerate([0, 0, 1, 0]):
        _poll(engine, f"p{step}", "q1", now)
        due = _answer(engine, f"p{step}", option, now + dt.timedelta(seconds=30))
        rating = Rating.Good if option == 0 else Rating.Again
        expected, _ = reference.review_card(expected, rating, now + dt.timedelta(seconds=30))
        assert due == expected.due
        with session_scope(engine) as session:
            # Not due the day before FSRS says; due on that day.
            day_before = due - dt.timedelta(days=1)
            assert count_due_cards(session, USER, review_horizon(day_before, "UTC")) == 0
            assert count_due_cards(session, USER, review_horizon(due, "UTC")) == 1
        now = due
    with session_scope(engine) as session:
        card = session.exec(select(ReviewCard)).one()
        logs = session.exec(select(ReviewLogRecord).order_by(ReviewLogRecord.id)).all()
    assert [log.rating for log in logs] == [3, 3, 1, 3]
    assert all(log.card_id == card.id for log in logs)
    assert all(log.review_duration_ms == 30_000 for log in logs)
    # The stored card is fsrs's own, so it can be re-optimised or rescheduled later.
    restored = Card.from_dict(card.card)  # type: ignore[arg-type]
    assert restored.card_id == card.id
    assert restored.due == card.due_at
    times = [log.reviewed_at for log in logs]
    assert [(b - a).days for a, b in pairwise(times)] == [2, 11, 2]


def test_due_cards_come_most_overdue_first(engine: Engine) -> None:
    for index, question in enumerate(["q1", "q2", "q3"]):
        sent = T0 + dt.timedelta(hours=index)
        _poll(engine, f"p-{question}", question, sent)
        _answer(engine, f"p-{question}", 1 if question == "q2" else 0, sent)
    with session_scope(engine) as session:
        tomorrow = review_horizon(T0 + dt.timedelta(days=1), "UTC")
        assert [c.question_id for c in due_cards(session, USER, tomorrow, 10)] == ["q2"]
        later = review_horizon(T0 + dt.timedelta(days=2), "UTC")
        assert [c.question_id for c in due_cards(session, USER, later, 10)] == ["q2", "q1", "q3"]
