"""A running tweetdrip bot against the Telegram emulator, driven like a user would drive it."""

from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from sqlalchemy.engine import Engine
from telegram import Update
from telegram.ext import Application

from bot.app import build_application
from bot.clock import VirtualClock
from bot.context import Services
from bot.dispatch import dispatch_due
from bot.emulator import TelegramEmulator
from bot.settings import Settings

TOKEN = "123456789:AAtweetdrip-test-token-0000000000000"
ADMIN_ID = 4242
START = dt.datetime(2026, 1, 5, 6, 0, tzinfo=dt.UTC)  # a Monday morning


def settings_for(emulator: TelegramEmulator, database_url: str, **overrides: Any) -> Settings:
    """Settings for a bot talking to the emulator: no real limits, no waiting between posts."""
    values: dict[str, Any] = {
        "telegram_bot_token": TOKEN,
        "telegram_api_base_url": emulator.base_url,
        "telegram_api_file_url": emulator.base_file_url,
        "database_url": database_url,
        "admin_ids": [ADMIN_ID],
        "rate_limit": False,
        "private_chat_interval_seconds": 0,
        "dispatch_interval_seconds": 3600,
    }
    values.update(overrides)
    return Settings(_env_file=None, **values)  # type: ignore[call-arg]


class Harness:
    """The bot, the emulator, the clock and the database of one test."""

    def __init__(
        self, emulator: TelegramEmulator, app: Application, clock: VirtualClock, engine: Engine
    ) -> None:  # type: ignore[type-arg]
        self.emulator = emulator
        self.app = app
        self.clock = clock
        self.engine = engine

    @property
    def services(self) -> Services:
        return self.app.bot_data.services  # type: ignore[no-any-return]

    @property
    def now(self) -> dt.datetime:
        return self.clock.now()

    def advance(self, **delta: float) -> dt.datetime:
        return self.clock.advance(dt.timedelta(**delta))

    async def settle(self, timeout: float = 10.0) -> None:
        """Wait until the bot fetched every queued update and finished handling it."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        # getUpdates confirms what it fetched on its next call, after PTB queued it.
        while self.emulator.world.pending:
            if loop.time() > deadline:
                raise TimeoutError("the bot stopped fetching updates")
            await asyncio.sleep(0.002)
        await asyncio.wait_for(self.app.update_queue.join(), timeout)
        await self.services.drain()

    async def send(self, user_id: int, text: str, **kwargs: Any) -> dict[str, Any]:
        """A user sends a message (or a command); returns once the bot has dealt with it."""
        message = self.emulator.send_message(user_id, text, **kwargs)
        await self.settle()
        return message

    async def press(self, user_id: int, message: Any, data: str, **kwargs: Any) -> str:
        """A user presses an inline button of a bot message."""
        query_id = self.emulator.press_button(user_id, message, data, **kwargs)
        await self.settle()
        return query_id

    async def press_forged(self, user_id: int, data: str, message: Any = None) -> str:
        """A client sends callback data no button carries (under `message`, or none)."""
        query_id = self.emulator.press_forged(user_id, data, message)
        await self.settle()
        return query_id

    async def edit(self, user_id: int, message: dict[str, Any], text: str) -> dict[str, Any]:
        """A user edits a message they sent; returns once the bot has dealt with the edit."""
        edited = self.emulator.edit_message(user_id, message, text)
        await self.settle()
        return edited

    async def answer_poll(self, user_id: int, poll_id: str, option_ids: list[int]) -> None:
        self.emulator.answer_poll(user_id, poll_id, option_ids)
        await self.settle()

    async def dispatch(self) -> int:
        """Run the delivery engine at the virtual now."""
        handled = await dispatch_due(self.app, self.clock.now())
        await self.services.drain()
        return handled

    def messages(self, chat_id: int) -> list[Any]:
        """What the bot sent to a chat, in order."""
        return list(self.emulator.sent_to(chat_id))

    def last_message(self, chat_id: int) -> Any:
        return self.messages(chat_id)[-1]

    def texts(self, chat_id: int) -> list[str]:
        return [m.content for m in self.messages(chat_id)]


@asynccontextmanager
async def start_harness(
    emulator: TelegramEmulator,
    engine: Engine,
    *,
    clock: VirtualClock | None = None,
    **settings: Any,
) -> AsyncIterator[Harness]:
    """Build the app exactly as production does and run it with long polling."""
    clock = clock or VirtualClock(START)
    url = engine.url.render_as_string(hide_password=False)
    app = build_application(
        settings_for(emulator, url, **settings), engine=engine, clock=clock, start_dispatcher=False
    )
    async with app:
        if app.post_init is not None:  # run_polling would call it; we start by hand
            await app.post_init(app)
        await app.start()
        assert app.updater is not None
        await app.updater.start_polling(
            poll_interval=0, timeout=1, allowed_updates=Update.ALL_TYPES
        )
        try:
            yield Harness(emulator, app, clock, engine)
        finally:
            await app.updater.stop()
            await app.stop()
            if app.post_stop is not None:
                await app.post_stop(app)
