"""Benchmark of the web console: each API call at 10,000 trainees, beside the chat command
that shows the same data, and what the first load of the page transfers.

Run:  .venv/bin/python benchmarks/bench_console.py [--quick] [--trainees N] [--runs N]
      TEST_DATABASE_URL=postgresql://postgres@127.0.0.1:5432/test  adds PostgreSQL runs.

1. API: 10,000 trainees on the Neuroradiology track (each has read one to six threads, with
   two answers and a review card per question asked, over the last 60 days: about 126,000
   deliveries, 188,000 answers and 94,000 review cards) and 20 granted admins. One busy
   trainee has read the whole track. Each endpoint is requested over HTTP from the real
   console server (sign-in checked, role read from the database, the work done in the
   database runner's threads), one request at a time; median and p95 over `--runs` requests
   after a warm-up. Goal: each < 100 ms. The settings write goes to a different trainee
   each time (the write limit is per user). PostgreSQL's tables are analyzed after the bulk
   load, as autovacuum would do.
2. Beside them, the chat commands that show the same data, /progress (text and chart) and
   /threads, through `Application.process_update` with the emulator in its own process.
3. First load: the page, its CSS and scripts and the first view, gzip-compressed as a
   browser asks for them, for a trainee and for an admin; and, when Debian's chromium is
   installed, what headless Chromium actually transferred (bytes on the wire, headers
   included). Goal: < 150 KB.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import os
import platform
import random
import re
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import aiohttp
from _common import TOKEN, Table, emulator_process, fresh_database, median, percentile
from bot.library import load_current_library
from sqlalchemy import insert, text
from sqlalchemy.engine import Engine
from telegram import Update
from telegram.ext import Application

from bot.app import build_application
from bot.clock import VirtualClock
from bot.console.initdata import WebAppUser, sign_init_data
from bot.console.links import signed_link
from bot.console.server import Console
from bot.settings import Settings
from storage.db import make_engine, session_scope
from storage.models import (
    Admin,
    Attempt,
    Delivery,
    DeliveryStatus,
    PlanKind,
    PollKind,
    ReviewCard,
    Subscription,
    SubscriptionKind,
    SubscriptionStatus,
)

NOW = dt.datetime(2026, 3, 2, 9, 0, tzinfo=dt.UTC)
FIRST_USER = 20_000_000
BUSY = FIRST_USER  # the trainee who has read the whole track
ADMIN = 4242
GRANTED_ADMINS = 20
RUNS = 50
GOAL_MS = 100
GOAL_FIRST_LOAD = 150_000
CSF = "csf-leak-blood-patch"
CHROMIUM = Path("/usr/bin/chromium")


def settings_for(base_url: str, file_url: str, database_url: str) -> Settings:
    return Settings(  # type: ignore[call-arg]
        _env_file=None,
        telegram_bot_token=TOKEN,
        telegram_api_base_url=base_url,
        telegram_api_file_url=file_url,
        database_url=database_url,
        admin_ids=[ADMIN],
        rate_limit=False,
        private_chat_interval_seconds=0,
        dispatch_interval_seconds=3600,
        web_listen="127.0.0.1",
        web_port=0,
    )


def seed(engine: Engine, trainees: int, rng: random.Random) -> dict[str, int]:
    """Trainees part-way through the Neuroradiology track, with answers and review cards."""
    library = load_current_library(engine)
    plan = library.tracks["neuroradiology"].threads
    counts = {"deliveries": 0, "answers": 0, "cards": 0}
    with session_scope(engine) as session:
        session.execute(
            insert(Admin),
            [{"user_id": ADMIN + 1 + n, "granted_at": NOW} for n in range(GRANTED_ADMINS)],
        )
        session.execute(
            insert(Subscription),
            [
                {
                    "kind": SubscriptionKind.trainee,
                    "chat_id": FIRST_USER + n,
                    "user_id": FIRST_USER + n,
                    "name": f"Trainee {n}",
                    "status": SubscriptionStatus.active,
                    "plan_kind": PlanKind.track,
                    "plan_id": "neuroradiology",
                    "timezone": "Europe/London",
                    "delivery_time": "08:00",
                    "pace": 4,
                    "next_due_at": NOW + dt.timedelta(hours=23),
                    "created_at": NOW,
                    "updated_at": NOW,
                }
                for n in range(trainees)
            ],
        )
        ids = dict(
            session.execute(
                Subscription.__table__.select().with_only_columns(  # type: ignore[attr-defined]
                    Subscription.__table__.c.user_id,  # type: ignore[attr-defined]
                    Subscription.__table__.c.id,  # type: ignore[attr-defined]
                )
            ).all()
        )
        for start in range(0, trainees, 1_000):
            deliveries, attempts, cards = [], [], []
            for n in range(start, min(trainees, start + 1_000)):
                user = FIRST_USER + n
                threads = len(plan) if user == BUSY else rng.randint(1, len(plan))
                seq = 0
                for index, thread_id in enumerate(plan[:threads]):
                    thread = library.threads[thread_id]
                    last = (
                        len(thread.posts)
                        if index < threads - 1
                        else rng.randint(1, len(thread.posts))
                    )
                    for post in range(1, last + 1):
                        seq += 1
                        deliveries.append(
                            {
                                "subscription_id": ids[user],
                                "thread_id": thread_id,
                                "item": f"p{post}",
                                "seq": seq,
                                "installment": seq // 4 + 1,
                                "status": DeliveryStatus.sent,
                                "attempts": 1,
                                "created_at": NOW,
                                "sent_at": NOW - dt.timedelta(days=60 - min(59, seq // 4)),
                            }
                        )
                    for question in thread.quiz:
                        if (question.after_post or len(thread.posts)) > last:
                            continue
                        for attempt in range(2):
                            attempts.append(
                                {
                                    "user_id": user,
                                    "poll_id": f"{user}-{thread_id}-{question.id}-{attempt}",
                                    "kind": PollKind.drip if attempt == 0 else PollKind.review,
                                    "thread_id": thread_id,
                                    "question_id": question.id,
                                    "option_ids": [0],
                                    "correct": rng.random() < 0.7,
                                    "seconds_taken": 10.0,
                                    "answered_at": NOW
                                    - dt.timedelta(minutes=rng.randrange(60 * 24 * 60)),
                                }
                            )
                        cards.append(
                            {
                                "user_id": user,
                                "thread_id": thread_id,
                                "question_id": question.id,
                                "card": {},
                                "due_at": NOW + dt.timedelta(hours=rng.randrange(-48, 24 * 20)),
                            }
                        )
            session.execute(insert(Delivery), deliveries)
            if attempts:
                session.execute(insert(Attempt), attempts)
                session.execute(insert(ReviewCard), cards)
            counts["deliveries"] += len(deliveries)
            counts["answers"] += len(attempts)
            counts["cards"] += len(cards)
    if engine.dialect.name == "postgresql":
        # What autovacuum does soon after a bulk load: without statistics the planner reads
        # the whole status index for one trainee's deliveries.
        with engine.begin() as connection:
            connection.execute(text("ANALYZE"))
    return counts


async def timed(runs: int, call: Callable[[int], Awaitable[Any]]) -> tuple[float, float]:
    """Median and p95 in ms of `runs` calls, after two warm-up calls."""
    for n in range(2):
        await call(-1 - n)
    times = []
    for n in range(runs):
        t0 = time.perf_counter()
        await call(n)
        times.append(time.perf_counter() - t0)
    return median(times) * 1e3, percentile(times, 0.95) * 1e3


def command(update_id: int, user: int, text: str) -> dict[str, Any]:
    person = {"id": user, "is_bot": False, "first_name": "Bench"}
    return {
        "update_id": update_id,
        "message": {
            "message_id": update_id,
            "from": person,
            "chat": {"id": user, "type": "private", "first_name": "Bench"},
            "date": int(NOW.timestamp()),
            "text": text,
            "entities": [{"type": "bot_command", "offset": 0, "length": len(text)}],
        },
    }


async def first_load(http: aiohttp.ClientSession, base: str, init_data: str) -> int:
    """Bytes of the page, its files and the first view, gzip as a browser asks."""
    gzip = {"Accept-Encoding": "gzip, deflate, br"}
    total = 0
    async with http.get(f"{base}/app/", headers=gzip, auto_decompress=False) as page:
        total += len(await page.read())
    async with http.get(f"{base}/app/") as page:
        shell = await page.text()
    for source in re.findall(r'(?:src|href)="(static/[^"]+)"', shell):
        async with http.get(f"{base}/app/{source}", headers=gzip, auto_decompress=False) as r:
            total += len(await r.read())
    headers = {**gzip, "Authorization": f"tma {init_data}"}
    async with http.get(
        f"{base}/app/api/view/home", headers=headers, auto_decompress=False
    ) as view:
        total += len(await view.read())
    return total


async def browser_load(link: str) -> int | None:
    """What headless Chromium transferred to show the page (None without chromium)."""
    if not CHROMIUM.exists():
        return None
    from playwright.async_api import async_playwright

    total = 0
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(
            executable_path=str(CHROMIUM),
            args=["--no-sandbox", "--disable-gpu", "--disable-background-networking"],
        )
        context = await browser.new_context()
        base = link.split("/app/")[0]

        async def only_the_console(route: Any) -> None:
            if route.request.url.startswith(base):
                await route.continue_()
            else:
                await route.abort()  # the tweetorials' images are not the console's

        await context.route("**/*", only_the_console)
        page = await context.new_page()
        finished: list[Any] = []
        page.on("requestfinished", lambda request: finished.append(request))
        await page.goto(link)
        await page.locator("#view").wait_for()
        await page.wait_for_load_state("networkidle")
        for request in finished:
            sizes = await request.sizes()
            total += sizes["responseBodySize"] + sizes["responseHeadersSize"]
        await browser.close()
    return total


async def run(
    database_url: str, emulator: Any, args: argparse.Namespace, table: Table, label: str
) -> None:
    engine = make_engine(database_url)
    t0 = time.perf_counter()
    counts = seed(engine, args.trainees, random.Random(5))
    print(
        f"  {label}: seeded {args.trainees:,} trainees, {counts['deliveries']:,} deliveries, "
        f"{counts['answers']:,} answers, {counts['cards']:,} review cards "
        f"in {time.perf_counter() - t0:.0f} s"
    )
    app: Application = build_application(  # type: ignore[type-arg]
        settings_for(emulator.base_url, emulator.base_file_url, database_url),
        engine=engine,
        clock=VirtualClock(NOW),
        start_dispatcher=False,
    )
    async with app:
        console = Console(app)
        await console.start()
        base = f"http://127.0.0.1:{console.port}"
        runs = args.runs
        try:
            async with aiohttp.ClientSession() as http:

                def signed(user: int) -> dict[str, str]:
                    init = sign_init_data(WebAppUser(user, "Bench"), TOKEN, NOW)
                    return {"Authorization": f"tma {init}"}

                def getter(path: str, user: int) -> Callable[[int], Awaitable[None]]:
                    headers = signed(user)

                    async def call(_n: int) -> None:
                        async with http.get(base + path, headers=headers) as r:
                            await r.read()
                            assert r.status == 200, (path, r.status)

                    return call

                async def save(n: int) -> None:
                    user = FIRST_USER + 1 + (n % (args.trainees - 1))
                    body = {"time": "07:30" if n % 2 else "08:00", "pace": "4"}
                    async with http.post(
                        base + "/app/api/settings", headers=signed(user), json=body
                    ) as r:
                        await r.read()
                        assert r.status == 200, r.status

                endpoints: list[tuple[str, Callable[[int], Awaitable[None]]]] = [
                    ("GET /app/api/me (admin)", getter("/app/api/me", ADMIN)),
                    ("GET /app/api/progress (busy trainee)", getter("/app/api/progress", BUSY)),
                    (
                        "GET /app/api/progress/threads/{id}",
                        getter(f"/app/api/progress/threads/{CSF}", BUSY),
                    ),
                    ("GET /app/api/threads (admin)", getter("/app/api/threads", ADMIN)),
                    ("GET /app/api/threads/{id} (admin)", getter(f"/app/api/threads/{CSF}", ADMIN)),
                    ("POST /app/api/settings", save),
                    ("GET /app/api/view/progress (page)", getter("/app/api/view/progress", BUSY)),
                    ("GET /app/api/view/library (page)", getter("/app/api/view/library", ADMIN)),
                    (
                        "GET /app/api/view/threads/{id} (page)",
                        getter(f"/app/api/view/threads/{CSF}", ADMIN),
                    ),
                ]
                for name, call in endpoints:
                    p50, p95 = await timed(runs, call)
                    table.add(
                        label,
                        f"{name}: median / p95",
                        f"{p50:.1f} / {p95:.1f} ms",
                        f"< {GOAL_MS} ms",
                        p95 < GOAL_MS,
                    )

                bot = app.bot
                update_ids = iter(range(1, 10_000_000))

                def chat(text: str, user: int) -> Callable[[int], Awaitable[None]]:
                    async def call(_n: int) -> None:
                        update = Update.de_json(command(next(update_ids), user, text), bot)
                        await app.process_update(update)

                    return call

                for name, call in (
                    ("chat /progress (busy trainee, text + chart)", chat("/progress", BUSY)),
                    ("chat /threads (admin)", chat("/threads", ADMIN)),
                ):
                    p50, p95 = await timed(min(runs, 30), call)
                    table.add(label, f"{name}: median / p95", f"{p50:.1f} / {p95:.1f} ms")

                if label == "sqlite":
                    for who, user in (("trainee", BUSY), ("admin", ADMIN)):
                        init = sign_init_data(WebAppUser(user, "Bench"), TOKEN, NOW)
                        size = await first_load(http, base, init)
                        table.add(
                            "first load",
                            f"{who}: page + files + first view, gzip",
                            f"{size / 1000:.1f} KB",
                            f"< {GOAL_FIRST_LOAD // 1000} KB",
                            size < GOAL_FIRST_LOAD,
                        )
                        link = signed_link(f"{base}/app/", WebAppUser(user, "Bench"), TOKEN, NOW)
                        wire = await browser_load(link)
                        if wire is not None:
                            table.add(
                                "first load",
                                f"{who}: headless Chromium, bytes on the wire",
                                f"{wire / 1000:.1f} KB",
                                f"< {GOAL_FIRST_LOAD // 1000} KB",
                                wire < GOAL_FIRST_LOAD,
                            )
        finally:
            await console.stop()
    engine.dispose()


async def run_all(args: argparse.Namespace, table: Table) -> None:
    postgres = os.environ.get("TEST_DATABASE_URL")
    kinds = ["sqlite"] + (["postgresql"] if postgres else [])
    users = [ADMIN, BUSY]
    with (
        tempfile.TemporaryDirectory() as tmp,
        emulator_process(enforce_limits=False, user_ids=users) as emulator,
    ):
        for kind in kinds:
            with fresh_database(kind, Path(tmp), postgres) as url:
                await run(url, emulator, args, table, kind)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="a scaled-down smoke run")
    parser.add_argument("--trainees", type=int, default=10_000)
    parser.add_argument("--runs", type=int, default=RUNS)
    args = parser.parse_args()
    if args.quick:
        args.trainees, args.runs = 500, 10
    print(
        f"bench_console: Python {platform.python_version()}, {os.cpu_count()} CPUs, "
        f"{args.trainees:,} trainees, {args.runs} requests per endpoint"
    )
    table = Table()
    asyncio.run(run_all(args, table))
    print()
    print(table.render())
    return 0 if table.all_met else 1


if __name__ == "__main__":
    sys.exit(main())
