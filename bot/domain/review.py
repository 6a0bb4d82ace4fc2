"""Spaced review with FSRS: every answered question becomes a card, graded from the answer.

Without a confidence rating, wrong is Again and right is Good. With "how sure were you?"
(`rating_for_answer`), a right answer that was guessed becomes Hard, and a right answer that
was sure, fast and on a mature card becomes Easy.

Reviews reach trainees at most once a day (with the installment, or when they ask with
/review), so the scheduler runs without FSRS's minute-long learning steps: a new card goes
straight to day-long intervals (Good: about 2 days, Again: 1 day) instead of "due in 10
minutes", which a daily drip would only turn into "tomorrow" anyway.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, Literal, get_args

from fsrs import Card, Rating, Scheduler, State

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


Confidence = Literal["guessed", "unsure", "sure"]
CONFIDENCES: tuple[Confidence, ...] = get_args(Confidence)

# Easy lengthens the next interval well beyond Good's, so it is kept for answers that show
# more than a right choice: the trainee was sure, answered without deliberating, and the
# card has already come back right over several weeks.
#
# "Fast": within the time it takes to read a typical question and its options once (about
# 60 words at 200 words a minute, ~18 s). Seconds are counted from when the poll was sent,
# so an answer given after opening the chat late is never fast; that only withholds Easy.
FAST_ANSWER_SECONDS = 20.0
# "Mature": FSRS expects 90% recall three weeks after the last review. Three weeks is the
# usual line between young and mature cards in spaced repetition; before it, one confident
# answer would stretch a memory that has been tested only once or twice.
MATURE_STABILITY_DAYS = 21.0


def is_mature(card: Card | None) -> bool:
    """Whether the card is in review with a stability of at least three weeks."""
    return (
        card is not None
        and card.state == State.Review
        and card.stability is not None
        and card.stability >= MATURE_STABILITY_DAYS
    )


def rating_for_answer(
    correct: bool,
    confidence: Confidence | None,
    seconds_taken: float | None,
    card: Card | None,
) -> Rating:
    """Grade an answer from whether it was right and how sure the trainee said they were.

    Wrong is Again whatever the confidence (a sure wrong answer is the one most worth
    relearning). Right but guessed is Hard: the choice was luck, not recall, and Hard keeps
    the next interval shorter than Good's without counting a lapse. Right and unsure is
    Good: the trainee found the answer, and "unsure" on a three- or four-option quiz mostly
    means the distractors were weighed; grading it Hard shortens every interval of a learner
    who under-rates themselves, which in simulation bought retention only as a higher
    retention setting does (docs/quizzes.md). Right and sure is Good, or Easy when the
    answer was also fast and the card mature. No confidence keeps the binary mapping.
    """
    if confidence is None or not correct:
        return rating_for(correct)
    if confidence == "guessed":
        return Rating.Hard
    if (
        confidence == "sure"
        and seconds_taken is not None
        and seconds_taken <= FAST_ANSWER_SECONDS
        and is_mature(card)
    ):
        return Rating.Easy
    return Rating.Good


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
    confidence: Confidence | None = None,
) -> ReviewResult:
    """Review a stored card (or a new one when `card` is empty) with the answer's rating.

    `confidence` is the trainee's "how sure were you?"; without it the rating is binary.
    """
    when = as_fsrs_utc(now)
    current = Card.from_dict(card) if card else new_card(card_id, when)  # type: ignore[arg-type]
    if current.card_id != card_id:
        current.card_id = card_id
    seconds = None if duration_ms is None else duration_ms / 1000
    rating = rating_for_answer(correct, confidence, seconds, current if card else None)
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
