"""Where "now" comes from: the wall clock in production, a virtual one in tests and the sandbox."""

from __future__ import annotations

import datetime as dt
from typing import Protocol


class Clock(Protocol):
    def now(self) -> dt.datetime: ...


class SystemClock:
    def now(self) -> dt.datetime:
        return dt.datetime.now(dt.UTC)


class VirtualClock:
    """A clock that only moves when told to."""

    def __init__(self, start: dt.datetime) -> None:
        if start.tzinfo is None:
            raise ValueError("the virtual clock needs an aware datetime")
        self._now = start.astimezone(dt.UTC)

    def now(self) -> dt.datetime:
        return self._now

    def advance(self, delta: dt.timedelta) -> dt.datetime:
        self._now += delta
        return self._now

    def set(self, instant: dt.datetime) -> None:
        self._now = instant.astimezone(dt.UTC)
