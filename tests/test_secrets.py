"""The bot token never reaches the logs, even where libraries log request URLs."""

from __future__ import annotations

import logging
from collections.abc import Iterator

import pytest

from bot.logs import redact, setup_logging
from tests.harness import TOKEN, Harness


@pytest.fixture
def token_safe_logging(capfd: pytest.CaptureFixture[str]) -> Iterator[None]:
    root = logging.getLogger()
    saved = root.handlers[:], root.level
    setup_logging("DEBUG", TOKEN)
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
