"""Where the console lives: its address, signed links to it, and the bot's menu button."""

from __future__ import annotations

import datetime as dt
import logging
from urllib.parse import quote, urlencode

from telegram import Bot, MenuButtonDefault, MenuButtonWebApp, WebAppInfo
from telegram.error import TelegramError

from bot.console.initdata import WebAppUser, sign_init_data
from bot.settings import Settings

log = logging.getLogger(__name__)

APP_PATH = "/app/"
MENU_BUTTON_TEXT = "Open tweetdrip"


class ConsoleOff(RuntimeError):
    """The console has no address: WEB_URL is unset and WEB_PORT is off."""


def console_address(settings: Settings, port: int | None = None) -> str:
    """WEB_URL's /app/, or the local server's (http://127.0.0.1:WEB_PORT/app/)."""
    if settings.web_url:
        base = settings.web_url.rstrip("/")
        return base + "/" if base.endswith("/app") else base + APP_PATH
    port = port or settings.web_port
    if not port:
        raise ConsoleOff(
            "the console is off (WEB_PORT=off) and WEB_URL is not set: there is no address "
            "to link to"
        )
    return f"http://127.0.0.1:{port}{APP_PATH}"


def signed_link(address: str, user: WebAppUser, token: str, now: dt.datetime) -> str:
    """The console's address with init data for `user` in the fragment, as Telegram opens it.

    Whoever has the link is `user` until WEB_AUTH_MAX_AGE_SECONDS have passed.
    """
    init_data = sign_init_data(user, token, now)
    return f"{address}#{urlencode({'tgWebAppData': init_data}, quote_via=quote)}"


async def sync_menu_button(bot: Bot, settings: Settings) -> None:
    """With WEB_URL, every private chat's menu button opens the console; without, a button
    left from an earlier run goes back to the command list. A refusal is logged, not fatal."""
    try:
        if settings.web_url:
            # The default button of all private chats: one call, rather than one per trainee.
            button = MenuButtonWebApp(MENU_BUTTON_TEXT, WebAppInfo(console_address(settings)))
            await bot.set_chat_menu_button(menu_button=button)
            log.info("the menu button opens the console at %s", console_address(settings))
        elif isinstance(await bot.get_chat_menu_button(), MenuButtonWebApp):
            await bot.set_chat_menu_button(menu_button=MenuButtonDefault())
            log.info("WEB_URL is not set: the menu button shows the commands again")
    except TelegramError as exc:
        log.warning("could not set the menu button: %s", exc)


def operator_link(settings: Settings, user_id: int, name: str | None = None) -> str:
    """`tweetdrip console-url`: a link signed in as `user_id`, named as they subscribed
    (looked up in the database if there is one; none is created)."""
    from sqlalchemy.exc import SQLAlchemyError

    from bot.console.data import stored_name
    from storage.db import make_engine, session_scope, sqlite_file

    address = console_address(settings)
    database_file = sqlite_file(settings.database_url)
    if name is None and (database_file is None or database_file.exists()):
        engine = make_engine(settings.database_url)
        try:
            with session_scope(engine) as session:
                name = stored_name(session, user_id)
        except SQLAlchemyError:
            name = None  # a database without tables yet: the link works all the same
        finally:
            engine.dispose()
    assert settings.telegram_bot_token is not None
    user = WebAppUser(id=user_id, first_name=name or f"User {user_id}")
    token = settings.telegram_bot_token.get_secret_value()
    return signed_link(address, user, token, dt.datetime.now(dt.UTC))
