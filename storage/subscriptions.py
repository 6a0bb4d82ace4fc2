"""Data access for trainees' subscriptions."""

from __future__ import annotations

from collections.abc import Collection

from sqlalchemy import and_, delete, or_, update
from sqlmodel import Session, col, select

from storage.admin import IMPORT_PUBLISHED
from storage.models import (
    Admin,
    Attempt,
    Delivery,
    DeliveryStatus,
    GroupAnswer,
    GroupPlayer,
    GroupSession,
    ImportedThread,
    PollRecord,
    ReviewCard,
    ReviewLogRecord,
    Subscription,
    SubscriptionKind,
)

ANONYMOUS = 0  # stands for a person who asked to be forgotten, where a user id is required


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
    """Delete everything stored about one person (their private chat is `chat_id`).

    Rows about them go: subscription and deliveries, polls, answers, review cards, group
    quiz answers and places, an admin grant, imports still waiting for them. Rows that
    belong to others keep existing without them: group quiz sessions they started or
    stopped (`started_by` cannot be empty, so it becomes 0, and the starter's name is
    cleared), admins they granted, schedules they created and threads they published.
    """
    card_ids = select(ReviewCard.id).where(ReviewCard.user_id == user_id)
    session.execute(delete(ReviewLogRecord).where(col(ReviewLogRecord.card_id).in_(card_ids)))
    session.execute(delete(ReviewCard).where(col(ReviewCard.user_id) == user_id))
    session.execute(delete(Attempt).where(col(Attempt.user_id) == user_id))
    session.execute(
        delete(PollRecord).where(
            or_(col(PollRecord.user_id) == user_id, col(PollRecord.chat_id) == chat_id)
        )
    )
    session.execute(delete(GroupAnswer).where(col(GroupAnswer.user_id) == user_id))
    session.execute(delete(GroupPlayer).where(col(GroupPlayer.user_id) == user_id))
    session.execute(
        update(GroupSession)
        .where(col(GroupSession.started_by) == user_id)
        .values(started_by=ANONYMOUS, starter_name="")
    )
    session.execute(
        update(GroupSession).where(col(GroupSession.stopped_by) == user_id).values(stopped_by=None)
    )
    session.execute(delete(Admin).where(col(Admin.user_id) == user_id))
    session.execute(update(Admin).where(col(Admin.granted_by) == user_id).values(granted_by=None))
    session.execute(
        delete(ImportedThread).where(
            col(ImportedThread.imported_by) == user_id,
            col(ImportedThread.status) != IMPORT_PUBLISHED,
        )
    )
    session.execute(
        update(ImportedThread)
        .where(col(ImportedThread.imported_by) == user_id)
        .values(imported_by=ANONYMOUS)
    )
    session.execute(
        update(Subscription).where(col(Subscription.created_by) == user_id).values(created_by=None)
    )
    mine = or_(
        col(Subscription.user_id) == user_id,
        and_(
            col(Subscription.kind) == SubscriptionKind.trainee,
            col(Subscription.chat_id) == chat_id,
        ),
    )
    subs = select(Subscription.id).where(mine)
    session.execute(delete(Delivery).where(col(Delivery.subscription_id).in_(subs)))
    session.execute(delete(Subscription).where(mine))
