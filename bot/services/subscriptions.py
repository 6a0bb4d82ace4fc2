"""A trainee's subscription: onboarding, settings, /next, pause, resume, stop, /forget.

Every status and due time comes from the lifecycle (bot/domain/lifecycle.py); these
functions load the row, ask the lifecycle, store what it says and return a snapshot.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from enum import StrEnum

from sqlmodel import Session

from bot.domain import lifecycle
from bot.domain.drip import plan_thread_ids, resume_position
from bot.domain.lifecycle import Change, Drip, Status, Transition
from bot.domain.timeparse import InputError, parse_clock_time, parse_timezone
from content.models import Library
from storage import quiz as q
from storage.models import PlanKind, Subscription, SubscriptionKind, SubscriptionStatus
from storage.subscriptions import delivered_posts, forget_user, trainee_subscription
from storage.text import NAME_LIMIT, clean_text

ONBOARDING_ORDER = ["track", "time", "timezone", "pace"]
MAX_INPUT = 200  # longer typed answers cannot be a time or a zone
MAX_PACE = 20


# The choices offered as buttons in the chat and as lists in the web console.
TIME_PRESETS = ["06:30", "07:30", "08:00", "12:30", "18:00", "21:00"]
ZONE_PRESETS = [
    "Europe/London",
    "America/New_York",
    "America/Chicago",
    "America/Los_Angeles",
    "Asia/Kolkata",
    "UTC",
]
PACE_PRESETS = [
    (2, "2 posts a day"),
    (4, "4 posts a day"),
    (6, "6 posts a day"),
    (0, "A whole thread a day"),
]


@dataclass(frozen=True)
class Trainee:
    """A snapshot of a trainee's subscription, for the reply."""

    id: int
    status: Status
    onboarding_step: str | None
    plan_id: str | None
    timezone: str
    delivery_time: str
    pace: int
    reminders: bool
    next_due_at: dt.datetime | None
    installments_sent: int

    @property
    def subscribed(self) -> bool:
        return self.status != Status.onboarding


def trainee_of(sub: Subscription) -> Trainee:
    assert sub.id is not None
    return Trainee(
        id=sub.id,
        status=Status(sub.status),
        onboarding_step=sub.onboarding_step,
        plan_id=sub.plan_id,
        timezone=sub.timezone,
        delivery_time=sub.delivery_time,
        pace=sub.pace,
        reminders=sub.reminders,
        next_due_at=sub.next_due_at,
        installments_sent=sub.installments_sent,
    )


def drip_of(sub: Subscription) -> Drip:
    """What the lifecycle needs to know about a subscription."""
    return Drip(
        status=Status(sub.status),
        next_due_at=sub.next_due_at,
        timezone=sub.timezone,
        delivery_time=sub.delivery_time,
        lease_until=sub.lease_until,
    )


def apply(sub: Subscription, transition: Transition, now: dt.datetime) -> None:
    """Store what the lifecycle decided (the only place a status is written from)."""
    sub.status = SubscriptionStatus(transition.status)
    sub.next_due_at = transition.next_due_at
    if transition.reset_idle:
        sub.idle_installments = 0
    if transition.done:
        sub.updated_at = now


def trainee(session: Session, chat_id: int) -> Trainee | None:
    """The trainee subscription of a private chat, if any."""
    sub = trainee_subscription(session, chat_id)
    return trainee_of(sub) if sub is not None else None


def note_activity(session: Session, chat_id: int, now: dt.datetime) -> None:
    """A message or button press of the trainee: their drip is not idle."""
    q.note_activity(session.connection(), chat_id, now)


# --- /start and the onboarding questions --------------------------------------------------------


@dataclass(frozen=True)
class NewTrainee:
    """Who sent /start, and the settings a new subscription begins with."""

    chat_id: int
    user_id: int
    first_name: str
    timezone: str
    delivery_time: str
    pace: int


@dataclass(frozen=True)
class Started:
    trainee: Trainee
    returning: bool  # onboarded before: welcomed back rather than asked the questions
    ask: str | None  # the onboarding question to ask now
    unknown_track: str | None  # `/start <track>` named a track the library does not have


