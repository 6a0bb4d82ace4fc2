"""What the console's API answers: plain dataclasses, the same for the JSON and the pages."""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
from dataclasses import dataclass, field
from typing import Any, Literal

Role = Literal["admin", "trainee"]


@dataclass(frozen=True)
class Me:
    id: int
    name: str
    role: Role


# -- a trainee's own progress ----------------------------------------------------------------


@dataclass(frozen=True)
class Score:
    answered: int = 0
    correct: int = 0

    @property
    def percent(self) -> int | None:
        return round(100 * self.correct / self.answered) if self.answered else None


@dataclass(frozen=True)
class ThreadProgressRow:
    id: str
    title: str
    posts_total: int
    posts_read: int
    score: Score

    @property
    def completed(self) -> bool:
        return self.posts_total > 0 and self.posts_read >= self.posts_total


@dataclass(frozen=True)
class Position:
    """Where the trainee is in their track."""

    thread_number: int  # 1-based, in the track
    thread_count: int
    thread_id: str | None  # None once the track is finished
    thread_title: str | None
    next_post: int  # 1-based number of the next post to come
    posts_total: int


@dataclass(frozen=True)
class CalendarDay:
    day: dt.date
    answered: int
    correct: int
    installment: bool


@dataclass(frozen=True)
class DueDay:
    day: dt.date
    count: int


@dataclass(frozen=True)
class Streak:
    current: int
    longest: int
    active_today: bool


@dataclass(frozen=True)
class TraineeSettings:
    time: str  # HH:MM, local
    timezone: str
    zone_label: str  # "Europe/London (UTC+00:00)"
    pace: int  # posts per installment; 0 = a whole thread
    paused: bool
    reminders: bool


@dataclass(frozen=True)
class WeakTopic:
    label: str
    score: Score


@dataclass(frozen=True)
class Progress:
    subscribed: bool
    status: str | None  # the subscription's status; None without one
    track_id: str | None
    track_title: str | None
    position: Position | None
    next_installment_at: dt.datetime | None  # in the trainee's zone
    settings: TraineeSettings | None
    threads: list[ThreadProgressRow]
    score: Score
    streak: Streak
    calendar: list[CalendarDay]  # oldest first, whole weeks from a Monday, ending today
    reviews_due_today: int
    reviews_next: list[DueDay]  # the coming days with reviews, soonest first
    weakest: list[WeakTopic]
    today: dt.date


@dataclass(frozen=True)
class ReadPost:
    number: int
    text: str
    media: list[str]
    has_media: bool | None
    url: str | None


@dataclass(frozen=True)
class Reading:
    """The posts of one thread a trainee has received so far."""

    thread_id: str
    title: str
    author: str
    source_url: str | None
    posts_total: int
    posts: list[ReadPost]


# -- the library (admins) --------------------------------------------------------------------


@dataclass(frozen=True)
class LibraryThread:
    id: str
    title: str
    author: str
    status: str
    tags: list[str]
    posts: int
    questions: int
    imported: bool
    problems: list[str]  # content rules broken, and what stops publishing
    warnings: list[str]  # quality warnings (guessable questions and the like)


@dataclass(frozen=True)
class Library:
    threads: list[LibraryThread]
    tags: list[str]  # every tag in the library, for the filter
    total: int  # threads in the library before the filter


@dataclass(frozen=True)
class Question:
    id: str
    question: str
    options: list[str]
    correct: list[int]
    explanation: str
    source_post: int | None
    image: str | None


@dataclass(frozen=True)
class ThreadPost:
    number: int
    text: str
    media: list[str]
    has_media: bool | None
    url: str | None
    questions: list[Question]  # asked right after this post


@dataclass(frozen=True)
class Reference:
    title: str
    url: str | None
    citation: str | None


@dataclass(frozen=True)
class ThreadDetail:
    summary: LibraryThread
    source_url: str | None
    source_kind: str
    published: dt.date | None
    posts: list[ThreadPost]
    references: list[Reference] = field(default_factory=list)


# -- settings --------------------------------------------------------------------------------


SETTING_FIELDS = ("time", "timezone", "pace", "paused")


@dataclass(frozen=True)
class SettingsChange:
    """The fields a trainee sent; None means unchanged."""

    time: str | None = None
    timezone: str | None = None
    pace: str | None = None
    paused: bool | None = None


class SettingsRefused(Exception):
    """Nothing was saved: each field's problem, in the words the chat uses."""

    def __init__(self, errors: dict[str, str]) -> None:
        super().__init__("; ".join(f"{k}: {v}" for k, v in errors.items()))
        self.errors = errors


@dataclass(frozen=True)
class SettingsSaved:
    settings: TraineeSettings
    changed: dict[str, tuple[str, str]]  # field -> (before, after)


# -- JSON ------------------------------------------------------------------------------------


def to_json(value: Any) -> str:
    """Dataclasses as JSON objects, dates and datetimes as ISO 8601 strings."""
    return json.dumps(_plain(value), ensure_ascii=False, separators=(",", ":"))


def _plain(value: Any) -> Any:
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        plain = {f.name: _plain(getattr(value, f.name)) for f in dataclasses.fields(value)}
        if isinstance(value, Score):
            plain["percent"] = value.percent
        return plain
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, dt.date | dt.datetime):
        return value.isoformat()
    return value
