"""One send budget per bot token, served to people first, however many processes share it.

Telegram allows a bot about 30 messages a second in all, about one a second in one private
chat and 20 a minute in one group; beyond them it answers 429. `LaneRateLimiter` is PTB's
`AIORateLimiter` (which keeps the group limit and waits out a 429's `retry_after`) with its
overall limit replaced: every message that names a chat, each attempt after a 429 included,

1. keeps its private chat's pace (`ChatPacer`, bot/sending.py) — replies and scheduled sends
   to one chat share one schedule, so a person cannot draw more than their chat's share;
2. then waits for a slot of the overall budget at the `SlotGate`, which takes slots one at a
   time, only while someone waits, and hands each to the reply lane first (taking turns
   between chats), else to the bulk lane in arrival order (bot/lanes.py says which lane a
   send is in). Since no slot is promised ahead, a reply waits for at most the slot being
   taken, whatever the fan-out has queued.

The budget itself: on SQLite (one process) a bucket of one message refilled every 1/rate s.
Several processes on PostgreSQL share it through one row of the `sendbudget` table, using
the generic cell rate algorithm (GCRA): the row holds the next free slot; taking one moves it
on by 1/rate seconds in a single atomic statement, and the taker sleeps until its own slot.
The database clock decides, so the processes' clocks do not have to agree; no process has to
know how many others are running, and a process that dies takes nothing with it. Cost: one
short UPDATE per message. Each process's gate takes one slot at a time, so a reply waits for
at most one slot per process.

The per-group limit (20 a minute) stays in each process's `AIORateLimiter`: a group's drip is
claimed by one process at a time, so its messages come from one place.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import deque
from collections.abc import Callable, Coroutine, Hashable
from typing import Any, Protocol

from aiolimiter import AsyncLimiter
from sqlalchemy import text
from sqlalchemy.engine import Engine
from telegram.constants import FloodLimit
from telegram.ext import AIORateLimiter

from bot.lanes import Lane, current_lane
from bot.sending import ChatPacer
from bot.settings import Settings
from storage.db import is_sqlite

log = logging.getLogger(__name__)

RETRIES_AFTER_429 = 3
LATE_TOLERANCE_SECONDS = 0.1  # ~3 messages at 30 a second
MAX_LATE_RETRIES = 3

ApiResult = bool | dict[str, Any] | list[dict[str, Any]]
# Methods that put a new message in a chat: what Telegram's per-chat limit counts.
_NEW_MESSAGE_METHODS = frozenset(
    ("copymessage", "copymessages", "forwardmessage", "forwardmessages")
)

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


class Budget(Protocol):
    async def acquire(self) -> None:
        """Wait until one more message may go out."""


class LocalBudget:
    """`rate` slots a second for one process: a bucket of one message (aiolimiter's, as
    AIORateLimiter uses), so sends are evenly spaced. A bucket of 30 would let bursts through
    that arrive bunched at Telegram's own bucket and get 429s."""

    def __init__(self, rate: float) -> None:
        if rate <= 0:
            raise ValueError("the send budget must be a positive number of messages a second")
        self.rate = rate
        self._bucket = AsyncLimiter(1, 1 / rate)

    async def acquire(self) -> None:
        await self._bucket.acquire()


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


class SlotGate:
    """Hand out a budget's slots one at a time: replies first, bulk with what is left.

    Replies take turns between chats (one chat's many messages cannot starve another's);
    bulk sends go in the order they came. A slot is taken only while someone waits, and one
    at a time, so none is ever promised to a bulk send ahead of a reply that comes later.
    """

    def __init__(self, budget: Budget) -> None:
        self.budget = budget
        self._replies: dict[Hashable, deque[asyncio.Future[None]]] = {}  # in turn order
        self._bulk: deque[asyncio.Future[None]] = deque()
        self._server: asyncio.Task[None] | None = None
        self.granted = {Lane.reply: 0, Lane.bulk: 0}

    async def enter(self, lane: Lane, chat: Hashable) -> None:
        """Wait for a slot for one message to `chat` in `lane`."""
        waiter = asyncio.get_running_loop().create_future()
        if lane == Lane.reply:
            self._replies.setdefault(chat, deque()).append(waiter)
        else:
            self._bulk.append(waiter)
        if self._server is None or self._server.done():
            self._server = asyncio.create_task(self._serve(), name="tweetdrip send budget")
        await waiter  # a waiter cancelled meanwhile is skipped when its turn comes

    async def close(self) -> None:
        if self._server is not None:
            self._server.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._server

    async def _serve(self) -> None:
        try:
            while self._replies or self._bulk:
                try:
                    await self.budget.acquire()
                except Exception as exc:  # e.g. the database is down: the send fails, as alone
                    if (waiter := self._next()) is not None:
                        waiter.set_exception(exc)
                    continue
                if (waiter := self._next()) is not None:
                    waiter.set_result(None)
        finally:  # cancelled (shutdown): nobody may wait for a slot that will not come
            for waiter in [*self._bulk, *(w for q in self._replies.values() for w in q)]:
                waiter.cancel()
            self._replies.clear()
            self._bulk.clear()

    def _next(self) -> asyncio.Future[None] | None:
        while self._replies:
            chat = next(iter(self._replies))
            queue = self._replies.pop(chat)
            waiter = queue.popleft()
            if queue:
                self._replies[chat] = queue  # to the back of the line
            if not waiter.done():
                self.granted[Lane.reply] += 1
                return waiter
        while self._bulk:
            waiter = self._bulk.popleft()
            if not waiter.done():
                self.granted[Lane.bulk] += 1
                return waiter
        return None


