"""When to remind a trainee about an unanswered quiz, and when an idle drip pauses itself."""

from __future__ import annotations

import datetime as dt

from bot.domain.timeparse import zone

# Nobody wants a quiz reminder at 2 a.m.: one that falls in the night waits for the morning.
QUIET_START = dt.time(22, 0)
QUIET_END = dt.time(7, 0)


def reminder_at(sent_at: dt.datetime, delay: dt.timedelta, timezone: str) -> dt.datetime:
    """`delay` after the quiz was sent, moved out of the trainee's local night."""
    at = sent_at + delay
    tz = zone(timezone)
    local = at.astimezone(tz)
    wall = local.time()
    if wall >= QUIET_START:
        morning = local.date() + dt.timedelta(days=1)
    elif wall < QUIET_END:
        morning = local.date()
    else:
        return at
    return dt.datetime.combine(morning, QUIET_END, tzinfo=tz).astimezone(dt.UTC)


def should_pause(idle_installments: int, threshold: int) -> bool:
    """After `threshold` installments in a row without activity, the next one is not sent."""
    return threshold > 0 and idle_installments >= threshold