def start(
    session: Session, who: NewTrainee, wanted: str | None, library: Library, now: dt.datetime
) -> Started:
    """Welcome a new trainee, or bring back one who stopped; `wanted` preselects a track."""
    sub = trainee_subscription(session, who.chat_id)
    returning = sub is not None and sub.status != SubscriptionStatus.onboarding
    if sub is None:
        sub = Subscription(
            kind=SubscriptionKind.trainee,
            chat_id=who.chat_id,
            user_id=who.user_id,
            name=clean_text(who.first_name, NAME_LIMIT),
            timezone=who.timezone,
            delivery_time=who.delivery_time,
            pace=who.pace,
        )
        session.add(sub)
        session.flush()
    found = wanted is not None and wanted in library.tracks
    if returning:
        transition = lifecycle.restart(
            drip_of(sub), now, track_asked=bool(wanted), track_found=found
        )
        apply(sub, transition, now)
    step = "track"
    if found:
        _choose_track(session, sub, library, str(wanted))
        step = "time"
    sub.onboarding_step = None if returning else step
    session.add(sub)
    return Started(
        trainee_of(sub),
        returning=returning,
        ask=sub.onboarding_step,
        unknown_track=wanted if wanted and not found else None,
    )


def _choose_track(session: Session, sub: Subscription, library: Library, track_id: str) -> None:
    """Follow `track_id`, from the first post of it not delivered yet."""
    sub.plan_kind, sub.plan_id = PlanKind.track, track_id
    thread_ids = plan_thread_ids(library, sub.plan_kind, track_id)
    delivered = delivered_posts(session, sub.id) if sub.id else {}
    position = resume_position(library, thread_ids, delivered)
    sub.thread_index, sub.next_post = position.thread_index, position.next_post


def ask(session: Session, chat_id: int, field: str) -> Trainee | None:
    """Remember that `field` is the question being asked (a /settings button)."""
    sub = trainee_subscription(session, chat_id)
    if sub is None:
        return None
    sub.onboarding_step = field
    session.add(sub)
    return trainee_of(sub)


def parse_answer(field: str, raw: str, library: Library) -> str | int | bool:
    """The value an answer stands for; InputError says what to type instead."""
    if field == "track":
        if raw not in library.tracks:
            raise InputError(
                "That track is not in the library any more; please pick one of the buttons."
            )
        return raw
    if field == "time":
        return parse_clock_time(raw[:MAX_INPUT]).strftime("%H:%M")
    if field == "timezone":
        return parse_timezone(raw[:MAX_INPUT])
    if field == "pace":
        try:
            pace = int(raw)
        except ValueError:
            raise InputError(
                "Please pick a pace with the buttons, or type a number of posts from 1 to 20."
            ) from None
        if not 0 <= pace <= MAX_PACE:
            raise InputError(
                "A pace goes from 1 to 20 posts per installment (0 for a whole thread)."
            )
        return pace
    if field == "reminders":
        return raw == "on"
    raise InputError("That question has expired; use /settings to change something.")


class AnswerKind(StrEnum):
    saved = "saved"
    invalid = "invalid"  # the answer could not be read: `error` says why; nothing was saved
    stale = "stale"  # an answer to a question no longer being asked


@dataclass(frozen=True)
class Answered:
    kind: AnswerKind
    trainee: Trainee | None = None
    error: str = ""


def answer(
    session: Session, chat_id: int, field: str, raw: str, library: Library, now: dt.datetime
) -> Answered:
    """Store one answer and move onboarding on; when the last question is answered (or a
    setting changed), the lifecycle decides when the drip is due."""
    sub = trainee_subscription(session, chat_id)
    if sub is None or (sub.onboarding_step != field and field != "reminders"):
        return Answered(AnswerKind.stale)
    try:
        value = parse_answer(field, raw, library)
    except InputError as exc:
        return Answered(AnswerKind.invalid, trainee_of(sub), str(exc))
    if field == "track":
        _choose_track(session, sub, library, str(value))
    elif field == "time":
        sub.delivery_time = str(value)
    elif field == "timezone":
        sub.timezone = str(value)
    elif field == "pace":
        sub.pace = int(value)
    elif field == "reminders":
        sub.reminders = bool(value)
    onboarding = sub.status == SubscriptionStatus.onboarding
    sub.onboarding_step = _next_field(field) if onboarding else None
    if sub.onboarding_step is None:
        apply(sub, lifecycle.settings_saved(drip_of(sub), now), now)
    sub.updated_at = now
    session.add(sub)
    return Answered(AnswerKind.saved, trainee_of(sub))


