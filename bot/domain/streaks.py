"""Streaks: days in a row, in the trainee's own calendar, with an installment or an answer."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass

from bot.domain.timeparse import zone


@dataclass(frozen=True)
class Streak:
    current: int
    longest: int
    active_today: bool


def activity_days(instants: Iterable[dt.datetime], timezone: str) -> set[dt.date]:
    """The local calendar days on which something happened."""
    tz = zone(timezone)
    return {instant.astimezone(tz).date() for instant in instants}


def current_streak(days: set[dt.date], today: dt.date) -> int:
    """Days in a row ending today, or ending yesterday while today is still young.

    A streak is not broken until a whole local day passes without activity.
    """
    day = today if today in days else today - dt.timedelta(days=1)
    count = 0
    while day in days:
        count += 1
        day -= dt.timedelta(days=1)
    return count


def longest_streak(days: set[dt.date]) -> int:
    """The longest run of consecutive days."""
    longest = 0
    for day in days:
        if day - dt.timedelta(days=1) in days:
            continue  # not the start of a run
        length = 1
        while day + dt.timedelta(days=length) in days:
            length += 1
        longest = max(longest, length)
    return longest


def streak(instants: Iterable[dt.datetime], timezone: str, now: dt.datetime) -> Streak:
    """The current and longest streak at `now`, counted in `timezone`."""
    days = activity_days(instants, timezone)
    today = now.astimezone(zone(timezone)).date()
    return Streak(
        current=current_streak(days, today),
        longest=longest_streak(days),
        active_today=today in days,
    )
