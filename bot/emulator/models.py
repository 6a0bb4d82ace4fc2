"""The emulator's state: users, chats, messages, polls, files and the call log.

Messages keep the exact JSON Telegram would return (``StoredMessage.data``); the other
attributes are read from it, so what a test inspects is what the bot received. Edits
replace ``data`` with a new dict, so earlier snapshots (in the call log, in updates)
never change under a test's feet.
"""

from __future__ import annotations

import datetime as dtm
from dataclasses import dataclass, field
from typing import Any, Literal

__all__ = [
    "MEMBER_STATUSES",
    "ApiError",
    "BotEvent",
    "BotProfile",
    "Call",
    "CallbackQueryRecord",
    "Chat",
    "ChatType",
    "EmulatorError",
    "MemberStatus",
    "PollOptionState",
    "PollState",
    "StoredFile",
    "StoredMessage",
    "User",
    "WebhookConfig",
]

ChatType = Literal["private", "group", "supergroup", "channel"]
MemberStatus = Literal["creator", "administrator", "member", "restricted", "left", "kicked"]
MEMBER_STATUSES: frozenset[str] = frozenset(
    ("creator", "administrator", "member", "restricted", "left", "kicked")
)


class ApiError(Exception):
    """A Bot API error answer: HTTP status, description and optional parameters."""

    def __init__(
        self, code: int, description: str, parameters: dict[str, Any] | None = None
    ) -> None:
        super().__init__(description)
        self.code = code
        self.description = description
        self.parameters = parameters

    def body(self) -> dict[str, Any]:
        body: dict[str, Any] = {
            "ok": False,
            "error_code": self.code,
            "description": self.description,
        }
        if self.parameters:
            body["parameters"] = self.parameters
        return body


class EmulatorError(ValueError):
    """A test asked the emulator for something a real user could not do."""


@dataclass(frozen=True, slots=True)
class BotProfile:
    """What ``getMe`` answers."""

    id: int = 7000000001
    username: str = "tweetdrip_test_bot"
    first_name: str = "TweetDrip"

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "is_bot": True,
            "first_name": self.first_name,
            "username": self.username,
        }

    def get_me(self) -> dict[str, Any]:
        return {
            **self.to_json(),
            "can_join_groups": True,
            "can_read_all_group_messages": False,
            "supports_inline_queries": False,
            "can_connect_to_business": False,
            "has_main_web_app": False,
        }


@dataclass(slots=True)
class User:
    id: int
    first_name: str
    username: str | None = None
    last_name: str | None = None
    language_code: str | None = None
    is_bot: bool = False

    def to_json(self) -> dict[str, Any]:
        data: dict[str, Any] = {"id": self.id, "is_bot": self.is_bot, "first_name": self.first_name}
        if self.last_name:
            data["last_name"] = self.last_name
        if self.username:
            data["username"] = self.username
        if self.language_code:
            data["language_code"] = self.language_code
        return data


@dataclass(slots=True)
class Chat:
    id: int
    type: ChatType
    title: str | None = None
    username: str | None = None
    first_name: str | None = None
    last_name: str | None = None
    bot_status: MemberStatus = "member"
    members: dict[int, MemberStatus] = field(default_factory=dict)
    blocked: bool = False
    migrated_to: int | None = None
    next_message_id: int = 1
    messages: dict[int, StoredMessage] = field(default_factory=dict)
    bot_messages: list[StoredMessage] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        data: dict[str, Any] = {"id": self.id, "type": self.type}
        if self.type == "private":
            data["first_name"] = self.first_name or str(self.id)
            if self.last_name:
                data["last_name"] = self.last_name
        elif self.title:
            data["title"] = self.title
        if self.username:
            data["username"] = self.username
        return data

    def full_info(self) -> dict[str, Any]:
        """``ChatFullInfo`` as ``getChat`` returns it (PTB 22.8 requires the last three)."""
        return {
            **self.to_json(),
            "accent_color_id": 0,
            "max_reaction_count": 11,
            "accepted_gift_types": {
                "unlimited_gifts": False,
                "limited_gifts": False,
                "unique_gifts": False,
                "premium_subscription": False,
                "gifts_from_channels": False,
            },
        }

    def take_message_id(self) -> int:
        message_id = self.next_message_id
        self.next_message_id += 1
        return message_id


@dataclass(slots=True)
class StoredMessage:
    """A message in a chat, sent by the bot or injected as a user's."""

    data: dict[str, Any]
    from_bot: bool
    method: str | None = None
    deleted: bool = False
    edit_count: int = 0

    @property
    def message_id(self) -> int:
        return int(self.data["message_id"])

    @property
    def chat_id(self) -> int:
        return int(self.data["chat"]["id"])

    @property
    def date(self) -> int:
        return int(self.data["date"])

    @property
    def text(self) -> str | None:
        return self.data.get("text")

    @property
    def caption(self) -> str | None:
        return self.data.get("caption")

    @property
    def photo(self) -> list[dict[str, Any]] | None:
        return self.data.get("photo")

    @property
    def document(self) -> dict[str, Any] | None:
        return self.data.get("document")

    @property
    def poll(self) -> dict[str, Any] | None:
        return self.data.get("poll")

    @property
    def reply_markup(self) -> dict[str, Any] | None:
        return self.data.get("reply_markup")

    @property
    def reply_to_message_id(self) -> int | None:
        replied = self.data.get("reply_to_message")
        return int(replied["message_id"]) if replied else None

    @property
    def edited(self) -> bool:
        return self.edit_count > 0

    @property
    def buttons(self) -> list[dict[str, Any]]:
        """Inline keyboard buttons, row by row, flattened."""
        markup = self.reply_markup or {}
        return [button for row in markup.get("inline_keyboard", []) for button in row]

    @property
    def callback_data(self) -> list[str]:
        return [b["callback_data"] for b in self.buttons if "callback_data" in b]

    @property
    def content(self) -> str:
        """Text or caption, whichever the message has ("" for neither)."""
        return self.text or self.caption or ""


