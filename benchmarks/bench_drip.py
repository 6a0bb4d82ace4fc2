"""Benchmarks of the delivery engine (bot/dispatch.py) against the local Bot API emulator.

Run:  .venv/bin/python benchmarks/bench_drip.py [--quick] [--only fanout,paced,claim,memory]
      TEST_DATABASE_URL=postgresql://postgres@127.0.0.1:5432/test  adds PostgreSQL runs.

1. fan-out: 5,000 due trainees whose next installment is one post (the "Day N" header and
   the post: 10,000 messages) against the emulator with limits off; messages/s and CPU ms
   per message of the bot, beside a bare python-telegram-bot loop sending the same texts
   (same count, same concurrency, same connection pool) to the same server. Goal: the
   engine's rate >= 0.8 x the bare loop's.
2. paced: the emulator enforces Telegram's flood limits (429 on a breach); the bot runs
   with its real limits (AIORateLimiter, 1 msg/s per private chat). 1,000 trainees x 3
   posts (a header and 3 posts each: 4,000 messages). Goal: >= 95% of 30 msg/s, no 429.
3. claim query: `storage.drip.claim_due` leasing 200 of 100,000 subscriptions (half of
   them due); median and p95 over 50 runs, each rolled back. Goal: < 20 ms. Prints the plan.
4. resident memory of the running bot (polling, the real library) with 100,000
   subscriptions in the database, after a dispatch cycle with 50 of them due. Goal: < 200 MB.

The emulator always runs in its own process: CPU and memory figures are the bot's alone.
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import datetime as dt
import gc
import multiprocessing as mp
import os
import platform
import random
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from _common import (
    TOKEN,
    EmulatorProcess,
    Table,
    emulator_process,
    fresh_database,
    median,
    peak_rss_mb,
    percentile,
    rss_mb,
)
from sqlalchemy import event, func, insert
from sqlalchemy.engine import Engine
from sqlmodel import select
from telegram import Bot, ReplyParameters, Update
from telegram.constants import ParseMode
from telegram.ext import Application
from telegram.request import HTTPXRequest

from bot.app import build_application, freeze_startup_objects
from bot.clock import VirtualClock
from bot.dispatch import dispatch_due
from bot.render import header_text, render_post, text_with_media_links
from bot.settings import Settings
from content.models import Author, Library, Post, Source, Thread
from storage import drip as q
from storage.db import make_engine, session_scope
from storage.models import Delivery, DeliveryStatus, Subscription

FANOUT_GOAL_RATIO = 0.8
PACED_GOAL_RATE = 0.95 * 30.0
CLAIM_GOAL_MS = 20.0
MEMORY_GOAL_MB = 200.0
FIRST_CHAT = 10_000_001
BENCH_THREAD = "bench-drip-thread"
THREAD_POSTS = 60
START = dt.datetime(2026, 1, 5, 9, 0, tzinfo=dt.UTC)  # a Monday, after 08:00 UTC

WORDS = [
    "csf",
    "leak",
    "epidural",
    "blood",
    "patch",
    "fibrin",
    "nerve",
    "root",
    "sleeve",
    "ventral",
    "dorsal",
    "foramen",
    "needle",
    "contrast",
    "myelography",
    "thecal",
    "sac",
    "pressure",
    "headache",
    "osteophyte",
    "dura",
    "puncture",
    "lumbar",
    "targeted",
    "transforaminal",
    "interlaminar",
    "fluoroscopy",
    "volume",
    "the",
    "a",
    "of",
    "to",
    "in",
    "and",
    "with",
    "for",
]


def bench_library() -> Library:
    """One 60-post text thread, no quiz: pace 1 from mid-thread is a header and one post."""
    rng = random.Random(7)
    posts = [
        Post(
            text=" ".join(rng.choices(WORDS, k=40)).capitalize() + " <b>&</b> more.",
            url=f"https://twitter.com/teach/status/{1_000_000 + n}",
        )
        for n in range(1, THREAD_POSTS + 1)
    ]
    thread = Thread(
        id=BENCH_THREAD,
        title="Benchmark: CSF leaks & blood patches",
        author=Author(name="Bench Author", handle="@bench"),
        source=Source(kind="tweetorial", url="https://twitter.com/teach/status/1"),
        posts=posts,
    )
    return Library(threads={thread.id: thread}, tracks={})


def subscription_rows(
    count: int,
    *,
    first_chat: int,
    due: Callable[[int], dt.datetime | None],
    status: Callable[[int], str] = lambda i: "active",
    plan: tuple[str, str] = ("thread", BENCH_THREAD),
    position: Callable[[int], int] = lambda i: i % 50,
    pace: int = 1,
) -> list[dict[str, Any]]:
    created = START - dt.timedelta(days=30)
    rows = []
    for i in range(count):
        chat = first_chat + i
        rows.append(
            {
                "kind": "trainee",
                "chat_id": chat,
                "user_id": chat,
                "name": f"Trainee {i}",
                "status": status(i),
                "plan_kind": plan[0],
                "plan_id": plan[1],
                "thread_index": 0,
                "next_post": position(i),
                "installments_sent": position(i),
                "timezone": "UTC",
                "delivery_time": "08:00",
                "pace": pace,
                "next_due_at": due(i),
                "lease_until": None,
                "reminders": True,
                "idle_installments": 0,
                "created_at": created,
                "updated_at": created,
            }
        )
    return rows


def insert_subscriptions(engine: Engine, rows: list[dict[str, Any]]) -> None:
    with engine.begin() as connection:
        for start in range(0, len(rows), 5000):
            connection.execute(insert(Subscription), rows[start : start + 5000])


def bench_settings(emulator: EmulatorProcess, url: str, **overrides: Any) -> Settings:
    values: dict[str, Any] = {
        "telegram_bot_token": TOKEN,
        "telegram_api_base_url": emulator.base_url,
        "telegram_api_file_url": emulator.base_file_url,
        "database_url": url,
        "dispatch_interval_seconds": 3600,
        "log_level": "WARNING",
    }
    values.update(overrides)
    return Settings(_env_file=None, **values)  # type: ignore[call-arg]


def build_bench_app(settings: Settings, engine: Engine, clock: VirtualClock | None) -> Application:  # type: ignore[type-arg]
    app = build_application(settings, engine=engine, clock=clock, start_dispatcher=False)
    library = bench_library()
    app.bot_data.services.library_loader = lambda _engine: library
    return app


def sent_deliveries(engine: Engine) -> int:
    with session_scope(engine) as session:
        return session.exec(
            select(func.count()).select_from(Delivery).where(Delivery.status == DeliveryStatus.sent)
        ).one()


def expected_texts(rows: list[dict[str, Any]], library: Library) -> list[tuple[int, str, str]]:
    """What the engine sends each trainee: (chat, header, post), for the bare loop."""
    thread = library.threads[BENCH_THREAD]
    out = []
    for row in rows:
        number = row["next_post"] + 1
        header = header_text(row["installments_sent"] + 1, thread, number, number)
        out.append((row["chat_id"], header, text_with_media_links(render_post(thread, number))))
    return out


async def bare_loop(bot: Bot, work: list[tuple[int, str, str]], concurrency: int) -> None:
    """Plain PTB: header, then the post replying to it, `concurrency` trainees at a time."""
    limit = asyncio.Semaphore(concurrency)

    async def one(chat_id: int, header: str, post: str) -> None:
        async with limit:
            first = await bot.send_message(chat_id, header, parse_mode=ParseMode.HTML)
            await bot.send_message(
                chat_id,
                post,
                parse_mode=ParseMode.HTML,
                reply_parameters=ReplyParameters(
                    first.message_id, allow_sending_without_reply=True
                ),
            )

    await asyncio.gather(*(one(*item) for item in work))


# -- 1. fan-out ------------------------------------------------------------------------------


async def timed(
    run: Callable[[], Awaitable[Any]], profile_to: str | None = None
) -> tuple[Any, float, float]:
    """Run once; return its result, wall seconds and CPU seconds of this process."""
    profiler = cProfile.Profile() if profile_to else None
    cpu, wall = time.process_time(), time.perf_counter()
    if profiler is not None:
        profiler.enable()
    result = await run()
    if profiler is not None:
        profiler.disable()
        profiler.dump_stats(profile_to)
    return result, time.perf_counter() - wall, time.process_time() - cpu


async def fanout(
    table: Table, db: str, url: str, subscribers: int, rounds: int, profile: str | None
) -> None:
    """Bare loop and engine, alternating which goes first, `rounds` times each."""
    label = f"fan-out ({db})"
    engine = make_engine(url)
    library = bench_library()
    concurrency = Settings(_env_file=None).dispatch_concurrency  # type: ignore[call-arg]
    # Round r happens at START + r hours. Its warm-up trainees are due 40 minutes earlier
    # (and next at 23:00, after every round); its measured trainees in the last 10 minutes.
    plan = []
    for r in range(rounds):
        at = START + dt.timedelta(hours=r)
        base = FIRST_CHAT + r * 100_000
        warm = subscription_rows(
            concurrency, first_chat=base, due=lambda i, at=at: at - dt.timedelta(minutes=40)
        )
        for row in warm:
            row["delivery_time"] = "23:00"
        rows = subscription_rows(
            subscribers,
            first_chat=base + 1000,
            due=lambda i, at=at: at - dt.timedelta(seconds=1 + i % 600),
        )
        insert_subscriptions(engine, warm + rows)
        plan.append((at, warm, rows))
    user_ids = [row["chat_id"] for _, warm, rows in plan for row in warm + rows]

    bare_rates, bot_rates, bare_cpu, bot_cpu = [], [], [], []
    with emulator_process(enforce_limits=False, user_ids=user_ids) as emulator:
        clock = VirtualClock(START)
        settings = bench_settings(emulator, url, rate_limit=False, private_chat_interval_seconds=0)
        app = build_bench_app(settings, engine, clock)
        bare = Bot(
            TOKEN,
            base_url=emulator.base_url,
            base_file_url=emulator.base_file_url,
            request=HTTPXRequest(
                connection_pool_size=settings.telegram_connections,  # the app's bot's pool
                pool_timeout=settings.telegram_timeout_seconds,
                read_timeout=settings.telegram_timeout_seconds,
                write_timeout=settings.telegram_timeout_seconds,
                connect_timeout=settings.telegram_timeout_seconds,
            ),
        )

        async def run_bare(
            round_: int, warm: list[dict[str, Any]], rows: list[dict[str, Any]]
        ) -> None:
            # Warm connections and caches right before timing (idle ones expire after 5 s).
            await bare_loop(bare, expected_texts(warm, library), concurrency)
            work = expected_texts(rows, library)
            emulator.reset()
            profile_to = f"{profile}.{db}.bare" if profile and round_ == 0 else None
            _, wall, cpu = await timed(lambda: bare_loop(bare, work, concurrency), profile_to)
            sent = emulator.stats()["ok"]
            if sent != 2 * len(rows):
                raise RuntimeError(f"bare loop: {sent} of {2 * len(rows)} sent")
            bare_rates.append(sent / wall)
            bare_cpu.append(cpu * 1000 / sent)

        async def run_engine(round_: int, at: dt.datetime, rows: list[dict[str, Any]]) -> None:
            clock.set(at - dt.timedelta(minutes=30))
            await dispatch_due(app)  # the warm-up trainees
            clock.set(at)
            before = sent_deliveries(engine)
            emulator.reset()
            profile_to = f"{profile}.{db}" if profile and round_ == 0 else None
            handled, wall, cpu = await timed(lambda: dispatch_due(app), profile_to)
            stats = emulator.stats()
            recorded = sent_deliveries(engine) - before
            if handled != len(rows) or stats["ok"] != 2 * len(rows) or recorded != stats["ok"]:
                raise RuntimeError(
                    f"fan-out: handled {handled} of {len(rows)}, sent {stats}, recorded {recorded}"
                )
            bot_rates.append(stats["ok"] / wall)
            bot_cpu.append(cpu * 1000 / stats["ok"])

        async with app, bare:
            freeze_startup_objects()  # as the bot does once started (bot/app.py)
            for round_, (at, warm, rows) in enumerate(plan):
                if round_ % 2 == 0:
                    await run_bare(round_, warm, rows)
                    await run_engine(round_, at, rows)
                else:
                    await run_engine(round_, at, rows)
                    await run_bare(round_, warm, rows)
            gc.unfreeze()
    engine.dispose()

    bare_rate, bot_rate = median(bare_rates), median(bot_rates)
    ratio = bot_rate / bare_rate
    note = f", median of {rounds}" if rounds > 1 else ""
    table.add(label, "messages per run (trainees x header+post)", f"{2 * subscribers:,}")
    table.add(label, f"bare PTB loop, msg/s{note}", f"{bare_rate:,.0f}")
    table.add(label, "bare PTB loop, CPU ms/msg", f"{median(bare_cpu):.2f}")
    table.add(label, f"engine, msg/s{note}", f"{bot_rate:,.0f}")
    table.add(label, "engine, CPU ms/msg", f"{median(bot_cpu):.2f}")
    table.add(
        label,
        "engine / bare rate",
        f"{ratio:.2f}",
        f">= {FANOUT_GOAL_RATIO}",
        ratio >= FANOUT_GOAL_RATIO,
    )


# -- 2. paced ----------------------------------------------------------------------------------


async def paced(table: Table, url: str, subscribers: int, posts: int, budget: float | None) -> None:
    await _paced(table, "paced (sqlite)", url, subscribers, posts, budget)


async def _paced(
    table: Table, label: str, url: str, subscribers: int, posts: int, budget: float | None
) -> None:
    engine = make_engine(url)
    rows = subscription_rows(
        subscribers,
        first_chat=FIRST_CHAT,
        due=lambda i: START - dt.timedelta(seconds=1 + i % 600),
        position=lambda i: (i * posts) % (THREAD_POSTS - posts),
        pace=posts,
    )
    insert_subscriptions(engine, rows)
    expected = subscribers * (posts + 1)
    with emulator_process(enforce_limits=True, user_ids=[r["chat_id"] for r in rows]) as emulator:
        overrides: dict[str, Any] = {"rate_limit": True, "private_chat_interval_seconds": 1.0}
        if budget is not None:
            overrides["send_budget_per_second"] = budget
        settings = bench_settings(emulator, url, **overrides)
        app = build_bench_app(settings, engine, VirtualClock(START))
        async with app:
            wall = time.perf_counter()
            handled = await dispatch_due(app)
            wall = time.perf_counter() - wall
        stats = emulator.stats(times="calls" if os.environ.get("BENCH_DEBUG") else True)
        if os.environ.get("BENCH_DEBUG"):
            last: dict[Any, float] = {}
            window: list[float] = []
            for chat, at, ok in sorted(stats["calls"], key=lambda c: c[1]):
                window = [t for t in window if t > at - 1.0]
                if not ok:
                    gap = at - last.get(chat, -99.0)
                    print(
                        f"429 to {chat}: {gap:.3f} s after its last; {len(window)} in the last 1 s"
                    )
                else:
                    last[chat] = at
                    window.append(at)
            stats["ok_times"] = [at for _, at, ok in stats["calls"] if ok]
    engine.dispose()
    if handled != subscribers or stats["ok"] != expected:
        raise RuntimeError(f"paced: handled {handled} of {subscribers}, sent {stats['ok']}")
    times = sorted(stats["ok_times"])
    span = times[-1] - times[0]
    rate = (len(times) - 1) / span
    windows = [
        sum(1 for t in times if start <= t < start + 10) / 10
        for start in (times[0] + 10 * k for k in range(int(span // 10)))
    ]
    table.add(label, f"messages ({subscribers:,} trainees x header+{posts} posts)", f"{expected:,}")
    table.add(label, "wall time, s", f"{wall:.1f}")
    table.add(
        label,
        "sustained msg/s (first to last send)",
        f"{rate:.1f}",
        f">= {PACED_GOAL_RATE:.1f}",
        rate >= PACED_GOAL_RATE,
    )
    if windows:
        table.add(label, "slowest full 10 s window, msg/s", f"{min(windows):.1f}")
    table.add(label, "429 answers", str(stats["floods"]), "0", stats["floods"] == 0)


# -- 3. claim query ----------------------------------------------------------------------------


def claim_rows(count: int, now: dt.datetime) -> list[dict[str, Any]]:
    """A realistic mix: 88% active, the rest paused, stopped, finished, blocked, onboarding;
    next due times spread over the 24 h around `now` (half are due, as after a long outage);
    a few are leased by another process right now."""
    rng = random.Random(11)
    statuses = ["active"] * 88 + ["paused"] * 4 + ["stopped"] * 3 + ["finished"] * 3
    statuses += ["blocked", "onboarding"]
    kinds = [rng.choice(statuses) for _ in range(count)]

    def due(i: int) -> dt.datetime | None:
        if kinds[i] in ("finished", "blocked", "onboarding"):
            return None
        return now + dt.timedelta(seconds=rng.uniform(-12 * 3600, 12 * 3600))

    rows = subscription_rows(
        count,
        first_chat=FIRST_CHAT,
        due=due,
        status=lambda i: kinds[i],
        plan=("track", "neuroradiology"),
        position=lambda i: i % 3,
        pace=4,
    )
    for i in range(0, count, 97):
        rows[i]["lease_until"] = now + dt.timedelta(minutes=1)
    return rows


def explain_claim(engine: Engine, now: dt.datetime) -> list[str]:
    """The plan of the statement claim_due really runs (captured as sent to the driver)."""
    captured: list[tuple[str, Any]] = []

    def capture(_conn: Any, _cursor: Any, statement: str, parameters: Any, *_: Any) -> None:
        if "subscription" in statement and "next_due_at" in statement:
            captured.append((statement, parameters))

    event.listen(engine, "before_cursor_execute", capture)
    try:
        with session_scope(engine) as session:
            q.claim_due(session, now, 200, dt.timedelta(minutes=2))
            session.rollback()
    finally:
        event.remove(engine, "before_cursor_execute", capture)
    statement, parameters = captured[-1]
    prefix = "EXPLAIN QUERY PLAN " if engine.dialect.name == "sqlite" else "EXPLAIN ANALYZE "
    with engine.connect() as connection:
        result = connection.exec_driver_sql(prefix + statement, parameters).all()
        connection.rollback()
    if engine.dialect.name == "sqlite":
        return [f"{row[-1]}" for row in result]
    return [row[0] for row in result]


def claim(table: Table, db: str, url: str, count: int, runs: int) -> list[str]:
    label = f"claim query ({db})"
    engine = make_engine(url)
    now = START
    insert_subscriptions(engine, claim_rows(count, now))
    if engine.dialect.name == "postgresql":
        with engine.begin() as connection:  # what autovacuum does soon after a bulk load
            connection.exec_driver_sql("ANALYZE subscription")
    timings = []
    lease = dt.timedelta(minutes=2)
    for run in range(runs + 3):
        with session_scope(engine) as session:
            session.connection()  # begin before timing: measure the query, not the pool
            start = time.perf_counter()
            ids = q.claim_due(session, now, 200, lease)
            elapsed = (time.perf_counter() - start) * 1000
            session.rollback()
        if len(ids) != 200:
            raise RuntimeError(f"claim: got {len(ids)} rows, expected 200")
        if run >= 3:  # the first runs warm the caches
            timings.append(elapsed)
    plan = explain_claim(engine, now)
    engine.dispose()
    p50, p95 = median(timings), percentile(timings, 0.95)
    table.add(label, "subscriptions in the database / claimed per run", f"{count:,} / 200")
    table.add(label, f"median of {runs} runs, ms", f"{p50:.2f}", f"< {CLAIM_GOAL_MS:.0f}", p50 < 20)
    table.add(label, f"p95 of {runs} runs, ms", f"{p95:.2f}", f"< {CLAIM_GOAL_MS:.0f}", p95 < 20)
    return plan


# -- 4. resident memory ------------------------------------------------------------------------


def _memory_child(url: str, base_url: str, file_url: str, result: Any) -> None:
    result.put(asyncio.run(_memory_async(url, base_url, file_url)))


async def _memory_async(url: str, base_url: str, file_url: str) -> dict[str, float]:
    settings = Settings(  # type: ignore[call-arg]
        _env_file=None,
        telegram_bot_token=TOKEN,
        telegram_api_base_url=base_url,
        telegram_api_file_url=file_url,
        database_url=url,
        log_level="WARNING",
    )
    figures = {"imported": rss_mb(), "peak_imported": peak_rss_mb()}
    app = build_application(settings, start_dispatcher=False)  # the real library, real limits
    async with app:
        await app.start()
        assert app.updater is not None
        await app.updater.start_polling(timeout=1, allowed_updates=Update.ALL_TYPES)
        figures["started"] = rss_mb()
        figures["peak_started"] = peak_rss_mb()
        handled = await dispatch_due(app)
        await app.bot_data.services.drain()
        figures["after_dispatch"] = rss_mb()
        figures["peak_dispatch"] = peak_rss_mb()
        figures["handled"] = handled
        await app.updater.stop()
        await app.stop()
    figures["peak"] = peak_rss_mb()
    return figures


def memory(table: Table, db: str, url: str, count: int, due: int) -> None:
    label = f"memory ({db})"
    engine = make_engine(url)
    now = dt.datetime.now(dt.UTC)
    rows = subscription_rows(
        count,
        first_chat=FIRST_CHAT,
        due=lambda i: (
            now - dt.timedelta(minutes=5) if i < due else now + dt.timedelta(hours=1 + i % 23)
        ),
        plan=("track", "neuroradiology"),
        position=lambda i: 0,
        pace=4,
    )
    for row in rows:
        row["installments_sent"] = 0
    insert_subscriptions(engine, rows)
    engine.dispose()
    with emulator_process(enforce_limits=False, user_ids=[r["chat_id"] for r in rows[:due]]) as emu:
        context = mp.get_context("spawn")
        result = context.Queue()
        child = context.Process(
            target=_memory_child, args=(url, emu.base_url, emu.base_file_url, result)
        )
        child.start()
        figures = result.get(timeout=600)
        child.join(30)
    if os.environ.get("BENCH_DEBUG"):
        print(figures)
    if figures["handled"] != due:
        raise RuntimeError(f"memory: {figures['handled']} handled, {due} due")
    table.add(label, "subscriptions in the database / due", f"{count:,} / {due}")
    table.add(label, "RSS after imports, MB", f"{figures['imported']:.0f}")
    table.add(label, "RSS started (polling), MB", f"{figures['started']:.0f}")
    after = figures["after_dispatch"]
    table.add(
        label,
        "RSS after a dispatch cycle, MB",
        f"{after:.0f}",
        f"< {MEMORY_GOAL_MB:.0f}",
        after < 200,
    )
    table.add(
        label,
        "peak RSS, MB",
        f"{figures['peak']:.0f}",
        f"< {MEMORY_GOAL_MB:.0f}",
        figures["peak"] < 200,
    )


# -- main --------------------------------------------------------------------------------------


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="a scaled-down smoke run")
    parser.add_argument("--only", default="fanout,paced,claim,memory")
    parser.add_argument(
        "--databases",
        default=None,
        help="comma-separated: sqlite,postgresql (default: both where TEST_DATABASE_URL is set)",
    )
    parser.add_argument("--rounds", type=int, default=None, help="fan-out rounds (median)")
    parser.add_argument(
        "--profile", metavar="FILE", help="cProfile the engine's first fan-out round into FILE.<db>"
    )
    parser.add_argument(
        "--send-budget",
        type=float,
        default=None,
        help="SEND_BUDGET_PER_SECOND for the paced run (default: the setting's default)",
    )
    args = parser.parse_args()
    only = set(args.only.split(","))
    quick = args.quick
    postgres = os.environ.get("TEST_DATABASE_URL")
    databases = ["sqlite"] + (["postgresql"] if postgres else [])
    if args.databases:
        databases = [db for db in args.databases.split(",") if db in databases]

    fan_n = 1000 if quick else 5000
    rounds = args.rounds or (1 if quick else 3)
    paced_n = 100 if quick else 1000
    claim_n, claim_runs = (20_000, 20) if quick else (100_000, 50)
    memory_n = 20_000 if quick else 100_000

    print(
        f"tweetdrip drip benchmarks{' (quick)' if quick else ''}: {os.cpu_count()} cores, "
        f"Python {platform.python_version()}, {platform.platform()}, "
        f"load average {os.getloadavg()[0]:.1f} at the start"
    )
    table = Table()
    plans: dict[str, list[str]] = {}
    with tempfile.TemporaryDirectory() as tmp:
        for db in databases:
            if "fanout" in only:
                print(f"fan-out on {db} ...")
                with fresh_database(db, Path(tmp), postgres) as url:
                    asyncio.run(fanout(table, db, url, fan_n, rounds, args.profile))
        if "paced" in only:
            print("paced ...")
            with fresh_database("sqlite", Path(tmp), postgres) as url:
                asyncio.run(paced(table, url, paced_n, 3, args.send_budget))
        for db in databases:
            if "claim" in only:
                print(f"claim query on {db} ...")
                with fresh_database(db, Path(tmp), postgres) as url:
                    plans[db] = claim(table, db, url, claim_n, claim_runs)
        for db in databases:
            if "memory" in only:
                print(f"memory on {db} ...")
                with fresh_database(db, Path(tmp), postgres) as url:
                    memory(table, db, url, memory_n, 50)

    print()
    print(table.render())
    for db, plan in plans.items():
        print(f"\nclaim query plan ({db}):")
        for line in plan:
            print(f"    {line}")
    print(f"\nall goals met: {'yes' if table.all_met else 'NO'}")
    return 0 if table.all_met else 1


if __name__ == "__main__":
    sys.exit(main())
