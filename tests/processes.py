"""Run `tweetdrip` commands as an operator would: a separate process, its own environment."""

from __future__ import annotations

import asyncio
import os
import sys
from dataclasses import dataclass
from pathlib import Path

# `tweetdrip ARGS`, through the console script's entry point.
TWEETDRIP = [sys.executable, "-c", "from bot.cli import main; main()"]


@dataclass(frozen=True)
class Finished:
    code: int
    stdout: str
    stderr: str

    @property
    def output(self) -> str:
        return self.stdout + self.stderr


def environment(**env: str) -> dict[str, str]:
    """This environment without tweetdrip's settings, plus `env`."""
    names = ("TELEGRAM_", "ADMIN_", "DEFAULT_", "DATABASE_", "WEBHOOK_", "WEB_", "LOG_")
    clean = {k: v for k, v in os.environ.items() if not k.startswith(names)}
    clean["WEB_PORT"] = "off"  # the web console only where a test asks for it
    clean.update(env)
    return clean


async def start(*args: str, cwd: Path, **env: str) -> asyncio.subprocess.Process:
    """Start `tweetdrip ARGS` in `cwd` (give it a folder without a .env)."""
    return await asyncio.create_subprocess_exec(
        *TWEETDRIP,
        *args,
        cwd=cwd,
        env=environment(**env),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )


async def finish(process: asyncio.subprocess.Process, timeout: float = 60) -> Finished:
    stdout, stderr = await asyncio.wait_for(process.communicate(), timeout)
    code = process.returncode if process.returncode is not None else -1
    return Finished(code, stdout.decode(), stderr.decode())


async def tweetdrip(*args: str, cwd: Path, **env: str) -> Finished:
    """Run `tweetdrip ARGS` to the end."""
    return await finish(await start(*args, cwd=cwd, **env))
