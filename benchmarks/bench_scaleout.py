"""Scale-out on PostgreSQL: deliveries per second with one and two bot processes, the shared
send budget, and the claim query with 1,000,000 subscribers.

Run:  TEST_DATABASE_URL=postgresql://postgres@127.0.0.1:5432/test \\
      .venv/bin/python benchmarks/bench_scaleout.py [--quick] [--only fanout,budget,claim]

1. fan-out: N due trainees (a "Day 1" header and one post each: 2N messages), delivered by
   one and then by two `tweetdrip run --webhook` processes (the production entry point, as
   subprocesses) against the emulator in its own process. The shared send budget is on but
   set far above Telegram's 30 msg/s, so the figure is the engine's own speed, budget
   bookkeeping (one UPDATE per message) included. Production defaults otherwise
   (DISPATCH_CONCURRENCY 64, DISPATCH_BATCH_SIZE 200).
2. budget: two processes with the real budget (30 msg/s for the token) against an emulator
   that enforces Telegram's flood limits: the rate both reach together, and the 429s.
3. claim: `storage.drip.claim_due` leasing 200 of 1,000,000 subscriptions (88% active, half
   of them due, spread over 24 h); median and p95 over 30 runs, each rolled back; and the
   plan, which must use the index on next_due_at.

All on one machine: the bot processes, the emulator and PostgreSQL share its cores, so two
processes show how the work is shared, not what two machines would do.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import platform
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from _common import TOKEN, Table, emulator_process, fresh_database, median, percentile
from sqlalchemy import event, func, text
from sqlalchemy.engine import Engine
from sqlmodel import col, select

from storage import drip as q
from storage.db import make_engine, session_scope
from storage.models import Delivery, DeliveryStatus, Subscription, SubscriptionStatus

FIRST_CHAT = 20_000_001
CLAIM_ROWS = 1_000_000
CLAIM_BATCH = 200
CLAIM_GOAL_MS = 20.0
ROOT = Path(__file__).resolve().parents[1]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextmanager
def bot_processes(
    count: int, base_url: str, file_url: str, database_url: str, log_dir: Path, **extra: Any
) -> Iterator[list[subprocess.Popen[bytes]]]:
    """`tweetdrip run --webhook` x count, each ready (its /healthz says 200) when yielded."""
    processes, ports = [], []
    for index in range(count):
        port = free_port()
        env = {
            k: v
            for k, v in os.environ.items()
            if not k.startswith(("TELEGRAM_", "WEBHOOK_", "WEB_"))
        }
        env.update(
            TELEGRAM_BOT_TOKEN=TOKEN,
            TELEGRAM_API_BASE_URL=base_url,
            TELEGRAM_API_FILE_URL=file_url,
            DATABASE_URL=database_url,
            WEBHOOK_URL=f"http://127.0.0.1:{port}/telegram",
            WEBHOOK_LISTEN="127.0.0.1",
            WEBHOOK_PORT=str(port),
            DISPATCH_INTERVAL_SECONDS="0.5",
            PRIVATE_CHAT_INTERVAL_SECONDS="0",
            LOG_LEVEL="WARNING",
            WEB_PORT="off",
        )
        env.update({k.upper(): str(v) for k, v in extra.items()})
        log = (log_dir / f"bot{index}.log").open("ab")
        processes.append(
            subprocess.Popen(
                [sys.executable, "-c", "from bot.cli import main; main()", "run", "--webhook"],
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
                cwd=ROOT,
            )
        )
        ports.append(port)
    try:
        for port, process in zip(ports, processes, strict=True):
            wait_healthy(port, process)
        yield processes
    finally:
        for process in processes:
            process.send_signal(signal.SIGTERM)
        for process in processes:
            try:
                process.wait(60)
            except subprocess.TimeoutExpired:
                process.kill()


def wait_healthy(port: int, process: subprocess.Popen[bytes], timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"a bot process exited with {process.returncode}")
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=5) as r:
                if r.status == 200:
                    return
        except OSError:
            pass
        time.sleep(0.2)
    raise RuntimeError("a bot process never became healthy")


def add_due_trainees(engine: Engine, count: int, due: dt.datetime) -> None:
    with engine.begin() as connection:
        connection.execute(
            text(
                """
                INSERT INTO subscription (kind, chat_id, user_id, name, status, plan_kind,
                    plan_id, thread_index, next_post, installments_sent, timezone,
                    delivery_time, pace, next_due_at, reminders, idle_installments,
                    created_at, updated_at)
                SELECT 'trainee', :first + n, :first + n, '', 'active', 'track', 'csf-leaks',
                    0, 0, 0, 'UTC', '08:00', 1, :due, true, 0, :due, :due
                FROM generate_series(0, :count - 1) AS n
                """
            ),
            {"first": FIRST_CHAT, "count": count, "due": due},
        )


def delivered(engine: Engine) -> tuple[int, int]:
    """(subscriptions still due, messages recorded as sent)."""
    now = dt.datetime.now(dt.UTC)
    with session_scope(engine) as session:
        due = session.exec(
            select(func.count()).where(
                col(Subscription.next_due_at) <= now,
                Subscription.status == SubscriptionStatus.active,
            )
        ).one()
        sent = session.exec(
            select(func.count()).where(Delivery.status == DeliveryStatus.sent)
        ).one()
    return int(due), int(sent)


def fanout(table: Table, postgres_url: str, processes: int, trainees: int, tmp: Path) -> float:
    label = f"fan-out, {processes} process{'es' if processes > 1 else ''}"
    users = list(range(FIRST_CHAT, FIRST_CHAT + trainees))
    with (
        fresh_database("postgresql", tmp, postgres_url) as url,
        emulator_process(enforce_limits=False, user_ids=users) as emulator,
        bot_processes(
            processes,
            emulator.base_url,
            emulator.base_file_url,
            url,
            tmp,
            send_budget_per_second=100_000,
        ),
    ):
        engine = make_engine(url)
        start = time.perf_counter()
        add_due_trainees(engine, trainees, dt.datetime.now(dt.UTC) - dt.timedelta(minutes=1))
        while True:
            due, sent = delivered(engine)
            if due == 0 and sent >= 2 * trainees:
                break
            time.sleep(0.05)
        elapsed = time.perf_counter() - start
        stats = emulator.stats()
        engine.dispose()
    rate = stats["ok"] / elapsed
    table.add(label, "trainees / messages", f"{trainees:,} / {stats['ok']:,}")
    table.add(label, "seconds from due to all recorded", f"{elapsed:.1f}")
    table.add(label, "messages per second", f"{rate:.0f}")
    return rate


def budget(table: Table, postgres_url: str, processes: int, trainees: int, tmp: Path) -> None:
    label = f"real budget, {processes} process{'es' if processes > 1 else ''}"
    users = list(range(FIRST_CHAT, FIRST_CHAT + trainees))
    with (
        fresh_database("postgresql", tmp, postgres_url) as url,
        emulator_process(enforce_limits=True, user_ids=users) as emulator,
        bot_processes(processes, emulator.base_url, emulator.base_file_url, url, tmp),
    ):
        engine = make_engine(url)
        emulator.reset()
        add_due_trainees(engine, trainees, dt.datetime.now(dt.UTC) - dt.timedelta(minutes=1))
        while True:
            due, sent = delivered(engine)
            if due == 0 and sent >= 2 * trainees:
                break
            time.sleep(0.1)
        stats = emulator.stats(times=True)
        engine.dispose()
    times = sorted(stats["ok_times"])
    # The steady rate, from the 31st message on (the first second may use the burst).
    steady = (len(times) - 31) / (times[-1] - times[30]) if len(times) > 60 else float("nan")
    table.add(label, "messages", f"{stats['ok']:,}")
    # Measured where the emulator handles requests: within a few % of 30 (arrival jitter).
    table.add(label, "rate of all together, msg/s", f"{steady:.1f}", "~ 30", steady <= 31.5)
    table.add(label, "429 answers from Telegram", str(stats["floods"]), "0", stats["floods"] == 0)


def add_claim_rows(engine: Engine, count: int, now: dt.datetime) -> None:
    """88% active, 4% paused, 3% stopped, 3% finished, 2% blocked; due times spread over the
    24 h around `now` (half are due); every 97th leased by another process."""
    with engine.begin() as connection:
        connection.execute(
            text(
                """
                INSERT INTO subscription (kind, chat_id, user_id, name, status, plan_kind,
                    plan_id, thread_index, next_post, installments_sent, timezone,
                    delivery_time, pace, next_due_at, lease_until, reminders,
                    idle_installments, created_at, updated_at)
                SELECT 'trainee', :first + n, :first + n, '', s.status, 'track',
                    'neuroradiology', n % 3, 0, 1, 'UTC', '08:00', 4,
                    CASE WHEN s.status IN ('finished', 'blocked') THEN NULL
                         ELSE :now + make_interval(secs => (random() - 0.5) * 86400) END,
                    CASE WHEN n % 97 = 0 THEN :now + interval '1 minute' END,
                    true, 0, :now, :now
                FROM generate_series(0, :count - 1) AS n,
                LATERAL (SELECT CASE
                    WHEN n % 100 < 88 THEN 'active' WHEN n % 100 < 92 THEN 'paused'
                    WHEN n % 100 < 95 THEN 'stopped' WHEN n % 100 < 98 THEN 'finished'
                    ELSE 'blocked' END AS status) AS s
                """
            ),
            {"first": FIRST_CHAT, "count": count, "now": now},
        )
        connection.exec_driver_sql("ANALYZE subscription")


def explain_claim(engine: Engine, now: dt.datetime) -> list[str]:
    """The plan of the SELECT that claim_due really runs (captured as sent to the driver)."""
    captured: list[tuple[str, Any]] = []

    def capture(_conn: Any, _cursor: Any, statement: str, parameters: Any, *_: Any) -> None:
        if "FOR UPDATE" in statement.upper():
            captured.append((statement, parameters))

    event.listen(engine, "before_cursor_execute", capture)
    try:
        with session_scope(engine) as session:
            q.claim_due(session, now, CLAIM_BATCH, dt.timedelta(minutes=2))
            session.rollback()
    finally:
        event.remove(engine, "before_cursor_execute", capture)
    statement, parameters = captured[-1]
    with engine.connect() as connection:
        rows = connection.exec_driver_sql("EXPLAIN ANALYZE " + statement, parameters).all()
        connection.rollback()
    return [row[0] for row in rows]


def claim(table: Table, postgres_url: str, count: int, runs: int, tmp: Path) -> list[str]:
    label = "claim query (PostgreSQL)"
    now = dt.datetime(2026, 1, 5, 9, 0, tzinfo=dt.UTC)
    with fresh_database("postgresql", tmp, postgres_url) as url:
        engine = make_engine(url)
        started = time.perf_counter()
        add_claim_rows(engine, count, now)
        load = time.perf_counter() - started
        timings = []
        for run in range(runs + 3):
            with session_scope(engine) as session:
                session.connection()  # begin before timing: measure the query, not the pool
                start = time.perf_counter()
                ids = q.claim_due(session, now, CLAIM_BATCH, dt.timedelta(minutes=2))
                elapsed = (time.perf_counter() - start) * 1000
                session.rollback()
            if len(ids) != CLAIM_BATCH:
                raise RuntimeError(f"claim: got {len(ids)} rows, expected {CLAIM_BATCH}")
            if run >= 3:  # the first runs warm the caches
                timings.append(elapsed)
        plan = explain_claim(engine, now)
        engine.dispose()
    p50, p95 = median(timings), percentile(timings, 0.95)
    uses_index = any("ix_subscription_next_due_at" in line for line in plan)
    table.add(label, "subscriptions / claimed per run", f"{count:,} / {CLAIM_BATCH}")
    table.add(label, "bulk load + ANALYZE, s", f"{load:.1f}")
    table.add(label, f"median of {runs} runs, ms", f"{p50:.2f}", f"< {CLAIM_GOAL_MS:.0f}", p50 < 20)
    table.add(label, f"p95 of {runs} runs, ms", f"{p95:.2f}", f"< {CLAIM_GOAL_MS:.0f}", p95 < 20)
    table.add(label, "plan uses ix_subscription_next_due_at", str(uses_index), "True", uses_index)
    return plan


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="smaller runs")
    parser.add_argument("--only", default="fanout,budget,claim")
    args = parser.parse_args()
    postgres_url = os.environ.get("TEST_DATABASE_URL")
    if not postgres_url:
        print("bench_scaleout needs TEST_DATABASE_URL (a PostgreSQL server)", file=sys.stderr)
        return 2
    only = set(args.only.split(","))
    trainees = 1000 if args.quick else 3000
    print(f"python {platform.python_version()}, {os.cpu_count()} cores, {platform.platform()}")
    table = Table()
    plan: list[str] = []
    with tempfile.TemporaryDirectory(prefix="bench-scaleout-") as tmp_name:
        tmp = Path(tmp_name)
        if "fanout" in only:
            one = fanout(table, postgres_url, 1, trainees, tmp)
            two = fanout(table, postgres_url, 2, trainees, tmp)
            table.add("fan-out", "two processes / one", f"{two / one:.2f}x")
        if "budget" in only:
            for processes in (1, 2):
                budget(table, postgres_url, processes, 300 if args.quick else 600, tmp)
        if "claim" in only:
            count = 200_000 if args.quick else CLAIM_ROWS
            plan = claim(table, postgres_url, count, 10 if args.quick else 30, tmp)
    print()
    print(table.render())
    if plan:
        print("\nEXPLAIN ANALYZE of the claim query:")
        print("\n".join(f"    {line}" for line in plan))
    return 0 if table.all_met else 1


if __name__ == "__main__":
    sys.exit(main())
