"""Data access for trainees' subscriptions."""

from __future__ import annotations

from sqlalchemy import delete
from sqlmodel import Session, col, select

from storage.models import (
    Attempt,
    Delivery,
    DeliveryStatus,
    GroupPlayer,
    PollRecord,
    ReviewCard,
    ReviewLogRecord,
    Subscription,
    SubscriptionKind,
)


def trainee_subscription(session: Session, chat_id: int) -> Subscription | None:
    """The trainee subscription of a private chat, if any."""
    return session.exec(
        select(Subscription).where(
            Subscription.kind == SubscriptionKind.trainee, Subscription.chat_id == chat_id
        )
    ).first()


def delivered_posts(session: Session, subscription_id: int) -> dict[str, int]:
    """For each thread, how many of its posts were delivered (sent or written to the outbox)."""
    rows = session.exec(
        select(Delivery.thread_id, Delivery.item).where(
            Delivery.subscription_id == subscription_id,
            col(Delivery.item).startswith("p"),
            Delivery.status != DeliveryStatus.failed,
        )
    ).all()
    counts: dict[str, int] = {}
    for thread_id, item in rows:
        counts[thread_id] = max(counts.get(thread_id, 0), int(item[1:]))
    return counts


def forget_user(session: Session, user_id: int, chat_id: int) -> None:
    """Delete everything stored about one trainee."""
    card_ids = select(ReviewCard.id).where(ReviewCard.user_id == user_id)
    session.execute(delete(ReviewLogRecord).where(col(ReviewLogRecord.card_id).in_(card_ids)))
    session.execute(delete(ReviewCard).where(col(ReviewCard.user_id) == user_id))
    session.execute(delete(Attempt).where(col(Attempt.user_id) == user_id))
    session.execute(delete(PollRecord).where(col(PollRecord.user_id) == user_id))
    session.execute(delete(GroupPlayer).where(col(GroupPlayer.user_id) == user_id))
    subs = select(Subscription.id).where(
        Subscription.kind == SubscriptionKind.trainee, Subscription.chat_id == chat_id
    )
    session.execute(delete(Delivery).where(col(Delivery.subscription_id).in_(subs)))
    session.execute(
        delete(Subscription).where(
            col(Subscription.kind) == SubscriptionKind.trainee, col(Subscription.chat_id) == chat_id
        )
    )
