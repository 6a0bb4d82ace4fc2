"""Simulate 60 days of spaced review graded right/wrong vs graded with "how sure were you?".

Run: .venv/bin/python benchmarks/bench_confidence.py [--learners 200] [--seeds 1 2 3 4 5]

The learners are simulated; nothing here is measured on people. Each learner answers the
25 questions of the `csf-leaks` track (its real option counts decide the odds of a lucky
guess), five new questions a day for five days, then every review the real fsrs Scheduler
asks for (`bot.domain.review.scheduler` at the bot's default retention), once a day, for
60 days.

What the simulated learner knows (the "truth", hidden from the scheduler):

- Each learner-question has a true stability S (days) and a true difficulty D (1-10).
  Recall after t days follows FSRS's own power curve, R = (1 + F t / S) ** -0.1542, where
  S is the time to 90% recall. S starts at 2 days times a lognormal spread (sigma 0.8)
  and D is uniform in 2-9, so learners and questions differ.
- Answering is a retrieval: with probability R the learner recalls and answers right;
  otherwise they guess, right with probability 1/k on a k-option question (1/(2**k - 1)
  when several options are correct). Either way they then read the explanation.
- The true memory changes with each retrieval by FSRS-6's formulas with its default
  parameters: a recall lengthens S (more when R was lower), a failed recall, lucky guess or
  not, sets S to the post-lapse stability. The scheduler starts from its own defaults and
  only sees the ratings, so it has to infer S and D, as it does with real trainees.
- Confidence: the learner feels a strength of R (or about 0.15 when guessing) plus their
  own bias (normal, sd 0.1) plus noise (normal, sd 0.15) and says "sure" from 0.75,
  "unsure" from 0.4, else "guessed". Answer time is lognormal around 8 + 30 * (1 - felt
  strength) seconds, so sure answers are mostly under the 20 s that counts as fast.

Grading: "binary" is wrong Again, right Good. "confidence" is
`bot.domain.review.rating_for_answer`. "unsure = Hard" is the variant that grades a right
but unsure answer Hard, to compare. "30% untapped" leaves the confidence out of 30% of
answers (those fall back to binary). "binary, retention +0.01" asks the scheduler for 91%
instead of 90%, to show what a small change of the retention setting does in the same model.
Reported: reviews per learner over the 60 days (answers after the first one of each
question), the learners' true retention on day 60 (the mean R of all their questions that
morning) and averaged over the mornings of days 31-60, how many review answers were right
by luck and how those were graded, and how often Easy was given.
"""

from __future__ import annotations

import argparse
import datetime as dt
import math
import random
import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from fsrs import Card, Rating
from fsrs.scheduler import DEFAULT_PARAMETERS, FSRS_DEFAULT_DECAY

from bot.domain.review import Confidence, as_fsrs_utc, rating_for_answer, scheduler
from bot.settings import Settings
from content.loader import bundled_library

DAYS = 60
NEW_PER_DAY = 5
TRACK = "csf-leaks"
START = dt.datetime(2026, 1, 5, 8, 0, tzinfo=dt.UTC)
W = DEFAULT_PARAMETERS
DECAY = -FSRS_DEFAULT_DECAY
FACTOR = 0.9 ** (1 / DECAY) - 1

Grader = Callable[[bool, Confidence | None, float | None, Card | None], Rating]


def unsure_is_hard(
    correct: bool, confidence: Confidence | None, seconds: float | None, card: Card | None
) -> Rating:
    """The alternative: a right answer the trainee was unsure of is graded Hard."""
    if correct and confidence == "unsure":
        return Rating.Hard
    return rating_for_answer(correct, confidence, seconds, card)


def binary(
    correct: bool, confidence: Confidence | None, seconds: float | None, card: Card | None
) -> Rating:
    return rating_for_answer(correct, None, seconds, card)


@dataclass(frozen=True)
class Variant:
    name: str
    grade: Grader
    untapped: float = 0.0  # share of answers given without a confidence
    retention_step: float = 0.0  # added to the bot's retention, for scale


VARIANTS = (
    Variant("binary", binary),
    Variant("confidence", rating_for_answer),
    Variant("confidence, unsure = Hard", unsure_is_hard),
    Variant("confidence, 30% untapped", rating_for_answer, untapped=0.3),
    Variant("binary, retention +0.01", binary, retention_step=0.01),
)


@dataclass
class Memory:
    """One learner's true memory of one question, and the scheduler's card for it."""

    rng: random.Random
    stability: float
    difficulty: float
    guess_chance: float
    bias: float
    introduced: int  # day
    last: dt.datetime | None = None
    card: Card | None = None
    answers: int = 0

    def recall(self, now: dt.datetime) -> float:
        if self.last is None:
            return 1.0
        days = (now - self.last).total_seconds() / 86400
        return float((1 + FACTOR * days / self.stability) ** DECAY)

    def learn(self, recalled: bool, r: float, now: dt.datetime) -> None:
        """Update the true stability after a retrieval (FSRS-6 formulas, default weights)."""
        s, d = self.stability, self.difficulty
        if self.last is not None:
            if recalled:
                growth = math.exp(W[8]) * (11 - d) * s ** -W[9] * (math.exp((1 - r) * W[10]) - 1)
                s *= 1 + growth
            else:
                lapse = W[11] * d ** -W[12] * ((s + 1) ** W[13] - 1) * math.exp((1 - r) * W[14])
                s = min(lapse, s / math.exp(W[17] * W[18]))
        self.stability = max(s, 0.01)
        self.last = now


@dataclass
class Tally:
    reviews: int = 0
    lucky: int = 0
    lucky_graded: dict[Rating, int] = field(default_factory=dict)
    ratings: dict[Rating, int] = field(default_factory=dict)
    retention: list[float] = field(default_factory=list)
    daily: list[float] = field(default_factory=list)


