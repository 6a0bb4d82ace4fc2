"""Spaced review with FSRS: every answered question becomes a card; wrong is Again, right Good.

Reviews reach trainees at most once a day (with the installment, or when they ask with
/review), so the scheduler runs without FSRS's minute-long learning steps: a new card goes
straight to day-long intervals (Good: about 2 days, Again: 1 day) instead of "due in 10
minutes", which a daily drip would only turn into "tomorrow" anyway.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from fsrs import Card, Rating, Scheduler

from bot.domain.timeparse import zone


@dataclass(frozen=True)
class ReviewResult:
    """The card after one review, ready to store."""

    card: dict[str, Any]  # fsrs Card.to_dict()
    due_at: dt.datetime  # aware UTC
    rating: int
    reviewed_at: dt.datetime
    duration_ms: int | None


def as_fsrs_utc(instant: dt.datetime) -> dt.datetime:
    """The same instant with `timezone.utc` as its tzinfo, the only one fsrs accepts."""
    if instant.tzinfo is None:
        raise ValueError("FSRS needs an aware datetime")
    # dt.UTC is timezone.utc; zoneinfo's "UTC" would be refused by review_card.
    return instant.astimezone(dt.UTC)


@lru_cache(maxsize=16)
def scheduler(retention: float, *, fuzz: bool = True) -> Scheduler:
    """One Scheduler per retention, built once (its parameters are validated on creation)."""
    return Scheduler(
        desired_retention=retention,
        learning_steps=(),
        relearning_steps=(),
        enable_fuzzing=fuzz,
    )


def rating_for(correct: bool) -> Rating:
    """Wrong answers are Again, right ones Good: a quiz cannot tell Hard from Easy."""
    return Rating.Good if correct else Rating.Again


def new_card(card_id: int, now: dt.datetime) -> Card:
    """A fresh card; the explicit id avoids fsrs's default (which sleeps 1 ms to make one)."""
    return Card(card_id=card_id, due=as_fsrs_utc(now))


def review_answer(
    card: dict[str, Any] | None,
    card_id: int,
    correct: bool,
    now: dt.datetime,
    *,
    retention: float,
    duration_ms: int | None = None,
    fuzz: bool = True,
) -> ReviewResult:
    """Review a stored card (or a new one when `card` is empty) with the answer's rating."""
    when = as_fsrs_utc(now)
    current = Card.from_dict(card) if card else new_card(card_id, when)  # type: ignore[arg-type]
    if current.card_id != card_id:
        current.card_id = card_id
    rating = rating_for(correct)
    updated, _log = scheduler(retention, fuzz=fuzz).review_card(
        current, rating, when, review_duration=duration_ms
    )
    return ReviewResult(
        card=dict(updated.to_dict()),
        due_at=as_fsrs_utc(updated.due),
        rating=int(rating),
        reviewed_at=when,
        duration_ms=duration_ms,
    )


def review_horizon(now: dt.datetime, timezone: str) -> dt.datetime:
    """The end of the trainee's local day: a card due any time today is reviewed today.

    FSRS intervals are whole days from the last review, so a card answered at 08:05 is due
    at 08:05 two days later; an 08:00 installment must still count it as due that day.
    """
    tz = zone(timezone)
    local = now.astimezone(tz)
    tomorrow = local.date() + dt.timedelta(days=1)
    return dt.datetime.combine(tomorrow, dt.time(0), tzinfo=tz).astimezone(dt.UTC)


def local_day_start(now: dt.datetime, timezone: str) -> dt.datetime:
    """The trainee's local midnight that began today, as UTC."""
    tz = zone(timezone)
    today = now.astimezone(tz).date()
    return dt.datetime.combine(today, dt.time(0), tzinfo=tz).astimezone(dt.UTC)


def reviews_to_add(due: int, sent_today: int, max_per_day: int) -> int:
    """How many due reviews may still go out today."""
    return max(0, min(due, max_per_day - sent_today))
