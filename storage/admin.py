"""Data access for the admin tools: admins, schedules, imports, statistics and exports.

Every function takes the session as an argument; the Telegram handlers and the operator CLI
both call these, so the two never disagree.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import case, delete, func
from sqlalchemy import select as sa_select  # sqlmodel's select takes at most four columns
from sqlmodel import Session, col, select

from content.models import Library
from storage.models import (
    Admin,
    Attempt,
    Delivery,
    DeliveryStatus,
    ImportedThread,
    PlanKind,
    Subscription,
    SubscriptionKind,
    SubscriptionStatus,
)
from storage.text import NAME_LIMIT, clean_text

SCHEDULE_KINDS = (SubscriptionKind.group, SubscriptionKind.channel)
IMPORT_PENDING = "pending"
IMPORT_PUBLISHED = "published"


# --- admins ---------------------------------------------------------------------------------


def granted_admins(session: Session) -> list[Admin]:
    """Admins granted with /admin add, oldest first."""
    return list(session.exec(select(Admin).order_by(col(Admin.granted_at))).all())


def is_granted_admin(session: Session, user_id: int) -> bool:
    return session.get(Admin, user_id) is not None


def grant_admin(session: Session, user_id: int, granted_by: int | None, now: dt.datetime) -> bool:
    """Make `user_id` an admin; return False when they already were one."""
    if session.get(Admin, user_id) is not None:
        return False
    session.add(Admin(user_id=user_id, granted_by=granted_by, granted_at=now))
    return True


def revoke_admin(session: Session, user_id: int) -> bool:
    """Take a granted admin right away; return False when there was none."""
    row = session.get(Admin, user_id)
    if row is None:
        return False
    session.delete(row)
    return True


# --- schedules (group and channel drips) ----------------------------------------------------


def schedules(session: Session) -> list[Subscription]:
    """Every drip an admin scheduled into a group or channel, in the order they were made."""
    return list(
        session.exec(
            select(Subscription)
            .where(col(Subscription.kind).in_(SCHEDULE_KINDS))
            .order_by(col(Subscription.id))
        ).all()
    )


def get_schedule(session: Session, schedule_id: int) -> Subscription | None:
    sub = session.get(Subscription, schedule_id)
    return sub if sub is not None and sub.kind in SCHEDULE_KINDS else None


def find_running_schedule(
    session: Session, chat_id: int, plan_kind: PlanKind, plan_id: str
) -> Subscription | None:
    """A schedule of the same plan into the same chat that has not finished yet."""
    return session.exec(
        select(Subscription).where(
            col(Subscription.kind).in_(SCHEDULE_KINDS),
            Subscription.chat_id == chat_id,
            Subscription.plan_kind == plan_kind,
            Subscription.plan_id == plan_id,
            col(Subscription.status).in_((SubscriptionStatus.active, SubscriptionStatus.paused)),
        )
    ).first()


def create_schedule(
    session: Session,
    *,
    kind: SubscriptionKind,
    chat_id: int,
    chat_title: str,
    plan_kind: PlanKind,
    plan_id: str,
    timezone: str,
    delivery_time: str,
    pace: int,
    status: SubscriptionStatus,
    next_due_at: dt.datetime | None,
    start_at: dt.datetime,
    created_by: int | None,
    now: dt.datetime,
) -> Subscription:
    """Store a drip into a group or channel (`status` and `next_due_at` as the lifecycle
    decided); the dispatcher sends its first installment when it is due."""
    if kind not in SCHEDULE_KINDS:
        raise ValueError(f"a schedule goes into a group or a channel, not {kind}")
    sub = Subscription(
        kind=kind,
        chat_id=chat_id,
        user_id=None,
        name=clean_text(chat_title, NAME_LIMIT),
        status=status,
        plan_kind=plan_kind,
        plan_id=plan_id,
        timezone=timezone,
        delivery_time=delivery_time,
        pace=pace,
        start_at=start_at,
        next_due_at=next_due_at,
        reminders=False,
        created_by=created_by,
        created_at=now,
        updated_at=now,
    )
    session.add(sub)
    session.flush()
    return sub


def delete_schedule(session: Session, schedule_id: int) -> Subscription | None:
    """Remove a schedule and its outbox; return what was removed (None when there was none).

    A dispatcher in the middle of sending it finds the row gone and stops.
    """
    sub = get_schedule(session, schedule_id)
    if sub is None:
        return None
    removed = sub.model_copy()
    session.execute(delete(Delivery).where(col(Delivery.subscription_id) == schedule_id))
    session.delete(sub)
    return removed


# --- imported threads -----------------------------------------------------------------------


def pending_imports(session: Session, admin_id: int) -> list[ImportedThread]:
    return list(
        session.exec(
            select(ImportedThread)
            .where(
                ImportedThread.imported_by == admin_id,
                ImportedThread.status == IMPORT_PENDING,
            )
            .order_by(col(ImportedThread.thread_id))
        ).all()
    )


def published_import_ids(session: Session) -> set[str]:
    return set(
        session.exec(
            select(ImportedThread.thread_id).where(ImportedThread.status == IMPORT_PUBLISHED)
        ).all()
    )


def replace_pending_imports(
    session: Session, admin_id: int, threads: Sequence[tuple[str, str]], now: dt.datetime
) -> None:
    """Forget this admin's unconfirmed import and hold `threads` (id, YAML) for confirmation.

    A pending row of another admin with the same id is replaced: the newest upload wins.
    """
    session.execute(
        delete(ImportedThread).where(
            col(ImportedThread.imported_by) == admin_id,
            col(ImportedThread.status) == IMPORT_PENDING,
        )
    )
    ids = [thread_id for thread_id, _ in threads]
    session.execute(
        delete(ImportedThread).where(
            col(ImportedThread.thread_id).in_(ids),
            col(ImportedThread.status) == IMPORT_PENDING,
        )
    )
    for thread_id, yaml_text in threads:
        session.add(
            ImportedThread(
                thread_id=thread_id,
                yaml_text=yaml_text,
                status=IMPORT_PENDING,
                imported_by=admin_id,
                imported_at=now,
            )
        )


def publish_imports(session: Session, rows: Sequence[ImportedThread]) -> list[str]:
    """Mark pending imports published; return their ids."""
    published = []
    for row in rows:
        stored = session.get(ImportedThread, row.thread_id)
        if stored is not None and stored.status == IMPORT_PENDING:
            stored.status = IMPORT_PUBLISHED
            session.add(stored)
            published.append(stored.thread_id)
    return published


def discard_pending_imports(session: Session, admin_id: int) -> int:
    result = session.execute(
        delete(ImportedThread).where(
            col(ImportedThread.imported_by) == admin_id,
            col(ImportedThread.status) == IMPORT_PENDING,
        )
    )
    return int(getattr(result, "rowcount", 0) or 0)


# --- broadcast ------------------------------------------------------------------------------


def active_trainee_chats(session: Session) -> list[int]:
    """Private chats of every active trainee, in a stable order."""
    return list(
        session.exec(
            select(Subscription.chat_id)
            .where(
                Subscription.kind == SubscriptionKind.trainee,
                Subscription.status == SubscriptionStatus.active,
            )
            .order_by(col(Subscription.id))
        ).all()
    )


# --- statistics -----------------------------------------------------------------------------


@dataclass(frozen=True)
class QuestionAccuracy:
    thread_id: str
    question_id: str
    question: str  # the question text, or the id when it left the library
    attempts: int
    correct: int

    @property
    def accuracy(self) -> float:
        return self.correct / self.attempts if self.attempts else 0.0


@dataclass(frozen=True)
class ThreadCompletion:
    thread_id: str
    title: str
    completions: int


@dataclass(frozen=True)
class AdminStats:
    now: dt.datetime
    subscribers: dict[str, int]  # trainee subscriptions by status
    deliveries_by_day: list[tuple[dt.date, int]]  # messages sent per UTC day, oldest first
    installments_last_7_days: int
    completions: list[ThreadCompletion]
    questions: list[QuestionAccuracy]  # hardest first

    @property
    def deliveries_last_7_days(self) -> int:
        return sum(count for _, count in self.deliveries_by_day)


STATS_DAYS = 7
SUBSCRIBER_STATUSES = (
    SubscriptionStatus.active,
    SubscriptionStatus.paused,
    SubscriptionStatus.blocked,
    SubscriptionStatus.stopped,
    SubscriptionStatus.finished,
    SubscriptionStatus.onboarding,
)


def subscriber_counts(session: Session) -> dict[str, int]:
    rows = session.exec(
        select(Subscription.status, func.count())
        .where(Subscription.kind == SubscriptionKind.trainee)
        .group_by(col(Subscription.status))
    ).all()
    counts = {str(status): 0 for status in SUBSCRIBER_STATUSES}
    for status, count in rows:
        counts[str(status)] = int(count)
    return counts


def _sent_between(session: Session, start: dt.datetime, end: dt.datetime) -> int:
    return int(
        session.exec(
            select(func.count()).where(
                Delivery.status == DeliveryStatus.sent,
                col(Delivery.sent_at) >= start,
                col(Delivery.sent_at) < end,
            )
        ).one()
    )


def deliveries_by_day(
    session: Session, now: dt.datetime, days: int = STATS_DAYS
) -> list[tuple[dt.date, int]]:
    """Messages sent on each of the last `days` UTC days, today included (one indexed range
    query per day, the same on SQLite and PostgreSQL)."""
    today = now.astimezone(dt.UTC).date()
    out = []
    for offset in range(days - 1, -1, -1):
        day = today - dt.timedelta(days=offset)
        start = dt.datetime.combine(day, dt.time(), dt.UTC)
        end = min(start + dt.timedelta(days=1), now + dt.timedelta(microseconds=1))
        out.append((day, _sent_between(session, start, end)))
    return out


def installments_since(session: Session, since: dt.datetime) -> int:
    """Installments (their header messages) sent since `since`."""
    return int(
        session.exec(
            select(func.count()).where(
                Delivery.status == DeliveryStatus.sent,
                col(Delivery.sent_at) >= since,
                col(Delivery.item).startswith("h"),
            )
        ).one()
    )


def completions_per_thread(session: Session) -> dict[str, int]:
    """Trainees who received the end of each thread."""
    rows = session.exec(
        select(Delivery.thread_id, func.count(func.distinct(Delivery.subscription_id)))
        .join(Subscription, col(Subscription.id) == col(Delivery.subscription_id))
        .where(
            Subscription.kind == SubscriptionKind.trainee,
            Delivery.item == "end",
            Delivery.status == DeliveryStatus.sent,
        )
        .group_by(col(Delivery.thread_id))
    ).all()
    return {thread_id: int(count) for thread_id, count in rows}


def answers_per_question(session: Session) -> list[tuple[str, str, int, int]]:
    """(thread, question, attempts, correct) for every question answered at least once."""
    correct = func.sum(case((col(Attempt.correct), 1), else_=0))
    rows = session.exec(
        select(Attempt.thread_id, Attempt.question_id, func.count(), correct).group_by(
            col(Attempt.thread_id), col(Attempt.question_id)
        )
    ).all()
    return [(t, q, int(n), int(c or 0)) for t, q, n, c in rows]


def collect_stats(session: Session, library: Library, now: dt.datetime) -> AdminStats:
    """Everything /stats and `tweetdrip stats` show."""
    completions = completions_per_thread(session)
    questions = []
    for thread_id, question_id, attempts, correct in answers_per_question(session):
        thread = library.threads.get(thread_id)
        question = next((q for q in thread.quiz if q.id == question_id), None) if thread else None
        questions.append(
            QuestionAccuracy(
                thread_id,
                question_id,
                question.question if question else question_id,
                attempts,
                correct,
            )
        )
    questions.sort(key=lambda q: (q.accuracy, -q.attempts, q.thread_id, q.question_id))
    threads = [
        ThreadCompletion(t.id, t.title, completions.get(t.id, 0)) for t in library.threads.values()
    ]
    threads += [
        ThreadCompletion(thread_id, thread_id, count)
        for thread_id, count in sorted(completions.items())
        if thread_id not in library.threads
    ]
    return AdminStats(
        now=now,
        subscribers=subscriber_counts(session),
        deliveries_by_day=deliveries_by_day(session, now),
        installments_last_7_days=installments_since(session, now - dt.timedelta(days=STATS_DAYS)),
        completions=threads,
        questions=questions,
    )


# --- progress export ------------------------------------------------------------------------


@dataclass(frozen=True)
class ProgressRow:
    user_id: int
    name: str
    thread_id: str
    posts_delivered: int
    questions_answered: int  # distinct questions of the thread answered at least once
    attempts: int
    correct: int
    last_activity: dt.datetime | None

    @property
    def accuracy(self) -> float | None:
        return self.correct / self.attempts if self.attempts else None


def progress_rows(session: Session, library: Library) -> list[ProgressRow]:
    """One row per trainee per thread they received or answered, in library order."""
    trainees = session.exec(
        select(Subscription.id, Subscription.chat_id, Subscription.user_id, Subscription.name)
        .where(Subscription.kind == SubscriptionKind.trainee)
        .order_by(col(Subscription.id))
    ).all()
    users: dict[int, str] = {}
    user_of_subscription: dict[int, int] = {}
    for sub_id, chat_id, user_id, name in trainees:
        uid = user_id if user_id is not None else chat_id
        users.setdefault(uid, name)
        if sub_id is not None:
            user_of_subscription[sub_id] = uid

    posts: dict[tuple[int, str], tuple[int, dt.datetime | None]] = {}
    delivered = session.exec(
        select(
            Delivery.subscription_id, Delivery.thread_id, func.count(), func.max(Delivery.sent_at)
        )
        .join(Subscription, col(Subscription.id) == col(Delivery.subscription_id))
        .where(
            Subscription.kind == SubscriptionKind.trainee,
            Delivery.status == DeliveryStatus.sent,
            col(Delivery.item).startswith("p"),
        )
        .group_by(col(Delivery.subscription_id), col(Delivery.thread_id))
    ).all()
    for sub_id, thread_id, count, last in delivered:
        uid = user_of_subscription[sub_id]
        before, before_last = posts.get((uid, thread_id), (0, None))
        posts[(uid, thread_id)] = (before + int(count), _latest(before_last, _aware(last)))

    answers: dict[tuple[int, str], tuple[int, int, int, dt.datetime | None]] = {}
    correct = func.sum(case((col(Attempt.correct), 1), else_=0))
    answered = session.execute(
        sa_select(
            col(Attempt.user_id),
            col(Attempt.thread_id),
            func.count(func.distinct(Attempt.question_id)),
            func.count(),
            correct,
            func.max(Attempt.answered_at),
        )
        .where(
            col(Attempt.user_id).in_(
                select(Subscription.user_id).where(Subscription.kind == SubscriptionKind.trainee)
            )
        )
        .group_by(col(Attempt.user_id), col(Attempt.thread_id))
    ).all()
    for user_id, thread_id, distinct, total, right, last in answered:
        answers[(user_id, thread_id)] = (int(distinct), int(total), int(right or 0), _aware(last))

    order = {thread_id: i for i, thread_id in enumerate(library.threads)}
    keys = sorted(
        set(posts) | set(answers), key=lambda k: (k[0], order.get(k[1], len(order)), k[1])
    )
    rows = []
    for uid, thread_id in keys:
        n_posts, last_post = posts.get((uid, thread_id), (0, None))
        distinct, total, right, last_answer = answers.get((uid, thread_id), (0, 0, 0, None))
        rows.append(
            ProgressRow(
                user_id=uid,
                name=users.get(uid, ""),
                thread_id=thread_id,
                posts_delivered=n_posts,
                questions_answered=distinct,
                attempts=total,
                correct=right,
                last_activity=_latest(last_post, last_answer),
            )
        )
    return rows


def _aware(value: dt.datetime | None) -> dt.datetime | None:
    """Aggregates come back naive from SQLite; every stored datetime is UTC."""
    if value is None:
        return None
    if isinstance(value, str):
        value = dt.datetime.fromisoformat(value)
    return value if value.tzinfo is not None else value.replace(tzinfo=dt.UTC)


def _latest(a: dt.datetime | None, b: dt.datetime | None) -> dt.datetime | None:
    if a is None:
        return b
    if b is None:
        return a
    return max(a, b)
