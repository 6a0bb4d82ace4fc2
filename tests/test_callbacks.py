"""Button presses: every press is decoded strictly, answered, and forged ones change nothing."""

from __future__ import annotations

import logging
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.engine import Engine
from sqlmodel import SQLModel

from bot.callbacks import (
    ChangeSetting,
    ConfirmForget,
    ImportChoice,
    LobbyAction,
    LobbyButton,
    OnboardingAnswer,
    RetakeThread,
    decode,
    encode,
)
from storage.db import session_scope
from storage.models import GroupPlayer, GroupSession
from tests.harness import ADMIN_ID, Harness
from tests.test_onboarding import TRAINEE, onboard

GROUP = -1001000000101
OTHER_GROUP = -1001000000102
ALICE, BOB = 11, 12

FORGED = [
    "set:garbage",
    "set:",
    "set:../../x",
    "gq:join:" + "9" * 23,
    "gq:start:-1",
    "gq:join:1:2",
    "ob:pace:999",
    "ob:pace:-1",
    "ob:time:25:99",
    "ob:timezone:../../etc/passwd",
    "ob:track:",
    "ob:reminders:maybe",
    "ob:track:" + "a" * 80,  # longer than Telegram's 64 bytes
    "quiz:../../secret",
    "forget:maybe",
    "forget:",
    "imp:ok:not-a-token",
    "zz:unknown",
    "ob",
    ":",
    "x" * 200,
    "",
]


def snapshot(engine: Engine) -> dict[str, list[Any]]:
    """Every row of every table."""
    with engine.connect() as connection:
        return {
            table.name: [tuple(row) for row in connection.execute(select(table))]
            for table in SQLModel.metadata.sorted_tables
        }


# --- the decoder ------------------------------------------------------------------------------


def test_every_kind_of_button_decodes_to_what_was_encoded() -> None:
    buttons = [
        OnboardingAnswer("track", "csf-leaks"),
        OnboardingAnswer("time", "06:30"),
        OnboardingAnswer("timezone", "America/Los_Angeles"),
        OnboardingAnswer("timezone", "UTC"),
        OnboardingAnswer("pace", "0"),
        OnboardingAnswer("pace", "20"),
        OnboardingAnswer("reminders", "off"),
        ChangeSetting("reminders"),
        ConfirmForget(True),
        ConfirmForget(False),
        RetakeThread("csf-leak-blood-patch"),
        LobbyButton(LobbyAction.JOIN),
        ImportChoice(True, "0123456789ab"),
    ]
    for button in buttons:
        assert decode(encode(button)) == button


def test_a_button_that_could_not_be_read_back_is_never_built() -> None:
    for button in [
        OnboardingAnswer("track", "Not A Slug"),
        OnboardingAnswer("pace", "21"),
        ChangeSetting("anything"),
        RetakeThread("x" * 80),
        ImportChoice(True, "short"),
    ]:
        with pytest.raises(ValueError, match="cannot travel in a button"):
            encode(button)


def test_forged_data_decodes_to_nothing() -> None:
    for data in FORGED:
        assert decode(data) is None, data
    assert decode(None) is None


def test_lobby_buttons_of_earlier_versions_still_decode() -> None:
    assert decode("gq:join:42") == LobbyButton(LobbyAction.JOIN)


# --- through the bot --------------------------------------------------------------------------


async def test_forged_presses_are_answered_and_change_nothing(
    harness: Harness, caplog: pytest.LogCaptureFixture
) -> None:
    h = harness
    h.emulator.add_chat(GROUP, "supergroup", "Residents")
    await onboard(h)
    await h.send(TRAINEE, "/settings")
    settings = h.last_message(TRAINEE)
    await h.send(ALICE, "/groupquiz csf-leak-blood-patch", chat_id=GROUP)
    lobby = h.last_message(GROUP)
    await h.send(ADMIN_ID, "/help")
    admin_message = h.last_message(ADMIN_ID)
    h.advance(minutes=10)  # a real press now would count as the trainee's activity
    before = snapshot(h.engine)
    sent = {chat: len(h.messages(chat)) for chat in (TRAINEE, GROUP, ADMIN_ID)}
    caplog.set_level(logging.INFO)

    presses = [(TRAINEE, data, settings) for data in FORGED]
    presses += [(BOB, data, lobby) for data in FORGED]
    presses += [(ADMIN_ID, data, admin_message) for data in FORGED]
    presses += [(TRAINEE, data, None) for data in ("set:time", "forget:yes", "gq:join", "")]
    for user, data, message in presses:
        query = await h.press_forged(user, data, message)
        assert h.emulator.callback_query(query).answered, (data, message)

    assert snapshot(h.engine) == before
    assert {chat: len(h.messages(chat)) for chat in sent} == sent
    assert [r for r in caplog.records if r.levelno >= logging.WARNING or r.exc_info] == []


async def test_a_lobby_button_pressed_in_another_chat_joins_nothing(harness: Harness) -> None:
    h = harness
    h.emulator.add_chat(GROUP, "supergroup", "Residents")
    h.emulator.add_chat(OTHER_GROUP, "supergroup", "Strangers")
    await h.send(ALICE, "/groupquiz csf-leak-blood-patch", chat_id=GROUP)
    with session_scope(h.engine) as session:
        target = session.execute(select(GroupSession)).scalar_one()
    await h.send(BOB, "/help", chat_id=OTHER_GROUP)
    elsewhere = h.last_message(OTHER_GROUP)
    before = snapshot(h.engine)

    for data in (f"gq:join:{target.id}", f"gq:start:{target.id}", "gq:join"):
        query = await h.press_forged(BOB, data, elsewhere)
        answer = h.emulator.callback_answer(query)
        assert answer is not None and "over" in answer["text"]

    assert snapshot(h.engine) == before
    with session_scope(h.engine) as session:
        players = session.execute(select(GroupPlayer.user_id)).scalars().all()
    assert players == [ALICE]


async def test_only_the_lobby_message_itself_joins_its_session(harness: Harness) -> None:
    h = harness
    h.emulator.add_chat(GROUP, "supergroup", "Residents")
    await h.send(ALICE, "/groupquiz csf-leak-blood-patch", chat_id=GROUP)
    lobby = h.last_message(GROUP)
    await h.send(BOB, "/help", chat_id=GROUP)
    query = await h.press_forged(BOB, "gq:join", h.last_message(GROUP))
    assert "over" in h.emulator.callback_answer(query)["text"]  # type: ignore[index]
    query = await h.press(BOB, lobby, "gq:join")
    assert "You're in" in h.emulator.callback_answer(query)["text"]  # type: ignore[index]
