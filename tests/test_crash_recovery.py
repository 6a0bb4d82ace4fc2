"""A bot killed at any step of an installment and started again loses no message, repeats at
most the one in flight, and never sends the next installment early.

Each kill lands at one exact step, not at a random moment: the bot SIGKILLs itself right
after its Nth committed write to the outbox (tests/crashpoint.py), or the emulator kills it
right after accepting its Nth message, before the answer gets back to it (the one
documented window). The installment under test is the first of the CSF track at two posts a
day: a header, two posts and a quiz poll; its outbox writes are the outbox itself and then
one record per message, the last one together with the end of the installment.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import os
import signal
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from sqlalchemy import event
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session
from sqlmodel import select

from bot.app import build_application
from bot.dispatch import dispatch_due
from bot.emulator import TelegramEmulator
from bot.emulator.methods import SENDING_METHODS
from bot.emulator.models import BotEvent
from storage.db import make_engine, session_scope
from storage.drip import release_all_leases
from storage.migrate import upgrade
from storage.models import (
    Delivery,
    DeliveryStatus,
    ReviewCard,
    Subscription,
    SubscriptionStatus,
)
from tests.harness import Harness, settings_for
from tests.test_onboarding import TRAINEE, onboard
from tests.test_scaleout import FIRST_CHAT, BotProcess, bot_environment

PACE = 2
ITEMS = ["h1", "p1", "p2", "q:q1"]  # the first installment of the CSF track at this pace
OUTBOX_WRITES = 1 + len(ITEMS)


class CrashingBot(BotProcess):
    """`tweetdrip run` that SIGKILLs itself right after its `writes`th outbox write."""

    def __init__(self, env: dict[str, str], log: Path, writes: int) -> None:
        self.log = log
        command = [sys.executable, "-m", "tests.crashpoint", str(writes), "run"]
        with log.open("ab") as out:
            self.process = subprocess.Popen(
                command, env=env, stdout=out, stderr=subprocess.STDOUT, cwd=Path.cwd()
            )


@dataclass(repr=False)
class Case:
    """One bot, its own database and trainee, killed at one step."""

    kill: str  # "after write" N, or "after Telegram accepted message" N
    step: int
    chat: int
    engine: Engine
    env: dict[str, str]
    processes: list[BotProcess] = field(default_factory=list)
    recorded: list[str] = field(default_factory=list)  # items recorded as sent at the kill

    def __repr__(self) -> str:
        return f"killed {self.kill} {self.step}"


def add_trainee(engine: Engine, chat: int, due: dt.datetime) -> None:
    with session_scope(engine) as session:
        session.add(
            Subscription(
                chat_id=chat,
                user_id=chat,
                status=SubscriptionStatus.active,
                plan_id="csf-leaks",
                pace=PACE,
                next_due_at=due,
            )
        )


def kill_on_message(emulator: TelegramEmulator, case: Case, count: int) -> None:
    """Kill the case's bot the moment the emulator stores its `count`th message to the
    trainee: Telegram has it, the bot never hears back."""
    seen = 0

    def on_event(event: BotEvent) -> None:
        nonlocal seen
        if event.kind != "sent":
            return
        seen += 1
        if seen == count:
            unsubscribe()
            process = case.processes[0].process
            os.kill(process.pid, signal.SIGKILL)
            process.wait(timeout=10)  # dead before this answer can be written

    unsubscribe = emulator.on_bot_message(on_event, chat_id=case.chat)


def sent_items(engine: Engine, chat: int) -> list[str]:
    with session_scope(engine) as session:
        return list(
            session.exec(
                select(Delivery.item)
                .join(Subscription, Delivery.subscription_id == Subscription.id)  # type: ignore[arg-type]
                .where(Subscription.chat_id == chat, Delivery.status == DeliveryStatus.sent)
                .order_by(Delivery.seq)  # type: ignore[arg-type]
            )
        )


async def wait_until_killed(cases: list[Case], timeout: float = 120) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while True:
        running = [c for c in cases if c.processes[0].process.poll() is None]
        for case in cases:
            code = case.processes[0].process.returncode
            if code is not None and code != -signal.SIGKILL:
                raise AssertionError(f"{case}: exited {code}\n{case.processes[0].output()[-3000:]}")
        if not running:
            return
        if loop.time() > deadline:
            raise AssertionError(f"never reached the step to be killed at: {running[0]}")
        await asyncio.sleep(0.1)


async def restart(emulator: TelegramEmulator, engine: Engine) -> None:
    """Start the bot again on the same database, as `tweetdrip run` does on SQLite (the
    dead process's leases go at once), and run the dispatcher until nothing is due."""
    with session_scope(engine) as session:
        release_all_leases(session)
    url = engine.url.render_as_string(hide_password=False)
    app = build_application(settings_for(emulator, url), engine=engine, start_dispatcher=False)
    async with app:
        assert await dispatch_due(app) <= 1
        assert await dispatch_due(app) == 0  # nothing more is due today


def contents(emulator: TelegramEmulator, chat: int) -> list[str]:
    """What reached a chat, in order: texts, captions and poll questions."""
    found = []
    for call in emulator.calls:
        if call.method in SENDING_METHODS and call.ok and call.result["chat"]["id"] == chat:
            poll = call.result.get("poll") or {}
            found.append(call.result.get("text") or call.result.get("caption") or poll["question"])
    return found


async def test_a_bot_killed_at_any_step_of_an_installment_repeats_only_the_message_in_flight(
    tmp_path: Path,
) -> None:
    steps = [("after write", n) for n in range(1, OUTBOX_WRITES + 1)]
    steps += [("after Telegram accepted message", n) for n in range(1, len(ITEMS) + 1)]
    now = dt.datetime.now(dt.UTC)
    async with TelegramEmulator() as emulator:
        cases: list[Case] = []
        reference = FIRST_CHAT - 1  # a trainee no bot is killed for: the messages, each once
        emulator.add_users([reference])
        try:
            for index, (kill, step) in enumerate(steps):
                url = f"sqlite:///{tmp_path / f'case{index}.db'}"
                engine = make_engine(url)
                upgrade(engine)
                chat = FIRST_CHAT + index
                emulator.add_users([chat])
                add_trainee(engine, chat, now - dt.timedelta(minutes=1))
                case = Case(kill, step, chat, engine, bot_environment(emulator, url))
                log = tmp_path / f"case{index}.log"
                if kill == "after write":
                    case.processes.append(CrashingBot(case.env, log, writes=step))
                else:
                    case.processes.append(BotProcess(case.env, log, webhook=False))
                    kill_on_message(emulator, case, step)
                cases.append(case)
            await wait_until_killed(cases)
        finally:
            for case in cases:
                case.processes[0].terminate()
        for case in cases:
            case.recorded = sent_items(case.engine, case.chat)
            await restart(emulator, case.engine)
        add_trainee(cases[0].engine, reference, now)
        await restart(emulator, cases[0].engine)

        expected_once = contents(emulator, reference)
        assert len(expected_once) == len(set(expected_once)) == len(ITEMS)
        for case in cases:
            # Killed after write N: the outbox and N - 1 records were written; after message
            # N: each message before it was recorded before it went out.
            assert case.recorded == ITEMS[: case.step - 1], case
            expected = list(expected_once)
            if case.kill == "after Telegram accepted message":
                # The one window: that message went out and was never recorded.
                expected.insert(case.step, expected[case.step - 1])
            # Otherwise nothing recorded as sent went out again, nothing unsent was skipped.
            assert contents(emulator, case.chat) == expected, case
            assert sent_items(case.engine, case.chat) == ITEMS, case
            with session_scope(case.engine) as session:
                query = select(Subscription).where(Subscription.chat_id == case.chat)
                sub = session.exec(query).one()
                # The next installment waits for tomorrow's delivery time.
                assert sub.installments_sent == 1, case
                assert sub.next_due_at is not None and sub.next_due_at > now, case
                assert sub.lease_until is None, case
            case.engine.dispose()


class CommitWatch:
    """The state of one subscription right after every commit of the bot: what a process
    killed at that moment would leave behind."""

    def __init__(self, engine: Engine, chat: int) -> None:
        self.engine, self.chat = engine, chat
        self.states: list[tuple[int, int, str, dt.datetime | None]] = []

    def __enter__(self) -> CommitWatch:
        event.listen(Session, "after_commit", self._seen)
        return self

    def __exit__(self, *_exc: object) -> None:
        event.remove(Session, "after_commit", self._seen)

    def _seen(self, _session: Session) -> None:
        with self.engine.connect() as connection:
            sub = connection.execute(
                select(Subscription.id, Subscription.status, Subscription.next_due_at).where(
                    Subscription.chat_id == self.chat
                )
            ).one()
            items = connection.execute(
                select(Delivery.status).where(Delivery.subscription_id == sub.id)
            ).all()
        pending = sum(1 for (status,) in items if status == DeliveryStatus.pending)
        self.states.append((len(items), pending, sub.status, sub.next_due_at))


LAST_ITEMS = {
    # last item: (pace, thread index, next post, a review due)
    "post": (1, 0, 0, False),
    "quiz poll": (2, 0, 0, False),
    "end of the thread": (2, 0, 10, False),
    "review": (1, 0, 0, True),
}


@pytest.mark.parametrize("last", LAST_ITEMS)
async def test_no_commit_leaves_an_installment_all_sent_but_still_due(
    harness: Harness, last: str
) -> None:
    """Whatever its last message, an installment's last record and its finish are one
    write: no moment exists where a kill would leave it all sent yet still due (the next
    installment would go out at the restart)."""
    pace, thread_index, next_post, review = LAST_ITEMS[last]
    await onboard(harness)
    with session_scope(harness.engine) as session:
        sub = session.exec(select(Subscription)).one()
        sub.pace, sub.thread_index, sub.next_post = pace, thread_index, next_post
        session.add(sub)
        if review:
            session.add(
                ReviewCard(
                    user_id=TRAINEE,
                    thread_id="csf-leak-blood-patch",
                    question_id="q1",
                    card={},
                    due_at=dt.datetime(2026, 1, 5, 7, 0, tzinfo=dt.UTC),
                )
            )
    harness.clock.set(dt.datetime(2026, 1, 5, 8, 0, tzinfo=dt.UTC))
    with CommitWatch(harness.engine, TRAINEE) as watch:
        assert await harness.dispatch() == 1

    with session_scope(harness.engine) as session:
        items = session.exec(select(Delivery.item).order_by(Delivery.seq)).all()
    kinds = {"p": "post", "q": "quiz poll", "e": "end of the thread", "r": "review"}
    assert kinds[items[-1][0]] == last, items
    assert any(pending for _, pending, _, _ in watch.states), "the watch saw no installment"
    now = harness.now
    all_sent_but_due = [
        state
        for state in watch.states
        if state[0] and not state[1] and state[2] == SubscriptionStatus.active and state[3] <= now
    ]
    assert all_sent_but_due == []
    assert watch.states[-1][1:] == (
        0,
        SubscriptionStatus.active,
        dt.datetime(2026, 1, 6, 8, 0, tzinfo=dt.UTC),
    )
