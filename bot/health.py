"""Is this bot process able to work? The database answers and Telegram is reachable.

Served as `GET /healthz` in webhook mode (JSON, 200 or 503) and run by `tweetdrip health`,
which the Docker image's HEALTHCHECK calls.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass
from typing import Any

import aiohttp
from sqlalchemy import text
from sqlalchemy.engine import Engine
from sqlalchemy.exc import DBAPIError, SQLAlchemyError
from telegram import Bot
from telegram.error import TelegramError

from bot.logs import TOKEN_PLACEHOLDER, redact
from bot.settings import Settings
from storage.db import DatabaseUnavailable, make_engine, sqlite_file, unavailable_message

CHECK_TIMEOUT_SECONDS = 5.0


@dataclass(frozen=True)
class Check:
    ok: bool
    detail: str
    seconds: float

    def to_json(self) -> dict[str, Any]:
        return {"ok": self.ok, "detail": self.detail, "seconds": round(self.seconds, 3)}


@dataclass(frozen=True)
class HealthReport:
    database: Check
    telegram: Check

    @property
    def ok(self) -> bool:
        return self.database.ok and self.telegram.ok

    def to_json(self) -> dict[str, Any]:
        return {
            "status": "ok" if self.ok else "unavailable",
            "database": self.database.to_json(),
            "telegram": self.telegram.to_json(),
        }


def _ping_database(engine: Engine) -> None:
    with engine.connect() as connection:
        connection.execute(text("SELECT 1"))


async def check_database(engine: Engine, timeout: float = CHECK_TIMEOUT_SECONDS) -> Check:
    """Run `SELECT 1` (in a thread, so a hung database does not hang the event loop)."""
    started = time.monotonic()
    try:
        await asyncio.wait_for(asyncio.to_thread(_ping_database, engine), timeout)
    except TimeoutError:
        return Check(False, f"no answer within {timeout:.0f} s", time.monotonic() - started)
    except DBAPIError as exc:
        return Check(False, unavailable_message(engine, exc), time.monotonic() - started)
    except SQLAlchemyError as exc:
        reason = (str(exc).splitlines() or [""])[0]
        return Check(False, f"{type(exc).__name__}: {reason}", time.monotonic() - started)
    return Check(True, engine.dialect.name, time.monotonic() - started)


async def check_database_url(url: str, timeout: float = CHECK_TIMEOUT_SECONDS) -> Check:
    """Check the database DATABASE_URL names, creating nothing: a missing SQLite file fails."""
    try:
        path = sqlite_file(url)
        if path is not None and not path.is_file():
            return Check(
                False,
                f"DATABASE_URL: no SQLite database at {path} "
                "(`tweetdrip db upgrade` or `tweetdrip run` creates it)",
                0.0,
            )
        engine = make_engine(url)
    except DatabaseUnavailable as exc:
        return Check(False, str(exc), 0.0)
    try:
        return await check_database(engine, timeout)
    finally:
        engine.dispose()


def _telegram_failure(bot: Bot, exc: TelegramError, started: float) -> Check:
    # InvalidToken's message quotes the token: the answer may end up in `docker inspect`.
    detail = redact(f"{type(exc).__name__}: {exc.message}", {bot.token: TOKEN_PLACEHOLDER})
    return Check(False, detail, time.monotonic() - started)


async def check_telegram(bot: Bot, timeout: float = CHECK_TIMEOUT_SECONDS) -> Check:
    """Call getMe: proves the Bot API is reachable and the token is accepted."""
    started = time.monotonic()
    try:
        me = await bot.get_me(
            read_timeout=timeout, connect_timeout=timeout, write_timeout=timeout, pool_timeout=1
        )
    except TelegramError as exc:
        return _telegram_failure(bot, exc, started)
    return Check(True, f"@{me.username}", time.monotonic() - started)


class HealthChecker:
    """Checks, with the Telegram answer cached for `telegram_ttl` seconds.

    The endpoint may be polled often (load balancers, Docker); the database check is cheap,
    but each Telegram check is a request against the bot's budget.
    """

    def __init__(self, engine: Engine, bot: Bot, *, telegram_ttl: float = 15.0) -> None:
        self.engine = engine
        self.bot = bot
        self.telegram_ttl = telegram_ttl
        self._telegram: Check | None = None
        self._telegram_at = 0.0

    async def report(self) -> HealthReport:
        database, telegram = await asyncio.gather(check_database(self.engine), self._cached())
        return HealthReport(database, telegram)

    async def _cached(self) -> Check:
        now = time.monotonic()
        if self._telegram is None or now - self._telegram_at >= self.telegram_ttl:
            self._telegram = await check_telegram(self.bot)
            self._telegram_at = now
        return self._telegram


async def probe(settings: Settings, url: str | None = None) -> tuple[bool, dict[str, Any]]:
    """`tweetdrip health`: ask a running webhook process, or check directly (polling mode).

    In webhook mode the running process's own /healthz answers, which also proves that the
    process is up; with long polling there is no server to ask, so the checks run here.
    """
    if url is None and settings.webhook_url:
        url = f"http://127.0.0.1:{settings.webhook_port}/healthz"
    if url is not None:
        timeout = aiohttp.ClientTimeout(total=2 * CHECK_TIMEOUT_SECONDS)
        try:
            async with aiohttp.ClientSession(timeout=timeout) as http, http.get(url) as response:
                body = await response.json(content_type=None)
                return response.status == 200, body
        except (aiohttp.ClientError, TimeoutError, ValueError) as exc:
            return False, {"status": "unavailable", "detail": f"{url}: {exc!r}"}
    database, telegram = await asyncio.gather(
        check_database_url(settings.database_url), _check_new_bot(settings)
    )
    report = HealthReport(database, telegram)
    return report.ok, report.to_json()


async def _check_new_bot(settings: Settings) -> Check:
    token = settings.telegram_bot_token.get_secret_value() if settings.telegram_bot_token else ""
    if not token:
        return Check(False, "TELEGRAM_BOT_TOKEN is not set", 0.0)
    bot = Bot(token, base_url=settings.telegram_api_base_url or "https://api.telegram.org/bot")
    started = time.monotonic()
    try:
        async with bot:  # initialize() calls getMe, as check_telegram does
            return await check_telegram(bot)
    except TelegramError as exc:
        return _telegram_failure(bot, exc, started)
