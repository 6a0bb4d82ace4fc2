"""One send budget per bot token, however many bot processes share it.

Telegram allows a bot about 30 messages a second in all. One process paces itself with PTB's
`AIORateLimiter`. Several processes on PostgreSQL must share that budget, so each message
first takes a slot from one row of the `sendbudget` table, using the generic cell rate
algorithm (GCRA): the row holds the next free slot; taking one moves it on by 1/rate seconds
in a single atomic statement, and the sender sleeps until its own slot. The database clock
decides, so the processes' clocks do not have to agree; no process has to know how many others
are running, and a process that dies takes nothing with it. Cost: one short UPDATE per message.

The per-group limit (20 a minute) stays in each process's `AIORateLimiter`: a group's drip is
claimed by one process at a time, so its messages come from one place.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Coroutine
from typing import Any

from sqlalchemy import text
from sqlalchemy.engine import Engine
from telegram.ext import AIORateLimiter, BaseRateLimiter

from bot.settings import Settings
from storage.db import is_sqlite

log = logging.getLogger(__name__)

RETRIES_AFTER_429 = 3
LATE_TOLERANCE_SECONDS = 0.1  # ~3 messages at 30 a second
MAX_LATE_RETRIES = 3

_TAKE_SLOT = text(
    """
    INSERT INTO sendbudget (name, next_slot)
    VALUES (:name, clock_timestamp() + make_interval(secs => :interval))
    ON CONFLICT (name) DO UPDATE
        SET next_slot = greatest(sendbudget.next_slot, clock_timestamp())
            + make_interval(secs => :interval)
    RETURNING greatest(
        0, extract(epoch FROM next_slot - make_interval(secs => :interval) - clock_timestamp())
    )
    """
)


class SharedBudget:
    """Slots at `rate` per second, shared through one PostgreSQL row named `name`."""

    def __init__(self, engine: Engine, rate: float, name: str = "telegram") -> None:
        if rate <= 0:
            raise ValueError("the send budget must be a positive number of messages a second")
        self.engine = engine
        self.rate = rate
        self.name = name
        self.taken = 0
        self.late = 0  # slots given up because this process woke up too late for them

    def take_slot(self) -> float:
        """Reserve the next slot; return how many seconds to wait for it."""
        with self.engine.begin() as connection:
            wait = connection.execute(
                _TAKE_SLOT, {"name": self.name, "interval": 1.0 / self.rate}
            ).scalar_one()
        self.taken += 1
        return float(wait)

    async def acquire(self) -> None:
        """Wait until this process may send one more message."""
        loop = asyncio.get_running_loop()
        for _attempt in range(MAX_LATE_RETRIES + 1):
            # In a thread: the event loop keeps serving updates while the row is locked.
            wait = await asyncio.to_thread(self.take_slot)
            slot = loop.time() + wait
            if wait > 0:
                await asyncio.sleep(wait)
            # A process that stalled (CPU, GC) wakes late, and so do all its other waiting
            # senders: going out together they would be a burst. Late ones take a new slot
            # (a few times at most: a process that is always late must still send).
            if loop.time() - slot <= LATE_TOLERANCE_SECONDS:
                return
            self.late += 1


class SharedRateLimiter(AIORateLimiter):
    """PTB's `AIORateLimiter` with the overall limit taken from a `SharedBudget`.

    The group limit and the handling of 429 (`RetryAfter`) are AIORateLimiter's own.
    """

    def __init__(self, budget: SharedBudget, *, max_retries: int = RETRIES_AFTER_429) -> None:
        super().__init__(overall_max_rate=0, max_retries=max_retries)
        self.budget = budget

    async def process_request(
        self,
        callback: Callable[..., Coroutine[Any, Any, bool | dict[str, Any] | list[dict[str, Any]]]],
        args: Any,
        kwargs: dict[str, Any],
        endpoint: str,
        data: dict[str, Any],
        rate_limit_args: int | None,
    ) -> bool | dict[str, Any] | list[dict[str, Any]]:
        # AIORateLimiter counts a request against the overall limit when it names a chat;
        # so does this. Paid broadcasts have their own, much larger, allowance.
        if data.get("chat_id") is None or data.get("allow_paid_broadcast"):
            return await super().process_request(
                callback, args, kwargs, endpoint, data, rate_limit_args
            )

        async def counted(
            *call_args: Any, **call_kwargs: Any
        ) -> bool | dict[str, Any] | list[dict[str, Any]]:
            await self.budget.acquire()  # every attempt, retries after a 429 included
            return await callback(*call_args, **call_kwargs)

        return await super().process_request(counted, args, kwargs, endpoint, data, rate_limit_args)


def make_rate_limiter(settings: Settings, engine: Engine) -> BaseRateLimiter[int]:
    """The shared budget on PostgreSQL; on SQLite (one process) a local AIORateLimiter."""
    if is_sqlite(engine):
        # A bucket of one message refilled every 1/rate s: evenly spaced sends. A bucket of
        # 30 lets bursts through that arrive bunched at Telegram's own bucket and get 429s.
        return AIORateLimiter(
            overall_max_rate=1,
            overall_time_period=1 / settings.send_budget_per_second,
            max_retries=RETRIES_AFTER_429,
        )
    log.info(
        "sending at most %.0f messages a second, shared by every process on this database",
        settings.send_budget_per_second,
    )
    return SharedRateLimiter(SharedBudget(engine, settings.send_budget_per_second))
