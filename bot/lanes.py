"""People first: how updates are handled, and which lane each message goes out in.

Every message that names a chat takes a slot of the bot's one send budget (bot/ratelimit.py).
Slots go first to the **reply** lane — messages that answer a person's own action: a command,
a button, the next question after an answer, onboarding — and then to the **bulk** lane:
everything scheduled (the dispatcher's fan-out, broadcasts, reminders, group drips).

Which lane a send is in is decided here, once, not by each handler: `UpdateProcessor` marks
the task that handles an update while it runs, and a send made by that task is a reply.
Anything else is bulk: jobs, and work a handler spawns to carry on in the background (a
broadcast, a preview) — a spawned task copies the handler's context variables, which is why
the mark names the task rather than being a plain flag. Work that continues a person's action
in another task says so with `as_reply(...)`; a send can also name its lane itself with
`rate_limit_args={"lane": "reply"}` (or `"bulk"`).

`UpdateProcessor` is also how the Application takes updates in (polling and webhook alike):
- each chat's updates are handled one at a time and in order, different chats at the same
  time, so a reply paced to one chat (about one message a second) never holds up another;
- a person who sends messages (or presses buttons) faster than their chat can be answered
  gets a short "slow down" once, and their excess updates are dropped (`FloodGuard`).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Awaitable, Hashable
from contextvars import ContextVar
from enum import StrEnum
from typing import Any, TypeVar

from aiolimiter import AsyncLimiter
from telegram import Update
from telegram.constants import ChatType
from telegram.error import TelegramError
from telegram.ext import BaseUpdateProcessor

from bot.settings import Settings

log = logging.getLogger(__name__)

T = TypeVar("T")

MAX_CONCURRENT_UPDATES = 256
FLOOD_BURST = 8  # updates a person may send at once before the flood guard steps in
SLOW_DOWN = (
    "⏳ You're sending messages faster than I can answer, so I skipped some. "
    "Please slow down a little."
)


class Lane(StrEnum):
    reply = "reply"  # answers a person's own action: served first
    bulk = "bulk"  # scheduled sends: served with what the replies leave


# The task handling a person's update (set by UpdateProcessor or as_reply), or None.
_replying: ContextVar[asyncio.Task[Any] | None] = ContextVar("tweetdrip_replying", default=None)


def current_lane() -> Lane:
    """The lane of a send made now: reply only inside the task marked as handling a person."""
    task = _replying.get()
    return Lane.reply if task is not None and task is asyncio.current_task() else Lane.bulk


async def as_reply(work: Awaitable[T]) -> T:
    """Await `work` in the reply lane: for a task that continues a person's action (tasks
    it starts in turn are bulk again, like any other)."""
    token = _replying.set(asyncio.current_task())
    try:
        return await work
    finally:
        _replying.reset(token)


class Verdict(StrEnum):
    handle = "handle"
    drop = "drop"
    warn = "warn"  # drop, and tell the sender (once per flood)


class FloodGuard:
    """Let each person have `burst` updates at once, then one per `interval` seconds.

    One per interval is what their chat can be answered at (the per-chat pace), so an
    accepted update's answer never queues behind a growing backlog. Only what a person types
    or taps counts; poll answers (quiz answers) are never dropped. A flood ends when the person
    has been quiet long enough to have their whole burst back; each flood gets one warning.
    """

    def __init__(self, interval: float, burst: int = FLOOD_BURST) -> None:
        self.interval = interval
        self.burst = burst
        self._buckets: dict[int, AsyncLimiter] = {}
        self._warned: set[int] = set()
        self.dropped = 0

    async def admit(self, update: Update) -> Verdict:
        """Whether to handle `update`, drop it, or drop it and warn its sender."""
        user = update.effective_user
        typed_or_tapped = (update.message, update.edited_message, update.callback_query)
        if user is None or all(part is None for part in typed_or_tapped):
            return Verdict.handle
        bucket = self._buckets.get(user.id)
        if bucket is None:
            if len(self._buckets) > 10_000:
                self._forget_calm()
            bucket = self._buckets[user.id] = AsyncLimiter(self.burst, self.burst * self.interval)
        if bucket.has_capacity(bucket.max_rate):  # quiet long enough: a new flood is new
            self._warned.discard(user.id)
        if bucket.has_capacity():
            await bucket.acquire()  # there is room: returns at once
            return Verdict.handle
        self.dropped += 1
        if user.id in self._warned:
            return Verdict.drop
        self._warned.add(user.id)
        log.info("user %s is flooding the bot; dropping their excess updates", user.id)
        return Verdict.warn

    def _forget_calm(self) -> None:
        for user_id, bucket in list(self._buckets.items()):
            if bucket.has_capacity(bucket.max_rate):
                del self._buckets[user_id]
                self._warned.discard(user_id)


class _Turn:
    __slots__ = ("lock", "users")

    def __init__(self) -> None:
        self.lock = asyncio.Lock()
        self.users = 0


class UpdateProcessor(BaseUpdateProcessor):
    """Handle updates concurrently across chats, in order within one, replies marked."""

    def __init__(
        self, max_concurrent_updates: int = MAX_CONCURRENT_UPDATES, flood: FloodGuard | None = None
    ) -> None:
        super().__init__(max_concurrent_updates)
        self.flood = flood
        self._turns: dict[Hashable, _Turn] = {}

    async def initialize(self) -> None:
        """Nothing to set up."""

    async def shutdown(self) -> None:
        """Nothing to release."""

    async def do_process_update(self, update: object, coroutine: Awaitable[Any]) -> None:
        if self.flood is not None and isinstance(update, Update):
            verdict = await self.flood.admit(update)
            if verdict != Verdict.handle:
                if asyncio.iscoroutine(coroutine):
                    coroutine.close()  # never to be awaited: close it, or Python warns
                if verdict == Verdict.warn:
                    await as_reply(_warn_flooder(update))
                return
        async with self._turn(_order_key(update)):
            await as_reply(coroutine)

    @contextlib.asynccontextmanager
    async def _turn(self, key: Hashable) -> AsyncIterator[None]:
        if key is None:  # not about a chat or a person: nothing to keep in order
            yield
            return
        turn = self._turns.get(key)
        if turn is None:
            turn = self._turns[key] = _Turn()
        turn.users += 1
        try:
            async with turn.lock:  # asyncio.Lock is first come, first served
                yield
        finally:
            turn.users -= 1
            if turn.users == 0:
                del self._turns[key]


def _order_key(update: object) -> Hashable:
    if not isinstance(update, Update):
        return None
    if update.effective_chat is not None:
        return update.effective_chat.id
    # A poll answer has no chat; in a private chat the chat's id is the person's.
    return update.effective_user.id if update.effective_user is not None else None


async def _warn_flooder(update: Update) -> None:
    chat = update.effective_chat
    if chat is None or chat.type != ChatType.PRIVATE:  # in a group the warning would be noise
        return
    try:
        await update.get_bot().send_message(chat.id, SLOW_DOWN)
    except TelegramError as exc:
        log.info("could not ask chat %s to slow down: %s", chat.id, exc)


def make_update_processor(settings: Settings) -> UpdateProcessor:
    """The processor the Application uses; the flood guard is on with Telegram's limits."""
    interval = settings.private_chat_interval_seconds
    flood = FloodGuard(interval) if settings.rate_limit and interval > 0 else None
    return UpdateProcessor(flood=flood)
