"""Delivery times in the trainee's own time zone, DST included, and what trainees may type."""

from __future__ import annotations

import datetime as dt

import pytest

from bot.domain.schedule import next_delivery_at
from bot.domain.timeparse import InputError, parse_clock_time, parse_timezone

UTC = dt.UTC


def at(*args: int) -> dt.datetime:
    return dt.datetime(*args, tzinfo=UTC)


@pytest.mark.parametrize(
    ("typed", "expected"),
    [
        ("08:00", dt.time(8)),
        ("7", dt.time(7)),
        ("7.30", dt.time(7, 30)),
        ("7:15 pm", dt.time(19, 15)),
        ("12am", dt.time(0)),
        ("23:59", dt.time(23, 59)),
    ],
)
def test_typed_times_are_understood(typed: str, expected: dt.time) -> None:
    assert parse_clock_time(typed) == expected


@pytest.mark.parametrize(
    ("typed", "hint"),
    [
        ("25:00", "not a time of day"),
        ("noon-ish", "Type it as HH:MM"),
        ("13pm", "1 to 12"),
        ("8:75", "not a time of day"),
        ("x" * 5000, "Type it as HH:MM"),
    ],
)
def test_wrong_times_get_a_specific_hint(typed: str, hint: str) -> None:
    with pytest.raises(InputError, match=hint) as error:
        parse_clock_time(typed)
    assert len(str(error.value)) < 200  # an oversized input is not echoed back whole


@pytest.mark.parametrize(
    ("typed", "zone"),
    [
        ("Europe/London", "Europe/London"),
        ("europe/london", "Europe/London"),
        ("Chicago", "America/Chicago"),
        ("new york", "America/New_York"),
        ("UTC+2", "Etc/GMT-2"),
        ("utc-5", "Etc/GMT+5"),
        ("+5:30", "UTC+05:30"),
        ("UTC", "UTC"),
        ("GMT+14", "Etc/GMT-14"),
    ],
)
def test_zones_by_name_city_or_offset(typed: str, zone: str) -> None:
    assert parse_timezone(typed) == zone


@pytest.mark.parametrize("typed", ["Mars/Olympus", "UTC+15", "UTC-13", "", "+5:75"])
def test_unknown_zones_are_refused_with_examples(typed: str) -> None:
    with pytest.raises(InputError) as error:
        parse_timezone(typed)
    assert "UTC" in str(error.value) or "Europe/London" in str(error.value)


def test_next_delivery_is_later_today_or_tomorrow() -> None:
    assert next_delivery_at("Europe/London", "08:00", at(2026, 1, 5, 7)) == at(2026, 1, 5, 8)
    assert next_delivery_at("Europe/London", "08:00", at(2026, 1, 5, 8)) == at(2026, 1, 6, 8)


def test_the_same_local_time_moves_in_utc_across_a_dst_change() -> None:
    # New York springs forward on 2026-03-08: 08:00 local is 13:00 UTC before, 12:00 after.
    assert next_delivery_at("America/New_York", "08:00", at(2026, 3, 7, 14)) == at(2026, 3, 8, 12)
    assert next_delivery_at("America/New_York", "08:00", at(2026, 3, 6, 14)) == at(2026, 3, 7, 13)


def test_a_time_inside_the_dst_gap_moves_forward() -> None:
    # London skips 01:00-02:00 on 2026-03-29: a 01:30 delivery happens at 02:30 BST.
    assert next_delivery_at("Europe/London", "01:30", at(2026, 3, 28, 12)) == at(2026, 3, 29, 1, 30)


def test_a_repeated_time_takes_the_first_occurrence() -> None:
    # London repeats 01:00-02:00 on 2026-10-25: 01:30 BST (00:30 UTC) comes first.
    assert next_delivery_at("Europe/London", "01:30", at(2026, 10, 24, 12)) == at(
        2026, 10, 25, 0, 30
    )


def test_fixed_offsets_with_minutes() -> None:
    assert next_delivery_at("UTC+05:30", "08:00", at(2026, 1, 5)) == at(2026, 1, 5, 2, 30)
