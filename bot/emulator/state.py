"""The emulated Telegram world: who exists, what was said, and what the bot will hear.

``World`` is plain state plus the rules every method shares (resolving a chat the way
Telegram does, building message objects, storing files, queueing updates). It knows
nothing about HTTP: ``methods.py`` implements the Bot API on top of it and
``server.py`` serves that over aiohttp.
"""

from __future__ import annotations

import asyncio
import datetime as dtm
import heapq
import struct
from collections import deque
from collections.abc import Callable, Iterable
from typing import Any

from bot.emulator.models import (
    ApiError,
    BotEvent,
    BotProfile,
    CallbackQueryRecord,
    Chat,
    ChatType,
    MemberStatus,
    PollState,
    StoredFile,
    StoredMessage,
    User,
    WebhookConfig,
)
from bot.emulator.params import Upload

__all__ = ["Signal", "World", "chat_member_json"]

# Updates Telegram leaves out unless a bot asks for them by name.
_OPT_IN_UPDATES = frozenset(("chat_member", "message_reaction", "message_reaction_count"))
_PHOTO_BOUNDS = (90, 320, 800, 1280)
_URL_PHOTO_SIZE = (1280, 720)
MAX_DOWNLOAD_SIZE = 20 * 1024 * 1024


class Signal:
    """Wake every waiter when something changed; waiters re-check their condition."""

    def __init__(self) -> None:
        self._waiters: list[asyncio.Future[None]] = []

    def fire(self) -> None:
        if self._waiters:
            waiters, self._waiters = self._waiters, []
            for waiter in waiters:
                if not waiter.done():
                    waiter.set_result(None)

    async def wait(self, timeout: float | None) -> None:
        """Return when fired or after ``timeout`` seconds, whichever comes first."""
        waiter: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._waiters.append(waiter)
        try:
            await asyncio.wait((waiter,), timeout=timeout)
        finally:
            if not waiter.done():
                waiter.cancel()
                if waiter in self._waiters:
                    self._waiters.remove(waiter)


def chat_member_json(user: dict[str, Any], status: MemberStatus) -> dict[str, Any]:
    """A ``ChatMember`` with every field PTB 22.8 requires for that status."""
    if status == "creator":
        return {"status": status, "user": user, "is_anonymous": False}
    if status == "administrator":
        return {
            "status": status,
            "user": user,
            "can_be_edited": False,
            "is_anonymous": False,
            "can_manage_chat": True,
            "can_delete_messages": True,
            "can_manage_video_chats": True,
            "can_restrict_members": True,
            "can_promote_members": False,
            "can_change_info": True,
            "can_invite_users": True,
            "can_post_stories": True,
            "can_edit_stories": True,
            "can_delete_stories": True,
            "can_post_messages": True,
            "can_edit_messages": True,
            "can_pin_messages": True,
            "can_manage_topics": False,
        }
    if status == "restricted":
        flags = (
            "can_change_info",
            "can_invite_users",
            "can_pin_messages",
            "can_send_messages",
            "can_send_polls",
            "can_send_other_messages",
            "can_add_web_page_previews",
            "can_manage_topics",
            "can_send_audios",
            "can_send_documents",
            "can_send_photos",
            "can_send_videos",
            "can_send_video_notes",
            "can_send_voice_notes",
            "can_edit_tag",
            "can_react_to_messages",
        )
        return {
            "status": status,
            "user": user,
            "is_member": True,
            "until_date": 0,
            **dict.fromkeys(flags, False),
        }
    if status == "kicked":
        return {"status": status, "user": user, "until_date": 0}
    return {"status": status, "user": user}


def image_size(data: bytes) -> tuple[int, int] | None:
    """Width and height of a PNG, GIF, JPEG or WebP image; None if it is not one."""
    if data.startswith(b"\x89PNG\r\n\x1a\n") and len(data) >= 24:
        width, height = struct.unpack(">II", data[16:24])
        return int(width), int(height)
    if data[:6] in (b"GIF87a", b"GIF89a") and len(data) >= 10:
        width, height = struct.unpack("<HH", data[6:10])
        return int(width), int(height)
    if data.startswith(b"RIFF") and data[8:12] == b"WEBP" and len(data) >= 30:
        if data[12:16] == b"VP8 ":
            width, height = struct.unpack("<HH", data[26:30])
            return int(width) & 0x3FFF, int(height) & 0x3FFF
        if data[12:16] == b"VP8X":
            width = int.from_bytes(data[24:27], "little") + 1
            height = int.from_bytes(data[27:30], "little") + 1
            return width, height
        return None
    if data.startswith(b"\xff\xd8"):
        return _jpeg_size(data)
    return None


