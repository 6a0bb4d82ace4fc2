"""The bot token never reaches the logs, even where libraries log request URLs."""

from __future__ import annotations

import asyncio
import io
import json
import logging
import signal
import socket
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy.engine import Engine

from bot.app import build_application
from bot.emulator import TelegramEmulator
from bot.logs import (
    RedactingStream,
    configured_secrets,
    redact,
    secret_values,
    setup_logging,
)
from bot.settings import Settings
from bot.webhook import serve_webhook, webhook_secret
from storage.db import make_engine
from storage.migrate import upgrade
from tests.harness import TOKEN, Harness, settings_for
from tests.processes import finish, start, tweetdrip


@pytest.fixture
def token_safe_logging(capfd: pytest.CaptureFixture[str]) -> Iterator[None]:
    root = logging.getLogger()
    saved = root.handlers[:], root.level
    setup_logging("DEBUG", {TOKEN: "<token>"})
    logging.getLogger("httpx").setLevel(logging.DEBUG)  # the worst case: every request URL
    yield
    root.handlers[:], level = saved
    root.setLevel(level)
    logging.getLogger("httpx").setLevel(logging.WARNING)


def test_tokens_are_redacted_from_any_text() -> None:
    assert redact(f"POST https://api.telegram.org/bot{TOKEN}/getMe") == (
        "POST https://api.telegram.org/bot<token>/getMe"
    )
    assert redact("a token we were not told about: 987654321:ABCdefGHIjklMNOpqrSTUvwxYZ012345") == (
        "a token we were not told about: <token>"
    )


async def test_a_whole_session_logs_no_token(
    token_safe_logging: None, harness: Harness, capfd: pytest.CaptureFixture[str]
) -> None:
    await harness.send(77, "/start")
    harness.emulator.faults.add(method="sendMessage", kind="server_error", times=1)
    await harness.send(77, "/help")
    try:
        raise RuntimeError(f"failure while calling {harness.emulator.base_url}{TOKEN}/getMe")
    except RuntimeError:
        logging.getLogger("tweetdrip.test").exception("an error mentioning the URL")
    err = capfd.readouterr().err
    assert "HTTP Request" in err  # httpx did log its request lines...
    assert "<token>" in err  # ...and the token was replaced in them
    assert TOKEN not in err
    assert TOKEN.split(":")[1] not in err


# -- everything a command prints --------------------------------------------------------

# Not shaped like a bot token, so only knowing the configured value can hide it.
ODD_TOKEN = "4242:odd-secret-token"
ODD_PARTS = ("odd-secret-token", "4242:odd")


def _migrated_sqlite(tmp_path: Path) -> str:
    url = f"sqlite:///{tmp_path / 'bot.db'}"
    engine = make_engine(url)
    upgrade(engine)
    engine.dispose()
    return url


def _assert_hidden(text: str, *secrets: str) -> None:
    for secret in secrets:
        assert secret not in text


@pytest.mark.parametrize(("status", "description"), [(401, "Unauthorized"), (404, "Not Found")])
async def test_health_hides_the_token_telegram_rejects(
    emulator: TelegramEmulator, tmp_path: Path, status: int, description: str
) -> None:
    # Telegram answers 401 for a wrong token and 404 for a malformed one; the library's
    # InvalidToken message quotes the token.
    emulator.faults.add("getMe", kind="server_error", status=status, description=description)
    result = await tweetdrip(
        "health",
        cwd=tmp_path,
        TELEGRAM_BOT_TOKEN=ODD_TOKEN,
        TELEGRAM_API_BASE_URL=emulator.base_url,
        DATABASE_URL=_migrated_sqlite(tmp_path),
    )
    assert result.code == 1
    report = json.loads(result.stdout)
    assert report["database"]["ok"]
    assert not report["telegram"]["ok"]
    assert report["telegram"]["detail"] == (
        "InvalidToken: The token `<token>` was rejected by the server."
    )
    _assert_hidden(result.output, ODD_TOKEN, *ODD_PARTS)


async def test_run_hides_the_token_telegram_rejects(
    emulator: TelegramEmulator, tmp_path: Path
) -> None:
    emulator.faults.add("getMe", kind="server_error", status=401, description="Unauthorized")
    result = await tweetdrip(
        "run",
        cwd=tmp_path,
        TELEGRAM_BOT_TOKEN=ODD_TOKEN,
        TELEGRAM_API_BASE_URL=emulator.base_url,
        DATABASE_URL=_migrated_sqlite(tmp_path),
        LOG_LEVEL="DEBUG",
    )
    assert result.code == 2 and "Telegram rejected the token" in result.stderr
    _assert_hidden(result.output, ODD_TOKEN, *ODD_PARTS)


