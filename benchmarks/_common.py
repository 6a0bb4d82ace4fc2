"""Shared pieces of the benchmarks: the emulator in its own process, databases, the table.

The fake Bot API runs in a separate process so the CPU time and memory measured in the
benchmark's process are the bot's alone, and the two share the machine the way a bot and
Telegram's servers never would (two cores: one each).
"""

from __future__ import annotations

import asyncio
import multiprocessing as mp
import os
import statistics
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

from sqlalchemy import text

from storage.db import make_engine
from storage.migrate import upgrade

TOKEN = "123456789:AAtweetdrip-bench-token-000000000000"
SENDING = ("sendMessage", "sendPhoto", "sendPoll", "sendDocument", "sendMediaGroup")


# -- the emulator, in a child process ---------------------------------------------------


def _serve(conn: Connection, enforce_limits: bool, user_ids: list[int]) -> None:
    asyncio.run(_serve_async(conn, enforce_limits, user_ids))


async def _serve_async(conn: Connection, enforce_limits: bool, user_ids: list[int]) -> None:
    from bot.emulator import TelegramEmulator

    loop = asyncio.get_running_loop()
    async with TelegramEmulator(enforce_limits=enforce_limits) as emulator:
        emulator.add_users(user_ids)
        conn.send((emulator.base_url, emulator.base_file_url))
        while True:
            command, argument = await loop.run_in_executor(None, conn.recv)
            if command == "stop":
                conn.send(None)
                return
            if command == "add_users":
                emulator.add_users(argument)
                conn.send(None)
            elif command == "reset":
                emulator.reset_calls()
                emulator.flood_count = 0
                conn.send(None)
            elif command == "probe":
                conn.send(await _probe(emulator, *argument))
            elif command == "wait_for_buttons":
                conn.send(await _wait_for_buttons(emulator, *argument))
            elif command == "stats":
                sent = [c for c in emulator.calls if c.method in SENDING]
                conn.send(
                    {
                        "ok": sum(1 for c in sent if c.ok),
                        "failed": sum(1 for c in sent if not c.ok),
                        "floods": emulator.flood_count,
                        "ok_times": [c.monotonic for c in sent if c.ok] if argument else [],
                        "calls": [(c.params.get("chat_id"), c.monotonic, c.ok) for c in sent]
                        if argument == "calls"
                        else [],
                    }
                )


async def _probe(emulator: Any, action: str, user_id: int, timeout: float) -> float | None:
    """A person acts (`action`: a text, or "press" for the first button of the last bot
    message in their chat); return the seconds until the bot's first message or edit in
    their chat, as the emulator saw it, or None if none came within `timeout`."""
    seen = len(emulator.calls)
    start = time.monotonic()
    if action == "press":
        message = next(m for m in reversed(emulator.sent_to(user_id)) if m.callback_data)
        emulator.press_button(user_id, message, message.callback_data[0])
    else:
        emulator.send_message(user_id, action)

    def answered() -> float | None:
        for call in emulator.calls[seen:]:
            if call.ok and str(call.params.get("chat_id")) == str(user_id):
                return float(call.monotonic)
        return None

    try:
        return float(await emulator.wait_for(answered, timeout)) - start
    except TimeoutError:
        return None


async def _wait_for_buttons(emulator: Any, user_ids: list[int], timeout: float) -> bool:
    """Wait until the bot's last message to each user has buttons to press."""

    def ready() -> bool:
        return all(
            (last := emulator.last_sent(u)) is not None and last.callback_data for u in user_ids
        )

    try:
        return bool(await emulator.wait_for(ready, timeout, recheck=0.2))
    except TimeoutError:
        return False


class EmulatorProcess:
    """`TelegramEmulator` served from a child process; ask it for counts over a pipe."""

    def __init__(self, *, enforce_limits: bool, user_ids: list[int]) -> None:
        context = mp.get_context("spawn")
        self._conn, child = context.Pipe()
        self._process = context.Process(
            target=_serve, args=(child, enforce_limits, user_ids), daemon=True
        )
        self._process.start()
        self.base_url, self.base_file_url = self._conn.recv()

    def _ask(self, command: str, argument: Any = None) -> Any:
        self._conn.send((command, argument))
        return self._conn.recv()

    def add_users(self, user_ids: list[int]) -> None:
        self._ask("add_users", user_ids)

    def reset(self) -> None:
        """Forget recorded calls and the 429 count (keeps users, chats and rate buckets)."""
        self._ask("reset")

    def stats(self, times: bool = False) -> dict[str, Any]:
        """Successful and failed sends, 429s answered, and the send times if asked."""
        return self._ask("stats", times)  # type: ignore[no-any-return]

    def probe(self, action: str, user_id: int, timeout: float = 30.0) -> float | None:
        """A person acts; seconds until the bot answers in their chat (see `_probe`).

        Blocking: call it in a thread (`asyncio.to_thread`), one at a time, while a bot runs
        in this process's event loop."""
        return self._ask("probe", (action, user_id, timeout))  # type: ignore[no-any-return]

    def wait_for_buttons(self, user_ids: list[int], timeout: float = 60.0) -> bool:
        return self._ask("wait_for_buttons", (user_ids, timeout))  # type: ignore[no-any-return]

    def stop(self) -> None:
        if self._process.is_alive():
            self._ask("stop")
        self._process.join(10)


