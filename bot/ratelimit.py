"""One send budget per bot token, served to people first, however many processes share it.

Telegram allows a bot about 30 messages a second in all, about one a second in one private
chat and 20 a minute in one group; beyond them it answers 429. `LaneRateLimiter` is PTB's
`AIORateLimiter` (which keeps the group limit and waits out a 429's `retry_after`) with its
overall limit replaced: every message that names a chat, each attempt after a 429 included,

1. keeps its private chat's pace (`ChatPacer`, bot/sending.py) — replies and scheduled sends
   to one chat share one schedule, so a person cannot draw more than their chat's share;
2. then waits at the `SlotGate` for a slot of the overall budget. The gate alone takes slots,
   in order and only while someone waits (the next ones while the current one is waited for,
   so the round trip to the database costs no time between slots), and gives each, when it
   comes, to whoever is first in line then: the reply lane first (taking turns between
   chats), else the bulk lane in arrival order (bot/lanes.py says which lane a send is in).
   No slot is promised to a send before it comes, so a reply waits for the next slot at most
   (33 ms at 30 a second), however many sends the fan-out has queued.

The budget: slots 1/rate seconds apart by the generic cell rate algorithm (GCRA): the next
slot is the last one plus 1/rate. Evenly spaced, because a burst would arrive bunched at
Telegram's own bucket and draw 429s; counted from the last slot rather than from when its
taker woke up, so a few milliseconds of lateness per message do not add up (aiolimiter's
bucket of one, which AIORateLimiter would use, loses them: 2-7% at 30 a second on a busy
machine). A schedule that fell behind by less than `CATCH_UP_SECONDS` (0.1 s: a slow round
trip, a busy event loop) keeps its slots, which then go out a little closer together; one
further behind (the budget was idle, or the process stalled) starts again from now, so no
burst follows. The slots a process had taken before a stall, four at most, may go out
together after it. One process (SQLite) keeps the schedule in memory (`LocalBudget`).
Several processes on PostgreSQL share it through one row of the `sendbudget` table
(`SharedBudget`): taking slots moves the row on in one atomic statement. The database clock
decides, so the processes' clocks do not have to agree; no process has to know how many
others are running, and a process that dies takes nothing with it. Cost: one short UPDATE
per message at most (up to four slots at once while a queue waits), made while earlier
slots are waited for.

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
# Slots taken before they come (in one round trip), each given to whoever is first in line
# when it comes.
SLOTS_AHEAD = 4
# A schedule less than this behind catches up; one further behind starts again from now.
CATCH_UP_SECONDS = 0.1

ApiResult = bool | dict[str, Any] | list[dict[str, Any]]
# Methods that put a new message in a chat: what Telegram's per-chat limit counts.
_NEW_MESSAGE_METHODS = frozenset(
    ("copymessage", "copymessages", "forwardmessage", "forwardmessages")
)

_TAKE_SLOTS = text(
    """
    INSERT INTO sendbudget (name, next_slot)
    VALUES (:name, clock_timestamp() + make_interval(secs => :span))
    ON CONFLICT (name) DO UPDATE
        SET next_slot = CASE
            WHEN sendbudget.next_slot < clock_timestamp() - make_interval(secs => :tolerance)
            THEN clock_timestamp()
            ELSE sendbudget.next_slot
        END + make_interval(secs => :span)
    RETURNING extract(epoch FROM next_slot - make_interval(secs => :span) - clock_timestamp())
    """
)


class Budget(Protocol):
    async def reserve(self, count: int) -> list[float]:
        """Take the next `count` slots; return when they are, in the event loop's time."""


class LocalBudget:
    """`rate` slots a second for one process, scheduled in memory."""

    def __init__(self, rate: float) -> None:
        if rate <= 0:
            raise ValueError("the send budget must be a positive number of messages a second")
        self.rate = rate
        self._next_slot = 0.0

    async def reserve(self, count: int) -> list[float]:
        now = asyncio.get_running_loop().time()
        first = now if self._next_slot < now - CATCH_UP_SECONDS else self._next_slot
        self._next_slot = first + count / self.rate
        return [first + n / self.rate for n in range(count)]


