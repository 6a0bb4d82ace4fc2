"""Send to Telegram within its limits, and turn its errors into outcomes the drip can act on."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from enum import StrEnum
from typing import Generic, TypeVar

from telegram.error import BadRequest, ChatMigrated, Forbidden, NetworkError, RetryAfter, TimedOut

log = logging.getLogger(__name__)

T = TypeVar("T")

MAX_ATTEMPTS = 5
MAX_RETRY_AFTER_SECONDS = 120.0
RETRY_BASE_DELAY = 1.0  # seconds before the first retry of a timeout; doubles each time
CHAT_BURST = 2  # messages one private chat may get back to back before its pace applies


class ChatPacer:
    """Keep each private chat at one message per `interval` seconds after a burst of `burst`.

    Telegram allows about one message a second in one chat, with short bursts over it (the
    emulator models a bucket of three). A burst of two lets an answer go out at once right
    after a scheduled post and keeps one message of headroom for sends that reach Telegram
    bunched up. The schedule is a GCRA per chat: `_due[chat]` is when the chat's pace would
    next allow a message if none had been let through early.

    With rate limiting on, `LaneRateLimiter` (bot/ratelimit.py) calls `pace` for every new
    message to a chat — replies and scheduled sends share one schedule — and `wait`, called
    by `send_safely`, leaves it to that. Without it, `wait` paces what goes through
    `send_safely`.
    """

    def __init__(self, interval: float, burst: int = CHAT_BURST) -> None:
        self.interval = interval
        self.burst = burst
        self.by_rate_limiter = False
        self._due: dict[int, float] = {}

    async def wait(self, chat_id: int) -> None:
        if not self.by_rate_limiter:
            await self.pace(chat_id)

    async def pace(self, chat_id: int) -> None:
        """Wait for this chat's next slot (reserved before sleeping: senders queue up)."""
        if self.interval <= 0 or chat_id < 0:  # groups and channels: the rate limiter's job
            return
        now = time.monotonic()
        due = max(now, self._due.get(chat_id, now))
        slot = max(now, due - (self.burst - 1) * self.interval)
        self._due[chat_id] = due + self.interval
        if len(self._due) > 50_000:
            self._forget_idle(now)
        if slot > now:
            await asyncio.sleep(slot - now)

    def _forget_idle(self, now: float) -> None:
        self._due = {c: t for c, t in self._due.items() if t > now}


class Outcome(StrEnum):
    sent = "sent"
    blocked = "blocked"  # 403: the user blocked the bot or left the chat
    failed = "failed"  # 400: Telegram will never accept this message
    retry_later = "retry_later"  # timeouts or server errors that outlasted our retries


@dataclass
class SendResult(Generic[T]):
    outcome: Outcome
    value: T | None = None
    error: str | None = None
    chat_id: int | None = None  # differs from the requested id after a group migration


async def send_safely(
    send: Callable[[int], Awaitable[T]],
    chat_id: int,
    *,
    pacer: ChatPacer | None = None,
    attempts: int = MAX_ATTEMPTS,
) -> SendResult[T]:
    """Call `send(chat_id)`, waiting out 429s, following migrations and retrying timeouts.

    A timeout does not prove Telegram did not deliver, so a retry may duplicate the message
    the user sees; the alternative, giving up, could lose it. We prefer a rare duplicate.
    """
    delay = RETRY_BASE_DELAY
    for attempt in range(1, attempts + 1):
        if pacer is not None:
            await pacer.wait(chat_id)
        try:
            return SendResult(Outcome.sent, value=await send(chat_id), chat_id=chat_id)
        except RetryAfter as exc:
            wait = min(_seconds(exc.retry_after), MAX_RETRY_AFTER_SECONDS)
            log.warning("Telegram asked to wait %.0f s before sending to %s", wait, chat_id)
            await asyncio.sleep(wait)
        except ChatMigrated as exc:
            log.info("chat %s became supergroup %s", chat_id, exc.new_chat_id)
            chat_id = exc.new_chat_id
        except Forbidden as exc:
            return SendResult(Outcome.blocked, error=exc.message, chat_id=chat_id)
        except BadRequest as exc:  # before NetworkError: BadRequest subclasses it
            return SendResult(Outcome.failed, error=exc.message, chat_id=chat_id)
        except (TimedOut, NetworkError) as exc:
            if attempt == attempts:
                return SendResult(Outcome.retry_later, error=exc.message, chat_id=chat_id)
            log.warning("sending to %s failed (%s); retrying in %.0f s", chat_id, exc, delay)
            await asyncio.sleep(delay)
            delay = min(delay * 2, 30.0)
    return SendResult(Outcome.retry_later, error="Telegram kept asking us to wait", chat_id=chat_id)


def _seconds(value: object) -> float:
    if hasattr(value, "total_seconds"):
        return float(value.total_seconds())
    return float(value)  # type: ignore[arg-type]