@contextmanager
def emulator_process(*, enforce_limits: bool, user_ids: list[int]) -> Iterator[EmulatorProcess]:
    emulator = EmulatorProcess(enforce_limits=enforce_limits, user_ids=user_ids)
    try:
        yield emulator
    finally:
        emulator.stop()


# -- databases ---------------------------------------------------------------------------


@contextmanager
def fresh_database(kind: str, tmp: Path, postgres_url: str | None) -> Iterator[str]:
    """A migrated, empty database: a SQLite file in `tmp`, or a new PostgreSQL schema."""
    if kind == "sqlite":
        url = f"sqlite:///{tmp / f'bench-{uuid.uuid4().hex[:8]}.db'}"
        engine = make_engine(url)
        upgrade(engine)
        engine.dispose()
        yield url
        return
    assert postgres_url is not None
    schema = f"bench_{uuid.uuid4().hex[:12]}"
    admin = make_engine(postgres_url)
    with admin.begin() as connection:
        connection.execute(text(f'CREATE SCHEMA "{schema}"'))
    separator = "&" if "?" in postgres_url else "?"
    url = f"{postgres_url}{separator}options=-csearch_path%3D{schema}"
    try:
        engine = make_engine(url)
        upgrade(engine)
        engine.dispose()
        yield url
    finally:
        with admin.begin() as connection:
            connection.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


# -- measuring ---------------------------------------------------------------------------


def _status_mb(field: str) -> float:
    with open(f"/proc/{os.getpid()}/status") as status:
        for line in status:
            if line.startswith(f"{field}:"):
                return int(line.split()[1]) / 1024
    return float("nan")


def rss_mb() -> float:
    """Resident memory of this process now, in MB."""
    return _status_mb("VmRSS")


def peak_rss_mb() -> float:
    """The most resident memory this process has had, in MB.

    VmHWM, not getrusage's ru_maxrss: Linux carries ru_maxrss across fork and exec, so a
    child started from a big parent would report the parent's peak.
    """
    return _status_mb("VmHWM")


def percentile(values: list[float], fraction: float) -> float:
    """Nearest-rank percentile (p95 of 50 runs is the 48th smallest)."""
    ordered = sorted(values)
    rank = max(1, min(len(ordered), round(fraction * len(ordered) + 0.5)))
    return ordered[rank - 1]


def median(values: list[float]) -> float:
    return statistics.median(values)


@dataclass
class Row:
    scenario: str
    figure: str
    value: str
    goal: str = ""
    met: bool | None = None


class Table:
    """Rows of figures, printed as a Markdown table with the goal and whether it was met."""

    def __init__(self) -> None:
        self.rows: list[Row] = []

    def add(
        self, scenario: str, figure: str, value: str, goal: str = "", met: bool | None = None
    ) -> None:
        self.rows.append(Row(scenario, figure, value, goal, met))
        mark = "" if met is None else ("  [met]" if met else "  [MISSED]")
        print(f"  {scenario} | {figure}: {value}{'  (goal ' + goal + ')' if goal else ''}{mark}")

    def render(self) -> str:
        header = ["scenario", "figure", "value", "goal", "met"]
        lines = [
            [
                r.scenario,
                r.figure,
                r.value,
                r.goal,
                "" if r.met is None else "yes" if r.met else "NO",
            ]
            for r in self.rows
        ]
        widths = [max(len(h), *(len(line[i]) for line in lines)) for i, h in enumerate(header)]

        def fmt(cells: list[str]) -> str:
            return "| " + " | ".join(c.ljust(w) for c, w in zip(cells, widths, strict=True)) + " |"

        out = [fmt(header), "|" + "|".join("-" * (w + 2) for w in widths) + "|"]
        out.extend(fmt(line) for line in lines)
        return "\n".join(out)

    @property
    def all_met(self) -> bool:
        return all(r.met is not False for r in self.rows)
