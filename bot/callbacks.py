"""Inline button data: one typed value per kind of button, encoded and decoded only here.

Telegram hands back whatever `callback_data` a button carried, and any client can send any
data it likes, so every press is decoded strictly: data this module would not have made
(an unknown kind, a wrong shape, more than Telegram's 64 bytes) decodes to None, and the
press is answered and ignored. `encode` checks that what it makes decodes back to the same
value, so building a button and reading it cannot drift apart.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, TypeVar

from telegram import Update
from telegram.ext import CallbackQueryHandler

log = logging.getLogger(__name__)

MAX_DATA_BYTES = 64  # Telegram's limit on callback_data
SLUG = r"[a-z0-9]+(?:-[a-z0-9]+)*"  # thread and track ids (content.validate.SLUG_RE)
SETTING_FIELDS = ("track", "time", "timezone", "pace", "reminders")
MAX_PACE = 20


@dataclass(frozen=True)
class OnboardingAnswer:
    """A preset answer to a trainee's question: `ob:<field>:<value>`."""

    field: str
    value: str


@dataclass(frozen=True)
class ChangeSetting:
    """Ask a settings question again: `set:<field>`."""

    field: str


@dataclass(frozen=True)
class ConfirmForget:
    """The answer to /forget's confirmation: `forget:yes` or `forget:no`."""

    confirmed: bool


@dataclass(frozen=True)
class RetakeThread:
    """Retake the quiz of a finished thread: `quiz:<thread id>`."""

    thread_id: str


class LobbyAction(StrEnum):
    JOIN = "join"
    LEAVE = "leave"
    START = "start"


@dataclass(frozen=True)
class LobbyButton:
    """Join, Leave or Start under a group quiz lobby: `gq:<action>`.

    The session is the one whose lobby message carries the button, so no id travels in it.
    """

    action: LobbyAction


@dataclass(frozen=True)
class ImportChoice:
    """Publish or Cancel under an import report: `imp:ok|no:<token>`."""

    publish: bool
    token: str


Button = (
    OnboardingAnswer | ChangeSetting | ConfirmForget | RetakeThread | LobbyButton | ImportChoice
)
B = TypeVar("B", bound=Button)

_ONBOARDING_VALUES = {
    "track": re.compile(SLUG),
    "time": re.compile(r"(?:[01][0-9]|2[0-3]):[0-5][0-9]"),
    "timezone": re.compile(r"[A-Za-z][A-Za-z0-9_+\-]*(?:/[A-Za-z0-9_+\-]+){0,2}"),
    "pace": re.compile(r"0|[1-9][0-9]?"),
    "reminders": re.compile(r"on|off"),
}
_SETTING = re.compile(rf"set:({'|'.join(SETTING_FIELDS)})")
_FORGET = re.compile(r"forget:(yes|no)")
_RETAKE = re.compile(rf"quiz:({SLUG})")
# Lobby buttons of earlier versions end in `:<session id>`; the id is ignored (the lobby
# message decides), so lobbies open during an upgrade keep working.
_LOBBY = re.compile(r"gq:(join|leave|start)(?::[0-9]{1,19})?")
_IMPORT = re.compile(r"imp:(ok|no):([0-9a-f]{12})")


def encode(button: Button) -> str:
    """The callback data of a button; ValueError for a value `decode` would refuse."""
    match button:
        case OnboardingAnswer(field, value):
            data = f"ob:{field}:{value}"
        case ChangeSetting(field):
            data = f"set:{field}"
        case ConfirmForget(confirmed):
            data = f"forget:{'yes' if confirmed else 'no'}"
        case RetakeThread(thread_id):
            data = f"quiz:{thread_id}"
        case LobbyButton(action):
            data = f"gq:{action}"
        case ImportChoice(publish, token):
            data = f"imp:{'ok' if publish else 'no'}:{token}"
    if decode(data) != button:
        raise ValueError(f"{button!r} cannot travel in a button")
    return data


def decode(data: object) -> Button | None:
    """The button `data` stands for, or None when no button of ours carries it."""
    if not isinstance(data, str) or not data or len(data.encode("utf-8")) > MAX_DATA_BYTES:
        return None
    kind, _, rest = data.partition(":")
    if kind == "ob":
        field, _, value = rest.partition(":")
        pattern = _ONBOARDING_VALUES.get(field)
        if pattern is None or not pattern.fullmatch(value):
            return None
        if field == "pace" and int(value) > MAX_PACE:
            return None
        return OnboardingAnswer(field, value)
    if match := _SETTING.fullmatch(data):
        return ChangeSetting(match[1])
    if match := _FORGET.fullmatch(data):
        return ConfirmForget(match[1] == "yes")
    if match := _RETAKE.fullmatch(data):
        return RetakeThread(match[1])
    if match := _LOBBY.fullmatch(data):
        return LobbyButton(LobbyAction(match[1]))
    if match := _IMPORT.fullmatch(data):
        return ImportChoice(match[1] == "ok", match[2])
    return None


# --- handlers ---------------------------------------------------------------------------------

Callback = Callable[[Update, Any], Coroutine[Any, Any, None]]


class ButtonHandler(CallbackQueryHandler[Any, None]):
    """Presses of our buttons of the given kinds, under a message in a chat."""

    def __init__(self, callback: Callback, *kinds: type[Button]) -> None:
        super().__init__(callback)
        self.kinds = kinds

    def check_update(self, update: object) -> bool:
        return _has_message(update) and isinstance(_data_of(update), self.kinds)


class InvalidButtonHandler(CallbackQueryHandler[Any, None]):
    """Every press no ButtonHandler takes: forged or stale data, or no message (inline mode,
    which this bot does not offer). It is answered, so the client stops waiting, and
    ignored."""

    def __init__(self) -> None:
        super().__init__(_ignore_press)

    def check_update(self, update: object) -> bool:
        if not (isinstance(update, Update) and update.callback_query is not None):
            return False
        return not _has_message(update) or _data_of(update) is None


def _data_of(update: object) -> Button | None:
    query = update.callback_query if isinstance(update, Update) else None
    return decode(query.data) if query is not None else None


def _has_message(update: object) -> bool:
    return (
        isinstance(update, Update)
        and update.callback_query is not None
        and update.callback_query.message is not None
        and update.effective_user is not None
    )


async def _ignore_press(update: Update, _context: Any) -> None:
    query = update.callback_query
    assert query is not None
    data = query.data or ""
    log.info("ignored a button press (data %r)", data[:MAX_DATA_BYTES])
    await query.answer()


def pressed(update: Update, kind: type[B]) -> B:
    """The decoded button of a press a `ButtonHandler` for `kind` let through."""
    query = update.callback_query
    button = decode(query.data if query is not None else None)
    if not isinstance(button, kind):
        raise TypeError(f"expected a {kind.__name__} press, got {button!r}")
    return button
