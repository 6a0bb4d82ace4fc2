"""`tweetdrip db backup FILE`: a consistent copy of a live SQLite database.

Copying the file of a running bot is not a backup: with WAL the newest transactions live in
`tweetdrip.db-wal`, and a copy taken mid-write can be torn. SQLite's online backup API copies
the database page by page under its own locking, so the copy is a consistent snapshot even
while the bot keeps writing. PostgreSQL has `pg_dump` for the same job (docs/production.md).
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy.engine import make_url

PAGES_PER_STEP = 1024  # copy in steps so the bot's writers are not held up for long


class BackupError(RuntimeError):
    """The backup could not be made; the message says why in words an operator can act on."""


@dataclass(frozen=True)
class BackupResult:
    source: Path
    target: Path
    size_bytes: int
    tables: int


def sqlite_path(database_url: str) -> Path:
    """The file of a `sqlite:///...` URL; anything else is refused with advice."""
    url = make_url(database_url)
    if url.get_backend_name() != "sqlite":
        raise BackupError(
            f"`tweetdrip db backup` copies SQLite databases; this one is "
            f"{url.get_backend_name()}. Use pg_dump for PostgreSQL (see docs/production.md)."
        )
    if not url.database or url.database == ":memory:":
        raise BackupError("an in-memory database has nothing to back up")
    return Path(url.database).expanduser()


def backup_sqlite(source: Path, target: Path, *, overwrite: bool = False) -> BackupResult:
    """Copy the live database `source` to `target` with SQLite's online backup API."""
    if not source.is_file():
        raise BackupError(f"there is no database at {source}")
    if target.exists() and not overwrite:
        raise BackupError(f"{target} already exists; choose a new name or pass --overwrite")
    if target.resolve() == source.resolve():
        raise BackupError("the backup must go to another file than the database itself")
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_name(target.name + ".partial")
    partial.unlink(missing_ok=True)
    src = sqlite3.connect(source, timeout=30)
    try:
        dst = sqlite3.connect(partial)
        try:
            src.backup(dst, pages=PAGES_PER_STEP)
            # A backup file should stand alone: no -wal beside it to forget when copying it.
            dst.execute("PRAGMA journal_mode=DELETE")
            problem = dst.execute("PRAGMA quick_check").fetchone()[0]
            tables = dst.execute(
                "SELECT count(*) FROM sqlite_master WHERE type = 'table'"
            ).fetchone()[0]
        finally:
            dst.close()
    except sqlite3.Error as exc:
        partial.unlink(missing_ok=True)
        raise BackupError(f"backing up {source} failed: {exc}") from exc
    finally:
        src.close()
    if problem != "ok":
        partial.unlink(missing_ok=True)
        raise BackupError(f"the copy of {source} failed its integrity check: {problem}")
    partial.replace(target)
    return BackupResult(source, target, target.stat().st_size, int(tables))
