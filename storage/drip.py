"""Queries of the delivery engine: claim due subscriptions, keep the outbox, release."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

from sqlalchemy import or_, update
from sqlmodel import Session, col, select

from storage.models import Delivery, DeliveryStatus, Subscription, SubscriptionStatus


def claim_due(session: Session, now: dt.datetime, limit: int, lease: dt.timedelta) -> list[int]:
    """Lease up to `limit` due subscriptions to this process and return their ids.

    One UPDATE ... WHERE id IN (SELECT ...) RETURNING statement, so two processes can never
    claim the same row; on PostgreSQL rows another process is claiming are skipped, not
    waited for (FOR UPDATE SKIP LOCKED).
    """
    due = (
        select(Subscription.id)
        .where(
            Subscription.status == SubscriptionStatus.active,
            col(Subscription.next_due_at) <= now,
            or_(col(Subscription.lease_until).is_(None), col(Subscription.lease_until) < now),
        )
        .order_by(col(Subscription.next_due_at))
        .limit(limit)
        .with_for_update(skip_locked=True)
        .scalar_subquery()
    )
    claimed = session.execute(
        update(Subscription)
        .where(col(Subscription.id).in_(due))
        .values(lease_until=now + lease)
        .returning(col(Subscription.id))
    )
    return sorted(int(i) for i in claimed.scalars().all())


def release_all_leases(session: Session) -> int:
    """Forget every lease: safe only when this is the one process using the database."""
    result = session.execute(
        update(Subscription)
        .where(col(Subscription.lease_until).is_not(None))
        .values(lease_until=None)
    )
    return int(getattr(result, "rowcount", 0) or 0)


def pending_deliveries(session: Session, subscription_id: int) -> Sequence[Delivery]:
    return session.exec(
        select(Delivery)
        .where(
            Delivery.subscription_id == subscription_id,
            Delivery.status == DeliveryStatus.pending,
        )
        .order_by(col(Delivery.seq))
    ).all()


def last_sent_message_id(session: Session, subscription_id: int, installment: int) -> int | None:
    """The message a resumed installment should reply to, so it still reads as a thread."""
    return session.exec(
        select(Delivery.message_id)
        .where(
            Delivery.subscription_id == subscription_id,
            Delivery.installment == installment,
            Delivery.status == DeliveryStatus.sent,
        )
        .order_by(col(Delivery.seq).desc())
        .limit(1)
    ).first()


def next_seq(session: Session, subscription_id: int) -> int:
    last = session.exec(
        select(Delivery.seq)
        .where(Delivery.subscription_id == subscription_id)
        .order_by(col(Delivery.seq).desc())
        .limit(1)
    ).first()
    return (last or 0) + 1


def add_deliveries(
    session: Session, subscription_id: int, thread_id: str, items: list[str], installment: int
) -> None:
    """Write an installment to the outbox; an item already recorded is never written again."""
    existing = set(
        session.exec(
            select(Delivery.item).where(
                Delivery.subscription_id == subscription_id,
                Delivery.thread_id == thread_id,
                col(Delivery.item).in_(items),
            )
        ).all()
    )
    seq = next_seq(session, subscription_id)
    for item in items:
        if item in existing:
            continue
        session.add(
            Delivery(
                subscription_id=subscription_id,
                thread_id=thread_id,
                item=item,
                seq=seq,
                installment=installment,
            )
        )
        seq += 1


def mark_delivery(
    session: Session,
    delivery_id: int,
    status: DeliveryStatus,
    now: dt.datetime,
    *,
    message_id: int | None = None,
    error: str | None = None,
) -> None:
    delivery = session.get(Delivery, delivery_id)
    if delivery is None:
        return
    delivery.status = status
    delivery.attempts += 1
    delivery.message_id = message_id
    delivery.error = error[:500] if error else None
    if status == DeliveryStatus.sent:
        delivery.sent_at = now
    session.add(delivery)


def extend_lease(session: Session, subscription_id: int, until: dt.datetime) -> None:
    session.execute(
        update(Subscription)
        .where(col(Subscription.id) == subscription_id)
        .values(lease_until=until)
    )
