"""How the console runs: with `tweetdrip run` (polling or webhook), `console-url`, the sandbox."""

from __future__ import annotations

import asyncio
import datetime as dt
import signal
import socket
from pathlib import Path
from urllib.parse import parse_qsl, urlsplit

import aiohttp
from sqlalchemy.engine import Engine
from sqlmodel import Session
from typer.testing import CliRunner

from bot.app import build_application
from bot.cli import app as cli
from bot.clock import VirtualClock
from bot.console.initdata import WebAppUser, check_init_data, secret_key, sign_init_data
from bot.console.server import for_webhook
from bot.emulator import TelegramEmulator
from bot.sandbox import ADMIN_ID as SANDBOX_ADMIN
from bot.sandbox import Sandbox
from bot.webhook import serve_webhook
from storage.db import make_engine
from storage.migrate import upgrade
from storage.models import Subscription
from tests.harness import START, TOKEN, settings_for
from tests.processes import environment, finish, start
from tests.test_quiz import TRAINEE

DAY = dt.timedelta(days=1)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def me(port: int, init_data: str) -> tuple[int, dict[str, object]]:
    url = f"http://127.0.0.1:{port}/app/api/me"
    headers = {"Authorization": f"tma {init_data}"}
    async with aiohttp.ClientSession() as http, http.get(url, headers=headers) as r:
        return r.status, await r.json()


def signed(user_id: int, at: dt.datetime, name: str = "Ada") -> str:
    return sign_init_data(WebAppUser(user_id, name), TOKEN, at)


# -- webhook mode ----------------------------------------------------------------------------


async def test_the_webhook_server_carries_the_console_on_its_own_port(
    emulator: TelegramEmulator, sqlite_engine: Engine
) -> None:
    port = free_port()
    settings = settings_for(
        emulator,
        sqlite_engine.url.render_as_string(hide_password=False),
        webhook_url=f"http://127.0.0.1:{port}/telegram",
        webhook_listen="127.0.0.1",
        webhook_port=port,
        web_port=port,  # the same port: one server for both
        web_url="https://bot.example.org",
    )
    app = build_application(
        settings, engine=sqlite_engine, clock=VirtualClock(START), start_dispatcher=False
    )
    console = for_webhook(app)
    async with serve_webhook(app, settings, shutdown_timeout=5, extend=console.extend):
        assert await me(port, signed(TRAINEE, START)) == (
            200,
            {"id": TRAINEE, "name": "Ada", "role": "trainee"},
        )
        async with aiohttp.ClientSession() as http:
            async with http.get(f"http://127.0.0.1:{port}/app/") as page:
                assert page.status == 200 and "tweetdrip" in await page.text()
            async with http.get(f"http://127.0.0.1:{port}/healthz") as health:
                assert health.status in (200, 503)  # the webhook's own routes still answer
        assert emulator.menu_button()["web_app"] == {"url": "https://bot.example.org/app/"}
    assert emulator.webhook is not None and emulator.webhook.url.endswith("/telegram")


async def test_in_webhook_mode_the_console_may_listen_on_a_port_of_its_own(
    emulator: TelegramEmulator, sqlite_engine: Engine
) -> None:
    port, console_port = free_port(), free_port()
    settings = settings_for(
        emulator,
        sqlite_engine.url.render_as_string(hide_password=False),
        webhook_url=f"http://127.0.0.1:{port}/telegram",
        webhook_listen="127.0.0.1",
        webhook_port=port,
        web_listen="127.0.0.1",
        web_port=console_port,
    )
    app = build_application(
        settings, engine=sqlite_engine, clock=VirtualClock(START), start_dispatcher=False
    )
    console = for_webhook(app)
    async with serve_webhook(app, settings, shutdown_timeout=5, extend=console.extend):
        assert console.port == console_port
        assert (await me(console_port, signed(TRAINEE, START)))[0] == 200
        url = f"http://127.0.0.1:{port}/app/"
        async with aiohttp.ClientSession() as http, http.get(url) as page:
            assert page.status == 404  # not on the webhook's server
    # Stopped with the webhook server.
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", console_port))


# -- tweetdrip run and console-url -----------------------------------------------------------


async def test_run_serves_the_console_and_sets_the_menu_button(
    emulator: TelegramEmulator, tmp_path: Path
) -> None:
    port = free_port()
    database = f"sqlite:///{tmp_path / 'bot.db'}"
    process = await start(
        "run",
        cwd=tmp_path,
        TELEGRAM_BOT_TOKEN=TOKEN,
        TELEGRAM_API_BASE_URL=emulator.base_url,
        TELEGRAM_API_FILE_URL=emulator.base_file_url,
        DATABASE_URL=database,
        WEB_LISTEN="127.0.0.1",
        WEB_PORT=str(port),
        WEB_URL="https://console.example.org/",
        ADMIN_IDS="4242",
    )
    try:
        status = None
        for _ in range(300):
            try:
                status, body = await me(port, signed(4242, dt.datetime.now(dt.UTC)))
                break
            except aiohttp.ClientConnectionError:
                await asyncio.sleep(0.1)
        assert status == 200 and body["role"] == "admin"
        assert emulator.menu_button()["web_app"] == {"url": "https://console.example.org/app/"}
    finally:
        process.send_signal(signal.SIGTERM)
        finished = await finish(process)
    assert finished.code == 0, finished.output


