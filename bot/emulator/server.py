"""``TelegramEmulator``: the fake Bot API served over HTTP, plus the user's side of chats.

Point python-telegram-bot at it with::

    async with TelegramEmulator() as emulator:
        app = (
            ApplicationBuilder()
            .token(emulator.token)
            .base_url(emulator.base_url)
            .base_file_url(emulator.base_file_url)
            .build()
        )

and play the users with ``send_message``, ``press_button``, ``answer_poll`` and friends.
Every request the bot makes is recorded in ``emulator.calls``.
"""

from __future__ import annotations

import asyncio
import datetime as dtm
import json
import re
import time
from collections.abc import AsyncIterator, Callable, Iterable
from contextlib import suppress
from types import TracebackType
from typing import Any, Self, TypeVar, cast

import aiohttp
from aiohttp import web

from bot.emulator.faults import Fault, FaultPlan
from bot.emulator.formatting import utf16_len
from bot.emulator.limits import RateLimiter, RateLimits
from bot.emulator.methods import SENDING_METHODS, BotApi
from bot.emulator.models import (
    MEMBER_STATUSES,
    ApiError,
    BotEvent,
    BotProfile,
    Call,
    CallbackQueryRecord,
    Chat,
    ChatType,
    EmulatorError,
    MemberStatus,
    PollState,
    StoredMessage,
    User,
    WebhookConfig,
)
from bot.emulator.params import read_params
from bot.emulator.state import World

__all__ = ["TelegramEmulator"]

T = TypeVar("T")

_TOKEN_RE = re.compile(r"\d+:[A-Za-z0-9_-]+")
_COMMAND_RE = re.compile(r"(?<![^\s(])/[A-Za-z0-9_]{1,32}(?:@[A-Za-z0-9_]{3,32})?")
_UNAUTHORIZED = ApiError(401, "Unauthorized")
_NOT_FOUND = ApiError(404, "Not Found")
_BAD_GATEWAY_PAGE = (
    "<html>\r\n<head><title>502 Bad Gateway</title></head>\r\n<body>\r\n"
    "<center><h1>502 Bad Gateway</h1></center>\r\n<hr><center>nginx</center>\r\n"
    "</body>\r\n</html>\r\n"
)
_MAX_UPLOAD = 50 * 1024 * 1024


def _command_entities(text: str) -> list[dict[str, Any]]:
    """``bot_command`` entities as Telegram marks them (CommandHandler needs offset 0)."""
    entities = []
    for match in _COMMAND_RE.finditer(text):
        entities.append(
            {
                "type": "bot_command",
                "offset": utf16_len(text[: match.start()]),
                "length": utf16_len(match.group()),
            }
        )
    return entities


def _status(status: str) -> MemberStatus:
    if status not in MEMBER_STATUSES:
        raise EmulatorError(f"unknown member status {status!r}; one of {sorted(MEMBER_STATUSES)}")
    return cast("MemberStatus", status)


