"""Understand the delivery times and time zones trainees type."""

from __future__ import annotations

import datetime as dt
import re
from functools import cache
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones


class InputError(ValueError):
    """Input a person typed that we cannot use; the message says how to fix it."""


_CLOCK = re.compile(
    r"^\s*(?P<h>\d{1,2})(?:[:.h](?P<m>\d{2}))?\s*(?P<ampm>[ap]\.?m\.?)?\s*$", re.IGNORECASE
)


def parse_clock_time(text: str) -> dt.time:
    """Parse `HH:MM`, `8`, `8.30`, `7pm` or `7:15 am` into a wall-clock time."""
    match = _CLOCK.match(text)
    if not match:
        raise InputError(
            f"“{text.strip()[:40]}” is not a time. Type it as HH:MM, for example 07:30."
        )
    hour, minute = int(match["h"]), int(match["m"] or 0)
    ampm = (match["ampm"] or "").lower().replace(".", "")
    if ampm:
        if not 1 <= hour <= 12:
            raise InputError("With am/pm the hour goes from 1 to 12, for example 7:30 pm.")
        hour = hour % 12 + (12 if ampm == "pm" else 0)
    if hour > 23 or minute > 59:
        raise InputError(f"{hour:02d}:{minute:02d} is not a time of day. Use 00:00 to 23:59.")
    return dt.time(hour, minute)


_OFFSET = re.compile(
    r"^\s*(?:utc|gmt)?\s*(?P<sign>[+-−])\s*(?P<h>\d{1,2})(?::?(?P<m>\d{2}))?\s*$", re.IGNORECASE
)


@cache
def _zones_by_city() -> dict[str, str]:
    zones: dict[str, str] = {}
    for name in sorted(available_timezones()):
        if "/" not in name or name.startswith(("Etc/", "SystemV/", "US/")):
            continue
        city = name.rsplit("/", 1)[1].replace("_", " ").lower()
        zones.setdefault(city, name)
    return zones


@cache
def _zones_by_lower() -> dict[str, str]:
    return {name.lower(): name for name in available_timezones()}


def parse_timezone(text: str) -> str:
    """Turn an IANA name, a city or a UTC offset into a canonical zone name."""
    raw = text.strip()
    if not raw:
        raise InputError(
            "Type a time zone such as Europe/London, a city such as Chicago, or UTC+2."
        )
    if raw.upper() in ("UTC", "GMT", "Z"):
        return "UTC"
    exact = _zones_by_lower().get(raw.lower().replace(" ", "_"))
    if exact:
        return exact
    match = _OFFSET.match(raw)
    if match:
        hours, minutes = int(match["h"]), int(match["m"] or 0)
        sign = "-" if match["sign"] in "-−" else "+"
        limit = 14 if sign == "+" else 12
        if minutes >= 60 or hours * 60 + minutes > limit * 60:
            raise InputError(f"{raw} is not a real UTC offset; offsets go from UTC-12 to UTC+14.")
        if minutes == 0:
            # Etc/GMT zones have the sign inverted: Etc/GMT-2 is UTC+2.
            return "UTC" if hours == 0 else f"Etc/GMT{'-' if sign == '+' else '+'}{hours}"
        return f"UTC{sign}{hours:02d}:{minutes:02d}"
    city = _zones_by_city().get(raw.lower().replace("_", " "))
    if city:
        return city
    raise InputError(
        f"I don't know the time zone “{raw[:40]}”. Try an IANA name such as Europe/London or "
        "America/Chicago, a large city near you, or an offset such as UTC+5:30."
    )


def zone(name: str) -> dt.tzinfo:
    """The tzinfo for a canonical zone name (IANA, or a fixed `UTC+05:30`)."""
    if name.startswith("UTC") and len(name) == 9:
        sign = 1 if name[3] == "+" else -1
        return dt.timezone(sign * dt.timedelta(hours=int(name[4:6]), minutes=int(name[7:9])))
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise InputError(f"unknown time zone {name!r}") from exc


def zone_label(name: str, now: dt.datetime) -> str:
    """`Europe/London (UTC+00:00)`: the name and its current offset."""
    offset = now.astimezone(zone(name)).strftime("%z")
    return f"{name} (UTC{offset[:3]}:{offset[3:]})"