class LaneRateLimiter(AIORateLimiter):
    """PTB's `AIORateLimiter` with the overall limit taken lane by lane from a `Budget`, and
    private chats paced by a `ChatPacer`.

    `rate_limit_args` may be a number (AIORateLimiter's: retries after a 429) or a dict with
    `"lane"` (`"reply"` or `"bulk"`, overriding the lane of the work in progress) and
    `"max_retries"`.
    """

    def __init__(
        self,
        budget: Budget,
        *,
        pacer: ChatPacer | None = None,
        max_retries: int = RETRIES_AFTER_429,
        group_max_rate: float = FloodLimit.MESSAGES_PER_MINUTE_PER_GROUP,
        group_time_period: float = 60,
    ) -> None:
        super().__init__(
            overall_max_rate=0,  # the gate's job now
            group_max_rate=group_max_rate,
            group_time_period=group_time_period,
            max_retries=max_retries,
        )
        self.gate = SlotGate(budget)
        self.pacer = pacer
        if pacer is not None:
            pacer.by_rate_limiter = True  # every message passes here: pace each once, here

    async def shutdown(self) -> None:
        await self.gate.close()

    async def process_request(
        self,
        callback: Callable[..., Coroutine[Any, Any, ApiResult]],
        args: Any,
        kwargs: dict[str, Any],
        endpoint: str,
        data: dict[str, Any],
        rate_limit_args: dict[str, Any] | int | None,
    ) -> ApiResult:
        lane = current_lane()
        max_retries = rate_limit_args if isinstance(rate_limit_args, int) else None
        if isinstance(rate_limit_args, dict):
            lane = Lane(rate_limit_args.get("lane", lane))
            max_retries = rate_limit_args.get("max_retries")
        chat_id = data.get("chat_id")
        # AIORateLimiter counts a request against the overall limit when it names a chat;
        # so does this. Paid broadcasts have their own, much larger, allowance.
        if chat_id is None or data.get("allow_paid_broadcast"):
            return await super().process_request(
                callback, args, kwargs, endpoint, data, max_retries
            )
        with contextlib.suppress(ValueError, TypeError):
            chat_id = int(chat_id)
        pacer = self.pacer if _new_message(endpoint) else None

        async def counted(*call_args: Any, **call_kwargs: Any) -> ApiResult:
            if pacer is not None and isinstance(chat_id, int):
                await pacer.pace(chat_id)
            await self.gate.enter(lane, chat_id)  # every attempt, retries after a 429 included
            return await callback(*call_args, **call_kwargs)

        return await super().process_request(counted, args, kwargs, endpoint, data, max_retries)


def _new_message(endpoint: str) -> bool:
    method = endpoint.lower()
    return (method.startswith("send") and method != "sendchataction") or (
        method in _NEW_MESSAGE_METHODS
    )


def make_rate_limiter(
    settings: Settings, engine: Engine, pacer: ChatPacer | None = None
) -> LaneRateLimiter:
    """The limiter with a local budget on SQLite (one process), else the shared one."""
    rate = settings.send_budget_per_second
    if is_sqlite(engine):
        return LaneRateLimiter(LocalBudget(rate), pacer=pacer)
    log.info(
        "sending at most %.0f messages a second, shared by every process on this database", rate
    )
    return LaneRateLimiter(SharedBudget(engine, rate), pacer=pacer)
