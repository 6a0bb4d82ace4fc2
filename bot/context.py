"""Typed application state: what every handler and job can reach through `context`."""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from sqlalchemy.engine import Engine
from telegram.ext import CallbackContext, ContextTypes, ExtBot

from bot.clock import Clock, SystemClock
from bot.outage import OutageTracker
from bot.settings import Settings
from content.models import Library
from storage.runner import Database

if TYPE_CHECKING:
    from bot.sending import ChatPacer


@dataclass
class Services:
    """Long-lived services, created once in `build_application`."""

    settings: Settings
    engine: Engine
    library_loader: Any  # callable returning the current Library (bundled + imported)
    clock: Clock = field(default_factory=SystemClock)
    pacer: ChatPacer | None = None
    _library: Library | None = None
    background: set[asyncio.Task[Any]] = field(default_factory=set)  # spawned work in flight
    # Set on SIGTERM/SIGINT: the delivery engine claims nothing more (bot/dispatch.py).
    stopping: asyncio.Event = field(default_factory=asyncio.Event)
    outages: OutageTracker = field(default_factory=OutageTracker)  # database outages, logged once
    # Units of database work run here, off the event loop (storage/runner.py).
    db: Database = field(init=False)

    def __post_init__(self) -> None:
        self.db = Database(self.engine)

    def library(self) -> Library:
        if self._library is None:
            self._library = self.library_loader(self.engine)
        return self._library

    def reload_library(self) -> Library:
        self._library = None
        return self.library()

    def now(self) -> Any:
        return self.clock.now()

    def spawn(self, coroutine: Coroutine[Any, Any, Any]) -> asyncio.Task[Any]:
        """Run work after the handler returns, keeping a reference until it ends."""
        task = asyncio.get_running_loop().create_task(coroutine)
        self.background.add(task)
        task.add_done_callback(self.background.discard)
        return task

    async def drain(self) -> None:
        """Wait for background work (tests, and shutdown)."""
        while self.background:
            await asyncio.gather(*list(self.background), return_exceptions=True)


class BotData:
    """`context.bot_data`: holds the services (filled in by `build_application`)."""

    services: Services


Context = CallbackContext[ExtBot[None], dict[Any, Any], dict[Any, Any], BotData]
CONTEXT_TYPES = ContextTypes(bot_data=BotData)


def services(context: Context) -> Services:
    return context.bot_data.services
