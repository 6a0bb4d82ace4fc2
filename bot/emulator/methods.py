"""The Bot API methods the emulator answers, with Telegram's validation and errors."""

from __future__ import annotations

import asyncio
import json
import re
from collections.abc import Awaitable, Callable
from itertools import islice, pairwise
from typing import Any, Literal

from bot.emulator.formatting import EntityParseError, FormattedText, format_text
from bot.emulator.models import (
    ApiError,
    BotEvent,
    CallbackQueryRecord,
    Chat,
    PollOptionState,
    PollState,
    StoredMessage,
    WebhookConfig,
)
from bot.emulator.params import Upload
from bot.emulator.state import MAX_DOWNLOAD_SIZE, World, chat_member_json

__all__ = ["SENDING_METHODS", "BotApi"]

Handler = Callable[[dict[str, Any], dict[str, Upload]], Awaitable[Any]]

MAX_TEXT = 4096
MAX_CAPTION = 1024
MAX_QUESTION = 300
MAX_OPTION_TEXT = 100
MIN_OPTIONS = 1  # Bot API 10.0 lowered the minimum from 2 (PTB 22.8 PollLimit)
MAX_OPTIONS = 12
MAX_EXPLANATION = 200
MAX_EXPLANATION_LINE_FEEDS = 2
MAX_DESCRIPTION = 1024
MIN_OPEN_PERIOD = 5
MAX_OPEN_PERIOD = 2_628_000
MAX_CALLBACK_DATA_BYTES = 64
MAX_LONG_POLL = 50
DELETE_WINDOW_SECONDS = 48 * 3600

# Methods that deliver a message, and so count against the flood limits.
SENDING_METHODS = frozenset(
    ("sendMessage", "sendPhoto", "sendDocument", "sendMediaGroup", "sendPoll")
)
_CHAT_ACTIONS = frozenset(
    (
        "typing",
        "upload_photo",
        "record_video",
        "upload_video",
        "record_voice",
        "upload_voice",
        "upload_document",
        "choose_sticker",
        "find_location",
        "record_video_note",
        "upload_video_note",
    )
)
_COMMAND_RE = re.compile(r"[a-z0-9_]{1,32}")
_SECRET_RE = re.compile(r"[A-Za-z0-9_-]{1,256}")
_NOT_MODIFIED = (
    "Bad Request: message is not modified: specified new message content and reply markup "
    "are exactly the same as a current content and reply markup of the message"
)


def _format(text: str, parse_mode: Any, entities: Any = None) -> FormattedText:
    try:
        return format_text(text, parse_mode, entities)
    except EntityParseError as exc:
        raise ApiError(400, f"Bad Request: can't parse entities: {exc}") from None


def _required_int(params: dict[str, Any], name: str) -> int:
    value = params.get(name)
    if not isinstance(value, int) or isinstance(value, bool):
        raise ApiError(
            400,
            f"Bad Request: {name} is empty"
            if value is None
            else f"Bad Request: invalid {name} specified",
        )
    return value


def _reply_markup(params: dict[str, Any]) -> dict[str, Any] | None:
    markup = params.get("reply_markup")
    if markup is None:
        return None
    if not isinstance(markup, dict):
        raise ApiError(400, "Bad Request: can't parse reply keyboard markup JSON object")
    keyboard = markup.get("inline_keyboard")
    if keyboard is None:
        return markup
    if not isinstance(keyboard, list) or not all(isinstance(row, list) for row in keyboard):
        raise ApiError(400, "Bad Request: can't parse inline keyboard button: array expected")
    for row in keyboard:
        for button in row:
            if not isinstance(button, dict) or not button.get("text"):
                raise ApiError(
                    400,
                    "Bad Request: can't parse inline keyboard button: "
                    "Text buttons are unallowed in the inline keyboard",
                )
            data = button.get("callback_data")
            if data is not None and not (
                0 < len(str(data).encode("utf-8")) <= MAX_CALLBACK_DATA_BYTES
            ):
                raise ApiError(400, "Bad Request: BUTTON_DATA_INVALID")
    return markup


