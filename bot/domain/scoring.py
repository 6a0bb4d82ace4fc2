"""Scoring answers and summing them up: accuracy, weakest topics, daily activity."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

from bot.domain.timeparse import zone

MIN_ANSWERS_FOR_WEAKNESS = 3  # fewer answers than this say nothing about a topic
WEAKEST_LIMIT = 3


@dataclass(frozen=True)
class AnswerRow:
    """One recorded answer, as the progress summary needs it."""

    thread_id: str
    question_id: str
    correct: bool
    answered_at: dt.datetime


@dataclass(frozen=True)
class Accuracy:
    answered: int = 0
    correct: int = 0

    @property
    def ratio(self) -> float | None:
        return self.correct / self.answered if self.answered else None

    @property
    def percent(self) -> str:
        return "–" if self.ratio is None else f"{round(self.ratio * 100)}%"

    def add(self, correct: bool) -> Accuracy:
        return Accuracy(self.answered + 1, self.correct + int(correct))


@dataclass(frozen=True)
class Topic:
    kind: str  # "thread" or "tag"
    key: str
    label: str
    accuracy: Accuracy


@dataclass(frozen=True)
class DayActivity:
    day: dt.date
    answered: int = 0
    correct: int = 0
    installment: bool = False


@dataclass
class ThreadProgress:
    thread_id: str
    title: str
    posts_total: int
    posts_read: int
    accuracy: Accuracy = field(default_factory=Accuracy)

    @property
    def completed(self) -> bool:
        return self.posts_total > 0 and self.posts_read >= self.posts_total


def is_correct(chosen: Sequence[int], correct: Sequence[int]) -> bool:
    """Right when exactly the correct options were chosen (order does not matter)."""
    return bool(chosen) and set(chosen) == set(correct)


def seconds_between(sent_at: dt.datetime, answered_at: dt.datetime) -> float:
    """Time taken to answer; never negative, even if clocks disagree."""
    return max(0.0, (answered_at - sent_at).total_seconds())


def accuracy(rows: Iterable[AnswerRow]) -> Accuracy:
    answered = correct = 0
    for row in rows:
        answered += 1
        correct += row.correct
    return Accuracy(answered, correct)


def accuracy_by_thread(rows: Iterable[AnswerRow]) -> dict[str, Accuracy]:
    result: dict[str, Accuracy] = {}
    for row in rows:
        result[row.thread_id] = result.get(row.thread_id, Accuracy()).add(row.correct)
    return result


def accuracy_by_tag(
    by_thread: Mapping[str, Accuracy], tags_of: Mapping[str, Sequence[str]]
) -> dict[str, Accuracy]:
    """Sum per-thread accuracy into every tag of the thread."""
    result: dict[str, Accuracy] = {}
    for thread_id, acc in by_thread.items():
        for tag in tags_of.get(thread_id, ()):
            prior = result.get(tag, Accuracy())
            result[tag] = Accuracy(prior.answered + acc.answered, prior.correct + acc.correct)
    return result


def weakest_topics(
    by_thread: Mapping[str, Accuracy],
    tags_of: Mapping[str, Sequence[str]],
    titles: Mapping[str, str],
    *,
    min_answers: int = MIN_ANSWERS_FOR_WEAKNESS,
    limit: int = WEAKEST_LIMIT,
) -> list[Topic]:
    """Threads and tags with the lowest accuracy (below 100%), weakest first.

    A tag shared by every thread answered says nothing a thread does not, so it is left out.
    """
    answered_threads = {t for t, a in by_thread.items() if a.answered}
    candidates = [
        Topic("thread", t, titles.get(t, t), a)
        for t, a in by_thread.items()
        if a.answered >= min_answers
    ]
    for tag, acc in accuracy_by_tag(by_thread, tags_of).items():
        covering = {t for t in answered_threads if tag in tags_of.get(t, ())}
        if acc.answered >= min_answers and covering != answered_threads:
            candidates.append(Topic("tag", tag, f"#{tag}", acc))
    weak = [c for c in candidates if c.accuracy.ratio is not None and c.accuracy.ratio < 1]
    weak.sort(key=lambda c: (c.accuracy.ratio, -c.accuracy.answered, c.kind != "thread", c.key))
    return weak[:limit]


def daily_activity(
    rows: Iterable[AnswerRow],
    installments: Iterable[dt.datetime],
    timezone: str,
    today: dt.date,
    days: int,
) -> list[DayActivity]:
    """Answers and installments per local day, for the `days` days ending `today`."""
    tz = zone(timezone)
    first = today - dt.timedelta(days=days - 1)
    answered: dict[dt.date, list[int]] = {}
    for row in rows:
        day = row.answered_at.astimezone(tz).date()
        if first <= day <= today:
            counts = answered.setdefault(day, [0, 0])
            counts[0] += 1
            counts[1] += row.correct
    delivered = {instant.astimezone(tz).date() for instant in installments}
    result = []
    for offset in range(days):
        day = first + dt.timedelta(days=offset)
        total, right = answered.get(day, (0, 0))
        result.append(DayActivity(day, total, right, day in delivered))
    return result


def weekly_accuracy(activity: Sequence[DayActivity]) -> list[tuple[dt.date, Accuracy]]:
    """Accuracy per 7-day block of `activity` (which is oldest first), by the block's first day."""
    result = []
    for start in range(0, len(activity), 7):
        block = activity[start : start + 7]
        result.append(
            (
                block[0].day,
                Accuracy(sum(d.answered for d in block), sum(d.correct for d in block)),
            )
        )
    return result
