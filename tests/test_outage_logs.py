"""What the operator reads in the log while the dispatcher runs: a database outage is two
lines (when it starts, when it ends, with the count of failures between), and a fan-out
longer than the dispatch interval is not a warning on every tick."""

from __future__ import annotations

import datetime as dt
import logging
import re
from collections.abc import AsyncIterator

import pytest
from sqlalchemy.engine import Engine

from bot.app import schedule_dispatcher
from bot.emulator import TelegramEmulator
from storage.db import make_engine
from tests.harness import Harness, start_harness
from tests.test_drip import headers
from tests.test_onboarding import TRAINEE, onboard, subscription
from tests.test_scaleout import free_port

TICK = 0.05  # the dispatch interval: many ticks in a short test


@pytest.fixture
async def ticking(emulator: TelegramEmulator, sqlite_engine: Engine) -> AsyncIterator[Harness]:
    """The bot with its dispatcher job running every TICK seconds, as in production."""
    async with start_harness(emulator, sqlite_engine, dispatch_interval_seconds=TICK) as h:
        schedule_dispatcher(h.app)
        yield h


async def test_a_database_outage_is_logged_when_it_starts_and_when_it_ends(
    ticking: Harness, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    svc = ticking.services
    database = svc.engine
    # The database server goes away: nothing listens on its port any more.
    unreachable = make_engine(f"postgresql://postgres@127.0.0.1:{free_port()}/tweetdrip")
    svc.engine = svc.db.engine = unreachable  # the delivery engine's, and the handlers'
    try:
        await ticking.emulator.wait_for(lambda: svc.outages.failures >= 5, timeout=30)
        # A person's command during the outage fails the same way, and is counted too.
        ticking.emulator.send_message(TRAINEE, "/next")
        await ticking.emulator.wait_for(lambda: ticking.messages(TRAINEE), timeout=10)
    finally:
        svc.engine = svc.db.engine = database
        unreachable.dispose()
    await ticking.emulator.wait_for(lambda: svc.outages.failures == 0, timeout=30)

    lines = [r.getMessage() for r in caplog.records]
    started = [line for line in lines if "database unavailable" in line]
    ended = [line for line in lines if "database available again" in line]
    assert len(started) == 1, lines
    assert "the dispatcher failed" in started[0]
    assert "[SQL" not in started[0]  # the driver's message, not the statement and its data
    assert len(ended) == 1, lines
    count = re.search(r"ended after (\d+) failed attempts", ended[0])
    assert count is not None and int(count.group(1)) >= 6  # the ticks and the command
    assert [r.getMessage() for r in caplog.records if r.exc_info] == []
    assert not [line for line in lines if "error while handling an update" in line]


async def test_a_dispatch_longer_than_the_interval_is_not_a_warning_every_tick(
    ticking: Harness, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    await onboard(ticking)
    # One message takes Telegram a second to answer: the dispatch runs for many ticks.
    held = ticking.emulator.faults.add(kind="timeout", delay=1.0, apply=True)
    ticking.clock.set(dt.datetime(2026, 1, 5, 8, 0, tzinfo=dt.UTC))
    await ticking.emulator.wait_for(lambda: held.hits, timeout=10)
    await ticking.emulator.wait_for(lambda: delivered(ticking), timeout=30)
    assert len(headers(ticking, TRAINEE)) == 1
    lines = [r.getMessage() for r in caplog.records]
    assert [line for line in lines if "maximum number of running instances" in line] == []


def delivered(h: Harness) -> bool:
    """Whether today's installment went out and the next one is scheduled."""
    sub = subscription(h)
    return sub.next_due_at is not None and sub.next_due_at > h.now and sub.lease_until is None
