"""The fast lane: how long a person waits for the bot while it sends a morning fan-out at
Telegram's limits, beside the same when the bot is idle (bot/lanes.py, bot/ratelimit.py).

Run:  .venv/bin/python benchmarks/bench_fastlane.py [--quick] [--databases sqlite,postgresql]
      TEST_DATABASE_URL=postgresql://postgres@127.0.0.1:5432/test  adds a PostgreSQL run, on
      the send budget shared through the database (as with several processes).

The emulator runs in its own process and enforces Telegram's flood limits (30 msg/s, 1 msg/s
per private chat with bursts of 3, 20/min per group; 429 on a breach). The bot runs with its
real limits and production settings, and long-polls for updates. In one run:

1. idle: a person sends /help; another presses the first button of onboarding (the track
   question their /start got a few seconds before); one probe at a time, 0.3 s apart.
2. during a fan-out: 2,000 trainees due, a header and one post each (4,000 messages, over
   two minutes at 30 msg/s); the same two probes in turn, each 1.5 s after the last answer,
   until the fan-out ends (a probe still open when it ends is not counted).

A probe's latency runs from the moment the emulator queued the person's update to the moment
it took the bot's first message (or edit) in their chat, both timed in the emulator's process.
Goals: p95 under 250 ms during the fan-out; the budget still used at >= 28.5 msg/s while the
fan-out runs (the fan-out's own sends plus the answers, which share the budget), no 429.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import os
import platform
import sys
import tempfile
from pathlib import Path

from _common import TOKEN, EmulatorProcess, Table, emulator_process, fresh_database, percentile
from telegram import Update

from bot.app import build_application
from bot.clock import VirtualClock
from bot.dispatch import dispatch_due
from bot.settings import Settings
from storage.db import make_engine, session_scope
from storage.models import Subscription, SubscriptionStatus

START = dt.datetime(2026, 1, 5, 8, 5, tzinfo=dt.UTC)  # a Monday morning: the fan-out is due
FIRST_TRAINEE = 30_000_001
FIRST_PERSON = 40_000_001
LATENCY_GOAL_MS = 250.0
RATE_GOAL = 0.95 * 30.0
IDLE_GAP = 0.3
BUSY_GAP = 1.5
PROBE_TIMEOUT = 30.0


def add_due_trainees(url: str, count: int) -> list[int]:
    """`count` active trainees on the CSF track, due at START; return their chat ids."""
    chats = list(range(FIRST_TRAINEE, FIRST_TRAINEE + count))
    engine = make_engine(url)
    with session_scope(engine) as session:
        session.add_all(
            Subscription(
                chat_id=chat,
                user_id=chat,
                name=f"Trainee {chat}",
                status=SubscriptionStatus.active,
                plan_id="csf-leaks",
                pace=1,
                next_due_at=START - dt.timedelta(minutes=5),
            )
            for chat in chats
        )
    engine.dispose()
    return chats


class Probes:
    """People acting one at a time, their latencies in ms by kind."""

    def __init__(self, emulator: EmulatorProcess, people: list[int]) -> None:
        self.emulator = emulator
        self.people = iter(people)
        self.ms: dict[str, list[float]] = {"/help": [], "press": []}
        self.missed = 0

    async def start_onboarding(self, count: int) -> list[int]:
        """`count` new people send /start; return them once each has the track question."""
        people = [next(self.people) for _ in range(count)]
        for person in people:
            await asyncio.to_thread(self.emulator.probe, "/start", person, PROBE_TIMEOUT)
        if not await asyncio.to_thread(self.emulator.wait_for_buttons, people):
            raise RuntimeError("onboarding: the track question did not reach everyone")
        return people

    async def one(self, kind: str, person: int | None = None) -> tuple[str, float | None]:
        person = next(self.people) if person is None else person
        seconds = await asyncio.to_thread(self.emulator.probe, kind, person, PROBE_TIMEOUT)
        return kind, seconds

    def keep(self, kind: str, seconds: float | None) -> None:
        if seconds is None:
            self.missed += 1
        else:
            self.ms[kind].append(seconds * 1000)


class LoopWatch:
    """How late the event loop runs a 10 ms timer: what the bot's own work (or the machine)
    holds everything up by, replies included."""

    def __init__(self) -> None:
        self.stalls: list[float] = []  # seconds late, beyond 100 ms
        self.longest = 0.0
        self._task: asyncio.Task[None] | None = None

    async def _watch(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            due = loop.time() + 0.01
            await asyncio.sleep(0.01)
            late = loop.time() - due
            self.longest = max(self.longest, late)
            if late > 0.1:
                self.stalls.append(late)

    def start(self) -> None:
        self._task = asyncio.create_task(self._watch())

    def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()


def latency_row(table: Table, label: str, figure: str, values: list[float], goal: bool) -> None:
    if not values:
        table.add(label, figure, "no probes", f"p95 < {LATENCY_GOAL_MS:.0f}" if goal else "")
        return
    p50, p95 = percentile(values, 0.5), percentile(values, 0.95)
    value = f"{p50:.0f} / {p95:.0f} / {max(values):.0f} (n={len(values)})"
    if goal:
        table.add(label, figure, value, f"p95 < {LATENCY_GOAL_MS:.0f}", p95 < LATENCY_GOAL_MS)
    else:
        table.add(label, figure, value)


async def run(
    table: Table, db: str, url: str, trainees: int, idle_probes: int, busy_probes: int
) -> None:
    label = f"fast lane ({db})"
    chats = add_due_trainees(url, trainees)
    people = list(range(FIRST_PERSON, FIRST_PERSON + 2 * (idle_probes + busy_probes) + 10))
    with emulator_process(enforce_limits=True, user_ids=chats + people) as emulator:
        settings = Settings(  # type: ignore[call-arg]
            _env_file=None,
            telegram_bot_token=TOKEN,
            telegram_api_base_url=emulator.base_url,
            telegram_api_file_url=emulator.base_file_url,
            database_url=url,
            dispatch_interval_seconds=3600,  # the fan-out is started by hand below
            log_level="WARNING",
        )
        assert settings.rate_limit and settings.private_chat_interval_seconds == 1.0
        engine = make_engine(url)
        app = build_application(
            settings, engine=engine, clock=VirtualClock(START), start_dispatcher=False
        )
        probes = Probes(emulator, people)
        busy: dict[str, list[float]] = {"/help": [], "press": []}
        async with app:
            assert app.post_init is not None
            await app.post_init(app)
            await app.start()
            assert app.updater is not None
            await app.updater.start_polling(timeout=10, allowed_updates=Update.ALL_TYPES)
            try:
                pressers = await probes.start_onboarding(idle_probes + busy_probes)
                await asyncio.sleep(2.0)  # their chats' pace has room again
                for n in range(idle_probes):
                    probes.keep(*await probes.one("/help"))
                    await asyncio.sleep(IDLE_GAP)
                    probes.keep(*await probes.one("press", pressers[n]))
                    await asyncio.sleep(IDLE_GAP)
                idle, probes.ms = probes.ms, busy

                watch = LoopWatch()
                watch.start()
                fan_out = asyncio.create_task(dispatch_due(app))
                await asyncio.sleep(3.0)  # the fan-out at full pace, its sends queued
                for n in range(busy_probes):
                    for kind, person in (("/help", None), ("press", pressers[idle_probes + n])):
                        result = await probes.one(kind, person)
                        if fan_out.done():
                            break
                        probes.keep(*result)
                        await asyncio.sleep(BUSY_GAP)
                    if fan_out.done():
                        break
                else:
                    print("  (the fan-out outlasted the probes)")
                handled = await fan_out
                watch.stop()
                gate = app.bot.rate_limiter.gate  # type: ignore[union-attr]
                granted = dict(gate.granted)
            finally:
                await app.updater.stop()
                await app.stop()
        engine.dispose()
        stats = emulator.stats(times="calls")
    if handled != trainees:
        raise RuntimeError(f"fan-out: {handled} of {trainees} trainees handled")
    trainee_chats = set(chats)
    fan_out_times = sorted(at for chat, at, ok in stats["calls"] if ok and chat in trainee_chats)
    first, last = fan_out_times[0], fan_out_times[-1]
    in_window = [at for _chat, at, ok in stats["calls"] if ok and first <= at <= last]
    span = last - first
    fan_out_rate = (len(fan_out_times) - 1) / span
    all_rate = (len(in_window) - 1) / span

    table.add(label, "trainees due / fan-out messages", f"{trainees:,} / {len(fan_out_times):,}")
    latency_row(table, label, "/help idle: p50 / p95 / max ms", idle["/help"], goal=False)
    latency_row(table, label, "/help during the fan-out", busy["/help"], goal=True)
    latency_row(table, label, "button press idle (onboarding)", idle["press"], goal=False)
    latency_row(table, label, "button press during the fan-out", busy["press"], goal=True)
    table.add(
        label,
        "budget used while the fan-out ran, msg/s (fan-out + answers)",
        f"{all_rate:.1f}",
        f">= {RATE_GOAL:.1f}",
        all_rate >= RATE_GOAL,
    )
    table.add(
        label,
        "of which the fan-out / the answers, msg/s",
        f"{fan_out_rate:.1f} / {all_rate - fan_out_rate:.1f}",
    )
    table.add(label, "fan-out duration, s", f"{span:.1f}")
    table.add(
        label,
        "event loop during the fan-out: stalls > 100 ms; longest, ms",
        f"{len(watch.stalls)}; {watch.longest * 1000:.0f}",
    )
    table.add(
        label,
        "slots given: replies / bulk",
        f"{granted['reply']:,} / {granted['bulk']:,}",
    )
    table.add(label, "429 answers", str(stats["floods"]), "0", stats["floods"] == 0)
    if probes.missed:
        table.add(label, "probes not answered in 30 s", str(probes.missed), "0", False)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="a scaled-down smoke run")
    parser.add_argument(
        "--databases",
        default=None,
        help="comma-separated: sqlite,postgresql (default: both where TEST_DATABASE_URL is set)",
    )
    args = parser.parse_args()
    postgres = os.environ.get("TEST_DATABASE_URL")
    databases = ["sqlite"] + (["postgresql"] if postgres else [])
    if args.databases:
        databases = [db for db in args.databases.split(",") if db in databases]
    trainees, idle_probes, busy_probes = (300, 5, 5) if args.quick else (2000, 30, 60)

    print(
        f"tweetdrip fast lane benchmark{' (quick)' if args.quick else ''}: "
        f"{os.cpu_count()} cores, Python {platform.python_version()}, {platform.platform()}, "
        f"load average {os.getloadavg()[0]:.1f} at the start"
    )
    table = Table()
    with tempfile.TemporaryDirectory() as tmp:
        for db in databases:
            print(f"{db} ...")
            with fresh_database(db, Path(tmp), postgres) as url:
                asyncio.run(run(table, db, url, trainees, idle_probes, busy_probes))
    print()
    print(table.render())
    print(f"\nall goals met: {'yes' if table.all_met else 'NO'}")
    return 0 if table.all_met else 1


if __name__ == "__main__":
    sys.exit(main())
