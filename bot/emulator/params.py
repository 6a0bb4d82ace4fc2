"""Decoding Bot API parameters from JSON, URL-encoded and multipart requests.

Telegram accepts the same parameters as a JSON body, a query string, a URL-encoded form
or multipart form data. In the form encodings every value is a string and structured
values (``reply_markup``, ``options``, ...) are JSON text; python-telegram-bot sends
URL-encoded forms, and multipart when it uploads a file. Everything is normalised here
to the JSON shapes, so the method implementations see one format.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any

from aiohttp import web
from aiohttp.web_request import FileField

from bot.emulator.models import ApiError

__all__ = ["Upload", "read_params"]

_INT_FIELDS = frozenset(
    {
        "cache_time",
        "close_date",
        "correct_option_id",
        "from_chat_id",
        "limit",
        "max_connections",
        "message_id",
        "message_thread_id",
        "offset",
        "open_period",
        "reply_to_message_id",
        "timeout",
        "until_date",
        "user_id",
    }
)
_BOOL_FIELDS = frozenset(
    {
        "allow_adding_options",
        "allow_paid_broadcast",
        "allow_sending_without_reply",
        "allows_multiple_answers",
        "allows_revoting",
        "disable_content_type_detection",
        "disable_notification",
        "disable_web_page_preview",
        "drop_pending_updates",
        "has_spoiler",
        "hide_results_until_closes",
        "is_anonymous",
        "is_closed",
        "members_only",
        "protect_content",
        "show_alert",
        "show_caption_above_media",
        "shuffle_options",
    }
)
_JSON_FIELDS = frozenset(
    {
        "allowed_updates",
        "caption_entities",
        "commands",
        "correct_option_ids",
        "country_codes",
        "description_entities",
        "entities",
        "explanation_entities",
        "explanation_media",
        "link_preview_options",
        "media",
        "menu_button",
        "message_ids",
        "options",
        "question_entities",
        "reply_markup",
        "reply_parameters",
        "scope",
    }
)
_CHAT_ID_FIELDS = ("chat_id", "from_chat_id")
_INTEGER_TEXT = re.compile(r"-?\d+")


@dataclass(frozen=True, slots=True)
class Upload:
    """A file sent in a multipart request."""

    filename: str
    content_type: str
    data: bytes


async def read_params(request: web.Request) -> tuple[dict[str, Any], dict[str, Upload]]:
    """Parameters as JSON-shaped values, and uploaded files by form field name."""
    raw: dict[str, Any] = dict(request.query)
    uploads: dict[str, Upload] = {}
    content_type = request.content_type
    if content_type == "application/json":
        if request.can_read_body:
            try:
                body = await request.json()
            except json.JSONDecodeError as exc:
                raise ApiError(400, "Bad Request: can't parse JSON request body") from exc
            if not isinstance(body, dict):
                raise ApiError(400, "Bad Request: JSON request body must be an object")
            raw.update(body)
    elif content_type in ("application/x-www-form-urlencoded", "multipart/form-data"):
        form = await request.post()
        for name, value in form.items():
            if isinstance(value, FileField):
                uploads[name] = Upload(
                    filename=value.filename,
                    content_type=value.content_type,
                    data=value.file.read(),
                )
            else:
                raw[name] = value
    return {name: _normalise(name, value) for name, value in raw.items()}, uploads


def _normalise(name: str, value: Any) -> Any:
    if name in _CHAT_ID_FIELDS:
        if isinstance(value, str) and _INTEGER_TEXT.fullmatch(value):
            return int(value)
        return value
    if not isinstance(value, str):
        return value
    if name in _INT_FIELDS:
        try:
            return int(value)
        except ValueError:
            raise ApiError(400, f"Bad Request: invalid {name} specified") from None
    if name in _BOOL_FIELDS:
        return value.lower() in ("true", "1")
    if name in _JSON_FIELDS:
        try:
            return json.loads(value)
        except json.JSONDecodeError:
            raise ApiError(400, f"Bad Request: can't parse {name} JSON object") from None
    return value
