"""Telegram's flood limits for bots, as token buckets.

Telegram documents its limits loosely: about 30 messages per second per bot overall,
about one message per second in a single chat ("short bursts over the limit are
allowed"), and no more than 20 messages per minute to the same group. A breach is
answered with ``429 Too Many Requests: retry after N``.

The emulator models each limit as a token bucket (the same algorithm as ``aiolimiter``,
which PTB's ``AIORateLimiter`` uses), so a client that paces itself with the documented
numbers is never refused, and one that does not is:

==========================  ==============  =================
Scope                       Sustained rate  Burst (bucket size)
==========================  ==============  =================
whole bot                   30 / second     30
one private chat            1 / second      3
one group/supergroup/chan.  20 / minute     20
==========================  ==============  =================

Time is real monotonic time, not the emulator clock: limits are about throughput.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass

__all__ = ["RateLimiter", "RateLimits", "TokenBucket"]


@dataclass(frozen=True, slots=True)
class RateLimits:
    """The numbers the emulator enforces when ``enforce_limits`` is on."""

    global_per_second: float = 30.0
    global_burst: int = 30
    private_per_second: float = 1.0
    private_burst: int = 3
    group_per_minute: float = 20.0
    group_burst: int = 20


class TokenBucket:
    """``capacity`` tokens, refilled continuously at ``rate`` tokens per second."""

    __slots__ = ("_stamp", "_tokens", "capacity", "rate")

    def __init__(self, rate: float, capacity: int, now: float) -> None:
        self.rate = rate
        self.capacity = capacity
        self._tokens = float(capacity)
        self._stamp = now

    def _refill(self, now: float) -> None:
        if now > self._stamp:
            self._tokens = min(self.capacity, self._tokens + (now - self._stamp) * self.rate)
            self._stamp = now

    def wait_time(self, now: float, cost: int = 1) -> float:
        """Seconds until ``cost`` tokens are available (0 when they already are)."""
        self._refill(now)
        missing = cost - self._tokens
        return 0.0 if missing <= 0 else missing / self.rate

    def take(self, cost: int = 1) -> None:
        self._tokens -= cost


class RateLimiter:
    """Per-bot and per-chat buckets; ``check`` consumes only when every bucket allows."""

    def __init__(
        self, limits: RateLimits | None = None, now: Callable[[], float] = time.monotonic
    ) -> None:
        self.limits = limits or RateLimits()
        self._now = now
        self._global = TokenBucket(
            self.limits.global_per_second, self.limits.global_burst, self._now()
        )
        self._chats: dict[int, TokenBucket] = {}

    def _chat_bucket(self, chat_id: int, chat_type: str, now: float) -> TokenBucket:
        bucket = self._chats.get(chat_id)
        if bucket is None:
            if chat_type == "private":
                bucket = TokenBucket(self.limits.private_per_second, self.limits.private_burst, now)
            else:
                bucket = TokenBucket(
                    self.limits.group_per_minute / 60.0, self.limits.group_burst, now
                )
            self._chats[chat_id] = bucket
        return bucket

    def check(self, chat_id: int | None, chat_type: str | None, cost: int = 1) -> int | None:
        """Consume ``cost`` messages; return ``retry_after`` seconds when over a limit."""
        now = self._now()
        wait = self._global.wait_time(now, cost)
        chat_bucket = None
        if chat_id is not None and chat_type is not None:
            chat_bucket = self._chat_bucket(chat_id, chat_type, now)
            wait = max(wait, chat_bucket.wait_time(now, min(cost, chat_bucket.capacity)))
        if wait > 0:
            return max(1, math.ceil(wait))
        self._global.take(cost)
        if chat_bucket is not None:
            chat_bucket.take(min(cost, chat_bucket.capacity))
        return None