class SharedBudget:
    """Slots at `rate` per second, shared through one PostgreSQL row named `name`."""

    def __init__(self, engine: Engine, rate: float, name: str = "telegram") -> None:
        if rate <= 0:
            raise ValueError("the send budget must be a positive number of messages a second")
        self.engine = engine
        self.rate = rate
        self.name = name
        self.taken = 0

    def take_slots(self, count: int = 1) -> float:
        """Reserve the next `count` slots (1/rate apart); return how many seconds from now
        the first one is (negative: missed by that much, within the tolerance)."""
        span = count / self.rate
        with self.engine.begin() as connection:
            first = connection.execute(
                _TAKE_SLOTS,
                {"name": self.name, "span": span, "tolerance": CATCH_UP_SECONDS},
            ).scalar_one()
        self.taken += count
        return float(first)

    async def reserve(self, count: int) -> list[float]:
        # In a thread: the event loop keeps serving updates while the row is locked. Counted
        # from our clock after the round trip, a slot errs late, never early.
        first = await asyncio.to_thread(self.take_slots, count)
        now = asyncio.get_running_loop().time()
        return [now + first + n / self.rate for n in range(count)]


class SlotGate:
    """Hand out a budget's slots one at a time: replies first, bulk with what is left.

    Replies take turns between chats (one chat's many messages cannot starve another's);
    bulk sends go in the order they came. A slot goes to whoever is first in line when it
    comes, not when it was taken, so a reply never queues behind slots taken for bulk.
    """

    def __init__(self, budget: Budget) -> None:
        self.budget = budget
        self._replies: dict[Hashable, deque[asyncio.Future[None]]] = {}  # in turn order
        self._bulk: deque[asyncio.Future[None]] = deque()
        self._queued = 0
        self._server: asyncio.Task[None] | None = None
        self.granted = {Lane.reply: 0, Lane.bulk: 0}

    async def enter(self, lane: Lane, chat: Hashable) -> None:
        """Wait for a slot for one message to `chat` in `lane`."""
        waiter = asyncio.get_running_loop().create_future()
        if lane == Lane.reply:
            self._replies.setdefault(chat, deque()).append(waiter)
        else:
            self._bulk.append(waiter)
        self._queued += 1
        if self._server is None or self._server.done():
            self._server = asyncio.create_task(self._serve(), name="tweetdrip send budget")
        await waiter  # a waiter cancelled meanwhile is skipped when its turn comes

    async def close(self) -> None:
        if self._server is not None:
            self._server.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._server

    async def _serve(self) -> None:
        loop = asyncio.get_running_loop()
        slots: deque[float] = deque()  # taken, not yet given
        # The next slots, being taken while the current ones are waited for, so that the
        # database's round trip costs no time between two slots.
        taking: asyncio.Task[list[float]] | None = None
        try:
            while self._queued:
                if taking is not None and (taking.done() or not slots):
                    try:
                        slots.extend(await taking)
                    except Exception as exc:  # the database is down: the send fails, as alone
                        if (waiter := self._next()) is not None:
                            waiter.set_exception(exc)
                        continue
                    finally:
                        taking = None
                wanted = min(self._queued, SLOTS_AHEAD) - len(slots)
                if taking is None and wanted > 0:
                    taking = asyncio.create_task(self.budget.reserve(wanted))
                if not slots:
                    continue
                if (delay := slots.popleft() - loop.time()) > 0:
                    await asyncio.sleep(delay)
                if (waiter := self._next()) is not None:
                    waiter.set_result(None)
        finally:
            if taking is not None:
                taking.cancel()
            # Cancelled (shutdown): nobody may wait for a slot that will not come.
            for waiter in [*self._bulk, *(w for q in self._replies.values() for w in q)]:
                waiter.cancel()
            self._replies.clear()
            self._bulk.clear()
            self._queued = 0

    def _next(self) -> asyncio.Future[None] | None:
        """The first live waiter in line, taken off the line."""
        while self._replies:
            chat = next(iter(self._replies))
            queue = self._replies.pop(chat)
            waiter = queue.popleft()
            self._queued -= 1
            if queue:
                self._replies[chat] = queue  # to the back of the line
            if not waiter.done():
                self.granted[Lane.reply] += 1
                return waiter
        while self._bulk:
            waiter = self._bulk.popleft()
            self._queued -= 1
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
