"""Everything the console reads and writes, in one place.

Each function takes an open session (run through `Services.db`, off the event loop) or only
the library, and returns the console's dataclasses (bot/console/models.py). The console
reaches the rest of tweetdrip only through this module: the queries of storage/, the
progress report /progress sends, and, for the settings, the same rules the chat's /settings
applies (`bot.handlers.trainee._apply`, then what the chat does after an answer).
"""

from __future__ import annotations

import datetime as dt
import threading
from collections import Counter
from collections.abc import Collection

from sqlmodel import Session, col, select

from bot.console import models as m
from bot.context import Services
from bot.domain.drip import plan_thread_ids
from bot.domain.review import review_horizon
from bot.domain.timeparse import zone, zone_label
from bot.services import subscriptions
from bot.services.quiz import build_progress
from bot.services.subscriptions import PACE_PRESETS, ZONE_PRESETS
from content.lints import lint_thread
from content.models import Library, Thread
from content.validate import publish_problems, validate_thread
from storage.admin import is_granted_admin, published_import_ids
from storage.models import ReviewCard, Subscription, SubscriptionStatus
from storage.quiz import posts_read
from storage.subscriptions import trainee_subscription

CALENDAR_WEEKS = 12
REVIEW_DAYS_AHEAD = 14
REVIEW_DAYS_SHOWN = 7
EDITABLE = (SubscriptionStatus.active, SubscriptionStatus.paused)


# -- who -------------------------------------------------------------------------------------


def role_of(session: Session, user_id: int, admin_ids: Collection[int]) -> m.Role:
    """ADMIN_IDS, or granted with /admin add: read on every request, so a revoke is at once."""
    if user_id in admin_ids or is_granted_admin(session, user_id):
        return "admin"
    return "trainee"


def stored_name(session: Session, user_id: int) -> str | None:
    """The name a trainee had when they subscribed, if they did."""
    sub = trainee_subscription(session, user_id)
    return sub.name if sub is not None and sub.name else None


# -- a trainee's own progress ----------------------------------------------------------------


def _aware(value: dt.datetime) -> dt.datetime:
    return value if value.tzinfo is not None else value.replace(tzinfo=dt.UTC)


def _settings(sub: Subscription, now: dt.datetime) -> m.TraineeSettings:
    return m.TraineeSettings(
        time=sub.delivery_time,
        timezone=sub.timezone,
        zone_label=zone_label(sub.timezone, now),
        pace=sub.pace,
        paused=sub.status == SubscriptionStatus.paused,
        reminders=sub.reminders,
    )


def own_settings(session: Session, user_id: int, now: dt.datetime) -> m.TraineeSettings | None:
    """A trainee's settings, when they have a running or paused drip to change."""
    sub = trainee_subscription(session, user_id)
    return _settings(sub, now) if sub is not None and sub.status in EDITABLE else None


def pace_choices(current: int | None) -> list[tuple[int, str]]:
    """The chat's pace buttons, and the trainee's own pace if it is none of them."""
    choices = list(PACE_PRESETS)
    if current is not None and current not in dict(choices):
        choices.append((current, f"{current} posts a day"))
    return choices


ZONE_CHOICES = ZONE_PRESETS  # the chat's time zone buttons


def _position(library: Library, sub: Subscription) -> m.Position | None:
    plan = plan_thread_ids(library, sub.plan_kind, sub.plan_id)
    if not plan:
        return None
    if sub.thread_index >= len(plan) or sub.status == SubscriptionStatus.finished:
        return m.Position(len(plan), len(plan), None, None, 0, 0)
    thread = library.threads[plan[sub.thread_index]]
    return m.Position(
        thread_number=sub.thread_index + 1,
        thread_count=len(plan),
        thread_id=thread.id,
        thread_title=thread.title,
        next_post=sub.next_post + 1,
        posts_total=len(thread.posts),
    )