def question_odds() -> list[float]:
    """The chance of a lucky guess on each question of the track, in track order."""
    library = bundled_library()
    odds = []
    for thread_id in library.track(TRACK).threads:
        for question in library.thread(thread_id).quiz:
            k = len(question.options)
            odds.append(1 / k if len(question.correct) == 1 else 1 / (2**k - 1))
    return odds


def make_learners(n: int, seed: int, odds: list[float]) -> list[list[Memory]]:
    learners = []
    for learner in range(n):
        rng = random.Random(f"{seed}-{learner}")
        bias = rng.gauss(0, 0.1)
        memories = []
        for i, chance in enumerate(odds):
            memories.append(
                Memory(
                    rng=random.Random(f"{seed}-{learner}-{i}"),
                    stability=2.0 * math.exp(rng.gauss(0, 0.8)),
                    difficulty=rng.uniform(2, 9),
                    guess_chance=chance,
                    bias=bias,
                    introduced=i // NEW_PER_DAY,
                )
            )
        learners.append(memories)
    return learners


def confidence_of(m: Memory, recalled: bool, r: float) -> tuple[Confidence, float]:
    """What the learner says and how long they take."""
    felt = (r if recalled else 0.15) + m.bias + m.rng.gauss(0, 0.15)
    said: Confidence = "sure" if felt >= 0.75 else "unsure" if felt >= 0.4 else "guessed"
    felt = min(max(felt, 0.0), 1.0)
    seconds = (8 + 30 * (1 - felt)) * math.exp(m.rng.gauss(0, 0.35))
    return said, seconds


def run(variant: Variant, seed: int, learners_n: int, odds: list[float], retention: float) -> Tally:
    random.seed(seed)  # fsrs fuzzes intervals with the random module
    sched = scheduler(retention)
    learners = make_learners(learners_n, seed, odds)
    tally = Tally()
    for day in range(DAYS + 1):
        morning = START + dt.timedelta(days=day)
        if day >= DAYS - 29:  # the last 30 mornings, day 60 included
            for memories in learners:
                kept = statistics.fmean(m.recall(morning) for m in memories)
                tally.daily.append(kept)
                if day == DAYS:
                    tally.retention.append(kept)
        if day == DAYS:
            break
        horizon = morning + dt.timedelta(hours=16)
        for learner, memories in enumerate(learners):
            for i, m in enumerate(memories):
                if m.introduced > day or (m.card is not None and m.card.due > horizon):
                    continue
                now = morning + dt.timedelta(minutes=learner % 60, seconds=i * 40)
                r = m.recall(now)
                recalled = m.rng.random() < r
                correct = recalled or m.rng.random() < m.guess_chance
                said, seconds = confidence_of(m, recalled, r)
                untapped = m.rng.random() < variant.untapped
                confidence = None if untapped else said
                rating = variant.grade(correct, confidence, seconds, m.card)
                card = m.card or Card(card_id=learner * 100 + i, due=as_fsrs_utc(now))
                m.card, _ = sched.review_card(card, rating, as_fsrs_utc(now))
                m.learn(recalled, r, now)
                if m.answers:
                    tally.reviews += 1
                    tally.ratings[rating] = tally.ratings.get(rating, 0) + 1
                    if correct and not recalled:
                        tally.lucky += 1
                        tally.lucky_graded[rating] = tally.lucky_graded.get(rating, 0) + 1
                m.answers += 1
    return tally


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--learners", type=int, default=200)
    parser.add_argument("--seeds", type=int, nargs="+", default=[1, 2, 3, 4, 5])
    args = parser.parse_args()
    retention = Settings.model_fields["review_retention"].default
    odds = question_odds()
    print(
        f"{args.learners} simulated learners x {len(odds)} questions, {DAYS} days, "
        f"retention {retention}, seeds {args.seeds}"
    )
    header = (
        f"{'grading':<27} {'reviews/learner':>16} {'retention day 60':>17} "
        f"{'days 31-60':>11} {'lucky rights':>13} {'graded Good/Hard':>17} {'Easy given':>11}"
    )
    print(header)
    print("-" * len(header))
    started = time.perf_counter()
    for variant in VARIANTS:
        target = round(retention + variant.retention_step, 3)
        runs = [run(variant, seed, args.learners, odds, target) for seed in args.seeds]
        per_learner = [t.reviews / args.learners for t in runs]
        kept = [statistics.fmean(t.retention) for t in runs]
        month = statistics.fmean(statistics.fmean(t.daily) for t in runs)
        lucky = sum(t.lucky for t in runs)
        good = sum(t.lucky_graded.get(Rating.Good, 0) for t in runs)
        hard = sum(t.lucky_graded.get(Rating.Hard, 0) for t in runs)
        easy = sum(t.ratings.get(Rating.Easy, 0) for t in runs)
        reviews = sum(t.reviews for t in runs)
        print(
            f"{variant.name:<27} "
            f"{statistics.fmean(per_learner):>9.1f} ±{_spread(per_learner):>5.1f} "
            f"{100 * statistics.fmean(kept):>10.1f}% ±{100 * _spread(kept):>4.1f} "
            f"{100 * month:>10.1f}% "
            f"{100 * lucky / reviews:>12.1f}% "
            f"{100 * good / max(lucky, 1):>8.0f}% / {100 * hard / max(lucky, 1):>3.0f}% "
            f"{100 * easy / reviews:>10.1f}%"
        )
    print(
        f"(± is half the range over the seeds; lucky rights, Easy: share of reviews; "
        f"{time.perf_counter() - started:.0f} s)"
    )


def _spread(values: list[float]) -> float:
    return (max(values) - min(values)) / 2


if __name__ == "__main__":
    main()
