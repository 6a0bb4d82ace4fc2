"""Queries of the quiz features: poll records, attempts, review cards, reminders, progress."""

from __future__ import annotations

import datetime as dt
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import bindparam, func, or_, update
from sqlalchemy import select as sa_select
from sqlalchemy.engine import Connection
from sqlmodel import Session, col, select

from storage.db import InList
from storage.models import (
    Attempt,
    Delivery,
    DeliveryStatus,
    PollKind,
    PollRecord,
    ReviewCard,
    ReviewLogRecord,
    Subscription,
    SubscriptionKind,
    SubscriptionStatus,
)
from storage.subscriptions import highest_posts

# The poll kinds this module answers for; group and preview polls belong to other modules.
TRAINEE_POLL_KINDS = (PollKind.drip, PollKind.retake, PollKind.review)


def review_item(card_id: int, day: dt.date) -> str:
    """The outbox key of a due review: one card is sent at most once per local day."""
    return f"r:{card_id}:{day.isoformat()}"


def review_header_item(installment: int) -> str:
    return f"rh:{installment}"


def parse_review_item(item: str) -> int | None:
    """The card id of a `r:<card id>:<day>` outbox item, or None for anything else."""
    kind, _, rest = item.partition(":")
    if kind != "r":
        return None
    card, _, _day = rest.partition(":")
    return int(card) if card.isdigit() else None


# --- answers ---------------------------------------------------------------------------------
#
# An answer is the hot path (thousands a second in a busy hour), so these are Core statements,
# built once with bind parameters and run on the session's connection: no ORM unit of work,
# no autoflush, no statement compilation per answer.

_polls = PollRecord.__table__  # type: ignore[attr-defined]
_attempts = Attempt.__table__  # type: ignore[attr-defined]
_cards = ReviewCard.__table__  # type: ignore[attr-defined]
_logs = ReviewLogRecord.__table__  # type: ignore[attr-defined]
_subscriptions = Subscription.__table__  # type: ignore[attr-defined]


@dataclass(frozen=True)
class ClaimedPoll:
    """A trainee's poll, now marked answered by the caller's transaction."""

    kind: str
    chat_id: int
    subscription_id: int | None
    thread_id: str
    question_id: str
    correct_option_ids: list[int]
    sent_at: dt.datetime


_POLL_COLUMNS = (
    _polls.c.kind,
    _polls.c.chat_id,
    _polls.c.subscription_id,
    _polls.c.thread_id,
    _polls.c.question_id,
    _polls.c.correct_option_ids,
    _polls.c.sent_at,
)
_CLAIM_POLL = (
    _polls.update()
    .where(
        _polls.c.poll_id == bindparam("p_poll"),
        _polls.c.user_id == bindparam("p_user"),
        _polls.c.answered_at.is_(None),
        or_(*(_polls.c.kind == str(k) for k in TRAINEE_POLL_KINDS)),  # no expanding IN
    )
    .values(answered_at=bindparam("p_now"))
    .returning(*_POLL_COLUMNS)
)
# A drip an admin scheduled into a group: one poll, many members, each answering once.
_SHARED_POLL = sa_select(*_POLL_COLUMNS).where(
    _polls.c.poll_id == bindparam("p_poll"),
    _polls.c.user_id.is_(None),
    _polls.c.kind == str(PollKind.drip),
    ~sa_select(_attempts.c.id)
    .where(_attempts.c.poll_id == bindparam("p_poll"), _attempts.c.user_id == bindparam("p_user"))
    .exists(),
)


