"""SQLModel tables. Every datetime is timezone-aware UTC."""

from __future__ import annotations

import datetime as dt
from enum import StrEnum

from sqlalchemy import JSON, BigInteger, Column, Index, MetaData, String, UniqueConstraint
from sqlmodel import Field, SQLModel

# Named constraints keep Alembic's batch mode (SQLite) and PostgreSQL migrations in step.
SQLModel.metadata = MetaData(
    naming_convention={
        "ix": "ix_%(column_0_label)s",
        "uq": "uq_%(table_name)s_%(column_0_N_name)s",
        "ck": "ck_%(table_name)s_%(constraint_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
    }
)


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


class SubscriptionKind(StrEnum):
    trainee = "trainee"  # a trainee in a private chat
    group = "group"  # a thread scheduled into a group by an admin
    channel = "channel"  # a thread scheduled into a channel by an admin


class SubscriptionStatus(StrEnum):
    onboarding = "onboarding"
    active = "active"
    paused = "paused"
    stopped = "stopped"  # unsubscribed with /stop; progress kept
    blocked = "blocked"  # Telegram answered 403
    finished = "finished"  # everything in the plan was delivered


class PlanKind(StrEnum):
    track = "track"
    thread = "thread"


class Subscription(SQLModel, table=True):
    """One drip: a trainee's subscription or a schedule into a group or channel."""

    # The delivery engine's claim (storage/drip.py): active rows in next_due_at order. With
    # only the single-column indexes SQLite picks the one on status and sorts every active
    # row (tens of ms at 100,000 subscriptions); this one reads just the first due rows.
    __table_args__ = (Index("ix_subscription_status_next_due_at", "status", "next_due_at"),)

    id: int | None = Field(default=None, primary_key=True)
    kind: SubscriptionKind = Field(default=SubscriptionKind.trainee, sa_type=String(16))
    chat_id: int = Field(index=True, sa_type=BigInteger)
    user_id: int | None = Field(default=None, index=True, sa_type=BigInteger)
    name: str = ""
    status: SubscriptionStatus = Field(
        default=SubscriptionStatus.onboarding, index=True, sa_type=String(16)
    )
    onboarding_step: str | None = None

    plan_kind: PlanKind = Field(default=PlanKind.track, sa_type=String(16))
    plan_id: str | None = None
    thread_index: int = 0  # position in the plan's thread list
    next_post: int = 0  # 0-based index of the next post in that thread
    installments_sent: int = 0

    timezone: str = "UTC"
    delivery_time: str = "08:00"  # local wall-clock HH:MM
    pace: int = 4  # posts per installment; 0 means a whole thread per installment
    start_at: dt.datetime | None = None  # schedules: first send (UTC)

    next_due_at: dt.datetime | None = Field(default=None, index=True)
    lease_until: dt.datetime | None = None  # a dispatcher is working on it until then
    lease_owner: str | None = Field(default=None, max_length=32)  # which claim holds it

    reminders: bool = True
    idle_installments: int = 0  # installments in a row with no activity
    last_activity_at: dt.datetime | None = None
    created_by: int | None = Field(default=None, sa_type=BigInteger)  # the admin who scheduled it
    created_at: dt.datetime = Field(default_factory=utcnow)
    updated_at: dt.datetime = Field(default_factory=utcnow)


class DeliveryStatus(StrEnum):
    pending = "pending"
    sent = "sent"
    failed = "failed"  # Telegram refused it for good (400); the rest went on


