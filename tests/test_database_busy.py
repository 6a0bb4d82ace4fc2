"""A database locked by another process: other chats are answered meanwhile, and a command
that waits for the lock is either done once it is free or answered clearly, never dropped."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy.engine import Engine

from storage.db import make_engine
from storage.models import SubscriptionStatus
from storage.runner import Database
from tests.harness import Harness
from tests.test_onboarding import onboard, subscription

TRAINEE = 501
BYSTANDER = 602
BUSY_NEXT = "⏳ The database is busy right now: your /next was not done. Please send it again."


@contextmanager
def write_lock_held(engine: Engine) -> Iterator[threading.Event]:
    """Another process's long write: it holds SQLite's write lock until the event is set."""
    other = make_engine(engine.url.render_as_string(hide_password=False))
    release, held = threading.Event(), threading.Event()

    def hold() -> None:
        with other.connect() as connection:
            connection.exec_driver_sql("BEGIN IMMEDIATE")
            held.set()
            release.wait(60)
            connection.rollback()

    locker = threading.Thread(target=hold)
    locker.start()
    assert held.wait(10)
    try:
        yield release
    finally:
        release.set()
        locker.join()
        other.dispose()


def installment_headers(h: Harness) -> list[str]:
    return [text for text in h.texts(TRAINEE) if text.startswith("Day ")]


async def test_a_bystander_is_answered_while_the_lock_is_held_and_next_is_done_after(
    harness: Harness,
) -> None:
    await onboard(harness)
    sent_before = len(harness.messages(TRAINEE))
    with write_lock_held(harness.engine) as release:
        harness.emulator.send_message(TRAINEE, "/next")
        harness.emulator.send_message(BYSTANDER, "/help")
        await harness.emulator.wait_for_call("sendMessage", chat_id=BYSTANDER, timeout=30)
        # /help was answered while /next still waits for the lock: nothing went to the trainee.
        assert len(harness.messages(TRAINEE)) == sent_before
        assert "tweetdrip" in harness.last_message(BYSTANDER).content
        release.set()
        await harness.emulator.wait_for(lambda: installment_headers(harness), timeout=30)
    await harness.settle()
    assert [header.split(" · ")[0] for header in installment_headers(harness)] == ["Day 1"]
    assert BUSY_NEXT not in harness.texts(TRAINEE)


async def test_a_command_that_waits_too_long_is_answered_clearly_and_not_done(
    harness: Harness,
) -> None:
    await onboard(harness)
    due = subscription(harness).next_due_at
    harness.services.db.close()
    harness.services.db = Database(harness.engine, busy_seconds=0.5)
    sent_before = len(harness.messages(TRAINEE))
    with write_lock_held(harness.engine):
        harness.emulator.send_message(TRAINEE, "/next")
        await harness.emulator.wait_for(lambda: BUSY_NEXT in harness.texts(TRAINEE), timeout=30)
    await harness.settle()
    assert harness.texts(TRAINEE)[sent_before:] == [BUSY_NEXT]
    sub = subscription(harness)
    assert (sub.status, sub.next_due_at) == (SubscriptionStatus.active, due)

    await harness.send(TRAINEE, "/next")  # sent again once the database is free: done
    assert len(installment_headers(harness)) == 1


async def test_a_button_pressed_while_the_database_stays_busy_is_answered(
    harness: Harness,
) -> None:
    await harness.send(TRAINEE, "/start")
    question = harness.last_message(TRAINEE)
    harness.services.db.close()
    harness.services.db = Database(harness.engine, busy_seconds=0.5)
    with write_lock_held(harness.engine):
        harness.emulator.press_button(TRAINEE, question, "ob:track:csf-leaks")
        await harness.emulator.wait_for(
            lambda: "busy" in harness.last_message(TRAINEE).content, timeout=30
        )
    await harness.settle()
    assert harness.last_message(TRAINEE).content == (
        "⏳ The database is busy right now: your button press was not done. Please press it again."
    )
    assert subscription(harness).onboarding_step == "track"  # the answer was not saved