def _reviews_next(
    session: Session, user_id: int, timezone: str, now: dt.datetime
) -> list[m.DueDay]:
    """Reviews due on each coming day (after today), soonest first."""
    horizon = review_horizon(now, timezone)
    rows = session.exec(
        select(ReviewCard.due_at).where(
            ReviewCard.user_id == user_id,
            col(ReviewCard.due_at) >= horizon,
            col(ReviewCard.due_at) < horizon + dt.timedelta(days=REVIEW_DAYS_AHEAD),
        )
    ).all()
    tz = zone(timezone)
    days = Counter(_aware(due).astimezone(tz).date() for due in rows)
    return [m.DueDay(day, days[day]) for day in sorted(days)[:REVIEW_DAYS_SHOWN]]


def trainee_progress(
    session: Session, library: Library, user_id: int, now: dt.datetime
) -> m.Progress:
    """What /progress shows, and more: position, calendar, the reviews to come, settings."""
    sub = trainee_subscription(session, user_id)  # a private chat's id is its user's id
    report = build_progress(session, library, sub, user_id, now, weeks=CALENDAR_WEEKS)
    timezone = sub.timezone if sub is not None else "UTC"
    today = now.astimezone(zone(timezone)).date()
    # Whole weeks from a Monday, so the calendar's rows are the days of the week.
    activity = report.activity[(7 - (today.weekday() + 1) % 7) % 7 :]
    subscribed = sub is not None and sub.status != SubscriptionStatus.onboarding
    next_at = None
    if sub is not None and sub.status == SubscriptionStatus.active and sub.next_due_at:
        next_at = _aware(sub.next_due_at).astimezone(zone(timezone))
    track_id = sub.plan_id if sub is not None and sub.plan_kind == "track" else None
    return m.Progress(
        subscribed=subscribed,
        status=str(sub.status) if sub is not None else None,
        track_id=track_id,
        track_title=report.track_title,
        position=_position(library, sub) if sub is not None and subscribed else None,
        next_installment_at=next_at,
        settings=_settings(sub, now) if sub is not None and subscribed else None,
        threads=[
            m.ThreadProgressRow(
                t.thread_id,
                t.title,
                t.posts_total,
                t.posts_read,
                m.Score(t.accuracy.answered, t.accuracy.correct),
            )
            for t in report.threads
        ],
        score=m.Score(report.overall.answered, report.overall.correct),
        streak=m.Streak(report.streak.current, report.streak.longest, report.streak.active_today),
        calendar=[m.CalendarDay(d.day, d.answered, d.correct, d.installment) for d in activity],
        reviews_due_today=report.reviews_due,
        reviews_next=_reviews_next(session, user_id, timezone, now),
        weakest=[
            m.WeakTopic(t.label, m.Score(t.accuracy.answered, t.accuracy.correct))
            for t in report.weakest
        ],
        today=today,
    )


def _credit(thread: Thread) -> str:
    handle = f" ({thread.author.handle})" if thread.author.handle else ""
    return f"{thread.author.name}{handle}"


def received_thread(
    session: Session, library: Library, user_id: int, thread_id: str
) -> m.Reading | None:
    """The posts of `thread_id` this trainee has received; None if none (or no such thread)."""
    thread = library.threads.get(thread_id)
    sub = trainee_subscription(session, user_id)
    if thread is None or sub is None or sub.id is None:
        return None
    read = min(posts_read(session, sub.id).get(thread_id, 0), len(thread.posts))
    if read == 0:
        return None
    return m.Reading(
        thread_id=thread.id,
        title=thread.title,
        author=_credit(thread),
        source_url=thread.source.url,
        posts_total=len(thread.posts),
        posts=[
            m.ReadPost(n, p.text, list(p.media), p.has_media, p.url)
            for n, p in enumerate(thread.posts[:read], 1)
        ],
    )


# -- the library (admins) --------------------------------------------------------------------


def _where(loc: tuple[str | int, ...], thread: Thread) -> str:
    """Name a place in a thread the way its editor knows it: `post 3`, `question q2`."""
    if len(loc) >= 2 and loc[0] == "posts" and isinstance(loc[1], int):
        return f"post {loc[1] + 1}"
    if len(loc) >= 2 and loc[0] == "quiz" and isinstance(loc[1], int):
        if loc[1] < len(thread.quiz):
            return f"question {thread.quiz[loc[1]].id}"
        return f"question {loc[1] + 1}"
    return ".".join(str(part) for part in loc)