def claim_poll_answer(
    conn: Connection, poll_id: str, user_id: int, now: dt.datetime
) -> ClaimedPoll | None:
    """Take a trainee's answer to a drip, retake or review poll, and return the poll.

    A trainee's own poll is marked answered by one conditional UPDATE, so a repeated
    answer changes nothing even with several bot processes racing; a member's first
    answer to a drip poll in a group is taken too. Unknown polls, someone else's poll
    and group quiz polls return None.
    """
    params = {"p_poll": poll_id, "p_user": user_id, "p_now": now}
    row = conn.execute(_CLAIM_POLL, params).first()
    if row is None:
        row = conn.execute(_SHARED_POLL, params).first()
    if row is None:
        return None
    return ClaimedPoll(
        kind=row.kind,
        chat_id=row.chat_id,
        subscription_id=row.subscription_id,
        thread_id=row.thread_id,
        question_id=row.question_id,
        correct_option_ids=list(row.correct_option_ids or []),
        sent_at=row.sent_at,
    )


_CARD_STATE = sa_select(_cards.c.id, _cards.c.card).where(
    _cards.c.user_id == bindparam("p_user"),
    _cards.c.thread_id == bindparam("p_thread"),
    _cards.c.question_id == bindparam("p_question"),
)
_NEW_CARD = _cards.insert().returning(_cards.c.id)
_SAVE_CARD = (
    _cards.update()
    .where(_cards.c.id == bindparam("p_id"))
    .values(card=bindparam("p_card"), due_at=bindparam("p_due"), last_review_at=bindparam("p_now"))
)
# Only a row that needs it is written: a burst of answers does not rewrite the subscription.
_NOTE_ACTIVITY = (
    _subscriptions.update()
    .where(
        _subscriptions.c.kind == str(SubscriptionKind.trainee),
        _subscriptions.c.chat_id == bindparam("p_chat"),
        or_(
            _subscriptions.c.idle_installments != 0,
            _subscriptions.c.last_activity_at.is_(None),
            _subscriptions.c.last_activity_at < bindparam("p_recent"),
        ),
    )
    .values(idle_installments=0, last_activity_at=bindparam("p_now"))
)
ACTIVITY_PRECISION = dt.timedelta(minutes=1)


def card_state(
    conn: Connection, user_id: int, thread_id: str, question_id: str
) -> tuple[int, dict[str, Any]] | None:
    """The id and stored FSRS card of a trainee's question, if it has one yet."""
    row = conn.execute(
        _CARD_STATE, {"p_user": user_id, "p_thread": thread_id, "p_question": question_id}
    ).first()
    return None if row is None else (int(row.id), dict(row.card or {}))


def create_card(
    conn: Connection, user_id: int, thread_id: str, question_id: str, now: dt.datetime
) -> int:
    """A new, empty review card row; its id becomes the FSRS card id."""
    return int(
        conn.execute(
            _NEW_CARD,
            {
                "user_id": user_id,
                "thread_id": thread_id,
                "question_id": question_id,
                "card": {},
                "due_at": now,
            },
        ).scalar_one()
    )


def save_card(
    conn: Connection, card_id: int, card: dict[str, Any], due_at: dt.datetime, now: dt.datetime
) -> None:
    conn.execute(_SAVE_CARD, {"p_id": card_id, "p_card": card, "p_due": due_at, "p_now": now})


def add_attempt(
    conn: Connection,
    *,
    user_id: int,
    poll_id: str,
    kind: str,
    thread_id: str,
    question_id: str,
    option_ids: list[int],
    correct: bool,
    seconds_taken: float,
    answered_at: dt.datetime,
) -> None:
    conn.execute(
        _attempts.insert(),
        {
            "user_id": user_id,
            "poll_id": poll_id,
            "kind": kind,
            "thread_id": thread_id,
            "question_id": question_id,
            "option_ids": option_ids,
            "correct": correct,
            "seconds_taken": seconds_taken,
            "answered_at": answered_at,
        },
    )


def add_review_log(
    conn: Connection,
    card_id: int,
    rating: int,
    reviewed_at: dt.datetime,
    duration_ms: int | None,
) -> None:
    conn.execute(
        _logs.insert(),
        {
            "card_id": card_id,
            "rating": rating,
            "reviewed_at": reviewed_at,
            "review_duration_ms": duration_ms,
        },
    )