def _caption(params: dict[str, Any]) -> dict[str, Any]:
    caption = params.get("caption")
    if not caption:
        return {}
    formatted = _format(caption, params.get("parse_mode"), params.get("caption_entities"))
    if len(formatted.text) > MAX_CAPTION:
        raise ApiError(400, "Bad Request: message caption is too long")
    content: dict[str, Any] = {"caption": formatted.text} if formatted.text else {}
    if formatted.entities:
        content["caption_entities"] = formatted.entities
    return content


class BotApi:
    """Bot API method implementations over a ``World``; look handlers up by name."""

    def __init__(self, world: World) -> None:
        self.world = world
        self._poller = 0
        self.handlers: dict[str, Handler] = {
            "getMe": self.get_me,
            "getUpdates": self.get_updates,
            "setWebhook": self.set_webhook,
            "deleteWebhook": self.delete_webhook,
            "getWebhookInfo": self.get_webhook_info,
            "setMyCommands": self.set_my_commands,
            "getMyCommands": self.get_my_commands,
            "deleteMyCommands": self.delete_my_commands,
            "setChatMenuButton": self.set_chat_menu_button,
            "getChatMenuButton": self.get_chat_menu_button,
            "sendMessage": self.send_message,
            "sendPhoto": self.send_photo,
            "sendDocument": self.send_document,
            "sendMediaGroup": self.send_media_group,
            "sendChatAction": self.send_chat_action,
            "editMessageText": self.edit_message_text,
            "editMessageReplyMarkup": self.edit_message_reply_markup,
            "editMessageCaption": self.edit_message_caption,
            "deleteMessage": self.delete_message,
            "answerCallbackQuery": self.answer_callback_query,
            "sendPoll": self.send_poll,
            "stopPoll": self.stop_poll,
            "getChat": self.get_chat,
            "getChatMember": self.get_chat_member,
            "getChatAdministrators": self.get_chat_administrators,
            "getFile": self.get_file,
            "leaveChat": self.leave_chat,
            "close": self.close,
            "logOut": self.log_out,
        }
        # Telegram matches method names case-insensitively.
        self._canonical = {name.lower(): name for name in self.handlers}

    def canonical(self, method: str) -> str | None:
        return self._canonical.get(method.lower())

    # -- bot and updates --------------------------------------------------------------

    async def get_me(self, params: dict[str, Any], uploads: dict[str, Upload]) -> Any:
        return self.world.bot.get_me()

    async def get_updates(self, params: dict[str, Any], uploads: dict[str, Upload]) -> Any:
        world = self.world
        if world.webhook is not None:
            raise ApiError(
                409,
                "Conflict: can't use getUpdates method while webhook is active; "
                "use deleteWebhook to delete the webhook first",
            )
        offset = params.get("offset") or 0
        limit = min(max(params.get("limit") or 100, 1), 100)
        timeout = min(max(params.get("timeout") or 0, 0), MAX_LONG_POLL)
        if "allowed_updates" in params:
            world.allowed_updates = list(params["allowed_updates"] or []) or None
        world.confirm_updates(offset)
        # A newer getUpdates ends an older one still waiting, as on Telegram.
        self._poller += 1
        poller = self._poller
        world.updates_signal.fire()
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            batch = list(islice(world.pending, limit))
            if batch or world.closing:
                return batch
            remaining = deadline - loop.time()
            if remaining <= 0:
                return []
            await world.updates_signal.wait(remaining)
            if poller != self._poller:
                raise ApiError(
                    409,
                    "Conflict: terminated by other getUpdates request; "
                    "make sure that only one bot instance is running",
                )

    async def set_webhook(self, params: dict[str, Any], uploads: dict[str, Upload]) -> Any:
        world = self.world
        url = params.get("url") or ""
        if not url:
            return await self.delete_webhook(params, uploads)
        if not url.startswith(("https://", "http://")):
            raise ApiError(
                400, "Bad Request: bad webhook: An HTTPS URL must be provided for webhook"
            )
        secret = params.get("secret_token")
        if secret is not None and not _SECRET_RE.fullmatch(secret):
            raise ApiError(400, "Bad Request: secret token contains unallowed characters")
        if params.get("drop_pending_updates"):
            world.pending.clear()
        if "allowed_updates" in params:
            world.allowed_updates = list(params["allowed_updates"] or []) or None
        world.webhook = WebhookConfig(
            url=url,
            secret_token=secret,
            max_connections=params.get("max_connections") or 40,
        )
        world.updates_signal.fire()
        return True

    async def delete_webhook(self, params: dict[str, Any], uploads: dict[str, Upload]) -> Any:
        world = self.world
        world.webhook = None
        if params.get("drop_pending_updates"):
            world.pending.clear()
        world.updates_signal.fire()
        return True

    async def get_webhook_info(self, params: dict[str, Any], uploads: dict[str, Upload]) -> Any:
        hook = self.world.webhook
        info: dict[str, Any] = {
            "url": hook.url if hook else "",
            "has_custom_certificate": False,
            "pending_update_count": len(self.world.pending),
        }
        if hook is not None:
            info["max_connections"] = hook.max_connections
            if self.world.allowed_updates:
                info["allowed_updates"] = self.world.allowed_updates
            if hook.last_error_date is not None:
                info["last_error_date"] = hook.last_error_date
                info["last_error_message"] = hook.last_error_message
        return info

    # -- commands ---------------------------------------------------------------------

    @staticmethod
    def _commands_key(params: dict[str, Any]) -> tuple[str, str]:
        scope = params.get("scope") or {"type": "default"}
        if not isinstance(scope, dict) or "type" not in scope:
            raise ApiError(400, "Bad Request: can't parse BotCommandScope JSON object")
        return json.dumps(scope, sort_keys=True), params.get("language_code") or ""

    async def set_my_commands(self, params: dict[str, Any], uploads: dict[str, Upload]) -> Any:
        commands = params.get("commands")
        if not isinstance(commands, list) or len(commands) > 100:
            raise ApiError(400, "Bad Request: can't parse commands JSON object")
        for command in commands:
            if not isinstance(command, dict) or not _COMMAND_RE.fullmatch(
                str(command.get("command", ""))
            ):
                raise ApiError(400, "Bad Request: BOT_COMMAND_INVALID")
            if not 1 <= len(str(command.get("description", ""))) <= 256:
                raise ApiError(400, "Bad Request: BOT_COMMAND_DESCRIPTION_INVALID")
        key = self._commands_key(params)
        cleaned = [{"command": c["command"], "description": c["description"]} for c in commands]
        if cleaned:
            self.world.commands[key] = cleaned
        else:
            self.world.commands.pop(key, None)
        return True

    async def get_my_commands(self, params: dict[str, Any], uploads: dict[str, Upload]) -> Any:
        return list(self.world.commands.get(self._commands_key(params), []))

    async def delete_my_commands(self, params: dict[str, Any], uploads: dict[str, Upload]) -> Any:
        self.world.commands.pop(self._commands_key(params), None)
        return True

    # -- the menu button ----------------------------------------------------------------

    def _menu_chat(self, params: dict[str, Any]) -> int | None:
        if params.get("chat_id") is None:
            return None  # the default of every private chat
        chat = self.world.chats.get(_required_int(params, "chat_id"))
        if chat is None or chat.type != "private":
            raise ApiError(400, "Bad Request: chat not found")
        return chat.id

    async def set_chat_menu_button(self, params: dict[str, Any], uploads: dict[str, Upload]) -> Any:
        chat_id = self._menu_chat(params)
        button = params.get("menu_button") or {"type": "default"}
        kind = button.get("type") if isinstance(button, dict) else None
        if kind == "web_app":
            url = (button.get("web_app") or {}).get("url", "")
            if not button.get("text") or not str(url).startswith("https://"):
                raise ApiError(400, "Bad Request: BUTTON_URL_INVALID")
            self.world.menu_buttons[chat_id] = {
                "type": "web_app",
                "text": button["text"],
                "web_app": {"url": url},
            }
        elif kind == "commands":
            self.world.menu_buttons[chat_id] = {"type": "commands"}
        elif kind == "default":
            self.world.menu_buttons.pop(chat_id, None)
        else:
            raise ApiError(400, "Bad Request: can't parse menu button JSON object")
        return True

    async def get_chat_menu_button(self, params: dict[str, Any], uploads: dict[str, Upload]) -> Any:
        chat_id = self._menu_chat(params)
        buttons = self.world.menu_buttons
        return dict(buttons.get(chat_id) or buttons.get(None) or {"type": "commands"})

    # -- sending ----------------------------------------------------------------------

    async def send_message(self, params: dict[str, Any], uploads: dict[str, Upload]) -> Any:
        chat = self.world.writable_chat(params.get("chat_id"))
        text = params.get("text")
        if not text:
            raise ApiError(400, "Bad Request: message text is empty")
        formatted = _format(text, params.get("parse_mode"), params.get("entities"))
        if not formatted.text:
            raise ApiError(400, "Bad Request: message text is empty")
        if len(formatted.text) > MAX_TEXT:
            raise ApiError(400, "Bad Request: message is too long")
        markup = _reply_markup(params)
        reply_to = self.world.resolve_reply(chat, params)
        content: dict[str, Any] = {"text": formatted.text}
        if formatted.entities:
            content["entities"] = formatted.entities
        if isinstance(params.get("link_preview_options"), dict):
            content["link_preview_options"] = params["link_preview_options"]
        return self.world.add_bot_message(chat, "sendMessage", content, reply_to, markup).data

    async def send_photo(self, params: dict[str, Any], uploads: dict[str, Upload]) -> Any:
        chat = self.world.writable_chat(params.get("chat_id"))
        caption = _caption(params)
        markup = _reply_markup(params)
        reply_to = self.world.resolve_reply(chat, params)
        photo = self.world.input_file(params.get("photo"), uploads, "photo", "photo")
        content: dict[str, Any] = {"photo": photo, **caption}
        if params.get("has_spoiler"):
            content["has_media_spoiler"] = True
        return self.world.add_bot_message(chat, "sendPhoto", content, reply_to, markup).data

    async def send_document(self, params: dict[str, Any], uploads: dict[str, Upload]) -> Any:
        chat = self.world.writable_chat(params.get("chat_id"))
        caption = _caption(params)
        markup = _reply_markup(params)
        reply_to = self.world.resolve_reply(chat, params)
        document = self.world.input_file(params.get("document"), uploads, "document", "document")
        content = {"document": document, **caption}
        return self.world.add_bot_message(chat, "sendDocument", content, reply_to, markup).data

    async def send_media_group(self, params: dict[str, Any], uploads: dict[str, Upload]) -> Any:
        world = self.world
        chat = world.writable_chat(params.get("chat_id"))
        media = params.get("media")
        if not isinstance(media, list) or not all(isinstance(item, dict) for item in media):
            raise ApiError(400, "Bad Request: can't parse media JSON object")
        if not 2 <= len(media) <= 10:
            raise ApiError(400, "Bad Request: media group must contain 2-10 items")
        kinds = {item.get("type") for item in media}
        if not kinds <= {"photo", "document"}:
            raise ApiError(400, "Bad Request: the emulator supports photo and document albums")
        if len(kinds) > 1:
            raise ApiError(400, "Bad Request: documents can't be mixed with other media types")
        prepared = []
        for item in media:
            caption = _caption(item)
            kind = str(item["type"])
            media_json = world.input_file(item.get("media"), uploads, kind, kind)
            prepared.append({kind: media_json, **caption})
        reply_to = world.resolve_reply(chat, params)
        group_id = str(10_000_000_000 + world.next_id())
        messages = []
        for index, content in enumerate(prepared):
            content["media_group_id"] = group_id
            replied = reply_to if index == 0 else None
            messages.append(world.add_bot_message(chat, "sendMediaGroup", content, replied).data)
        return messages

    async def send_chat_action(self, params: dict[str, Any], uploads: dict[str, Upload]) -> Any:
        chat = self.world.writable_chat(params.get("chat_id"))
        action = params.get("action")
        if action not in _CHAT_ACTIONS:
            raise ApiError(400, "Bad Request: wrong parameter action in request")
        self.world.emit(BotEvent("chat_action", chat.id, detail={"action": action}))
        return True

    # -- editing ----------------------------------------------------------------------

    def _editable(self, params: dict[str, Any]) -> tuple[Chat, StoredMessage]:
        if params.get("inline_message_id"):
            raise ApiError(400, "Bad Request: inline messages are not emulated")
        chat = self.world.writable_chat(params.get("chat_id"))
        message = chat.messages.get(_required_int(params, "message_id"))
        if message is None or message.deleted:
            raise ApiError(400, "Bad Request: message to edit not found")
        if not message.from_bot:
            raise ApiError(400, "Bad Request: message can't be edited")
        return chat, message

    def _apply_edit(
        self,
        message: StoredMessage,
        changes: dict[str, Any],
        removals: tuple[str, ...],
        markup: dict[str, Any] | None,
    ) -> dict[str, Any]:
        old = message.data
        data = {k: v for k, v in old.items() if k not in removals and k != "reply_markup"}
        data.update(changes)
        if markup is not None and "inline_keyboard" in markup:
            data["reply_markup"] = markup
        comparable = ("text", "entities", "caption", "caption_entities", "reply_markup")
        if all(old.get(key) == data.get(key) for key in comparable):
            raise ApiError(400, _NOT_MODIFIED)
        data["edit_date"] = self.world.timestamp()
        self.world.replace_message(message, data)
        return data

    async def edit_message_text(self, params: dict[str, Any], uploads: dict[str, Upload]) -> Any:
        _, message = self._editable(params)
        if message.text is None:
            raise ApiError(400, "Bad Request: there is no text in the message to edit")
        text = params.get("text")
        if not text:
            raise ApiError(400, "Bad Request: message text is empty")
        formatted = _format(text, params.get("parse_mode"), params.get("entities"))
        if not formatted.text:
            raise ApiError(400, "Bad Request: message text is empty")
        if len(formatted.text) > MAX_TEXT:
            raise ApiError(400, "Bad Request: message is too long")
        changes: dict[str, Any] = {"text": formatted.text}
        if formatted.entities:
            changes["entities"] = formatted.entities
        return self._apply_edit(message, changes, ("entities",), _reply_markup(params))

    async def edit_message_caption(self, params: dict[str, Any], uploads: dict[str, Upload]) -> Any:
        _, message = self._editable(params)
        if message.text is not None or message.poll is not None:
            raise ApiError(400, "Bad Request: there is no caption in the message to edit")
        return self._apply_edit(
            message, _caption(params), ("caption", "caption_entities"), _reply_markup(params)
        )

    async def edit_message_reply_markup(
        self, params: dict[str, Any], uploads: dict[str, Upload]
    ) -> Any:
        _, message = self._editable(params)
        return self._apply_edit(message, {}, (), _reply_markup(params))

    async def delete_message(self, params: dict[str, Any], uploads: dict[str, Upload]) -> Any:
        chat = self.world.writable_chat(params.get("chat_id"))
        message = chat.messages.get(_required_int(params, "message_id"))
        if message is None or message.deleted:
            raise ApiError(400, "Bad Request: message to delete not found")
        if self.world.timestamp() - message.date > DELETE_WINDOW_SECONDS:
            raise ApiError(400, "Bad Request: message can't be deleted for everyone")
        message.deleted = True
        del chat.messages[message.message_id]
        self.world.emit(BotEvent("deleted", chat.id, message))
        return True

    async def answer_callback_query(
        self, params: dict[str, Any], uploads: dict[str, Upload]
    ) -> Any:
        query = self.world.callback_queries.get(str(params.get("callback_query_id", "")))
        if query is None or query.answered:
            raise ApiError(
                400,
                "Bad Request: query is too old and response timeout expired or query ID is invalid",
            )
        text = params.get("text")
        if text is not None and len(text) > 200:
            raise ApiError(400, "Bad Request: MESSAGE_TOO_LONG")
        query.answered = True
        query.answer = {
            key: params[key] for key in ("text", "show_alert", "url", "cache_time") if key in params
        }
        chat = self.world.chats.get(query.chat_id)
        message = chat.messages.get(query.message_id) if chat else None
        self.world.emit(BotEvent("callback_answer", query.chat_id, message, dict(query.answer)))
        return True

    # -- polls ------------------------------------------------------------------------

    def _poll_options(self, raw: Any, poll_id: str) -> list[PollOptionState]:
        if not isinstance(raw, list):
            raise ApiError(400, "Bad Request: can't parse options JSON object")
        if not MIN_OPTIONS <= len(raw) <= MAX_OPTIONS:
            raise ApiError(400, f"Bad Request: poll must have {MIN_OPTIONS}-{MAX_OPTIONS} options")
        options = []
        for index, item in enumerate(raw):
            if isinstance(item, str):
                item = {"text": item}
            if not isinstance(item, dict) or not isinstance(item.get("text"), str):
                raise ApiError(400, "Bad Request: can't parse InputPollOption JSON object")
            if item.get("media") is not None:
                raise ApiError(400, "Bad Request: option media is not emulated")
            formatted = _format(
                item["text"], item.get("text_parse_mode"), item.get("text_entities")
            )
            if not 1 <= len(formatted.text) <= MAX_OPTION_TEXT:
                raise ApiError(400, "Bad Request: POLL_OPTION_INVALID")
            options.append(
                PollOptionState(
                    text=formatted.text,
                    persistent_id=f"{poll_id}-{index}",
                    entities=formatted.entities,
                )
            )
        return options

    def _poll_media(self, raw: Any, uploads: dict[str, Upload]) -> dict[str, Any] | None:
        if raw is None:
            return None
        if not isinstance(raw, dict) or raw.get("type") not in ("photo", "document"):
            raise ApiError(400, "Bad Request: the emulator supports photo and document media")
        kind = str(raw["type"])
        return {kind: self.world.input_file(raw.get("media"), uploads, kind, kind)}

    async def send_poll(self, params: dict[str, Any], uploads: dict[str, Upload]) -> Any:
        world = self.world
        chat = world.writable_chat(params.get("chat_id"))
        poll_type: Literal["regular", "quiz"]
        match params.get("type") or "regular":
            case "regular":
                poll_type = "regular"
            case "quiz":
                poll_type = "quiz"
            case _:
                raise ApiError(400, "Bad Request: wrong poll type specified")
        question = _format(
            params.get("question") or "",
            params.get("question_parse_mode"),
            params.get("question_entities"),
        )
        if not question.text:
            raise ApiError(400, "Bad Request: poll question must be non-empty")
        if len(question.text) > MAX_QUESTION:
            raise ApiError(400, "Bad Request: poll question length must not exceed 300")
        poll_id = str(5_000_000_000_000_000_000 + world.next_id())
        options = self._poll_options(params.get("options"), poll_id)

        is_anonymous = params.get("is_anonymous")
        is_anonymous = True if is_anonymous is None else bool(is_anonymous)
        if chat.type == "channel" and not is_anonymous:
            raise ApiError(400, "Bad Request: non-anonymous polls can't be sent to channel chats")

        correct = params.get("correct_option_ids")
        if correct is None and params.get("correct_option_id") is not None:
            correct = [params["correct_option_id"]]
        correct_ids: list[int] = []
        if poll_type == "quiz":
            if not isinstance(correct, list) or not correct:
                raise ApiError(400, "Bad Request: quiz poll must have correct option ids")
            if not all(isinstance(i, int) and 0 <= i < len(options) for i in correct):
                raise ApiError(400, "Bad Request: wrong correct option id specified")
            if any(a >= b for a, b in pairwise(correct)):
                raise ApiError(400, "Bad Request: correct option ids must be increasing")
            correct_ids = list(correct)

        explanation = None
        if poll_type == "quiz" and params.get("explanation"):
            explanation = _format(
                params["explanation"],
                params.get("explanation_parse_mode"),
                params.get("explanation_entities"),
            )
            if len(explanation.text) > MAX_EXPLANATION:
                raise ApiError(400, "Bad Request: explanation is too long")
            if explanation.text.count("\n") > MAX_EXPLANATION_LINE_FEEDS:
                raise ApiError(400, "Bad Request: explanation can't contain more than 2 line feeds")
        description = None
        if params.get("description"):
            description = _format(
                params["description"],
                params.get("description_parse_mode"),
                params.get("description_entities"),
            )
            if len(description.text) > MAX_DESCRIPTION:
                raise ApiError(400, "Bad Request: poll description is too long")

        now = world.timestamp()
        open_period = params.get("open_period")
        close_date = params.get("close_date")
        if open_period is not None and close_date is not None:
            raise ApiError(400, "Bad Request: open_period and close_date can't be used together")
        if open_period is not None:
            if not MIN_OPEN_PERIOD <= open_period <= MAX_OPEN_PERIOD:
                raise ApiError(400, "Bad Request: wrong open_period specified")
            close_date = now + open_period
        elif close_date is not None:
            if not MIN_OPEN_PERIOD <= close_date - now <= MAX_OPEN_PERIOD:
                raise ApiError(400, "Bad Request: wrong close_date specified")
            open_period = close_date - now

        markup = _reply_markup(params)
        reply_to = world.resolve_reply(chat, params)
        allows_revoting = params.get("allows_revoting")
        poll = PollState(
            id=poll_id,
            chat_id=chat.id,
            message_id=0,
            question=question.text,
            question_entities=question.entities,
            options=options,
            type=poll_type,
            is_anonymous=is_anonymous,
            allows_multiple_answers=bool(params.get("allows_multiple_answers")),
            allows_revoting=(poll_type == "regular")
            if allows_revoting is None
            else bool(allows_revoting),
            correct_option_ids=correct_ids,
            explanation=explanation.text if explanation else None,
            explanation_entities=explanation.entities if explanation else [],
            open_period=open_period,
            close_date=close_date,
            is_closed=bool(params.get("is_closed")),
            members_only=bool(params.get("members_only")),
            shuffle_options=bool(params.get("shuffle_options")),
            country_codes=list(params.get("country_codes") or []),
            description=description.text if description else None,
            description_entities=description.entities if description else [],
            media=self._poll_media(params.get("media"), uploads),
            explanation_media=self._poll_media(params.get("explanation_media"), uploads),
        )
        content = {"poll": poll.to_json(in_message=True)}
        message = world.add_bot_message(chat, "sendPoll", content, reply_to, markup)
        poll.message_id = message.message_id
        world.add_poll(poll)
        return message.data

    async def stop_poll(self, params: dict[str, Any], uploads: dict[str, Upload]) -> Any:
        world = self.world
        chat = world.writable_chat(params.get("chat_id"))
        message = chat.messages.get(_required_int(params, "message_id"))
        poll_json = message.poll if message is not None and message.from_bot else None
        if message is None or poll_json is None:
            raise ApiError(400, "Bad Request: message with poll to stop not found")
        poll = world.polls[poll_json["id"]]
        if poll.is_closed:
            raise ApiError(400, "Bad Request: poll has already been closed")
        markup = _reply_markup(params)
        world.close_poll(poll)
        if markup is not None and "inline_keyboard" in markup:
            message.data = {**message.data, "reply_markup": markup}
        return poll.to_json()

    # -- chats and files --------------------------------------------------------------

    async def get_chat(self, params: dict[str, Any], uploads: dict[str, Upload]) -> Any:
        return self.world.resolve_chat(params.get("chat_id")).full_info()

    async def get_chat_member(self, params: dict[str, Any], uploads: dict[str, Upload]) -> Any:
        world = self.world
        chat = world.resolve_chat(params.get("chat_id"))
        user_id = _required_int(params, "user_id")
        if user_id == world.bot.id:
            status = "kicked" if chat.type == "private" and chat.blocked else chat.bot_status
            return chat_member_json(world.bot.to_json(), status)
        user = world.users.get(user_id)
        if user is None:
            raise ApiError(400, "Bad Request: user not found")
        if chat.type == "private":
            status = "member" if user_id == chat.id else "left"
        else:
            status = chat.members.get(user_id, "left")
        return chat_member_json(user.to_json(), status)

    async def get_chat_administrators(
        self, params: dict[str, Any], uploads: dict[str, Upload]
    ) -> Any:
        world = self.world
        chat = world.resolve_chat(params.get("chat_id"))
        if chat.type == "private":
            raise ApiError(400, "Bad Request: there are no administrators in the private chat")
        admins = [
            chat_member_json(world.users[user_id].to_json(), status)
            for user_id, status in chat.members.items()
            if status in ("creator", "administrator") and user_id in world.users
        ]
        if chat.bot_status in ("creator", "administrator"):
            admins.append(chat_member_json(world.bot.to_json(), chat.bot_status))
        return admins

    async def leave_chat(self, params: dict[str, Any], uploads: dict[str, Upload]) -> Any:
        world = self.world
        chat = world.resolve_chat(params.get("chat_id"))
        if chat.type == "private":
            raise ApiError(400, "Bad Request: chat member status can't be changed in private chats")
        if chat.bot_status in ("left", "kicked"):
            raise ApiError(403, f"Forbidden: bot is not a member of the {chat.type} chat")
        old = chat.bot_status
        chat.bot_status = "left"
        world.my_chat_member(chat, None, old, "left")
        return True

    async def get_file(self, params: dict[str, Any], uploads: dict[str, Upload]) -> Any:
        stored = self.world.files.get(str(params.get("file_id", "")))
        if stored is None:
            raise ApiError(400, "Bad Request: invalid file_id")
        if stored.size is not None and stored.size > MAX_DOWNLOAD_SIZE:
            raise ApiError(400, "Bad Request: file is too big")
        return stored.to_file()

    async def close(self, params: dict[str, Any], uploads: dict[str, Upload]) -> Any:
        return True

    async def log_out(self, params: dict[str, Any], uploads: dict[str, Upload]) -> Any:
        return True

    # -- used by user-side injections ---------------------------------------------------

    def new_callback_query(
        self, user_id: int, message: StoredMessage, data: str
    ) -> CallbackQueryRecord:
        query_id = str(4_000_000_000_000_000_000 + self.world.next_id())
        record = CallbackQueryRecord(
            id=query_id,
            user_id=user_id,
            chat_id=message.chat_id,
            message_id=message.message_id,
            data=data,
        )
        self.world.callback_queries[query_id] = record
        return record