def _check(thread: Thread) -> tuple[list[str], list[str]]:
    problems = validate_thread(thread) + publish_problems(thread)
    warnings = [
        f"{_where(loc, thread)}: {message}" if loc else message
        for loc, message in lint_thread(thread)
    ]
    return problems, warnings


class _Checks:
    """Problems and warnings per thread, worked out once per library (the library is
    immutable; an import or reload makes a new one)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._library: Library | None = None
        self._found: dict[str, tuple[list[str], list[str]]] = {}

    def of(self, library: Library) -> dict[str, tuple[list[str], list[str]]]:
        with self._lock:
            if self._library is not library:
                self._found = {t.id: _check(t) for t in library.threads.values()}
                self._library = library
            return self._found


_checks = _Checks()


def _summary(
    thread: Thread, imported: Collection[str], found: dict[str, tuple[list[str], list[str]]]
) -> m.LibraryThread:
    problems, warnings = found.get(thread.id, ([], []))
    return m.LibraryThread(
        id=thread.id,
        title=thread.title,
        author=_credit(thread),
        status=thread.status,
        tags=list(thread.tags),
        posts=len(thread.posts),
        questions=len(thread.quiz),
        imported=thread.id in imported,
        problems=list(problems),
        warnings=list(warnings),
    )


def _matches(thread: Thread, words: list[str]) -> bool:
    haystack = " ".join(
        (thread.id, thread.title, thread.author.name, thread.author.handle or "", *thread.tags)
    ).casefold()
    return all(word in haystack for word in words)


def library_threads(
    session: Session,
    library: Library,
    *,
    query: str = "",
    status: str = "",
    tag: str = "",
) -> m.Library:
    """The library's threads matching every word of `query` (id, title, author, tags), the
    status and the tag given; each with its problems and warnings."""
    imported = published_import_ids(session)
    found = _checks.of(library)
    words = query.casefold().split()
    chosen = [
        _summary(t, imported, found)
        for t in library.threads.values()
        if (not status or t.status == status)
        and (not tag or tag in t.tags)
        and (not words or _matches(t, words))
    ]
    tags = sorted({tag for t in library.threads.values() for tag in t.tags})
    return m.Library(threads=chosen, tags=tags, total=len(library.threads))


def thread_detail(session: Session, library: Library, thread_id: str) -> m.ThreadDetail | None:
    """A thread as it reads, each question after the post it follows, answers shown."""
    thread = library.threads.get(thread_id)
    if thread is None:
        return None
    summary = _summary(thread, published_import_ids(session), _checks.of(library))
    posts = [
        m.ThreadPost(
            number=n,
            text=post.text,
            media=list(post.media),
            has_media=post.has_media,
            url=post.url,
            questions=[
                m.Question(
                    q.id,
                    q.question,
                    list(q.options),
                    list(q.correct),
                    q.explanation,
                    q.source_post,
                    q.image,
                )
                for q in thread.questions_after(n)
            ],
        )
        for n, post in enumerate(thread.posts, 1)
    ]
    return m.ThreadDetail(
        summary=summary,
        source_url=thread.source.url,
        source_kind=thread.source.kind,
        published=thread.source.published,
        posts=posts,
        references=[m.Reference(r.title, r.url, r.citation) for r in thread.references],
    )


# -- settings --------------------------------------------------------------------------------


def change_settings(
    session: Session, svc: Services, user_id: int, change: m.SettingsChange
) -> m.SettingsSaved:
    """Apply a trainee's settings by the chat's own rules (bot.services.subscriptions), all or
    nothing; raises SettingsRefused with each field's problem, or with `status` when there is
    no running or paused drip to change."""
    now = svc.now()
    current = trainee_subscription(session, user_id)
    before = _settings(current, now) if current is not None else None
    typed = {"time": change.time, "timezone": change.timezone, "pace": change.pace}
    result = subscriptions.change_settings(
        session,
        user_id,
        {field: raw for field, raw in typed.items() if raw is not None},
        change.paused,
        svc.library(),
        now,
    )
    if result.errors or current is None or before is None:
        raise m.SettingsRefused(result.errors)
    after = _settings(current, now)
    changed = {
        name: (str(getattr(before, name)), str(getattr(after, name)))
        for name in m.SETTING_FIELDS
        if getattr(before, name) != getattr(after, name)
    }
    return m.SettingsSaved(after, changed)