def note_activity(conn: Connection, chat_id: int, now: dt.datetime) -> None:
    """The trainee did something: the idle-installment count starts again from zero.

    `last_activity_at` is kept to the minute.
    """
    conn.execute(
        _NOTE_ACTIVITY,
        {"p_chat": chat_id, "p_now": now, "p_recent": now - ACTIVITY_PRECISION},
    )


# --- reviews ---------------------------------------------------------------------------------


def count_due_cards(session: Session, user_id: int, horizon: dt.datetime) -> int:
    return int(
        session.exec(
            select(func.count())
            .select_from(ReviewCard)
            .where(ReviewCard.user_id == user_id, col(ReviewCard.due_at) < horizon)
        ).one()
    )


_ANY_DUE = (
    select(ReviewCard.id)
    .where(
        col(ReviewCard.user_id) == bindparam("user_id"),
        col(ReviewCard.due_at) < bindparam("horizon", type_=ReviewCard.__table__.c.due_at.type),  # type: ignore[attr-defined]
    )
    .limit(1)
)


def any_card_due(session: Session, user_id: int, horizon: dt.datetime) -> bool:
    """Whether any card of the trainee is due before `horizon` (one prebuilt query: most
    installments have none)."""
    return (
        session.connection().execute(_ANY_DUE, {"user_id": user_id, "horizon": horizon}).first()
        is not None
    )


_USERS_DUE = (
    sa_select(ReviewCard.__table__.c.user_id)  # type: ignore[attr-defined]
    .where(
        InList(ReviewCard.__table__.c.user_id, "user_ids"),  # type: ignore[attr-defined]
        col(ReviewCard.due_at) < bindparam("horizon", type_=ReviewCard.__table__.c.due_at.type),  # type: ignore[attr-defined]
    )
    .distinct()
)


def users_with_cards_due(
    session: Session, user_ids: Collection[int], horizon: dt.datetime
) -> set[int]:
    """Which of the trainees have a card due before `horizon`, in one query."""
    if not user_ids:
        return set()
    rows = session.connection().execute(
        _USERS_DUE, {"user_ids": sorted(user_ids), "horizon": horizon}
    )
    return {int(r[0]) for r in rows}


def due_cards(
    session: Session,
    user_id: int,
    horizon: dt.datetime,
    limit: int,
    *,
    exclude: Collection[int] = (),
) -> Sequence[ReviewCard]:
    """Cards due before `horizon`, most overdue first."""
    query = select(ReviewCard).where(
        ReviewCard.user_id == user_id, col(ReviewCard.due_at) < horizon
    )
    if exclude:
        query = query.where(col(ReviewCard.id).not_in(list(exclude)))
    return session.exec(
        query.order_by(col(ReviewCard.due_at), col(ReviewCard.id)).limit(limit)
    ).all()


def next_due_at(session: Session, user_id: int) -> dt.datetime | None:
    """When the trainee's earliest card is due."""
    return session.exec(
        select(ReviewCard.due_at)
        .where(ReviewCard.user_id == user_id)
        .order_by(col(ReviewCard.due_at))
        .limit(1)
    ).first()


def cards_with_open_polls(session: Session, user_id: int, since: dt.datetime) -> set[int]:
    """Cards whose question was sent for review since `since` and is still unanswered."""
    rows = session.exec(
        select(ReviewCard.id)
        .join(
            PollRecord,
            (col(PollRecord.user_id) == col(ReviewCard.user_id))
            & (col(PollRecord.thread_id) == col(ReviewCard.thread_id))
            & (col(PollRecord.question_id) == col(ReviewCard.question_id)),
        )
        .where(
            ReviewCard.user_id == user_id,
            PollRecord.kind == PollKind.review,
            col(PollRecord.answered_at).is_(None),
            col(PollRecord.sent_at) >= since,
        )
    ).all()
    return {i for i in rows if i is not None}


