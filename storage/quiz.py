"""Queries of the quiz features: poll records, attempts, review cards, reminders, progress."""

from __future__ import annotations

import datetime as dt
from collections.abc import Collection, Sequence

from sqlalchemy import func, update
from sqlmodel import Session, col, select

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


def card_for(session: Session, user_id: int, thread_id: str, question_id: str) -> ReviewCard | None:
    return session.exec(
        select(ReviewCard).where(
            ReviewCard.user_id == user_id,
            ReviewCard.thread_id == thread_id,
            ReviewCard.question_id == question_id,
        )
    ).first()


def note_activity(session: Session, chat_id: int, now: dt.datetime) -> None:
    """The trainee did something: the idle-installment count starts again from zero."""
    session.execute(
        update(Subscription)
        .where(
            col(Subscription.kind) == SubscriptionKind.trainee,
            col(Subscription.chat_id) == chat_id,
        )
        .values(idle_installments=0, last_activity_at=now)
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


def add_review_log(
    session: Session,
    card_id: int,
    rating: int,
    reviewed_at: dt.datetime,
    duration_ms: int | None,
) -> None:
    session.add(
        ReviewLogRecord(
            card_id=card_id,
            rating=rating,
            reviewed_at=reviewed_at,
            review_duration_ms=duration_ms,
        )
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
    """For each thread, the highest post number that left the outbox."""
    rows = session.exec(
        select(Delivery.thread_id, Delivery.item).where(
            Delivery.subscription_id == subscription_id,
            col(Delivery.item).startswith("p"),
            Delivery.status != DeliveryStatus.pending,
        )
    ).all()
    counts: dict[str, int] = {}
    for thread_id, item in rows:
        if item[1:].isdigit():
            counts[thread_id] = max(counts.get(thread_id, 0), int(item[1:]))
    return counts


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
