"""Run Alembic migrations from code: `tweetdrip db upgrade` and the bot's start-up."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy.engine import Engine

MIGRATIONS = Path(__file__).with_name("migrations")


def _config(connection: object) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.attributes["connection"] = connection
    return config


def upgrade(engine: Engine, revision: str = "head") -> None:
    """Bring the database schema up to `revision`."""
    with engine.begin() as connection:
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
