"""The life of a drip: every change of a subscription's status and next_due_at is decided here.

Each transition is a pure function of the drip's current state and `now`; it returns the
new status and next due instant, and what happened (`Change`) so the reply can say it
("already paused", "you have finished your track"). Nothing else sets a status or a due
time; the callers only store what these return.

    onboarding --settings_saved--> active --pause--> paused --resume--> active
    active --stop--> stopped --restart (/start)--> active
    active --finish (nothing left)--> finished --settings_saved / restart--> active
    any --block (Telegram says 403)--> blocked --restart (/start)--> active
    active --idle_pause--> paused;  stopped/paused/blocked --deliver_now (/next)--> active
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum

from bot.domain.reminders import should_pause
from bot.domain.schedule import next_delivery_at


class Status(StrEnum):
    """A drip's status (the values stored in the subscription's `status`)."""

    onboarding = "onboarding"
    active = "active"
    paused = "paused"
    stopped = "stopped"  # unsubscribed with /stop; progress kept
    blocked = "blocked"  # Telegram answered 403
    finished = "finished"  # everything in the plan was delivered


class Change(StrEnum):
    """What a transition did."""

    done = "done"  # the drip now has the returned status and due time
    unchanged = "unchanged"  # it already was as asked (or had no reason to change)
    not_subscribed = "not_subscribed"  # still onboarding: nothing to pause, resume or send
    finished = "finished"  # the plan is finished: nothing to pause, resume or send
    on_its_way = "on_its_way"  # an installment is being delivered right now


@dataclass(frozen=True)
class Drip:
    """What the transitions need to know about a subscription."""

    status: Status
    next_due_at: dt.datetime | None = None
    timezone: str = "UTC"
    delivery_time: str = "08:00"  # local wall-clock HH:MM
    lease_until: dt.datetime | None = None  # a dispatcher is delivering it until then


@dataclass(frozen=True)
class Transition:
    """The drip's new status and next due instant, and what changed."""

    status: Status
    next_due_at: dt.datetime | None
    change: Change = Change.done
    reset_idle: bool = False  # the trainee acted on the drip: its idle count starts again

    @property
    def done(self) -> bool:
        return self.change == Change.done


# A trainee's command: pause, resume, stop, deliver_now.
Command = Callable[[Drip, dt.datetime], Transition]


def _kept(drip: Drip, change: Change) -> Transition:
    return Transition(drip.status, drip.next_due_at, change)


def _running(drip: Drip, now: dt.datetime, *, reset_idle: bool = False) -> Transition:
    """Active, due at the next local delivery time after `now`."""
    due = next_delivery_at(drip.timezone, drip.delivery_time, now)
    return Transition(Status.active, due, reset_idle=reset_idle)


# --- a trainee's own actions --------------------------------------------------------------------


def settings_saved(drip: Drip, now: dt.datetime) -> Transition:
    """Onboarding answered, or a setting changed: an onboarding or finished drip starts, an
    active one is due at its (new) delivery time, a paused, stopped or blocked one waits."""
    if drip.status in (Status.onboarding, Status.finished, Status.active):
        return _running(drip, now)
    return _kept(drip, Change.unchanged)


def restart(drip: Drip, now: dt.datetime, *, track_asked: bool, track_found: bool) -> Transition:
    """/start from someone who already finished onboarding.

    `/start` alone brings back a stopped or blocked drip; `/start <track>` with a track of
    the library restarts any drip on it. A mistyped track changes nothing.
    """
    if drip.status == Status.onboarding:
        return _kept(drip, Change.not_subscribed)
    if track_found or (not track_asked and drip.status in (Status.stopped, Status.blocked)):
        return _running(drip, now)
    return _kept(drip, Change.unchanged)


def deliver_now(drip: Drip, now: dt.datetime) -> Transition:
    """/next: the next installment is due now, whatever the status (unless there is none)."""
    if drip.status == Status.onboarding:
        return _kept(drip, Change.not_subscribed)
    if drip.status == Status.finished:
        return _kept(drip, Change.finished)
    if drip.lease_until is not None and drip.lease_until > now:
        return _kept(drip, Change.on_its_way)
    return Transition(Status.active, now)


def _set(drip: Drip, status: Status, due: dt.datetime | None) -> Transition:
    if drip.status == Status.onboarding:
        return _kept(drip, Change.not_subscribed)
    if drip.status == Status.finished:
        return _kept(drip, Change.finished)
    if drip.status == status:
        return _kept(drip, Change.unchanged)
    return Transition(status, due, reset_idle=True)


def pause(drip: Drip, now: dt.datetime) -> Transition:
    """/pause: nothing arrives until /resume."""
    return _set(drip, Status.paused, None)


def resume(drip: Drip, now: dt.datetime) -> Transition:
    """/resume: due again at the next local delivery time."""
    return _set(drip, Status.active, next_delivery_at(drip.timezone, drip.delivery_time, now))


def stop(drip: Drip, now: dt.datetime) -> Transition:
    """/stop: unsubscribed, progress kept; /start brings it back."""
    return _set(drip, Status.stopped, None)


# --- the delivery engine and the admin's tools -------------------------------------------------


def finish(drip: Drip, now: dt.datetime, *, more_to_send: bool) -> Transition:
    """After an installment of an active drip: due at the next local delivery time (never a
    backlog), or finished when the plan has nothing more to send."""
    if drip.status != Status.active:
        return _kept(drip, Change.unchanged)
    if not more_to_send:
        return Transition(Status.finished, None)
    return _running(drip, now)


def block(drip: Drip) -> Transition:
    """Telegram refused to deliver (the person blocked the bot): stop until they /start."""
    if drip.status == Status.blocked:
        return _kept(drip, Change.unchanged)
    return Transition(Status.blocked, None)


def retry_later(drip: Drip, now: dt.datetime, delay: dt.timedelta) -> Transition:
    """Telegram asked to wait, or did not answer: the same drip, tried again after `delay`."""
    return Transition(drip.status, now + delay)


def idle_pause(drip: Drip, *, idle_installments: int, threshold: int) -> Transition:
    """After `threshold` installments in a row without a sign of the trainee, pause."""
    if drip.status != Status.active or not should_pause(idle_installments, threshold):
        return _kept(drip, Change.unchanged)
    return Transition(Status.paused, None)


def start_schedule(start_at: dt.datetime) -> Transition:
    """A new schedule into a group or channel: active, first due at its start."""
    return Transition(Status.active, start_at)