@dataclass(slots=True)
class StoredFile:
    file_id: str
    file_unique_id: str
    kind: str
    file_path: str
    data: bytes | None = None
    file_name: str | None = None
    mime_type: str | None = None
    width: int | None = None
    height: int | None = None

    @property
    def size(self) -> int | None:
        return len(self.data) if self.data is not None else None

    def to_file(self) -> dict[str, Any]:
        """``File`` as ``getFile`` returns it."""
        data: dict[str, Any] = {
            "file_id": self.file_id,
            "file_unique_id": self.file_unique_id,
            "file_path": self.file_path,
        }
        if self.size is not None:
            data["file_size"] = self.size
        return data


@dataclass(slots=True)
class PollOptionState:
    text: str
    persistent_id: str
    entities: list[dict[str, Any]] = field(default_factory=list)
    voters: set[int] = field(default_factory=set)

    def to_json(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "text": self.text,
            "voter_count": len(self.voters),
            "persistent_id": self.persistent_id,
        }
        if self.entities:
            data["text_entities"] = self.entities
        return data


@dataclass(slots=True)
class PollState:
    """A poll the bot sent, with live vote counts."""

    id: str
    chat_id: int
    message_id: int
    question: str
    options: list[PollOptionState]
    type: Literal["regular", "quiz"]
    is_anonymous: bool
    allows_multiple_answers: bool
    allows_revoting: bool
    correct_option_ids: list[int] = field(default_factory=list)
    question_entities: list[dict[str, Any]] = field(default_factory=list)
    explanation: str | None = None
    explanation_entities: list[dict[str, Any]] = field(default_factory=list)
    open_period: int | None = None
    close_date: int | None = None
    is_closed: bool = False
    members_only: bool = False
    shuffle_options: bool = False
    country_codes: list[str] = field(default_factory=list)
    description: str | None = None
    description_entities: list[dict[str, Any]] = field(default_factory=list)
    media: dict[str, Any] | None = None
    explanation_media: dict[str, Any] | None = None
    votes: dict[int, tuple[int, ...]] = field(default_factory=dict)

    @property
    def total_voter_count(self) -> int:
        return sum(1 for chosen in self.votes.values() if chosen)

    def to_json(self, *, in_message: bool = False) -> dict[str, Any]:
        """The ``Poll`` object with every field PTB 22.8 requires.

        Description and media are only part of polls inside a ``Message``.
        ``correct_option_id`` (removed in Bot API 9.6) is never sent: PTB 22.8 warns on it.
        """
        data: dict[str, Any] = {
            "id": self.id,
            "question": self.question,
            "options": [option.to_json() for option in self.options],
            "total_voter_count": self.total_voter_count,
            "is_closed": self.is_closed,
            "is_anonymous": self.is_anonymous,
            "type": self.type,
            "allows_multiple_answers": self.allows_multiple_answers,
            "allows_revoting": self.allows_revoting,
            "members_only": self.members_only,
        }
        if self.type == "quiz":
            data["correct_option_ids"] = list(self.correct_option_ids)
        if self.question_entities:
            data["question_entities"] = self.question_entities
        if self.explanation:
            data["explanation"] = self.explanation
            if self.explanation_entities:
                data["explanation_entities"] = self.explanation_entities
        if self.open_period is not None:
            data["open_period"] = self.open_period
        if self.close_date is not None:
            data["close_date"] = self.close_date
        if self.country_codes:
            data["country_codes"] = self.country_codes
        if self.explanation_media:
            data["explanation_media"] = self.explanation_media
        if in_message:
            if self.description:
                data["description"] = self.description
                if self.description_entities:
                    data["description_entities"] = self.description_entities
            if self.media:
                data["media"] = self.media
        return data


@dataclass(slots=True)
class CallbackQueryRecord:
    id: str
    user_id: int
    chat_id: int
    message_id: int
    data: str
    answered: bool = False
    answer: dict[str, Any] | None = None


@dataclass(slots=True)
class WebhookConfig:
    url: str
    secret_token: str | None = None
    max_connections: int = 40
    last_error_date: int | None = None
    last_error_message: str | None = None
    delivered: int = 0


@dataclass(slots=True)
class Call:
    """One Bot API request, as the emulator answered it.

    ``result_or_error`` is the ``result`` on success, the error body otherwise.
    ``fault`` names the injected fault that shaped the answer, if any.
    """

    method: str
    params: dict[str, Any]
    at: dtm.datetime
    ok: bool
    result_or_error: Any
    monotonic: float = 0.0
    fault: str | None = None

    @property
    def result(self) -> Any:
        return self.result_or_error if self.ok else None

    @property
    def error_code(self) -> int | None:
        return None if self.ok else self.result_or_error.get("error_code")

    @property
    def description(self) -> str | None:
        return None if self.ok else self.result_or_error.get("description")

    @property
    def chat_id(self) -> int | str | None:
        return self.params.get("chat_id")


@dataclass(frozen=True, slots=True)
class BotEvent:
    """Something the bot did that a person watching the chat would notice.

    ``kind`` is one of "sent", "edited", "deleted", "chat_action", "callback_answer",
    "poll_closed". ``message`` is set for message events; ``detail`` carries the
    chat action, the callback answer, etc.
    """

    kind: str
    chat_id: int | None
    message: StoredMessage | None = None
    detail: dict[str, Any] | None = None
