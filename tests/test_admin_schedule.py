"""Admins publish threads and tracks into groups and channels as a drip: /schedule,
/schedules, /unschedule, and the dispatcher delivering them at the start time."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlmodel import select

from bot.domain.admin import ScheduleRequest, parse_chat_ref, parse_schedule_args
from bot.domain.timeparse import InputError
from content.loader import bundled_library
from storage.db import session_scope
from storage.models import (
    Delivery,
    PlanKind,
    PollKind,
    PollRecord,
    Subscription,
    SubscriptionKind,
    SubscriptionStatus,
)
from tests.harness import ADMIN_ID, START, Harness

GROUP = -1001000
CHANNEL = -1002000
UTC = dt.UTC


def schedules(h: Harness) -> list[Subscription]:
    with session_scope(h.engine) as session:
        return list(session.exec(select(Subscription)).all())


async def test_a_thread_scheduled_into_a_group_arrives_at_the_start_time(
    pg_harness: Harness,
) -> None:
    harness = pg_harness
    harness.emulator.add_chat(GROUP, "supergroup", "Neuro journal club")
    await harness.send(ADMIN_ID, f"/schedule brocas-area {GROUP} 2026-01-06 08:00 Europe/London 2")
    reply = harness.last_message(ADMIN_ID).content
    assert "Scheduled #1" in reply and "Neuro journal club (group)" in reply
    assert "Tue 06 Jan 2026 08:00 Europe/London" in reply and "2 posts a day" in reply

    (sub,) = schedules(harness)
    assert (sub.kind, sub.status, sub.chat_id, sub.plan_kind, sub.plan_id) == (
        SubscriptionKind.group,
        SubscriptionStatus.active,
        GROUP,
        PlanKind.thread,
        "brocas-area",
    )
    assert (sub.timezone, sub.delivery_time, sub.pace, sub.created_by) == (
        "Europe/London",
        "08:00",
        2,
        ADMIN_ID,
    )
    assert sub.next_due_at == sub.start_at == dt.datetime(2026, 1, 6, 8, 0, tzinfo=UTC)

    harness.clock.set(dt.datetime(2026, 1, 6, 7, 59, tzinfo=UTC))
    assert await harness.dispatch() == 0
    assert harness.messages(GROUP) == []

    harness.advance(minutes=1)
    assert await harness.dispatch() == 1
    day_one = harness.messages(GROUP)
    assert "Day 1" in day_one[0].content and "posts 1-2 of 3" in day_one[0].content
    polls = [m for m in day_one if m.poll]
    assert len(polls) == 1 and polls[0].poll["is_anonymous"] is False

    harness.clock.set(dt.datetime(2026, 1, 7, 8, 0, tzinfo=UTC))
    assert await harness.dispatch() == 1
    assert "post 3 of 3" in harness.messages(GROUP)[len(day_one)].content
    (sub,) = schedules(harness)
    assert sub.status == SubscriptionStatus.finished


async def test_a_track_scheduled_into_a_channel_has_anonymous_polls_and_the_admin_is_told(
    harness: Harness,
) -> None:
    harness.emulator.add_chat(CHANNEL, "channel", "Neuro daily", username="neurodaily")
    await harness.send(ADMIN_ID, "/schedule csf-leaks @neurodaily 2026-01-05 09:30 UTC 0")
    reply = harness.last_message(ADMIN_ID).content
    assert "Neuro daily (channel)" in reply and "a whole thread a day" in reply
    assert "anonymous" in reply and "scores" in reply
    (sub,) = schedules(harness)
    assert (sub.kind, sub.chat_id, sub.plan_kind) == (
        SubscriptionKind.channel,
        CHANNEL,
        PlanKind.track,
    )

    harness.clock.set(dt.datetime(2026, 1, 5, 9, 30, tzinfo=UTC))
    assert await harness.dispatch() == 1
    sent = harness.messages(CHANNEL)
    assert "posts 1-12 of 12" in sent[0].content
    polls = [m for m in sent if m.poll]
    assert len(polls) == 14 and all(m.poll["is_anonymous"] for m in polls)
    with session_scope(harness.engine) as session:
        kinds = {r.kind for r in session.exec(select(PollRecord)).all()}
    assert kinds == {PollKind.channel}


@pytest.mark.parametrize(
    ("status", "hint"),
    [
        ("member", "not an admin"),
        ("left", "not in"),
        ("kicked", "not in"),
    ],
)
async def test_scheduling_where_the_bot_is_not_admin_gives_a_clear_error(
    harness: Harness, status: str, hint: str
) -> None:
    harness.emulator.add_chat(GROUP, "supergroup", "Journal club", bot_status=status)  # type: ignore[arg-type]
    await harness.send(ADMIN_ID, f"/schedule brocas-area {GROUP} 2026-01-06 08:00")
    assert hint in harness.last_message(ADMIN_ID).content
    assert schedules(harness) == []


async def test_scheduling_into_an_unknown_chat_says_to_add_the_bot_first(
    harness: Harness,
) -> None:
    await harness.send(ADMIN_ID, "/schedule brocas-area @nosuchchannel 2026-01-06 08:00")
    reply = harness.last_message(ADMIN_ID).content
    assert "can't find the chat @nosuchchannel" in reply and "Add me" in reply
    assert schedules(harness) == []


@pytest.mark.parametrize(
    ("args", "hint"),
    [
        ("", "Usage"),
        ("brocas-area -1001000", "Usage"),
        ("brocas-aera -1001000 2026-01-06 08:00", "Did you mean brocas-area?"),
        ("nothing-like-it -1001000 2026-01-06 08:00", "I don't know a thread or track"),
        ("brocas-area journalclub 2026-01-06 08:00", "is not a chat"),
        ("brocas-area 12345 2026-01-06 08:00", "a person's chat"),
        ("brocas-area -1001000 06/01/2026 08:00", "write it as YYYY-MM-DD"),
        ("brocas-area -1001000 2026-02-30 08:00", "not a day of the calendar"),
        ("brocas-area -1001000 2026-01-06 25:00", "not a time of day"),
        ("brocas-area -1001000 2026-01-06 8am-ish", "Type it as HH:MM"),
        ("brocas-area -1001000 2026-01-06 08:00 Atlantis", "I don't know the time zone"),
        ("brocas-area -1001000 2026-01-06 08:00 UTC 99", "Posts per day go from 1 to 50"),
        ("brocas-area -1001000 2026-01-04 08:00", "is in the past"),
    ],
)
async def test_wrong_schedules_get_specific_messages_and_nothing_is_stored(
    harness: Harness, args: str, hint: str
) -> None:
    harness.emulator.add_chat(GROUP, "supergroup", "Journal club")
    await harness.send(ADMIN_ID, f"/schedule {args}".strip())
    assert hint in harness.last_message(ADMIN_ID).content
    assert schedules(harness) == []


async def test_the_same_plan_cannot_be_scheduled_twice_into_one_chat(harness: Harness) -> None:
    harness.emulator.add_chat(GROUP, "supergroup", "Journal club")
    command = f"/schedule brocas-area {GROUP} 2026-01-06 08:00"
    await harness.send(ADMIN_ID, command)
    await harness.send(ADMIN_ID, command)
    assert "already scheduled" in harness.last_message(ADMIN_ID).content
    assert len(schedules(harness)) == 1


async def test_schedules_lists_next_sends_in_local_time_and_unschedule_removes_one(
    harness: Harness,
) -> None:
    harness.emulator.add_chat(GROUP, "supergroup", "Journal club")
    harness.emulator.add_chat(CHANNEL, "channel", "Neuro daily")
    await harness.send(ADMIN_ID, f"/schedule brocas-area {GROUP} 2026-01-06 08:00 New York 3")
    await harness.send(
        ADMIN_ID, f"/schedule neuroradiology {CHANNEL} 2026-01-07 18:15 Asia/Kolkata"
    )
    await harness.send(ADMIN_ID, "/schedules")
    listing = harness.last_message(ADMIN_ID).content
    assert "#1 brocas-area (thread) → Journal club" in listing
    assert "3 posts a day at 08:00 America/New_York" in listing
    assert "next Tue 06 Jan 2026 08:00" in listing
    assert "#2 neuroradiology (track) → Neuro daily" in listing
    assert "next Wed 07 Jan 2026 18:15" in listing

    harness.clock.set(dt.datetime(2026, 1, 6, 13, 0, tzinfo=UTC))  # 08:00 in New York
    await harness.dispatch()
    with session_scope(harness.engine) as session:
        assert session.exec(select(Delivery)).first() is not None

    await harness.send(ADMIN_ID, "/unschedule 1")
    assert "Removed schedule #1" in harness.last_message(ADMIN_ID).content
    (left,) = schedules(harness)
    assert left.id == 2
    with session_scope(harness.engine) as session:
        assert session.exec(select(Delivery)).first() is None

    await harness.send(ADMIN_ID, "/unschedule 1")
    assert "There is no schedule #1" in harness.last_message(ADMIN_ID).content
    await harness.send(ADMIN_ID, "/unschedule one")
    assert "Usage" in harness.last_message(ADMIN_ID).content


async def test_unschedule_does_not_touch_trainee_subscriptions(harness: Harness) -> None:
    with session_scope(harness.engine) as session:
        session.add(Subscription(kind=SubscriptionKind.trainee, chat_id=501, user_id=501))
    await harness.send(ADMIN_ID, "/unschedule 1")
    assert "There is no schedule #1" in harness.last_message(ADMIN_ID).content
    assert len(schedules(harness)) == 1


# --- the rules, without Telegram -----------------------------------------------------------


def parse(*args: str, now: dt.datetime = START) -> ScheduleRequest:
    return parse_schedule_args(
        list(args), bundled_library(), now, default_timezone="UTC", default_pace=4
    )


def test_a_start_inside_a_dst_gap_moves_forward_and_says_so() -> None:
    request = parse("brocas-area", "-100123", "2026-03-29", "01:30", "Europe/London")
    assert request.start_at == dt.datetime(2026, 3, 29, 1, 30, tzinfo=UTC)
    assert request.shifted
    assert request.delivery_time == "01:30"


def test_a_zone_of_several_words_and_a_pace_are_told_apart() -> None:
    request = parse("csf-leaks", "@neurodaily", "2026-01-06", "7pm", "Los", "Angeles", "5")
    assert request.timezone == "America/Los_Angeles"
    assert request.pace == 5 and request.delivery_time == "19:00"
    assert request.start_at == dt.datetime(2026, 1, 7, 3, 0, tzinfo=UTC)


def test_defaults_come_from_the_settings_and_iso_start_is_accepted() -> None:
    request = parse("track:csf-leaks", "-100123", "2026-01-06T08:00")
    assert (request.plan_kind, request.timezone, request.pace) == (PlanKind.track, "UTC", 4)


@pytest.mark.parametrize(
    ("typed", "expected"),
    [
        ("-1001234567890", -1001234567890),
        ("@NeuroDaily", "@NeuroDaily"),
        ("https://t.me/neurodaily", "@neurodaily"),
    ],
)
def test_chats_are_ids_or_usernames(typed: str, expected: int | str) -> None:
    assert parse_chat_ref(typed) == expected


def test_a_thread_id_that_is_not_in_the_library_is_refused_with_a_hint() -> None:
    with pytest.raises(InputError, match="/threads lists the library"):
        parse("thread:csf-leaks", "-100123", "2026-01-06", "08:00")
