"""The subscription lifecycle: every transition, from every status, as a table."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable

import pytest

from bot.domain import lifecycle as life
from bot.domain.lifecycle import Change, Drip, Status, Transition
from storage.models import SubscriptionStatus

NOW = dt.datetime(2026, 3, 2, 10, 0, tzinfo=dt.UTC)  # a Monday, 10:00 UTC (11:00 in Berlin)
EARLIER = NOW - dt.timedelta(days=3)
TOMORROW_8 = dt.datetime(2026, 3, 3, 7, 0, tzinfo=dt.UTC)  # 08:00 in Berlin
DUE_BEFORE = dt.datetime(2026, 3, 2, 7, 0, tzinfo=dt.UTC)


def drip(status: Status, **changes: object) -> Drip:
    values: dict[str, object] = {
        "status": status,
        "next_due_at": DUE_BEFORE if status == Status.active else None,
        "timezone": "Europe/Berlin",
        "delivery_time": "08:00",
    }
    values.update(changes)
    return Drip(**values)  # type: ignore[arg-type]


def kept(status: Status, change: Change) -> Transition:
    return Transition(status, drip(status).next_due_at, change)


def test_the_statuses_are_the_ones_the_database_stores() -> None:
    assert [s.value for s in Status] == [s.value for s in SubscriptionStatus]


Case = tuple[Status, Transition]

COMMANDS: dict[str, tuple[Callable[[Drip, dt.datetime], Transition], list[Case]]] = {
    "pause": (
        life.pause,
        [
            (Status.onboarding, kept(Status.onboarding, Change.not_subscribed)),
            (Status.active, Transition(Status.paused, None, reset_idle=True)),
            (Status.paused, kept(Status.paused, Change.unchanged)),
            (Status.stopped, Transition(Status.paused, None, reset_idle=True)),
            (Status.blocked, Transition(Status.paused, None, reset_idle=True)),
            (Status.finished, kept(Status.finished, Change.finished)),
        ],
    ),
    "resume": (
        life.resume,
        [
            (Status.onboarding, kept(Status.onboarding, Change.not_subscribed)),
            (Status.active, kept(Status.active, Change.unchanged)),
            (Status.paused, Transition(Status.active, TOMORROW_8, reset_idle=True)),
            (Status.stopped, Transition(Status.active, TOMORROW_8, reset_idle=True)),
            (Status.blocked, Transition(Status.active, TOMORROW_8, reset_idle=True)),
            (Status.finished, kept(Status.finished, Change.finished)),
        ],
    ),
    "stop": (
        life.stop,
        [
            (Status.onboarding, kept(Status.onboarding, Change.not_subscribed)),
            (Status.active, Transition(Status.stopped, None, reset_idle=True)),
            (Status.paused, Transition(Status.stopped, None, reset_idle=True)),
            (Status.stopped, kept(Status.stopped, Change.unchanged)),
            (Status.blocked, Transition(Status.stopped, None, reset_idle=True)),
            (Status.finished, kept(Status.finished, Change.finished)),
        ],
    ),
    "deliver now (/next)": (
        life.deliver_now,
        [
            (Status.onboarding, kept(Status.onboarding, Change.not_subscribed)),
            (Status.active, Transition(Status.active, NOW)),
            (Status.paused, Transition(Status.active, NOW)),
            (Status.stopped, Transition(Status.active, NOW)),
            (Status.blocked, Transition(Status.active, NOW)),
            (Status.finished, kept(Status.finished, Change.finished)),
        ],
    ),
    "settings saved (onboarding done, or a setting changed)": (
        life.settings_saved,
        [
            (Status.onboarding, Transition(Status.active, TOMORROW_8)),
            (Status.active, Transition(Status.active, TOMORROW_8)),
            (Status.paused, kept(Status.paused, Change.unchanged)),
            (Status.stopped, kept(Status.stopped, Change.unchanged)),
            (Status.blocked, kept(Status.blocked, Change.unchanged)),
            (Status.finished, Transition(Status.active, TOMORROW_8)),
        ],
    ),
}


@pytest.mark.parametrize(
    ("name", "status", "expected"),
    [
        (name, status, expected)
        for name, (_, cases) in COMMANDS.items()
        for status, expected in cases
    ],
)
def test_a_command_from_each_status(name: str, status: Status, expected: Transition) -> None:
    transition, _ = COMMANDS[name]
    assert transition(drip(status), NOW) == expected


def test_every_command_covers_every_status() -> None:
    for name, (_, cases) in COMMANDS.items():
        assert [status for status, _ in cases] == list(Status), name


@pytest.mark.parametrize(
    ("lease_until", "expected"),
    [
        (NOW + dt.timedelta(seconds=30), kept(Status.active, Change.on_its_way)),
        (NOW - dt.timedelta(seconds=1), Transition(Status.active, NOW)),  # a stale lease
        (None, Transition(Status.active, NOW)),
    ],
)
def test_next_while_an_installment_is_on_its_way(
    lease_until: dt.datetime | None, expected: Transition
) -> None:
    assert life.deliver_now(drip(Status.active, lease_until=lease_until), NOW) == expected


@pytest.mark.parametrize(
    ("status", "track_asked", "track_found", "expected"),
    [
        # /start alone brings back who stopped or was blocked, and leaves the others be
        (Status.stopped, False, False, Transition(Status.active, TOMORROW_8)),
        (Status.blocked, False, False, Transition(Status.active, TOMORROW_8)),
        (Status.active, False, False, kept(Status.active, Change.unchanged)),
        (Status.paused, False, False, kept(Status.paused, Change.unchanged)),
        (Status.finished, False, False, kept(Status.finished, Change.unchanged)),
        # /start <track> restarts any drip on a track of the library
        (Status.paused, True, True, Transition(Status.active, TOMORROW_8)),
        (Status.finished, True, True, Transition(Status.active, TOMORROW_8)),
        (Status.stopped, True, True, Transition(Status.active, TOMORROW_8)),
        # a mistyped track changes nothing
        (Status.stopped, True, False, kept(Status.stopped, Change.unchanged)),
        (Status.finished, True, False, kept(Status.finished, Change.unchanged)),
        # still onboarding: /start asks the questions again, it does not start the drip
        (Status.onboarding, False, False, kept(Status.onboarding, Change.not_subscribed)),
        (Status.onboarding, True, True, kept(Status.onboarding, Change.not_subscribed)),
    ],
)
def test_start_again(
    status: Status, track_asked: bool, track_found: bool, expected: Transition
) -> None:
    result = life.restart(drip(status), NOW, track_asked=track_asked, track_found=track_found)
    assert result == expected


def test_the_next_delivery_is_the_local_time_after_now_never_a_backlog() -> None:
    early = NOW.replace(hour=5)  # 06:00 in Berlin: today's 08:00 is still ahead
    assert life.resume(drip(Status.paused), early).next_due_at == NOW.replace(hour=7)
    new_york = drip(Status.onboarding, timezone="America/New_York", delivery_time="07:30")
    assert life.settings_saved(new_york, NOW).next_due_at == dt.datetime(
        2026, 3, 2, 12, 30, tzinfo=dt.UTC
    )


@pytest.mark.parametrize(
    ("status", "more_to_send", "expected"),
    [
        (Status.active, True, Transition(Status.active, TOMORROW_8)),
        (Status.active, False, Transition(Status.finished, None)),
        # paused, stopped or blocked while it was being sent: left as the trainee set it
        (Status.paused, True, kept(Status.paused, Change.unchanged)),
        (Status.blocked, False, kept(Status.blocked, Change.unchanged)),
    ],
)
def test_finish_an_installment(status: Status, more_to_send: bool, expected: Transition) -> None:
    assert life.finish(drip(status), NOW, more_to_send=more_to_send) == expected


@pytest.mark.parametrize("status", list(Status))
def test_block(status: Status) -> None:
    expected = (
        kept(Status.blocked, Change.unchanged)
        if status == Status.blocked
        else Transition(Status.blocked, None)
    )
    assert life.block(drip(status)) == expected


def test_retry_later_keeps_the_status_and_moves_the_due_time() -> None:
    delay = dt.timedelta(minutes=1)
    assert life.retry_later(drip(Status.active), NOW, delay) == Transition(
        Status.active, NOW + delay
    )


@pytest.mark.parametrize(
    ("status", "idle", "threshold", "expected"),
    [
        (Status.active, 3, 3, Transition(Status.paused, None)),
        (Status.active, 4, 3, Transition(Status.paused, None)),
        (Status.active, 2, 3, kept(Status.active, Change.unchanged)),
        (Status.active, 9, 0, kept(Status.active, Change.unchanged)),  # 0: never pause
        (Status.stopped, 9, 3, kept(Status.stopped, Change.unchanged)),
    ],
)
def test_idle_pause(status: Status, idle: int, threshold: int, expected: Transition) -> None:
    result = life.idle_pause(drip(status), idle_installments=idle, threshold=threshold)
    assert result == expected


def test_a_schedule_starts_active_and_due_at_its_start() -> None:
    assert life.start_schedule(TOMORROW_8) == Transition(Status.active, TOMORROW_8)
