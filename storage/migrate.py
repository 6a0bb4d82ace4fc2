"""Run Alembic migrations from code: `tweetdrip db upgrade` and the bot's start-up."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import text
from sqlalchemy.engine import Engine

from storage.db import connect

MIGRATIONS = Path(__file__).with_name("migrations")
# The key of the PostgreSQL advisory lock held while migrating (any fixed 64-bit number that
# nothing else in the database uses; this one spells "tweetdrp" in ASCII).
MIGRATION_LOCK_KEY = 0x7477656574647270


def _config(connection: object) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.attributes["connection"] = connection
    return config


def upgrade(engine: Engine, revision: str = "head") -> None:
    """Bring the database schema up to `revision`.

    On PostgreSQL, processes starting together (several replicas, or `db upgrade` beside
    `run`) take turns: each holds an advisory lock for its migration's transaction, so the
    second waits, then finds the schema at `revision` and has nothing to do. Without it both
    create the same tables and one fails. A database that cannot be opened raises
    DatabaseUnavailable.
    """
    with connect(engine) as connection, connection.begin():
        if connection.dialect.name == "postgresql":
            # Released by the commit (or rollback) that ends the migration's transaction.
            lock = text("SELECT pg_advisory_xact_lock(:key)")
            connection.execute(lock, {"key": MIGRATION_LOCK_KEY})
        command.upgrade(_config(connection), revision)


def current_revision(engine: Engine) -> str | None:
    with engine.connect() as connection:
        return MigrationContext.configure(connection).get_current_revision()


def head_revision() -> str | None:
    return ScriptDirectory.from_config(_config(None)).get_current_head()


def autogenerate(engine: Engine, message: str) -> None:
    """Write a new migration from the difference between models and database (developers)."""
    with engine.begin() as connection:
        command.revision(_config(connection), message=message, autogenerate=True)