class TelegramEmulator:
    """An in-process Telegram Bot API on 127.0.0.1 for tests, benchmarks and the sandbox.

    Args:
        bot_id, bot_username, bot_first_name: what ``getMe`` answers.
        clock: returns the current aware UTC datetime; message dates, poll close dates and
            ``Call.at`` follow it (default: real time).
        enforce_limits: answer 429 when the bot exceeds Telegram's flood limits
            (see ``bot.emulator.limits``). Off by default: no 429 unless a fault says so.
        limits: the numbers to enforce.
        privacy_mode: like a bot with privacy mode on (Telegram's default), the bot hears
            only commands, mentions and replies in groups where it is not an admin.
        auto_create_chats: let the bot send to chat ids never seen before (positive ids
            become private chats, negative ones groups) instead of "chat not found".
        webhook_retry_delay: first delay before re-posting an update the webhook refused;
            it doubles up to one second.
    """

    def __init__(
        self,
        *,
        bot_id: int = 7000000001,
        bot_username: str = "tweetdrip_test_bot",
        bot_first_name: str = "TweetDrip",
        clock: Callable[[], dtm.datetime] | None = None,
        enforce_limits: bool = False,
        limits: RateLimits | None = None,
        privacy_mode: bool = True,
        auto_create_chats: bool = False,
        webhook_retry_delay: float = 0.05,
    ) -> None:
        self.world = World(
            BotProfile(id=bot_id, username=bot_username, first_name=bot_first_name),
            clock,
            privacy_mode=privacy_mode,
            auto_create_chats=auto_create_chats,
        )
        self.api = BotApi(self.world)
        self.faults = FaultPlan()
        self.flood_count = 0
        self._limits = limits or RateLimits()
        self._limiter: RateLimiter | None = None
        self.enforce_limits = enforce_limits
        self.webhook_retry_delay = webhook_retry_delay
        self.calls: list[Call] = []
        self._calls_by_method: dict[str, list[Call]] = {}
        self._runner: web.AppRunner | None = None
        self._session: aiohttp.ClientSession | None = None
        self._webhook_task: asyncio.Task[None] | None = None
        self._timers: list[asyncio.TimerHandle] = []
        self._closing = asyncio.Event()
        self._url = ""

    # -- lifecycle ----------------------------------------------------------------------

    async def start(self, host: str = "127.0.0.1", port: int = 0) -> None:
        """Serve the Bot API on ``host:port`` (port 0 picks a free one)."""
        if self._runner is not None:
            raise RuntimeError("the emulator is already running")
        app = web.Application(client_max_size=_MAX_UPLOAD)
        app.router.add_route("*", "/bot{token}/{method}", self._handle_api)
        app.router.add_get("/file/bot{token}/{path:.+}", self._handle_file)
        runner = web.AppRunner(
            app,
            handle_signals=False,
            access_log=None,
            shutdown_timeout=0.5,
            handler_cancellation=True,
        )
        await runner.setup()
        site = web.TCPSite(runner, host, port)
        await site.start()
        bound_host, bound_port = runner.addresses[0][:2]
        self._runner = runner
        self._url = f"http://{bound_host}:{bound_port}"
        self._closing = asyncio.Event()
        self.world.closing = False
        self._session = aiohttp.ClientSession()
        self._webhook_task = asyncio.create_task(self._deliver_webhooks())

    async def stop(self) -> None:
        """Stop serving; waiting long polls return empty and held responses are dropped."""
        if self._runner is None:
            return
        self._closing.set()
        self.world.closing = True
        self.world.updates_signal.fire()
        self.world.changed.fire()
        for timer in self._timers:
            timer.cancel()
        self._timers.clear()
        if self._webhook_task is not None:
            self._webhook_task.cancel()
            with suppress(asyncio.CancelledError):
                await self._webhook_task
            self._webhook_task = None
        if self._session is not None:
            await self._session.close()
            self._session = None
        await self._runner.cleanup()
        self._runner = None

    async def __aenter__(self) -> Self:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.stop()

    @property
    def url(self) -> str:
        """``http://127.0.0.1:PORT`` once started."""
        if not self._url:
            raise RuntimeError("the emulator is not running; await start() first")
        return self._url

    @property
    def base_url(self) -> str:
        """For ``ApplicationBuilder().base_url(...)``: PTB appends the token."""
        return f"{self.url}/bot"

    @property
    def base_file_url(self) -> str:
        """For ``ApplicationBuilder().base_file_url(...)``."""
        return f"{self.url}/file/bot"

    @property
    def bot(self) -> BotProfile:
        return self.world.bot

    @property
    def token(self) -> str:
        """A well-formed token whose numeric part is the bot's id (any token is accepted)."""
        return f"{self.world.bot.id}:AAEmulatorTokenForTests_0123456789"

    @property
    def enforce_limits(self) -> bool:
        return self._limiter is not None

    @enforce_limits.setter
    def enforce_limits(self, value: bool) -> None:
        if value and self._limiter is None:
            self._limiter = RateLimiter(self._limits)
        elif not value:
            self._limiter = None

    # -- HTTP -------------------------------------------------------------------------

    @staticmethod
    def _json(status: int, payload: dict[str, Any]) -> web.Response:
        return web.Response(
            text=json.dumps(payload), status=status, content_type="application/json"
        )

    def _record(
        self,
        method: str,
        params: dict[str, Any],
        ok: bool,
        result_or_error: Any,
        fault: str | None = None,
    ) -> None:
        call = Call(
            method=method,
            params=params,
            at=self.world.now(),
            ok=ok,
            result_or_error=result_or_error,
            monotonic=time.monotonic(),
            fault=fault,
        )
        self.calls.append(call)
        self._calls_by_method.setdefault(method, []).append(call)
        self.world.changed.fire()

    def _fail(
        self, method: str, params: dict[str, Any], error: ApiError, fault: str | None = None
    ) -> web.Response:
        body = error.body()
        self._record(method, params, False, body, fault)
        return self._json(error.code, body)

    async def _handle_api(self, request: web.Request) -> web.Response:
        requested = request.match_info["method"]
        if not _TOKEN_RE.fullmatch(request.match_info["token"]):
            return self._fail(requested, {}, _UNAUTHORIZED)
        try:
            params, uploads = await read_params(request)
        except ApiError as error:
            return self._fail(requested, {}, error)
        method = self.api.canonical(requested)
        if method is None:
            return self._fail(requested, params, _NOT_FOUND)
        self.world.close_expired_polls()

        fault = self.faults.take(method, params)
        if fault is not None:
            if fault.kind == "timeout":
                return await self._hold(fault, method, params, uploads)
            status, body = fault.error()
            self._record(method, params, False, body, fault.kind)
            if status == 502:
                return web.Response(text=_BAD_GATEWAY_PAGE, status=502, content_type="text/html")
            return self._json(status, body)

        if self._limiter is not None and method in SENDING_METHODS:
            retry_after = self._check_limits(method, params)
            if retry_after is not None:
                self.flood_count += 1
                flood = ApiError(
                    429,
                    f"Too Many Requests: retry after {retry_after}",
                    {"retry_after": retry_after},
                )
                return self._fail(method, params, flood)

        return await self._perform(method, params, uploads)

    async def _perform(
        self,
        method: str,
        params: dict[str, Any],
        uploads: dict[str, Any],
        fault: str | None = None,
    ) -> web.Response:
        try:
            result = await self.api.handlers[method](params, uploads)
        except ApiError as error:
            return self._fail(method, params, error, fault)
        self._record(method, params, True, result, fault)
        if method == "sendPoll":
            self._schedule_poll_close(result["poll"])
        return self._json(200, {"ok": True, "result": result})

    def _check_limits(self, method: str, params: dict[str, Any]) -> int | None:
        assert self._limiter is not None
        target = self.world.peek_chat_type(params.get("chat_id"))
        cost = 1
        if method == "sendMediaGroup" and isinstance(params.get("media"), list):
            cost = max(1, len(params["media"]))
        if target is None:
            return self._limiter.check(None, None, cost)
        return self._limiter.check(target[0], target[1], cost)

    async def _hold(
        self, fault: Fault, method: str, params: dict[str, Any], uploads: dict[str, Any]
    ) -> web.Response:
        """A response that arrives too late; the action happens only if ``fault.apply``."""
        if fault.apply:
            response = await self._perform(method, params, uploads, fault="timeout")
        else:
            error = ApiError(504, "Gateway Timeout")
            self._record(method, params, False, error.body(), "timeout")
            response = self._json(504, error.body())
        with suppress(TimeoutError):
            await asyncio.wait_for(self._closing.wait(), fault.delay)
        return response

    async def _handle_file(self, request: web.Request) -> web.StreamResponse:
        if not _TOKEN_RE.fullmatch(request.match_info["token"]):
            return self._json(401, _UNAUTHORIZED.body())
        stored = self.world.files_by_path.get(request.match_info["path"])
        if stored is None or stored.data is None:
            return self._json(404, _NOT_FOUND.body())
        return web.Response(
            body=stored.data, content_type=stored.mime_type or "application/octet-stream"
        )

    # -- polls closing in real time ---------------------------------------------------

    def _schedule_poll_close(self, poll: dict[str, Any]) -> None:
        """Close a timed poll on time even if nobody calls in. With a fake clock that does
        not follow real time, polls close when the clock has moved past ``close_date`` and
        the emulator next looks (any request or injection, or ``close_expired_polls``)."""
        close_date = poll.get("close_date")
        if close_date is None:
            return
        delay = max(0.0, close_date - self.world.now().timestamp()) + 0.01
        loop = asyncio.get_running_loop()
        self._timers = [t for t in self._timers if not t.cancelled() and t.when() > loop.time()]
        self._timers.append(loop.call_later(delay, self.close_expired_polls))

    def close_expired_polls(self) -> None:
        """Close polls whose time is up on the emulator clock (call after moving a fake
        clock; the emulator also checks on every request)."""
        self.world.close_expired_polls()

    # -- webhook delivery -------------------------------------------------------------

    async def _deliver_webhooks(self) -> None:
        world = self.world
        delay = self.webhook_retry_delay
        while not world.closing:
            hook = world.webhook
            if hook is None or not world.pending:
                await world.updates_signal.wait(None)
                continue
            update = world.pending[0]
            error = await self._post_update(hook, update)
            if error is None:
                if world.pending and world.pending[0] is update:
                    world.pending.popleft()
                hook.delivered += 1
                delay = self.webhook_retry_delay
                world.changed.fire()
                continue
            hook.last_error_date = world.timestamp()
            hook.last_error_message = error
            world.changed.fire()
            await world.updates_signal.wait(delay)
            delay = min(delay * 2, 1.0)

    async def _post_update(self, hook: WebhookConfig, update: dict[str, Any]) -> str | None:
        assert self._session is not None
        headers = {}
        if hook.secret_token:
            headers["X-Telegram-Bot-Api-Secret-Token"] = hook.secret_token
        try:
            async with self._session.post(
                hook.url,
                json=update,
                headers=headers,
                timeout=aiohttp.ClientTimeout(total=10),
            ) as response:
                await response.read()
                if 200 <= response.status < 300:
                    return None
                return f"Wrong response from the webhook: {response.status} {response.reason}"
        except (aiohttp.ClientError, TimeoutError) as exc:
            return f"Connection failed: {exc.__class__.__name__}"

    # -- what the bot did ---------------------------------------------------------------

    def calls_of(self, method: str) -> list[Call]:
        """Recorded calls of one method (canonical spelling, e.g. "sendMessage")."""
        return list(self._calls_by_method.get(method, ()))

    def reset_calls(self) -> None:
        self.calls.clear()
        self._calls_by_method.clear()

    def sent_to(self, chat_id: int, *, include_deleted: bool = False) -> list[StoredMessage]:
        """Messages the bot sent to a chat, oldest first, as they are now (after edits)."""
        return self.world.bot_messages(chat_id, include_deleted)

    def last_sent(self, chat_id: int) -> StoredMessage | None:
        messages = self.world.bot_messages(chat_id, False)
        return messages[-1] if messages else None

    def messages(self, chat_id: int) -> list[StoredMessage]:
        """Every message still in the chat, from the bot and from users, in order."""
        return sorted(self.world.iter_messages(chat_id), key=lambda m: m.message_id)

    def message(self, chat_id: int, message_id: int) -> StoredMessage:
        chat = self.world.chats.get(chat_id)
        found = chat.messages.get(message_id) if chat else None
        if found is None:
            raise EmulatorError(f"no message {message_id} in chat {chat_id}")
        return found

    @property
    def polls(self) -> dict[str, PollState]:
        return self.world.polls

    def poll(self, poll_id: str) -> PollState:
        try:
            return self.world.polls[poll_id]
        except KeyError:
            raise EmulatorError(f"no poll {poll_id!r}") from None

    @property
    def chats(self) -> dict[int, Chat]:
        return self.world.chats

    @property
    def users(self) -> dict[int, User]:
        return self.world.users

    @property
    def pending_updates(self) -> list[dict[str, Any]]:
        """Updates not yet confirmed by getUpdates or accepted by the webhook."""
        return list(self.world.pending)

    @property
    def webhook(self) -> WebhookConfig | None:
        return self.world.webhook

    @property
    def allowed_updates(self) -> list[str] | None:
        """What the bot last asked for via getUpdates (None: Telegram's default set)."""
        return self.world.allowed_updates

    def commands(
        self, scope: dict[str, Any] | None = None, language_code: str = ""
    ) -> list[dict[str, Any]]:
        key = json.dumps(scope or {"type": "default"}, sort_keys=True), language_code
        return list(self.world.commands.get(key, []))

    def menu_button(self, chat_id: int | None = None) -> dict[str, Any]:
        """The menu button a private chat shows (None: the default of every private chat)."""
        buttons = self.world.menu_buttons
        return dict(buttons.get(chat_id) or buttons.get(None) or {"type": "commands"})

    def callback_answer(self, query_id: str) -> dict[str, Any] | None:
        """What the bot answered to a button press (None while unanswered)."""
        query = self.world.callback_queries.get(query_id)
        if query is None:
            raise EmulatorError(f"no callback query {query_id!r}")
        return query.answer

    def callback_query(self, query_id: str) -> CallbackQueryRecord:
        try:
            return self.world.callback_queries[query_id]
        except KeyError:
            raise EmulatorError(f"no callback query {query_id!r}") from None

    def file_bytes(self, file_id: str) -> bytes | None:
        stored = self.world.files.get(file_id)
        if stored is None:
            raise EmulatorError(f"no file {file_id!r}")
        return stored.data

    # -- waiting ------------------------------------------------------------------------

    async def wait_for(
        self, predicate: Callable[[], T], timeout: float = 5.0, *, recheck: float = 0.02
    ) -> T:
        """Wait until ``predicate()`` is truthy and return its value.

        The predicate is re-checked as soon as a call is recorded or the emulated state
        changes, and every ``recheck`` seconds in case it looks at state the emulator
        cannot see (what the bot's handlers stored, say). Raises ``TimeoutError``.
        """
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            value = predicate()
            if value:
                return value
            remaining = deadline - loop.time()
            if remaining <= 0:
                recent = ", ".join(f"{c.method}{'' if c.ok else '!'}" for c in self.calls[-10:])
                raise TimeoutError(f"condition not met within {timeout}s; last calls: [{recent}]")
            await self.world.changed.wait(min(remaining, recheck))

    async def wait_for_call(
        self,
        method: str,
        chat_id: int | str | None = None,
        count: int = 1,
        timeout: float = 5.0,
        *,
        ok: bool | None = None,
    ) -> list[Call]:
        """Wait for at least ``count`` recorded calls of ``method`` (optionally to
        ``chat_id``, optionally only successful/failed ones); return all that match."""

        def matching() -> list[Call]:
            found = [
                call
                for call in self._calls_by_method.get(method, ())
                if (chat_id is None or call.params.get("chat_id") == chat_id)
                and (ok is None or call.ok == ok)
            ]
            return found if len(found) >= count else []

        return await self.wait_for(matching, timeout)

    # -- watching the bot (terminal sandbox) ------------------------------------------

    def on_bot_message(
        self, callback: Callable[[BotEvent], None], chat_id: int | None = None
    ) -> Callable[[], None]:
        """Call ``callback(event)`` for everything the bot does (in one chat, or all);
        returns a function that unsubscribes."""
        return self.world.add_listener(callback, chat_id)

    async def bot_events(self, chat_id: int | None = None) -> AsyncIterator[BotEvent]:
        """Async iterator over the bot's activity as it happens::

        async for event in emulator.bot_events(chat_id):
            print(event.kind, event.message.content if event.message else event.detail)
        """
        queue: asyncio.Queue[BotEvent] = asyncio.Queue()
        remove = self.world.add_listener(queue.put_nowait, chat_id)
        try:
            while True:
                yield await queue.get()
        finally:
            remove()

    # -- playing the users --------------------------------------------------------------

    def add_user(
        self,
        user_id: int,
        first_name: str | None = None,
        *,
        username: str | None = None,
        last_name: str | None = None,
        language_code: str | None = None,
    ) -> User:
        """A user who has started the bot (so it may write to them)."""
        user = self.world.ensure_user(
            user_id,
            first_name=first_name,
            username=username,
            last_name=last_name,
            language_code=language_code,
        )
        self.world.ensure_private_chat(user)
        return user

    def add_users(self, user_ids: Iterable[int]) -> None:
        for user_id in user_ids:
            self.add_user(user_id)

    def add_chat(
        self,
        chat_id: int,
        type: ChatType = "supergroup",
        title: str | None = None,
        *,
        bot_status: MemberStatus = "administrator",
        username: str | None = None,
    ) -> Chat:
        """A group, supergroup or channel the bot is in with ``bot_status``."""
        if type not in ("group", "supergroup", "channel"):
            raise EmulatorError(f"add_chat makes groups and channels, not {type!r}; use add_user")
        return self.world.add_chat(chat_id, type, title, _status(bot_status), username)

    def set_member(self, chat_id: int, user_id: int, status: MemberStatus) -> None:
        """What getChatMember/getChatAdministrators report for a user in a chat."""
        chat = self._chat(chat_id)
        self.world.ensure_user(user_id)
        chat.members[user_id] = _status(status)

    def set_bot_status(
        self, chat_id: int, status: MemberStatus, by_user_id: int | None = None
    ) -> dict[str, Any] | None:
        """Add, promote or remove the bot; queues the ``my_chat_member`` update."""
        chat = self._chat(chat_id)
        actor = self.world.ensure_user(by_user_id) if by_user_id is not None else None
        old, chat.bot_status = chat.bot_status, _status(status)
        return self.world.my_chat_member(chat, actor, old, chat.bot_status)

    def block(self, user_id: int) -> dict[str, Any] | None:
        """The user blocks the bot: sends to them fail with 403 from now on."""
        user = self.world.ensure_user(user_id)
        chat = self.world.ensure_private_chat(user)
        chat.blocked = True
        return self.world.my_chat_member(chat, user, "member", "kicked")

    def unblock(self, user_id: int) -> dict[str, Any] | None:
        user = self.world.ensure_user(user_id)
        chat = self.world.ensure_private_chat(user)
        chat.blocked = False
        return self.world.my_chat_member(chat, user, "kicked", "member")

    def migrate_group(self, old_id: int, new_id: int, by_user_id: int | None = None) -> Chat:
        """Upgrade a group to a supergroup; sending to ``old_id`` then fails with
        ``migrate_to_chat_id`` (PTB raises ``ChatMigrated``)."""
        old = self._chat(old_id)
        if old.type != "group":
            raise EmulatorError(f"chat {old_id} is a {old.type}, only groups migrate")
        new = self.world.add_chat(new_id, "supergroup", old.title, old.bot_status, old.username)
        new.members.update(old.members)
        old.migrated_to = new_id
        actor = self.world.ensure_user(by_user_id) if by_user_id is not None else None
        if actor is None:
            owner = next((uid for uid, s in old.members.items() if s == "creator"), None)
            actor = self.world.users.get(owner) if owner is not None else None
        if actor is not None:
            moved = self.world.add_user_message(old, actor, {"migrate_to_chat_id": new_id})
            self.world.enqueue("message", moved.data)
            arrived = self.world.add_user_message(new, actor, {"migrate_from_chat_id": old_id})
            self.world.enqueue("message", arrived.data)
        return new

    def _chat(self, chat_id: int) -> Chat:
        chat = self.world.chats.get(chat_id)
        if chat is None:
            raise EmulatorError(f"no chat {chat_id}; create it with add_chat()/add_user()")
        return chat

    def _user_chat(self, user: User, chat_id: int | None, chat_type: ChatType | None) -> Chat:
        if chat_id is None or chat_id == user.id:
            chat = self.world.ensure_private_chat(user)
            if chat.blocked:  # writing to a blocked bot means restarting it
                chat.blocked = False
                self.world.my_chat_member(chat, user, "kicked", "member")
            return chat
        group = self.world.chats.get(chat_id)
        if group is None:
            if chat_type is None:
                chat_type = "supergroup" if str(chat_id).startswith("-100") else "group"
            group = self.world.add_chat(chat_id, chat_type, None, "administrator")
        group.members.setdefault(user.id, "member")
        return group

    def _bot_hears(self, chat: Chat, message: StoredMessage) -> bool:
        """Privacy mode: in groups a non-admin bot hears commands, mentions and replies."""
        if chat.type == "private":
            return True
        if chat.bot_status in ("left", "kicked"):
            return False
        if chat.type == "channel" or not self.world.privacy_mode:
            return True
        if chat.bot_status in ("creator", "administrator"):
            return True
        text = message.text or message.caption or ""
        replied = message.data.get("reply_to_message")
        return (
            text.startswith("/")
            or f"@{self.world.bot.username}".lower() in text.lower()
            or bool(replied and replied.get("from", {}).get("id") == self.world.bot.id)
        )

    def _deliver(self, chat: Chat, message: StoredMessage) -> None:
        if self._bot_hears(chat, message):
            kind = "channel_post" if chat.type == "channel" else "message"
            self.world.enqueue(kind, message.data)
        else:
            self.world.changed.fire()

    def send_message(
        self,
        user_id: int,
        text: str,
        chat_id: int | None = None,
        chat_type: ChatType | None = None,
        *,
        reply_to: int | None = None,
    ) -> dict[str, Any]:
        """A user writes ``text`` (to the bot's private chat by default); commands get
        ``bot_command`` entities. Returns the message as the bot will receive it."""
        if not text:
            raise EmulatorError("Telegram users can't send empty messages")
        self.world.close_expired_polls()
        user = self.world.ensure_user(user_id)
        chat = self._user_chat(user, chat_id, chat_type)
        content: dict[str, Any] = {"text": text}
        entities = _command_entities(text)
        if entities:
            content["entities"] = entities
        replied = self._reply_target(chat, reply_to)
        message = self.world.add_user_message(chat, user, content, replied)
        self._deliver(chat, message)
        return message.data

    def send_document(
        self,
        user_id: int,
        filename: str,
        content: bytes,
        mime_type: str = "application/octet-stream",
        caption: str | None = None,
        *,
        chat_id: int | None = None,
    ) -> dict[str, Any]:
        """A user sends a file; getFile and the download URL then serve ``content``."""
        user = self.world.ensure_user(user_id)
        chat = self._user_chat(user, chat_id, None)
        body: dict[str, Any] = {"document": self.world.store_document(content, filename, mime_type)}
        if caption:
            body["caption"] = caption
        message = self.world.add_user_message(chat, user, body)
        self._deliver(chat, message)
        return message.data

    def _reply_target(self, chat: Chat, reply_to: int | None) -> StoredMessage | None:
        if reply_to is None:
            return None
        target = chat.messages.get(reply_to)
        if target is None:
            raise EmulatorError(f"no message {reply_to} in chat {chat.id} to reply to")
        return target

    def press_button(
        self,
        user_id: int,
        message: int | StoredMessage | dict[str, Any],
        data: str,
        chat_id: int | None = None,
    ) -> str:
        """A user taps the inline button carrying ``data`` under a bot message; queues
        the ``callback_query`` update and returns its id (see ``callback_answer``)."""
        self.world.close_expired_polls()
        if isinstance(message, StoredMessage):
            chat_id, message_id = message.chat_id, message.message_id
        elif isinstance(message, dict):
            chat_id, message_id = int(message["chat"]["id"]), int(message["message_id"])
        else:
            message_id = message
        user = self.world.ensure_user(user_id)
        chat = self._chat(user.id if chat_id is None else chat_id)
        target = chat.messages.get(message_id)
        if target is None or not target.from_bot:
            raise EmulatorError(f"no bot message {message_id} in chat {chat.id}")
        if data not in target.callback_data:
            raise EmulatorError(
                f"message {message_id} has no button with callback_data {data!r}; "
                f"it has {target.callback_data}"
            )
        record = self.api.new_callback_query(user.id, target, data)
        self.world.enqueue(
            "callback_query",
            {
                "id": record.id,
                "from": user.to_json(),
                "message": target.data,
                "chat_instance": str(abs(chat.id) * 7919 % 10**15),
                "data": data,
            },
        )
        return record.id

    def press_forged(
        self,
        user_id: int,
        data: str,
        message: StoredMessage | None = None,
    ) -> str:
        """A client sends callback ``data`` no button carries, under a bot ``message``, or
        with no message at all (as for a message sent in inline mode); returns the query id.
        """
        user = self.world.ensure_user(user_id)
        update: dict[str, Any] = {"id": "", "from": user.to_json(), "data": data}
        if message is None:
            record = CallbackQueryRecord(
                id=str(4_000_000_000_000_000_000 + self.world.next_id()),
                user_id=user.id,
                chat_id=0,
                message_id=0,
                data=data,
            )
            self.world.callback_queries[record.id] = record
            update["inline_message_id"] = f"inline-{record.id}"
            update["chat_instance"] = str(user.id * 7919 % 10**15)
        else:
            record = self.api.new_callback_query(user.id, message, data)
            update["message"] = message.data
            update["chat_instance"] = str(abs(message.chat_id) * 7919 % 10**15)
        update["id"] = record.id
        self.world.enqueue("callback_query", update)
        return record.id

    def edit_message(self, user_id: int, message: dict[str, Any], text: str) -> dict[str, Any]:
        """The user edits a message they sent (as ``send_message`` returned it); queues the
        ``edited_message`` update and returns the message as edited."""
        chat = self._chat(int(message["chat"]["id"]))
        stored = chat.messages.get(int(message["message_id"]))
        if stored is None or stored.from_bot or stored.data.get("from", {}).get("id") != user_id:
            raise EmulatorError(f"user {user_id} sent no message {message['message_id']} here")
        data = {key: value for key, value in stored.data.items() if key != "entities"}
        data["text"] = text
        entities = _command_entities(text)
        if entities:
            data["entities"] = entities
        data["edit_date"] = self.world.timestamp()
        stored.data = data  # not a BotEvent: those are what the bot does
        stored.edit_count += 1
        self.world.enqueue("edited_message", data)
        return data

    def answer_poll(
        self, user_id: int, poll_id: str, option_ids: int | Iterable[int]
    ) -> dict[str, Any] | None:
        """A user votes (an empty list retracts the vote). Like Telegram, this queues a
        ``poll_answer`` update only for non-anonymous polls (returned), and a ``poll``
        update with the new counts for every poll the bot sent."""
        world = self.world
        world.close_expired_polls()
        poll = self.poll(poll_id)
        if poll.is_closed:
            raise EmulatorError(f"poll {poll_id} is closed")
        chosen = (option_ids,) if isinstance(option_ids, int) else tuple(option_ids)
        if len(set(chosen)) != len(chosen) or any(
            not 0 <= option < len(poll.options) for option in chosen
        ):
            raise EmulatorError(
                f"invalid option ids {chosen} for a {len(poll.options)}-option poll"
            )
        if len(chosen) > 1 and not poll.allows_multiple_answers:
            raise EmulatorError("this poll allows only one answer")
        previous = poll.votes.get(user_id, ())
        if previous and not poll.allows_revoting:
            raise EmulatorError("this poll does not allow changing the answer")
        if not chosen and not previous:
            raise EmulatorError("nothing to retract: the user has not voted")
        for option in previous:
            poll.options[option].voters.discard(user_id)
        for option in chosen:
            poll.options[option].voters.add(user_id)
        if chosen:
            poll.votes[user_id] = chosen
        else:
            poll.votes.pop(user_id, None)
        user = world.ensure_user(user_id)
        world.refresh_poll_message(poll)
        answer = None
        if not poll.is_anonymous:
            answer = world.enqueue(
                "poll_answer",
                {
                    "poll_id": poll.id,
                    "user": user.to_json(),
                    "option_ids": list(chosen),
                    "option_persistent_ids": [poll.options[i].persistent_id for i in chosen],
                },
            )
        world.enqueue("poll", poll.to_json())
        return answer