def review_items_on(session: Session, subscription_id: int, day: dt.date) -> int:
    """How many reviews the outbox already holds for the trainee's local `day`."""
    return int(
        session.exec(
            select(func.count())
            .select_from(Delivery)
            .where(
                Delivery.subscription_id == subscription_id,
                col(Delivery.item).startswith("r:"),
                col(Delivery.item).endswith(f":{day.isoformat()}"),
            )
        ).one()
    )


# --- reminders -------------------------------------------------------------------------------


def reminder_candidates(
    session: Session, sent_after: dt.datetime, sent_before: dt.datetime
) -> Sequence[tuple[PollRecord, str]]:
    """Unanswered, unreminded polls of installments sent in the window, with the trainee's zone.

    Only trainees whose drip is running and who want reminders; polls asked on demand
    (/quiz, /review: no subscription id) get none, since the trainee was just there.
    """
    return session.exec(
        select(PollRecord, Subscription.timezone)
        .join(Subscription, col(Subscription.id) == col(PollRecord.subscription_id))
        .where(
            col(PollRecord.kind).in_([PollKind.drip, PollKind.review]),
            col(PollRecord.answered_at).is_(None),
            col(PollRecord.reminded_at).is_(None),
            col(PollRecord.closed).is_(False),
            col(PollRecord.sent_at) > sent_after,
            col(PollRecord.sent_at) <= sent_before,
            Subscription.kind == SubscriptionKind.trainee,
            Subscription.status == SubscriptionStatus.active,
            col(Subscription.reminders).is_(True),
        )
        .order_by(col(PollRecord.sent_at))
    ).all()


def mark_reminded(session: Session, poll_ids: Sequence[str], now: dt.datetime) -> None:
    session.execute(
        update(PollRecord).where(col(PollRecord.poll_id).in_(poll_ids)).values(reminded_at=now)
    )


# --- retakes ---------------------------------------------------------------------------------


def completed_thread_ids(session: Session, subscription_id: int, posts: dict[str, int]) -> set[str]:
    """Threads whose every post went out (sent, or refused for good) to this subscription."""
    read = posts_read(session, subscription_id)
    return {t for t, total in posts.items() if total and read.get(t, 0) >= total}


def posts_read(session: Session, subscription_id: int) -> dict[str, int]:
    """For each thread, the highest post number that left the outbox (sent or refused)."""
    return highest_posts(session, subscription_id, (DeliveryStatus.sent, DeliveryStatus.failed))


def latest_retake_answers(
    session: Session, user_id: int, thread_id: str, first_question_id: str
) -> Sequence[bool]:
    """Right or wrong, for each answer of the latest retake of a thread (from its first
    question on, in the order answered)."""
    retakes = (
        Attempt.user_id == user_id,
        Attempt.kind == PollKind.retake,
        Attempt.thread_id == thread_id,
    )
    start = session.exec(
        select(func.max(Attempt.id)).where(*retakes, Attempt.question_id == first_question_id)
    ).one()
    if start is None:
        return []
    return session.exec(
        select(Attempt.correct).where(*retakes, col(Attempt.id) >= start).order_by(col(Attempt.id))
    ).all()


# --- progress --------------------------------------------------------------------------------


def answer_rows(session: Session, user_id: int) -> Sequence[tuple[str, str, bool, dt.datetime]]:
    """(thread, question, correct, answered at) of every answer of one trainee."""
    return session.exec(
        select(Attempt.thread_id, Attempt.question_id, Attempt.correct, Attempt.answered_at)
        .where(Attempt.user_id == user_id)
        .order_by(col(Attempt.answered_at))
    ).all()


def delivery_instants(session: Session, subscription_id: int) -> Sequence[dt.datetime]:
    """When each installment's messages went out (one row per sent message)."""
    rows = session.exec(
        select(Delivery.sent_at).where(
            Delivery.subscription_id == subscription_id,
            Delivery.status == DeliveryStatus.sent,
            col(Delivery.sent_at).is_not(None),
        )
    ).all()
    return [r for r in rows if r is not None]
