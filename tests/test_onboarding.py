"""A trainee subscribes in a private chat, by buttons and by typing, and manages the drip."""

from __future__ import annotations

from sqlmodel import select

from storage.db import session_scope
from storage.models import Subscription, SubscriptionStatus
from tests.harness import ADMIN_ID, Harness

TRAINEE = 501


def subscription(h: Harness, chat_id: int = TRAINEE) -> Subscription:
    with session_scope(h.engine) as session:
        sub = session.exec(select(Subscription).where(Subscription.chat_id == chat_id)).one()
        return sub


async def onboard(
    h: Harness, user: int = TRAINEE, *, time: str = "08:00", zone: str = "Europe/London"
) -> None:
    """Subscribe with buttons for the track and pace, typing the time and zone."""
    await h.send(user, "/start")
    await h.press(user, h.last_message(user), "ob:track:csf-leaks")
    await h.send(user, time)
    await h.send(user, zone)
    await h.press(user, h.last_message(user), "ob:pace:4")


async def test_start_welcomes_and_asks_for_a_track_with_buttons(harness: Harness) -> None:
    await harness.send(TRAINEE, "/start")
    welcome, question = harness.messages(TRAINEE)[-2:]
    assert "welcome to tweetdrip" in welcome.content
    assert "Which track" in question.content
    assert "ob:track:csf-leaks" in question.callback_data
    assert "ob:track:neuroradiology" in question.callback_data


async def test_onboarding_by_buttons_and_typing_subscribes(harness: Harness) -> None:
    await onboard(harness, time="7:30 pm", zone="chicago")
    sub = subscription(harness)
    assert sub.status == SubscriptionStatus.active
    assert (sub.plan_id, sub.delivery_time, sub.timezone, sub.pace) == (
        "csf-leaks",
        "19:30",
        "America/Chicago",
        4,
    )
    # 19:30 in Chicago on Monday 5 January 2026 is 01:30 UTC on Tuesday.
    assert (
        sub.next_due_at is not None and sub.next_due_at.isoformat() == "2026-01-06T01:30:00+00:00"
    )
    summary = harness.last_message(TRAINEE).content
    assert "You're subscribed" in summary and "Mon 05 Jan, 19:30" in summary


async def test_a_wrong_time_gets_a_hint_and_the_question_again(harness: Harness) -> None:
    await harness.send(TRAINEE, "/start")
    await harness.press(TRAINEE, harness.last_message(TRAINEE), "ob:track:csf-leaks")
    await harness.send(TRAINEE, "25:99")
    hint, again = harness.messages(TRAINEE)[-2:]
    assert "not a time of day" in hint.content
    assert "When should each installment arrive" in again.content
    assert subscription(harness).onboarding_step == "time"


async def test_a_wrong_zone_gets_a_hint_and_nothing_is_saved(harness: Harness) -> None:
    await harness.send(TRAINEE, "/start")
    await harness.press(TRAINEE, harness.last_message(TRAINEE), "ob:track:csf-leaks")
    await harness.send(TRAINEE, "08:00")
    await harness.send(TRAINEE, "Atlantis/Lost_City")
    hint = harness.messages(TRAINEE)[-2]
    assert "I don't know the time zone" in hint.content
    sub = subscription(harness)
    assert sub.timezone == "UTC" and sub.onboarding_step == "timezone"


async def test_an_oversized_message_is_answered_not_echoed(harness: Harness) -> None:
    await harness.send(TRAINEE, "/start")
    await harness.press(TRAINEE, harness.last_message(TRAINEE), "ob:track:csf-leaks")
    await harness.send(TRAINEE, "9" * 4000)
    hint = harness.messages(TRAINEE)[-2]
    assert "is not a time" in hint.content and len(hint.content) < 300


async def test_deep_link_preselects_the_track(harness: Harness) -> None:
    await harness.send(TRAINEE, "/start neuroradiology")
    assert "When should each installment arrive" in harness.last_message(TRAINEE).content
    assert subscription(harness).plan_id == "neuroradiology"


async def test_pause_resume_and_stop_keep_progress(harness: Harness) -> None:
    await onboard(harness)
    await harness.send(TRAINEE, "/pause")
    assert subscription(harness).status == SubscriptionStatus.paused
    assert subscription(harness).next_due_at is None
    await harness.send(TRAINEE, "/resume")
    assert subscription(harness).status == SubscriptionStatus.active
    await harness.send(TRAINEE, "/stop")
    assert "progress is kept" in harness.last_message(TRAINEE).content
    await harness.send(TRAINEE, "/start")
    assert "Welcome back" in harness.last_message(TRAINEE).content
    assert subscription(harness).status == SubscriptionStatus.active


async def test_settings_change_the_delivery_time(harness: Harness) -> None:
    await onboard(harness)
    await harness.send(TRAINEE, "/settings")
    await harness.press(TRAINEE, harness.last_message(TRAINEE), "set:time")
    await harness.send(TRAINEE, "06:15")
    sub = subscription(harness)
    assert sub.delivery_time == "06:15" and sub.status == SubscriptionStatus.active
    assert (
        sub.next_due_at is not None and sub.next_due_at.isoformat() == "2026-01-05T06:15:00+00:00"
    )


async def test_forget_deletes_everything_after_confirmation(harness: Harness) -> None:
    await onboard(harness)
    await harness.send(TRAINEE, "/forget")
    await harness.press(TRAINEE, harness.last_message(TRAINEE), "forget:yes")
    with session_scope(harness.engine) as session:
        assert session.exec(select(Subscription)).all() == []
    assert "deleted" in harness.last_message(TRAINEE).content


async def test_help_lists_the_trainee_commands(harness: Harness) -> None:
    await harness.send(TRAINEE, "/help")
    text = harness.last_message(TRAINEE).content
    for command in ("/start", "/next", "/settings", "/pause", "/stop", "/forget", "/about"):
        assert command in text


async def test_the_command_menu_is_published_at_start(harness: Harness) -> None:
    calls = harness.emulator.calls_of("setMyCommands")
    scopes = [c.params.get("scope", {}) for c in calls]
    assert any("all_private_chats" in str(s) for s in scopes)


async def test_help_shows_admins_their_commands_too(harness: Harness) -> None:
    await harness.send(TRAINEE, "/help")
    assert "/stats" not in harness.last_message(TRAINEE).content
    await harness.send(ADMIN_ID, "/help")
    text = harness.last_message(ADMIN_ID).content
    assert "Admin commands" in text and "/schedule" in text and "/broadcast" in text


async def test_start_in_a_group_points_to_a_private_chat(harness: Harness) -> None:
    harness.emulator.add_chat(-100500, "supergroup", "Residents")
    await harness.send(TRAINEE, "/start", chat_id=-100500)
    reply = harness.last_message(-100500)
    assert "/groupquiz" in reply.content and "message me privately" in reply.content
    with session_scope(harness.engine) as session:
        assert session.exec(select(Subscription)).all() == []