class Delivery(SQLModel, table=True):
    """One message of an installment, written before it is sent (the outbox)."""

    __table_args__ = (UniqueConstraint("subscription_id", "thread_id", "item"),)

    id: int | None = Field(default=None, primary_key=True)
    subscription_id: int = Field(foreign_key="subscription.id", index=True, ondelete="CASCADE")
    thread_id: str
    item: str  # "h5" header before post 5, "p5" post 5, "q:<id>" quiz poll, "end" thread end
    seq: int  # order of sending within the subscription
    installment: int  # installment number (the "Day N")
    status: DeliveryStatus = Field(default=DeliveryStatus.pending, index=True, sa_type=String(16))
    attempts: int = 0
    message_id: int | None = None
    error: str | None = None
    created_at: dt.datetime = Field(default_factory=utcnow)
    sent_at: dt.datetime | None = Field(default=None, index=True)


class PollKind(StrEnum):
    drip = "drip"  # asked with the installment
    retake = "retake"  # /quiz
    review = "review"  # spaced review
    group = "group"  # live group session
    channel = "channel"  # scheduled into a channel (anonymous)
    preview = "preview"  # admin preview; nothing recorded


class PollRecord(SQLModel, table=True):
    """A poll the bot sent; poll answers carry no chat, so this maps them back."""

    poll_id: str = Field(primary_key=True)
    kind: PollKind = Field(sa_type=String(16))
    chat_id: int = Field(sa_type=BigInteger)
    message_id: int
    user_id: int | None = Field(
        default=None, index=True, sa_type=BigInteger
    )  # private polls: the trainee
    subscription_id: int | None = None
    session_id: int | None = Field(default=None, index=True)  # group quiz session
    thread_id: str
    question_id: str
    correct_option_ids: list[int] = Field(default_factory=list, sa_column=Column(JSON))
    sent_at: dt.datetime = Field(default_factory=utcnow, index=True)  # quiz reminders scan by it
    answered_at: dt.datetime | None = None
    reminded_at: dt.datetime | None = None
    closed: bool = False


class Attempt(SQLModel, table=True):
    """One answer to one quiz question."""

    id: int | None = Field(default=None, primary_key=True)
    user_id: int = Field(index=True, sa_type=BigInteger)
    poll_id: str = Field(index=True)
    kind: PollKind = Field(sa_type=String(16))
    thread_id: str = Field(index=True)
    question_id: str
    option_ids: list[int] = Field(default_factory=list, sa_column=Column(JSON))
    correct: bool
    seconds_taken: float
    answered_at: dt.datetime = Field(default_factory=utcnow, index=True)


class ReviewCard(SQLModel, table=True):
    """The FSRS card of one trainee for one question."""

    __table_args__ = (UniqueConstraint("user_id", "thread_id", "question_id"),)

    id: int | None = Field(default=None, primary_key=True)
    user_id: int = Field(index=True, sa_type=BigInteger)
    thread_id: str
    question_id: str
    card: dict = Field(default_factory=dict, sa_column=Column(JSON))  # fsrs Card.to_dict()
    due_at: dt.datetime = Field(index=True)
    last_review_at: dt.datetime | None = None


class ReviewLogRecord(SQLModel, table=True):
    """Every FSRS review, kept so the schedule can be re-optimised later."""

    id: int | None = Field(default=None, primary_key=True)
    card_id: int = Field(foreign_key="reviewcard.id", index=True, ondelete="CASCADE")
    rating: int
    reviewed_at: dt.datetime
    review_duration_ms: int | None = None


class Admin(SQLModel, table=True):
    """An admin granted with /admin add (ADMIN_IDS are admins too)."""

    user_id: int = Field(primary_key=True, sa_type=BigInteger)
    granted_by: int | None = Field(default=None, sa_type=BigInteger)
    granted_at: dt.datetime = Field(default_factory=utcnow)


class ImportedThread(SQLModel, table=True):
    """A thread an admin imported through the bot; it joins the bundled library."""

    thread_id: str = Field(primary_key=True)
    yaml_text: str
    status: str = "pending"  # pending until the admin confirms, then "published"
    imported_by: int = Field(sa_type=BigInteger)
    imported_at: dt.datetime = Field(default_factory=utcnow)


