"""Grading with "how sure were you?": the answer and the trainee's confidence pick the rating."""

from __future__ import annotations

import datetime as dt

import pytest
from fsrs import Card, Rating, State

from bot.domain.review import (
    CONFIDENCES,
    FAST_ANSWER_SECONDS,
    MATURE_STABILITY_DAYS,
    Confidence,
    ReviewResult,
    is_mature,
    rating_for,
    rating_for_answer,
    review_answer,
)

T0 = dt.datetime(2026, 3, 2, 8, 0, tzinfo=dt.UTC)
FAST = FAST_ANSWER_SECONDS - 5
SLOW = FAST_ANSWER_SECONDS + 30


def review_card(stability: float, state: State = State.Review) -> Card:
    """A card last reviewed `stability` days ago and due now."""
    return Card(
        card_id=1,
        state=state,
        stability=stability,
        difficulty=5.0,
        due=T0,
        last_review=T0 - dt.timedelta(days=round(stability)),
    )


MATURE = review_card(MATURE_STABILITY_DAYS + 9)
YOUNG = review_card(4.0)


@pytest.mark.parametrize("confidence", [None, *CONFIDENCES])
@pytest.mark.parametrize("card", [None, YOUNG, MATURE])
def test_a_wrong_answer_is_again_however_sure_the_trainee_was(
    confidence: Confidence | None, card: Card | None
) -> None:
    assert rating_for_answer(False, confidence, FAST, card) == Rating.Again


@pytest.mark.parametrize("card", [None, YOUNG, MATURE])
@pytest.mark.parametrize("seconds", [None, FAST, SLOW])
def test_without_a_confidence_the_rating_is_the_binary_one(
    card: Card | None, seconds: float | None
) -> None:
    assert rating_for_answer(True, None, seconds, card) == rating_for(True) == Rating.Good
    assert rating_for_answer(False, None, seconds, card) == rating_for(False) == Rating.Again


@pytest.mark.parametrize("card", [None, YOUNG, MATURE])
def test_a_lucky_guess_is_hard_even_when_fast_on_a_mature_card(card: Card | None) -> None:
    assert rating_for_answer(True, "guessed", FAST, card) == Rating.Hard


@pytest.mark.parametrize("card", [None, YOUNG, MATURE])
def test_right_but_unsure_is_good(card: Card | None) -> None:
    assert rating_for_answer(True, "unsure", FAST, card) == Rating.Good


def test_right_and_sure_is_easy_only_when_fast_on_a_mature_card() -> None:
    assert rating_for_answer(True, "sure", FAST, MATURE) == Rating.Easy
    assert rating_for_answer(True, "sure", SLOW, MATURE) == Rating.Good
    assert rating_for_answer(True, "sure", None, MATURE) == Rating.Good  # time unknown
    assert rating_for_answer(True, "sure", FAST, YOUNG) == Rating.Good
    assert rating_for_answer(True, "sure", FAST, None) == Rating.Good  # a first answer


def test_fast_and_mature_include_their_limits() -> None:
    at_limit = review_card(MATURE_STABILITY_DAYS)
    assert rating_for_answer(True, "sure", FAST_ANSWER_SECONDS, at_limit) == Rating.Easy
    assert rating_for_answer(True, "sure", FAST_ANSWER_SECONDS + 0.5, at_limit) == Rating.Good
    assert not is_mature(review_card(MATURE_STABILITY_DAYS - 0.5))


def test_a_card_relearning_after_a_lapse_is_not_mature() -> None:
    relearning = review_card(MATURE_STABILITY_DAYS + 9, state=State.Relearning)
    assert not is_mature(relearning)
    assert rating_for_answer(True, "sure", FAST, relearning) == Rating.Good


def test_a_guessed_right_answer_brings_the_card_back_sooner_than_a_plain_right_one() -> None:
    first = review_answer(None, 1, True, T0, retention=0.9, fuzz=False)
    later = first.due_at
    plain = review_answer(first.card, 1, True, later, retention=0.9, fuzz=False)
    guessed = review_answer(
        first.card, 1, True, later, retention=0.9, fuzz=False, confidence="guessed"
    )
    assert guessed.rating == int(Rating.Hard) and plain.rating == int(Rating.Good)
    assert guessed.due_at < plain.due_at


def test_a_sure_fast_answer_on_a_mature_card_is_easy_and_spaced_further() -> None:
    stored = dict(review_card(MATURE_STABILITY_DAYS + 9).to_dict())

    def review(confidence: Confidence, seconds: int) -> ReviewResult:
        return review_answer(
            stored,
            1,
            True,
            T0,
            retention=0.9,
            fuzz=False,
            duration_ms=seconds * 1000,
            confidence=confidence,
        )

    sure, unsure, slow = review("sure", 8), review("unsure", 8), review("sure", 60)
    assert (sure.rating, unsure.rating, slow.rating) == (
        int(Rating.Easy),
        int(Rating.Good),
        int(Rating.Good),
    )
    assert sure.due_at > unsure.due_at == slow.due_at


def test_a_first_answer_is_never_easy_however_quick_and_sure() -> None:
    result = review_answer(
        None, 1, True, T0, retention=0.9, fuzz=False, duration_ms=3_000, confidence="sure"
    )
    assert result.rating == int(Rating.Good)
    assert result.due_at - T0 == dt.timedelta(days=2)
