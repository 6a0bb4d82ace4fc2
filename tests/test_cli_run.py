"""`tweetdrip run` explains a missing or rejected token and wrong settings, without a traceback."""

from __future__ import annotations

import asyncio
import os
import sys
from pathlib import Path

from bot.emulator import TelegramEmulator

RUN = [sys.executable, "-c", "from bot.cli import main; main()", "run"]


async def run_bot(tmp_path: Path, **env: str) -> tuple[int, str]:
    environment = {
        k: v for k, v in os.environ.items() if not k.startswith(("TELEGRAM_", "ADMIN_", "DEFAULT_"))
    }
    environment.update(DATABASE_URL=f"sqlite:///{tmp_path / 'bot.db'}", **env)
    process = await asyncio.create_subprocess_exec(
        *RUN,
        cwd=tmp_path,  # no .env here
        env=environment,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    output, _ = await asyncio.wait_for(process.communicate(), 60)
    return process.returncode or 0, output.decode()


async def test_a_missing_token_explains_how_to_get_one(tmp_path: Path) -> None:
    code, output = await run_bot(tmp_path)
    assert code == 2
    assert "@BotFather" in output and "TELEGRAM_BOT_TOKEN" in output
    assert "Traceback" not in output


async def test_a_rejected_token_explains_how_to_get_one(tmp_path: Path) -> None:
    async with TelegramEmulator() as emulator:
        code, output = await run_bot(
            tmp_path,
            TELEGRAM_BOT_TOKEN="not-a-token",
            TELEGRAM_API_BASE_URL=emulator.base_url,
        )
    assert code == 2
    assert "Telegram rejected the token" in output and "@BotFather" in output
    assert "Traceback" not in output
    assert "not-a-token" not in output


async def test_wrong_settings_name_the_variable(tmp_path: Path) -> None:
    code, output = await run_bot(
        tmp_path,
        TELEGRAM_BOT_TOKEN="123456:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
        ADMIN_IDS="alice,bob",
        DEFAULT_TIMEZONE="Mars/Olympus_Mons",
    )
    assert code == 2
    assert "ADMIN_IDS:" in output and "Telegram user ids separated by commas" in output
    assert "DEFAULT_TIMEZONE:" in output and "unknown time zone" in output
    assert "Traceback" not in output