class GroupSessionStatus(StrEnum):
    lobby = "lobby"
    running = "running"
    finished = "finished"


class GroupSession(SQLModel, table=True):
    """A live quiz session in a group chat."""

    id: int | None = Field(default=None, primary_key=True)
    chat_id: int = Field(index=True, sa_type=BigInteger)
    started_by: int = Field(sa_type=BigInteger)
    plan_kind: PlanKind = Field(default=PlanKind.thread, sa_type=String(16))
    plan_id: str
    status: GroupSessionStatus = Field(
        default=GroupSessionStatus.lobby, index=True, sa_type=String(16)
    )
    open_period: int = 30
    min_players: int = 2
    question_index: int = 0  # the next question to ask
    lobby_message_id: int | None = None
    current_poll_id: str | None = None
    question_deadline: dt.datetime | None = None
    lobby_deadline: dt.datetime | None = None
    created_at: dt.datetime = Field(default_factory=utcnow)
    finished_at: dt.datetime | None = None
    # Live group quiz (bot/handlers/group.py). `active_chat_id` equals `chat_id` while the
    # session is in the lobby or running and is NULL afterwards: its unique constraint is
    # what keeps one session per group, even with several bot processes.
    active_chat_id: int | None = Field(default=None, unique=True, sa_type=BigInteger)
    title: str = ""  # what is being played, as announced
    starter_name: str = ""
    questions: list[list[str]] = Field(
        default_factory=list, sa_column=Column(JSON)
    )  # [thread id, question id] pairs, fixed when the session is created
    question_open: bool = False  # question `question_index - 1` is being asked
    question_sent_at: dt.datetime | None = None  # when its poll went out
    next_question_at: dt.datetime | None = None  # between questions: when the next one goes
    ended_reason: str | None = None  # completed, stopped, cancelled, interrupted, removed
    stopped_by: int | None = Field(default=None, sa_type=BigInteger)


class GroupPlayer(SQLModel, table=True):
    __table_args__ = (UniqueConstraint("session_id", "user_id"),)

    id: int | None = Field(default=None, primary_key=True)
    session_id: int = Field(foreign_key="groupsession.id", index=True, ondelete="CASCADE")
    user_id: int = Field(sa_type=BigInteger)
    name: str
    score: int = 0
    correct: int = 0
    seconds: float = 0.0  # total time to answer
    joined_at: dt.datetime = Field(default_factory=utcnow)
    answered: int = 0  # questions this player answered


class GroupAnswer(SQLModel, table=True):
    """One player's answer to one question of a group quiz session (at most one each)."""

    __table_args__ = (UniqueConstraint("session_id", "question_index", "user_id"),)

    id: int | None = Field(default=None, primary_key=True)
    session_id: int = Field(foreign_key="groupsession.id", index=True, ondelete="CASCADE")
    question_index: int
    user_id: int = Field(sa_type=BigInteger)
    poll_id: str
    option_ids: list[int] = Field(default_factory=list, sa_column=Column(JSON))
    correct: bool
    seconds: float
    points: int
    answered_at: dt.datetime = Field(default_factory=utcnow)


class ProcessedUpdate(SQLModel, table=True):
    """Update ids already handled, so a redelivered webhook update is not processed twice."""

    update_id: int = Field(primary_key=True, sa_type=BigInteger)
    processed_at: dt.datetime = Field(default_factory=utcnow, index=True)
    # Set while a process is handling the update; None once it is done. A process that died
    # mid-update leaves it set, and the redelivery is handled again once it has passed.
    lease_until: dt.datetime | None = None


class SendBudget(SQLModel, table=True):
    """The send budget shared by every bot process on PostgreSQL (one row per bot token).

    `next_slot` is the generic cell rate algorithm's "theoretical arrival time": each
    message moves it on by 1/rate seconds, atomically, and waits until its own slot.
    """

    name: str = Field(primary_key=True)
    next_slot: dt.datetime