async def test_run_stops_with_one_line_when_the_console_port_is_taken(
    emulator: TelegramEmulator, tmp_path: Path
) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        process = await start(
            "run",
            cwd=tmp_path,
            TELEGRAM_BOT_TOKEN=TOKEN,
            TELEGRAM_API_BASE_URL=emulator.base_url,
            DATABASE_URL=f"sqlite:///{tmp_path / 'bot.db'}",
            WEB_LISTEN="127.0.0.1",
            WEB_PORT=str(port),
        )
        finished = await finish(process)
    assert finished.code == 1
    assert f"WEB_PORT: cannot listen on 127.0.0.1:{port}" in finished.output
    assert "WEB_PORT=off" in finished.output and "Traceback" not in finished.output


def test_console_url_prints_a_signed_link_with_the_trainees_name(tmp_path: Path) -> None:
    database = f"sqlite:///{tmp_path / 'bot.db'}"
    engine = make_engine(database)
    upgrade(engine)
    with Session(engine) as session:
        session.add(Subscription(chat_id=TRAINEE, user_id=TRAINEE, name="Ada Lovelace"))
        session.commit()
    engine.dispose()
    env = environment(TELEGRAM_BOT_TOKEN=TOKEN, DATABASE_URL=database, WEB_PORT="8181")
    result = CliRunner().invoke(cli, ["console-url", "--user", str(TRAINEE)], env=env)
    assert result.exit_code == 0, result.output
    link = result.stdout.strip()
    assert link.startswith("http://127.0.0.1:8181/app/#tgWebAppData=")
    init_data = dict(parse_qsl(urlsplit(link).fragment))["tgWebAppData"]
    user = check_init_data(init_data, secret_key(TOKEN), dt.datetime.now(dt.UTC), DAY).user
    assert user == WebAppUser(TRAINEE, "Ada Lovelace")
    assert "Valid for 24 hours" in result.stderr and "keep it to yourself" in result.stderr

    public = CliRunner().invoke(
        cli,
        ["console-url", "--user", "99", "--name", "Ben"],
        env={**env, "WEB_URL": "https://bot.example.org"},
    )
    assert public.stdout.startswith("https://bot.example.org/app/#tgWebAppData=")
    off = CliRunner().invoke(cli, ["console-url", "--user", "1"], env={**env, "WEB_PORT": "off"})
    assert off.exit_code == 2 and "WEB_PORT" in off.stderr


# -- the sandbox -----------------------------------------------------------------------------


async def test_the_sandbox_prints_a_console_link_for_whoever_is_typing() -> None:
    shown: list[str] = []
    async with Sandbox(shown.append, start=START) as box:
        assert "Web console, signed in as Ada" in box.banner()
        link = box.console_link()
        assert link is not None
        await box.handle("/start")
        port = int(urlsplit(link).port or 0)
        init_data = dict(parse_qsl(urlsplit(link).fragment))["tgWebAppData"]
        assert (await me(port, init_data))[1]["role"] == "trainee"
        await box.handle("/as admin")
        await box.handle("/console")
        admin_link = shown[-1].split()[-1]
        admin_data = dict(parse_qsl(urlsplit(admin_link).fragment))["tgWebAppData"]
        assert (await me(port, admin_data))[1] == {
            "id": SANDBOX_ADMIN,
            "name": "Ben",
            "role": "admin",
        }
        # Links expire on the sandbox's clock, like Telegram's do; /console makes a new one.
        await box.handle("/tick 2d")
        assert (await me(port, admin_data))[0] == 401
        await box.handle("/console")
        fresh = dict(parse_qsl(urlsplit(shown[-1].split()[-1]).fragment))["tgWebAppData"]
        assert (await me(port, fresh))[0] == 200


def test_the_docs_show_each_page() -> None:
    docs = Path(__file__).resolve().parents[1] / "docs"
    text = (docs / "console.md").read_text(encoding="utf-8")
    for name in (
        "trainee-progress",
        "trainee-reading",
        "trainee-settings",
        "admin-library",
        "admin-thread",
    ):
        assert f"screenshots/{name}.png" in text
        assert (docs / "screenshots" / f"{name}.png").stat().st_size > 5_000
