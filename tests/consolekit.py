"""The web console running beside the bot harness, and requests signed as Telegram signs them."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

import aiohttp
from multidict import CIMultiDictProxy
from sqlalchemy.engine import Engine

from bot.console.initdata import WebAppUser, sign_init_data
from bot.console.links import signed_link
from bot.console.server import Console
from bot.emulator import TelegramEmulator
from tests.harness import TOKEN, Harness, start_harness


@dataclass(frozen=True)
class Reply:
    status: int
    headers: CIMultiDictProxy[str]
    text: str

    def json(self) -> Any:
        return json.loads(self.text)


@dataclass
class ConsoleClient:
    """HTTP to the console of a running bot, signed in as whoever a test says."""

    harness: Harness
    console: Console
    http: aiohttp.ClientSession

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.console.port}"

    def init_data(
        self,
        user_id: int,
        first_name: str = "Ada",
        *,
        at: dt.datetime | None = None,
        token: str = TOKEN,
        **extra: str,
    ) -> str:
        """Init data as Telegram makes it, signed with the bot's token (or `token`)."""
        user = WebAppUser(id=user_id, first_name=first_name)
        return sign_init_data(user, token, at or self.harness.now, **extra)

    def link(self, user_id: int, first_name: str = "Ada", **fragment: str) -> str:
        """The fragment link `tweetdrip console-url` prints, with extra fragment fields."""
        user = WebAppUser(id=user_id, first_name=first_name)
        url = signed_link(f"{self.base}/app/", user, TOKEN, self.harness.now)
        extra = "".join(f"&{k}={v}" for k, v in fragment.items())
        return url + extra

    async def request(
        self,
        method: str,
        path: str,
        *,
        user: int | None = None,
        init_data: str | None = None,
        headers: dict[str, str] | None = None,
        **kwargs: Any,
    ) -> Reply:
        sent = dict(headers or {})
        if init_data is None and user is not None:
            init_data = self.init_data(user)
        if init_data is not None:
            sent["Authorization"] = f"tma {init_data}"
        async with self.http.request(method, self.base + path, headers=sent, **kwargs) as r:
            return Reply(r.status, r.headers, await r.text())

    async def get(self, path: str, **kwargs: Any) -> Reply:
        return await self.request("GET", path, **kwargs)

    async def post(self, path: str, **kwargs: Any) -> Reply:
        return await self.request("POST", path, **kwargs)


@asynccontextmanager
async def start_console(
    emulator: TelegramEmulator, engine: Engine, **settings: Any
) -> AsyncIterator[ConsoleClient]:
    """The bot (harness) and its console on a free port of 127.0.0.1."""
    values: dict[str, Any] = {"web_port": 0, "web_listen": "127.0.0.1", **settings}
    async with start_harness(emulator, engine, **values) as harness:
        console = Console(harness.app)
        await console.start()
        try:
            async with aiohttp.ClientSession() as http:
                yield ConsoleClient(harness, console, http)
        finally:
            await console.stop()