async def test_every_output_path_of_a_command_hides_the_secrets(tmp_path: Path) -> None:
    secrets = {"TELEGRAM_BOT_TOKEN": ODD_TOKEN, "WEBHOOK_SECRET": "odd-webhook-secret"}
    url = _migrated_sqlite(tmp_path)
    # JSON on stdout: the address asked is echoed in the report.
    answer = await tweetdrip(
        "health", "--url", f"http://127.0.0.1:1/{ODD_TOKEN}/odd-webhook-secret",
        cwd=tmp_path, DATABASE_URL=url, **secrets,
    )  # fmt: skip
    assert answer.code == 1 and "<token>" in answer.stdout and "<webhook_secret>" in answer.stdout
    # The command-line parser's error on stderr echoes what it was given.
    refused = await tweetdrip("db", "upgrade", ODD_TOKEN, cwd=tmp_path, DATABASE_URL=url, **secrets)
    assert refused.code == 2 and "<token>" in refused.stderr
    # A database password, in a URL that cannot be opened.
    password = await tweetdrip(
        "db", "upgrade", cwd=tmp_path,
        DATABASE_URL="postgresql://bot:odd-db-password@127.0.0.1:1/bot", **secrets,
    )  # fmt: skip
    assert password.code == 1 and "DATABASE_URL" in password.stderr
    for result in (answer, refused, password):
        _assert_hidden(
            result.output, ODD_TOKEN, *ODD_PARTS, "odd-webhook-secret", "odd-db-password"
        )


# -- the library's DEBUG log of setWebhook ----------------------------------------------


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.mark.parametrize("given", [True, False], ids=["WEBHOOK_SECRET", "derived-secret"])
async def test_debug_logs_of_the_webhook_path_hide_token_and_secret(
    emulator: TelegramEmulator,
    sqlite_engine: Engine,
    capfd: pytest.CaptureFixture[str],
    given: bool,
) -> None:
    port = _free_port()
    settings = settings_for(
        emulator,
        sqlite_engine.url.render_as_string(hide_password=False),
        webhook_url=f"http://127.0.0.1:{port}/telegram",
        webhook_listen="127.0.0.1",
        webhook_port=port,
        webhook_secret="odd-webhook-secret" if given else None,
    )
    secret = webhook_secret(settings)
    root = logging.getLogger()
    saved = root.handlers[:], root.level
    setup_logging("DEBUG", secret_values(settings))
    try:
        app = build_application(settings, engine=sqlite_engine, start_dispatcher=False)
        async with serve_webhook(app, settings, shutdown_timeout=5):
            pass
    finally:
        root.handlers[:], level = saved
        root.setLevel(level)
    err = capfd.readouterr().err
    assert "setWebhook" in err  # the library logged the call and its parameters...
    assert emulator.calls_of("setWebhook")[-1].params["secret_token"] == secret
    _assert_hidden(err, secret, TOKEN, TOKEN.split(":")[1])  # ...with the secrets hidden


async def test_run_webhook_with_debug_logging_prints_no_secret(
    emulator: TelegramEmulator, tmp_path: Path
) -> None:
    port = _free_port()
    process = await start(
        "run", "--webhook", cwd=tmp_path,
        TELEGRAM_BOT_TOKEN=TOKEN, TELEGRAM_API_BASE_URL=emulator.base_url,
        DATABASE_URL=_migrated_sqlite(tmp_path), LOG_LEVEL="DEBUG",
        WEBHOOK_URL=f"http://127.0.0.1:{port}/telegram", WEBHOOK_LISTEN="127.0.0.1",
        WEBHOOK_PORT=str(port), WEBHOOK_SECRET="odd-webhook-secret",
    )  # fmt: skip
    try:
        async with asyncio.timeout(60):
            while not emulator.calls_of("setWebhook"):
                await asyncio.sleep(0.1)
    finally:
        process.send_signal(signal.SIGTERM)
        result = await finish(process)
    assert emulator.calls_of("setWebhook")[-1].params["secret_token"] == "odd-webhook-secret"
    assert "setWebhook" in result.stderr
    _assert_hidden(result.output, "odd-webhook-secret", TOKEN, TOKEN.split(":")[1])


# -- which values are secret ------------------------------------------------------------


def test_every_secret_setting_is_known_even_when_another_setting_is_invalid(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)  # no .env
    monkeypatch.setenv("TELEGRAM_BOT_TOKEN", ODD_TOKEN)
    monkeypatch.setenv("DATABASE_URL", "postgresql://bot:odd-db-password@db/bot")
    monkeypatch.delenv("WEBHOOK_SECRET", raising=False)
    derived = webhook_secret(Settings(_env_file=None))  # type: ignore[call-arg]
    expected = {ODD_TOKEN: "<token>", derived: "<webhook_secret>", "odd-db-password": "<password>"}
    assert configured_secrets() == expected
    monkeypatch.setenv("WEBHOOK_SECRET", "odd-webhook-secret")
    monkeypatch.setenv("ADMIN_IDS", "alice")  # invalid: the secrets are still read
    assert configured_secrets() == {
        ODD_TOKEN: "<token>",
        "odd-webhook-secret": "<webhook_secret>",
        "odd-db-password": "<password>",
    }


def test_a_secret_written_in_pieces_is_still_hidden() -> None:
    target = io.StringIO()
    stream = RedactingStream(target, {"odd-webhook-secret": "<webhook_secret>"})
    stream.write("secret: odd-web")
    assert target.getvalue() == ""  # held until the line is whole
    stream.write("hook-secret, token: 987654321:ABCdefGHIjklMNOpqrSTUvwxYZ012345\nnext")
    assert target.getvalue() == "secret: <webhook_secret>, token: <token>\n"
    stream.flush()  # a prompt, say: written without waiting for its line to end
    assert target.getvalue().endswith("\nnext")
    assert not hasattr(stream, "buffer")  # nothing can write bytes around the filter