def _next_field(field: str) -> str | None:
    index = ONBOARDING_ORDER.index(field) if field in ONBOARDING_ORDER else len(ONBOARDING_ORDER)
    return ONBOARDING_ORDER[index + 1] if index + 1 < len(ONBOARDING_ORDER) else None


# --- /pause, /resume, /stop, /next --------------------------------------------------------------


@dataclass(frozen=True)
class Changed:
    """What a command did to the drip, and the drip after it."""

    change: Change
    trainee: Trainee | None = None
    subscription_id: int | None = None


def _transition(
    session: Session,
    chat_id: int,
    now: dt.datetime,
    decide: lifecycle.Command,
) -> Changed:
    sub = trainee_subscription(session, chat_id)
    if sub is None:
        return Changed(Change.not_subscribed)
    transition = decide(drip_of(sub), now)
    if transition.done:
        apply(sub, transition, now)
        session.add(sub)
    return Changed(transition.change, trainee_of(sub), sub.id)


def pause(session: Session, chat_id: int, now: dt.datetime) -> Changed:
    """/pause: nothing arrives until /resume."""
    return _transition(session, chat_id, now, lifecycle.pause)


def resume(session: Session, chat_id: int, now: dt.datetime) -> Changed:
    """/resume: due again at the next delivery time."""
    return _transition(session, chat_id, now, lifecycle.resume)


def stop(session: Session, chat_id: int, now: dt.datetime) -> Changed:
    """/stop: unsubscribe, keeping the progress."""
    return _transition(session, chat_id, now, lifecycle.stop)


def deliver_now(session: Session, chat_id: int, now: dt.datetime) -> Changed:
    """/next: make this trainee's next installment due now (the caller then delivers it)."""
    return _transition(session, chat_id, now, lifecycle.deliver_now)


# --- settings changed in one go (the web console) --------------------------------------------

EDITABLE = (SubscriptionStatus.active, SubscriptionStatus.paused)
SETTING_FIELDS = ("time", "timezone", "pace")


@dataclass(frozen=True)
class SettingsChanged:
    """What a change of several settings did: `errors` by field (nothing saved), or the
    trainee after it with the fields whose value changed."""

    trainee: Trainee | None
    errors: dict[str, str]
    changed: tuple[str, ...] = ()


def change_settings(
    session: Session,
    chat_id: int,
    raw: dict[str, str],
    paused: bool | None,
    library: Library,
    now: dt.datetime,
) -> SettingsChanged:
    """Change time, zone and pace (read as the chat reads typed answers) and pause or resume,
    all or nothing; the lifecycle decides when the drip is next due."""
    sub = trainee_subscription(session, chat_id)
    if sub is None or sub.status not in EDITABLE:
        return SettingsChanged(
            None, {"status": "There is no drip to change: send /start to the bot to begin."}
        )
    values: dict[str, str | int | bool] = {}
    errors: dict[str, str] = {}
    for field, text in raw.items():
        if field not in SETTING_FIELDS:
            errors[field] = "This setting cannot be changed here."
            continue
        try:
            values[field] = parse_answer(field, text.strip(), library)
        except InputError as exc:
            errors[field] = str(exc)
    if errors:
        return SettingsChanged(trainee_of(sub), errors)
    before = {"time": sub.delivery_time, "timezone": sub.timezone, "pace": sub.pace}
    sub.delivery_time = str(values.get("time", sub.delivery_time))
    sub.timezone = str(values.get("timezone", sub.timezone))
    sub.pace = int(values.get("pace", sub.pace))
    after = {"time": sub.delivery_time, "timezone": sub.timezone, "pace": sub.pace}
    changed = [name for name in SETTING_FIELDS if before[name] != after[name]]
    was_paused = sub.status == SubscriptionStatus.paused
    if paused is not None and paused != was_paused:
        changed.append("paused")
        decide = lifecycle.pause if paused else lifecycle.resume
        apply(sub, decide(drip_of(sub), now), now)
    elif {"time", "timezone"} & set(changed):
        apply(sub, lifecycle.settings_saved(drip_of(sub), now), now)
    if changed:
        sub.updated_at = now
        session.add(sub)
    return SettingsChanged(trainee_of(sub), {}, tuple(changed))


def forget(session: Session, user_id: int, chat_id: int) -> None:
    """/forget: delete everything stored about this person."""
    forget_user(session, user_id, chat_id)
