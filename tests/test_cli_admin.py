"""Operators do the admin work from a shell: `tweetdrip schedule`, `stats`, `export`."""

from __future__ import annotations

import asyncio
import csv
import datetime as dt
import io
import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy.engine import Engine
from sqlmodel import select
from typer.testing import CliRunner, Result

from bot.cli import app
from bot.commands import ADMIN_COMMANDS
from bot.emulator import TelegramEmulator
from storage.db import make_engine, session_scope
from storage.migrate import upgrade
from storage.models import PlanKind, Subscription, SubscriptionKind, SubscriptionStatus
from tests.harness import TOKEN
from tests.test_admin_stats import seed_activity

DOCS = Path(__file__).resolve().parents[1] / "docs" / "admin.md"
FUTURE = "2099-01-06"


@pytest.fixture
def database(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Engine]:
    """A fresh database named by DATABASE_URL, with no bot token and no .env around."""
    monkeypatch.chdir(tmp_path)  # away from any .env file
    for name in ("TELEGRAM_BOT_TOKEN", "TELEGRAM_API_BASE_URL", "TELEGRAM_API_FILE_URL"):
        monkeypatch.delenv(name, raising=False)
    url = f"sqlite:///{tmp_path / 'tweetdrip.db'}"
    monkeypatch.setenv("DATABASE_URL", url)
    engine = make_engine(url)
    upgrade(engine)
    yield engine
    engine.dispose()


def run(*args: str, env: dict[str, str] | None = None) -> Result:
    return CliRunner().invoke(app, list(args), env=env)


def stored(engine: Engine) -> list[Subscription]:
    with session_scope(engine) as session:
        return list(session.exec(select(Subscription)).all())


def test_schedule_add_list_and_remove(database: Engine) -> None:
    added = run(
        "schedule", "add", "brocas-area", "-1001000", FUTURE, "07:45", "Europe/Paris", "2",
        "--kind", "group", "--by", "4242",
    )  # fmt: skip
    assert added.exit_code == 0, added.output
    assert "Scheduled #1: Finding Broca's area (thread) into -1001000 (group)" in added.output
    assert "Not checked with Telegram" in added.output
    (sub,) = stored(database)
    assert (sub.kind, sub.chat_id, sub.plan_kind, sub.plan_id, sub.status) == (
        SubscriptionKind.group,
        -1001000,
        PlanKind.thread,
        "brocas-area",
        SubscriptionStatus.active,
    )
    assert (sub.timezone, sub.delivery_time, sub.pace, sub.created_by) == (
        "Europe/Paris",
        "07:45",
        2,
        4242,
    )
    assert sub.next_due_at == dt.datetime(2099, 1, 6, 6, 45, tzinfo=dt.UTC)

    listed = run("schedule", "list")
    assert listed.exit_code == 0
    assert "#1 brocas-area (thread) → -1001000 (group)" in listed.output
    assert "next Tue 06 Jan 2099 07:45" in listed.output

    removed = run("schedule", "remove", "1")
    assert removed.exit_code == 0 and "Removed schedule #1" in removed.output
    assert stored(database) == []
    again = run("schedule", "remove", "1")
    assert again.exit_code == 1 and "There is no schedule #1" in again.output
    assert "Nothing is scheduled" in run("schedule", "list").output


@pytest.mark.parametrize(
    ("args", "hint"),
    [
        (["brocas-area", "-1001000", "2099-13-01", "08:00", "--kind", "group"], "YYYY-MM-DD"),
        (["brocas-area", "-1001000", FUTURE, "08:00", "Mars/Base", "--kind", "group"], "zone"),
        (["no-such-thread", "-1001000", FUTURE, "08:00", "--kind", "group"], "don't know"),
        (["brocas-area", "-1001000", "2001-01-01", "08:00", "--kind", "group"], "in the past"),
        (["brocas-area", "@neurodaily", FUTURE, "08:00", "--kind", "channel"], "numeric id"),
        (["brocas-area", "-1001000", FUTURE, "08:00"], "--kind group or --kind channel"),
    ],
)
def test_schedule_add_validates_everything_without_telegram(
    database: Engine, args: list[str], hint: str
) -> None:
    result = run("schedule", "add", *args)
    assert result.exit_code == 1
    assert hint in result.output
    assert stored(database) == []


async def test_schedule_add_asks_telegram_when_a_token_is_configured(
    database: Engine, emulator: TelegramEmulator
) -> None:
    emulator.add_chat(-1001000, "supergroup", "Journal club", bot_status="member")
    emulator.add_chat(-1002000, "channel", "Neuro daily", username="neurodaily")
    env = {"TELEGRAM_BOT_TOKEN": TOKEN, "TELEGRAM_API_BASE_URL": emulator.base_url}

    # The emulator serves on this loop while the command runs its own in a thread.
    refused = await asyncio.to_thread(
        run, "schedule", "add", "brocas-area", "-1001000", FUTURE, "08:00", env=env
    )
    assert refused.exit_code == 1 and "not an admin" in refused.output
    assert stored(database) == []

    accepted = await asyncio.to_thread(
        run, "schedule", "add", "csf-leaks", "@neurodaily", FUTURE, "08:00", env=env
    )
    assert accepted.exit_code == 0, accepted.output
    assert "into Neuro daily (channel)" in accepted.output and "anonymous" in accepted.output
    (sub,) = stored(database)
    assert (sub.kind, sub.chat_id, sub.name) == (SubscriptionKind.channel, -1002000, "Neuro daily")


def test_stats_prints_a_text_table(database: Engine) -> None:
    seed_activity(database, dt.datetime.now(dt.UTC))
    result = run("stats")
    assert result.exit_code == 0
    assert re.search(r"active\s+3\n", result.output)
    assert "Deliveries, last 7 days: 8 messages in 2 installments" in result.output
    assert re.search(r"33%\s+1/3\s+brocas-area q1", result.output)


def test_export_progress_writes_csv_to_stdout_or_a_file(database: Engine, tmp_path: Path) -> None:
    seed_activity(database, dt.datetime.now(dt.UTC))
    result = run("export", "progress", "--format", "csv")
    assert result.exit_code == 0
    rows = list(csv.DictReader(io.StringIO(result.stdout)))
    assert [r["user_id"] for r in rows] == ["601", "602", "603"]
    first = rows[0]
    assert (first["name"], first["thread"], first["posts_delivered"]) == (
        "Trainee 601",
        "brocas-area",
        "3",
    )
    assert (first["questions_answered"], first["accuracy"]) == ("2", "1.000")
    assert dt.datetime.fromisoformat(first["last_activity"]).tzinfo is not None

    target = tmp_path / "progress.csv"
    written = run("export", "progress", "--output", str(target))
    assert written.exit_code == 0
    assert "wrote 3 rows" in written.output
    assert target.read_text(encoding="utf-8") == result.stdout


def test_every_admin_command_and_cli_command_is_documented() -> None:
    docs = DOCS.read_text(encoding="utf-8")
    for command in ADMIN_COMMANDS:
        assert f"/{command.name}" in docs, command.name
    for cli in ("schedule add", "schedule list", "schedule remove", "stats", "export progress"):
        assert f"tweetdrip {cli}" in docs, cli
    for setting in ("ADMIN_IDS", "BROADCAST_PROGRESS_EVERY", "BROADCAST_CONCURRENCY"):
        assert setting in docs, setting
