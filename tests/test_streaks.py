"""Streaks count the trainee's own calendar days, whatever the time zone."""

from __future__ import annotations

import datetime as dt

from bot.domain.streaks import activity_days, current_streak, longest_streak, streak


def utc(day: int, hour: int, minute: int = 0) -> dt.datetime:
    return dt.datetime(2026, 3, day, hour, minute, tzinfo=dt.UTC)


def test_consecutive_days_make_a_streak() -> None:
    result = streak([utc(2, 8), utc(3, 8), utc(4, 9), utc(4, 10)], "UTC", utc(4, 20))
    assert (result.current, result.longest, result.active_today) == (3, 3, True)


def test_a_streak_survives_until_the_day_is_over() -> None:
    # Nothing yet today at 07:00, but yesterday counted: the streak is still alive.
    result = streak([utc(2, 8), utc(3, 8)], "UTC", utc(4, 7))
    assert (result.current, result.active_today) == (2, False)


def test_a_missed_day_breaks_the_current_streak_but_not_the_record() -> None:
    instants = [utc(1, 8), utc(2, 8), utc(3, 8), utc(4, 8), utc(6, 8), utc(7, 8)]
    result = streak(instants, "UTC", utc(7, 12))
    assert (result.current, result.longest) == (2, 4)
    # Two days later without anything, the current streak is gone.
    assert streak(instants, "UTC", utc(9, 12)).current == 0


def test_late_evening_and_early_morning_fall_on_different_days_per_zone() -> None:
    # 01:00 and 23:00 UTC on 5 March: one day in London, two days in New York and Tokyo.
    instants = [utc(5, 1), utc(5, 23)]
    assert activity_days(instants, "Europe/London") == {dt.date(2026, 3, 5)}
    assert activity_days(instants, "America/New_York") == {
        dt.date(2026, 3, 4),
        dt.date(2026, 3, 5),
    }
    assert activity_days(instants, "Asia/Tokyo") == {dt.date(2026, 3, 5), dt.date(2026, 3, 6)}
    assert streak(instants, "Europe/London", utc(5, 23, 30)).current == 1
    assert streak(instants, "America/New_York", utc(5, 23, 30)).current == 2
    # In Tokyo it is already 6 March at 23:30 UTC on the 5th: today is active.
    tokyo = streak(instants, "Asia/Tokyo", utc(5, 23, 30))
    assert (tokyo.current, tokyo.active_today) == (2, True)


def test_half_hour_zones_and_fixed_offsets_count_too() -> None:
    # 18:45 UTC is 00:15 the next day in India (UTC+05:30).
    instants = [utc(5, 12), utc(5, 18, 45)]
    assert streak(instants, "Asia/Kolkata", utc(5, 19)).current == 2
    assert streak(instants, "UTC+05:30", utc(5, 19)).current == 2
    assert streak(instants, "UTC", utc(5, 19)).current == 1


def test_a_dst_change_does_not_break_a_daily_streak() -> None:
    # 08:00 New York time every day across the switch to daylight time on 8 March 2026.
    instants = [utc(6, 13), utc(7, 13), utc(8, 12), utc(9, 12)]
    assert streak(instants, "America/New_York", utc(9, 15)).current == 4


def test_no_activity_means_no_streak() -> None:
    assert current_streak(set(), dt.date(2026, 3, 5)) == 0
    assert longest_streak(set()) == 0
