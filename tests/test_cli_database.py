"""A database that cannot be opened is one line naming DATABASE_URL, never a traceback."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

from bot.cli import app as cli

PASSWORD = "odd-db-password"

UNOPENABLE = {
    # /proc takes no new files, even from root: a folder this process may not write to.
    "read-only folder": (
        "sqlite:////proc/tweetdrip.db",
        "DATABASE_URL: cannot open sqlite:////proc/tweetdrip.db: unable to open database file",
    ),
    "folder that cannot be made": (
        "sqlite:////proc/tweetdrip/bot.db",
        "DATABASE_URL: cannot create the folder /proc/tweetdrip for the SQLite database",
    ),
    "MySQL": (
        f"mysql://bot:{PASSWORD}@127.0.0.1/bot",
        "DATABASE_URL names a mysql database, which tweetdrip does not support",
    ),
    "PostgreSQL unreachable": (
        f"postgresql://bot:{PASSWORD}@127.0.0.1:1/bot",
        "DATABASE_URL: cannot open postgresql://bot:***@127.0.0.1:1/bot: connection failed",
    ),
    "not a URL": (f"bot:{PASSWORD}@db.example.org", "DATABASE_URL is not a database URL"),
    "bad port": (
        f"postgresql://bot:{PASSWORD}@127.0.0.1:pgport/bot",
        "DATABASE_URL is not a database URL",
    ),
}

# Every command that opens the database (backups read the file directly: see test_docker).
COMMANDS = {
    "run": ["run"],
    "db upgrade": ["db", "upgrade"],
    "stats": ["stats"],
    "schedule list": ["schedule", "list"],
    "export progress": ["export", "progress"],
}


@pytest.fixture
def operator_shell(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A folder without .env, a token for no server, and the root logger put back after."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("TELEGRAM_BOT_TOKEN", "123456:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA")
    monkeypatch.setenv("TELEGRAM_API_BASE_URL", "http://127.0.0.1:1/bot")  # nothing listens
    root = logging.getLogger()
    saved = root.handlers[:], root.level
    yield tmp_path
    root.handlers[:], level = saved
    root.setLevel(level)


@pytest.mark.parametrize("command", COMMANDS.values(), ids=COMMANDS.keys())
@pytest.mark.parametrize(("url", "expected"), UNOPENABLE.values(), ids=UNOPENABLE.keys())
def test_an_unopenable_database_is_one_line_naming_database_url(
    operator_shell: Path,
    monkeypatch: pytest.MonkeyPatch,
    command: list[str],
    url: str,
    expected: str,
) -> None:
    monkeypatch.setenv("DATABASE_URL", url)
    result = CliRunner().invoke(cli, command)
    assert result.exit_code == 1
    assert result.exception is None or isinstance(result.exception, SystemExit)
    assert result.stdout == ""
    [line] = result.stderr.splitlines()
    assert line.startswith(expected)
    assert PASSWORD not in result.output


@pytest.mark.parametrize(("url", "expected"), UNOPENABLE.values(), ids=UNOPENABLE.keys())
def test_health_names_database_url_when_the_database_cannot_be_opened(
    operator_shell: Path, monkeypatch: pytest.MonkeyPatch, url: str, expected: str
) -> None:
    monkeypatch.setenv("DATABASE_URL", url)
    result = CliRunner().invoke(cli, ["health"])
    assert result.exit_code == 1
    database = json.loads(result.stdout)["database"]
    assert not database["ok"]
    if url.startswith("sqlite"):  # health creates nothing: a file that is not there is missing
        expected = f"DATABASE_URL: no SQLite database at {url.removeprefix('sqlite:///')}"
    assert database["detail"].startswith(expected)
    assert "\n" not in database["detail"]
    assert PASSWORD not in result.output


def test_health_reports_a_missing_sqlite_database_and_does_not_create_it(
    operator_shell: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    missing = operator_shell / "data" / "tweetdrip.db"
    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{missing}")
    result = CliRunner().invoke(cli, ["health"])
    assert result.exit_code == 1
    report = json.loads(result.stdout)
    assert report["status"] == "unavailable"
    assert report["database"] == {
        "ok": False,
        "detail": f"DATABASE_URL: no SQLite database at {missing} "
        "(`tweetdrip db upgrade` or `tweetdrip run` creates it)",
        "seconds": 0.0,
    }
    assert not missing.exists() and not missing.parent.exists()
    # Once created, it is there.
    assert CliRunner().invoke(cli, ["db", "upgrade"]).exit_code == 0
    report = json.loads(CliRunner().invoke(cli, ["health"]).stdout)
    assert report["database"]["ok"]
