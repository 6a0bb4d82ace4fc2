"""Data access for trainees' subscriptions."""

from __future__ import annotations

from collections.abc import Collection

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


def highest_posts(
    session: Session, subscription_id: int, statuses: Collection[DeliveryStatus]
) -> dict[str, int]:
    """For each thread, the highest post number whose outbox row has one of `statuses`."""
    rows = session.exec(
        select(Delivery.thread_id, Delivery.item).where(
            Delivery.subscription_id == subscription_id,
            col(Delivery.item).startswith("p"),
            col(Delivery.status).in_(list(statuses)),
        )
    ).all()
    counts: dict[str, int] = {}
    for thread_id, item in rows:
        if item[1:].isdigit():
            counts[thread_id] = max(counts.get(thread_id, 0), int(item[1:]))
    return counts


def delivered_posts(session: Session, subscription_id: int) -> dict[str, int]:
    """Posts delivered or on their way (in the outbox); refused ones may be planned again."""
    return highest_posts(session, subscription_id, (DeliveryStatus.pending, DeliveryStatus.sent))


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