def _jpeg_size(data: bytes) -> tuple[int, int] | None:
    index = 2
    while index + 9 < len(data):
        if data[index] != 0xFF:
            return None
        marker = data[index + 1]
        length = int.from_bytes(data[index + 2 : index + 4], "big")
        if 0xC0 <= marker <= 0xCF and marker not in (0xC4, 0xC8, 0xCC):
            height, width = struct.unpack(">HH", data[index + 5 : index + 9])
            return int(width), int(height)
        index += 2 + length
    return None


def _scaled(width: int, height: int, bound: int) -> tuple[int, int]:
    scale = min(1.0, bound / max(width, height, 1))
    return max(1, round(width * scale)), max(1, round(height * scale))


class World:
    """All state of one emulated bot and the chats it can see."""

    def __init__(
        self,
        bot: BotProfile,
        clock: Callable[[], dtm.datetime] | None = None,
        *,
        privacy_mode: bool = True,
        auto_create_chats: bool = False,
    ) -> None:
        self.bot = bot
        self._clock = clock
        self.privacy_mode = privacy_mode
        self.auto_create_chats = auto_create_chats
        self.users: dict[int, User] = {}
        self.chats: dict[int, Chat] = {}
        self._chat_usernames: dict[str, int] = {}
        self.files: dict[str, StoredFile] = {}
        self.files_by_path: dict[str, StoredFile] = {}
        self._photo_sets: dict[str, list[dict[str, Any]]] = {}
        self.polls: dict[str, PollState] = {}
        self._poll_deadlines: list[tuple[float, str]] = []
        self.callback_queries: dict[str, CallbackQueryRecord] = {}
        self.commands: dict[tuple[str, str], list[dict[str, Any]]] = {}
        # setChatMenuButton: by private chat id, None for the default of every private chat.
        self.menu_buttons: dict[int | None, dict[str, Any]] = {}
        self.pending: deque[dict[str, Any]] = deque()
        self.next_update_id = 1
        self.allowed_updates: list[str] | None = None
        self.webhook: WebhookConfig | None = None
        self.closing = False
        self.updates_signal = Signal()
        self.changed = Signal()
        self._listeners: list[tuple[int | None, Callable[[BotEvent], None]]] = []
        self._sequence = 0

    # -- time and identifiers -------------------------------------------------------

    def now(self) -> dtm.datetime:
        if self._clock is None:
            return dtm.datetime.now(dtm.UTC)
        return self._clock()

    def timestamp(self) -> int:
        return int(self.now().timestamp())

    def next_id(self) -> int:
        self._sequence += 1
        return self._sequence

    # -- users and chats --------------------------------------------------------------

    def ensure_user(self, user_id: int, **profile: Any) -> User:
        user = self.users.get(user_id)
        if user is None:
            first_name = profile.pop("first_name", None) or f"User {user_id}"
            user = User(id=user_id, first_name=first_name, **profile)
            self.users[user_id] = user
        else:
            for name, value in profile.items():
                if value is not None:
                    setattr(user, name, value)
        return user

    def ensure_private_chat(self, user: User) -> Chat:
        chat = self.chats.get(user.id)
        if chat is None:
            chat = Chat(id=user.id, type="private", bot_status="member")
            self.chats[user.id] = chat
        chat.first_name, chat.last_name = user.first_name, user.last_name
        chat.username = user.username
        return chat

    def add_chat(
        self,
        chat_id: int,
        chat_type: ChatType,
        title: str | None,
        bot_status: MemberStatus,
        username: str | None = None,
    ) -> Chat:
        if chat_type == "private":
            raise ValueError("private chats belong to users: use add_user()")
        chat = self.chats.get(chat_id)
        if chat is None:
            chat = Chat(id=chat_id, type=chat_type)
            self.chats[chat_id] = chat
        chat.type = chat_type
        chat.title = title or chat.title or f"Chat {chat_id}"
        chat.bot_status = bot_status
        if username:
            chat.username = username
            self._chat_usernames[username.lower()] = chat_id
        return chat

    def _auto_chat(self, chat_id: int) -> Chat:
        if chat_id > 0:
            return self.ensure_private_chat(self.ensure_user(chat_id))
        chat_type: ChatType = "supergroup" if str(chat_id).startswith("-100") else "group"
        return self.add_chat(chat_id, chat_type, None, "administrator")

    def resolve_chat(self, chat_id: Any) -> Chat:
        """The chat ``chat_id`` names, or the error Telegram gives when there is none."""
        if chat_id is None or chat_id == "":
            raise ApiError(400, "Bad Request: chat_id is empty")
        if isinstance(chat_id, str):
            found = None
            if chat_id.startswith("@"):
                found = self._chat_usernames.get(chat_id[1:].lower())
            if found is None:
                raise ApiError(400, "Bad Request: chat not found")
            chat_id = found
        if not isinstance(chat_id, int):
            raise ApiError(400, "Bad Request: chat not found")
        chat = self.chats.get(chat_id)
        if chat is None:
            if not self.auto_create_chats:
                raise ApiError(400, "Bad Request: chat not found")
            chat = self._auto_chat(chat_id)
        return chat

    def writable_chat(self, chat_id: Any) -> Chat:
        """Like ``resolve_chat``, plus the checks Telegram makes before the bot may post."""
        chat = self.resolve_chat(chat_id)
        if chat.migrated_to is not None:
            raise ApiError(
                400,
                "Bad Request: group chat was upgraded to a supergroup chat",
                {"migrate_to_chat_id": chat.migrated_to},
            )
        if chat.type == "private":
            if chat.blocked:
                raise ApiError(403, "Forbidden: bot was blocked by the user")
            return chat
        if chat.bot_status == "kicked":
            raise ApiError(403, f"Forbidden: bot was kicked from the {chat.type} chat")
        if chat.bot_status == "left":
            raise ApiError(403, f"Forbidden: bot is not a member of the {chat.type} chat")
        if chat.type == "channel" and chat.bot_status not in ("creator", "administrator"):
            raise ApiError(400, "Bad Request: need administrator rights in the channel chat")
        return chat

    def peek_chat_type(self, chat_id: Any) -> tuple[int, str] | None:
        """Chat id and type for rate limiting, without raising."""
        if isinstance(chat_id, int):
            chat = self.chats.get(chat_id)
            if chat is not None:
                return chat.id, chat.type
            if self.auto_create_chats:
                return chat_id, "private" if chat_id > 0 else "group"
        elif isinstance(chat_id, str) and chat_id.startswith("@"):
            found = self._chat_usernames.get(chat_id[1:].lower())
            if found is not None:
                return found, self.chats[found].type
        return None

    # -- messages ---------------------------------------------------------------------

    def add_bot_message(
        self,
        chat: Chat,
        method: str,
        content: dict[str, Any],
        reply_to: StoredMessage | None = None,
        reply_markup: dict[str, Any] | None = None,
    ) -> StoredMessage:
        data: dict[str, Any] = {"message_id": chat.take_message_id()}
        if chat.type == "channel":
            data["sender_chat"] = chat.to_json()
        else:
            data["from"] = self.bot.to_json()
        data["chat"] = chat.to_json()
        data["date"] = self.timestamp()
        if reply_to is not None:
            data["reply_to_message"] = _without_reply(reply_to.data)
        data.update(content)
        if reply_markup is not None and "inline_keyboard" in reply_markup:
            data["reply_markup"] = reply_markup
        message = StoredMessage(data=data, from_bot=True, method=method)
        chat.messages[message.message_id] = message
        chat.bot_messages.append(message)
        self.emit(BotEvent("sent", chat.id, message))
        return message

    def add_user_message(
        self,
        chat: Chat,
        user: User,
        content: dict[str, Any],
        reply_to: StoredMessage | None = None,
    ) -> StoredMessage:
        data: dict[str, Any] = {"message_id": chat.take_message_id()}
        if chat.type == "channel":
            data["sender_chat"] = chat.to_json()
        else:
            data["from"] = user.to_json()
        data["chat"] = chat.to_json()
        data["date"] = self.timestamp()
        if reply_to is not None:
            data["reply_to_message"] = _without_reply(reply_to.data)
        data.update(content)
        message = StoredMessage(data=data, from_bot=False)
        chat.messages[message.message_id] = message
        return message

    def replace_message(self, message: StoredMessage, data: dict[str, Any]) -> None:
        """Swap in an edited copy; earlier snapshots stay as they were."""
        message.data = data
        message.edit_count += 1
        self.emit(BotEvent("edited", message.chat_id, message))

    def resolve_reply(self, chat: Chat, params: dict[str, Any]) -> StoredMessage | None:
        reply = params.get("reply_parameters")
        if reply is None and params.get("reply_to_message_id") is not None:
            reply = {
                "message_id": params["reply_to_message_id"],
                "allow_sending_without_reply": params.get("allow_sending_without_reply", False),
            }
        if reply is None:
            return None
        if not isinstance(reply, dict) or not isinstance(reply.get("message_id"), int):
            raise ApiError(400, "Bad Request: can't parse reply parameters JSON object")
        target = chat
        if reply.get("chat_id") not in (None, chat.id):
            target = self.resolve_chat(reply["chat_id"])
        message = target.messages.get(reply["message_id"])
        if message is None or message.deleted:
            if reply.get("allow_sending_without_reply") or params.get(
                "allow_sending_without_reply"
            ):
                return None
            raise ApiError(400, "Bad Request: message to be replied not found")
        return message

    # -- files ------------------------------------------------------------------------

    def _new_file(
        self,
        kind: str,
        data: bytes | None,
        *,
        file_name: str | None = None,
        mime_type: str | None = None,
        width: int | None = None,
        height: int | None = None,
    ) -> StoredFile:
        number = self.next_id()
        extension = (file_name or "").rpartition(".")[2] if file_name and "." in file_name else ""
        if not extension:
            extension = "jpg" if kind == "photo" else "bin"
        folder = "photos" if kind == "photo" else "documents"
        stored = StoredFile(
            file_id=f"emu-{kind}-{number:06d}",
            file_unique_id=f"uq{number:06d}",
            kind=kind,
            file_path=f"{folder}/file_{number}.{extension}",
            data=data,
            file_name=file_name,
            mime_type=mime_type,
            width=width,
            height=height,
        )
        self.files[stored.file_id] = stored
        self.files_by_path[stored.file_path] = stored
        return stored

    def store_photo(self, data: bytes | None, size: tuple[int, int]) -> list[dict[str, Any]]:
        """Store a photo the way Telegram does: several sizes, each with its own file id."""
        width, height = size
        longest = max(width, height)
        bounds = [bound for bound in _PHOTO_BOUNDS if bound < longest][:3]
        bounds.append(min(longest, _PHOTO_BOUNDS[-1]))
        sizes: list[dict[str, Any]] = []
        for bound in bounds:
            w, h = _scaled(width, height, bound)
            stored = self._new_file("photo", data, width=w, height=h, mime_type="image/jpeg")
            entry: dict[str, Any] = {
                "file_id": stored.file_id,
                "file_unique_id": stored.file_unique_id,
                "width": w,
                "height": h,
            }
            if data is not None:
                entry["file_size"] = len(data)
            sizes.append(entry)
        for entry in sizes:
            self._photo_sets[entry["file_id"]] = sizes
        return sizes

    def store_document(self, data: bytes | None, file_name: str, mime_type: str) -> dict[str, Any]:
        stored = self._new_file("document", data, file_name=file_name, mime_type=mime_type)
        document: dict[str, Any] = {
            "file_id": stored.file_id,
            "file_unique_id": stored.file_unique_id,
            "file_name": file_name,
            "mime_type": mime_type,
        }
        if data is not None:
            document["file_size"] = len(data)
        return document

    def input_file(
        self, value: Any, uploads: dict[str, Upload], field: str, kind: str
    ) -> dict[str, Any] | list[dict[str, Any]]:
        """Resolve an InputFile parameter (upload, attach://, URL or file_id) to media JSON.

        Returns a list of PhotoSize for photos and a Document for documents.
        """
        upload: Upload | None = None
        if value is None:
            upload = uploads.get(field)
            if upload is None:
                raise ApiError(400, f"Bad Request: there is no {kind} in the request")
        elif not isinstance(value, str):
            raise ApiError(400, "Bad Request: wrong file identifier/HTTP URL specified")
        elif value.startswith("attach://"):
            upload = uploads.get(value.removeprefix("attach://"))
            if upload is None:
                raise ApiError(400, "Bad Request: wrong file identifier/HTTP URL specified")
        if upload is not None:
            if kind == "photo":
                size = image_size(upload.data)
                if size is None:
                    raise ApiError(400, "Bad Request: IMAGE_PROCESS_FAILED")
                return self.store_photo(upload.data, size)
            return self.store_document(
                upload.data,
                upload.filename or "file",
                upload.content_type or "application/octet-stream",
            )
        assert isinstance(value, str)
        if value.startswith(("http://", "https://")):
            if kind == "photo":
                return self.store_photo(None, _URL_PHOTO_SIZE)
            name = value.rstrip("/").rpartition("/")[2] or "file"
            return self.store_document(None, name, "application/octet-stream")
        stored = self.files.get(value)
        if stored is None:
            raise ApiError(400, "Bad Request: wrong file identifier/HTTP URL specified")
        if stored.kind != kind:
            raise ApiError(
                400,
                f"Bad Request: can't use file of type {stored.kind.title()} as {kind.title()}",
            )
        if kind == "photo":
            return self._photo_sets[stored.file_id]
        return {
            "file_id": stored.file_id,
            "file_unique_id": stored.file_unique_id,
            "file_name": stored.file_name or "file",
            "mime_type": stored.mime_type or "application/octet-stream",
            **({"file_size": stored.size} if stored.size is not None else {}),
        }

    # -- polls ------------------------------------------------------------------------

    def add_poll(self, poll: PollState) -> None:
        self.polls[poll.id] = poll
        if poll.close_date is not None and not poll.is_closed:
            heapq.heappush(self._poll_deadlines, (float(poll.close_date), poll.id))

    def next_poll_deadline(self) -> float | None:
        return self._poll_deadlines[0][0] if self._poll_deadlines else None

    def close_expired_polls(self) -> None:
        """Close polls whose ``close_date`` has passed on the emulator clock."""
        if not self._poll_deadlines:
            return
        now = self.now().timestamp()
        while self._poll_deadlines and self._poll_deadlines[0][0] <= now:
            _, poll_id = heapq.heappop(self._poll_deadlines)
            poll = self.polls[poll_id]
            if not poll.is_closed:
                self.close_poll(poll)

    def close_poll(self, poll: PollState) -> None:
        poll.is_closed = True
        message = self.refresh_poll_message(poll)
        self.enqueue("poll", poll.to_json())
        self.emit(BotEvent("poll_closed", poll.chat_id, message))

    def refresh_poll_message(self, poll: PollState) -> StoredMessage | None:
        chat = self.chats.get(poll.chat_id)
        message = chat.messages.get(poll.message_id) if chat else None
        if message is not None:
            message.data = {**message.data, "poll": poll.to_json(in_message=True)}
        return message

    # -- updates ----------------------------------------------------------------------

    def update_allowed(self, kind: str) -> bool:
        allowed = self.allowed_updates
        if not allowed:
            return kind not in _OPT_IN_UPDATES
        return kind in allowed

    def enqueue(self, kind: str, payload: dict[str, Any]) -> dict[str, Any] | None:
        """Queue an update for getUpdates or the webhook; None if the bot opted out."""
        if not self.update_allowed(kind):
            return None
        update = {"update_id": self.next_update_id, kind: payload}
        self.next_update_id += 1
        self.pending.append(update)
        self.updates_signal.fire()
        self.changed.fire()
        return update

    def confirm_updates(self, offset: int) -> None:
        """getUpdates' ``offset``: forget updates below it (negative: keep the last N)."""
        pending = self.pending
        if offset > 0:
            while pending and pending[0]["update_id"] < offset:
                pending.popleft()
        elif offset < 0:
            while len(pending) > -offset:
                pending.popleft()

    def my_chat_member(
        self, chat: Chat, actor: User | None, old: MemberStatus, new: MemberStatus
    ) -> dict[str, Any] | None:
        bot_user = self.bot.to_json()
        return self.enqueue(
            "my_chat_member",
            {
                "chat": chat.to_json(),
                "from": actor.to_json() if actor else bot_user,
                "date": self.timestamp(),
                "old_chat_member": chat_member_json(bot_user, old),
                "new_chat_member": chat_member_json(bot_user, new),
            },
        )

    # -- observers --------------------------------------------------------------------

    def add_listener(
        self, callback: Callable[[BotEvent], None], chat_id: int | None = None
    ) -> Callable[[], None]:
        entry = (chat_id, callback)
        self._listeners.append(entry)

        def remove() -> None:
            if entry in self._listeners:
                self._listeners.remove(entry)

        return remove

    def emit(self, event: BotEvent) -> None:
        for chat_id, callback in self._listeners:
            if chat_id is None or chat_id == event.chat_id:
                callback(event)

    def bot_messages(self, chat_id: int, include_deleted: bool) -> list[StoredMessage]:
        chat = self.chats.get(chat_id)
        if chat is None:
            return []
        if include_deleted:
            return list(chat.bot_messages)
        return [message for message in chat.bot_messages if not message.deleted]

    def iter_messages(self, chat_id: int) -> Iterable[StoredMessage]:
        chat = self.chats.get(chat_id)
        return chat.messages.values() if chat else ()


def _without_reply(data: dict[str, Any]) -> dict[str, Any]:
    """Telegram does not nest ``reply_to_message`` more than one level deep."""
    if "reply_to_message" not in data:
        return data
    return {key: value for key, value in data.items() if key != "reply_to_message"}
