"""When is a drip due next, in the trainee's own local time."""

from __future__ import annotations

import datetime as dt

from bot.domain.timeparse import parse_clock_time, zone


def local_instant(day: dt.date, at: dt.time, tz: dt.tzinfo) -> dt.datetime:
    """The UTC instant of wall-clock `at` on `day`: gaps move forward, repeats take the first."""
    naive = dt.datetime.combine(day, at)
    local = naive.replace(tzinfo=tz, fold=0)
    as_utc = local.astimezone(dt.UTC)
    # A wall time inside a DST gap does not exist; fold=0 maps it past the gap, which is
    # "moved forward" by the gap's length (02:30 becomes 03:30 on a spring-forward night).
    return as_utc


def next_delivery_at(timezone: str, delivery_time: str, after: dt.datetime) -> dt.datetime:
    """The first delivery instant strictly after `after` (UTC)."""
    tz = zone(timezone)
    at = parse_clock_time(delivery_time)
    local_day = after.astimezone(tz).date()
    for offset in range(3):
        candidate = local_instant(local_day + dt.timedelta(days=offset), at, tz)
        if candidate > after:
            return candidate
    raise AssertionError("a delivery time always recurs within three days")


def local_date(instant: dt.datetime, timezone: str) -> dt.date:
    """The trainee's calendar date at `instant`."""
    return instant.astimezone(zone(timezone)).date()
