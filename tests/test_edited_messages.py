"""Editing a message is not saying it again: an edit runs no command and answers no question."""

from __future__ import annotations

from bot.commands import ADMIN_COMMANDS, GROUP_COMMANDS, TRAINEE_COMMANDS
from storage.models import SubscriptionStatus
from tests.harness import ADMIN_ID, Harness
from tests.test_callbacks import snapshot
from tests.test_onboarding import TRAINEE, onboard, subscription

GROUP = -1001000000201


async def test_an_edited_pause_does_not_pause_again(harness: Harness) -> None:
    await onboard(harness)
    pause = await harness.send(TRAINEE, "/pause")
    await harness.send(TRAINEE, "/resume")
    replies = len(harness.messages(TRAINEE))

    await harness.edit(TRAINEE, pause, "/pause please")

    assert subscription(harness).status == SubscriptionStatus.active
    assert len(harness.messages(TRAINEE)) == replies


async def test_an_edited_answer_does_not_answer_the_question_again(harness: Harness) -> None:
    await harness.send(TRAINEE, "/start")
    await harness.press(TRAINEE, harness.last_message(TRAINEE), "ob:track:csf-leaks")
    typed = await harness.send(TRAINEE, "07:15")
    assert subscription(harness).onboarding_step == "timezone"
    replies = len(harness.messages(TRAINEE))

    await harness.edit(TRAINEE, typed, "09:45")

    sub = subscription(harness)
    assert (sub.delivery_time, sub.onboarding_step) == ("07:15", "timezone")
    assert len(harness.messages(TRAINEE)) == replies


async def test_no_command_runs_from_an_edit(harness: Harness) -> None:
    """Any message edited into any command of the menus: nothing is sent, nothing stored."""
    harness.emulator.add_chat(GROUP, "supergroup", "Residents")
    await onboard(harness)
    chats = {TRAINEE: TRAINEE_COMMANDS, ADMIN_ID: ADMIN_COMMANDS, GROUP: GROUP_COMMANDS}
    originals = {
        TRAINEE: await harness.send(TRAINEE, "hello"),
        ADMIN_ID: await harness.send(ADMIN_ID, "hello"),
        GROUP: await harness.send(TRAINEE, "/help", chat_id=GROUP),
    }
    before = snapshot(harness.engine)
    sent = {chat: len(harness.messages(chat)) for chat in chats}

    for chat, commands in chats.items():
        user = TRAINEE if chat == GROUP else chat
        for command in commands:
            await harness.edit(user, originals[chat], f"/{command.name}")

    assert {chat: len(harness.messages(chat)) for chat in chats} == sent
    assert snapshot(harness.engine) == before
