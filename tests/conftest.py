"""Shared fixtures: databases (SQLite always, PostgreSQL when TEST_DATABASE_URL is set),
the Telegram emulator, and a running bot harness with a virtual clock."""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator, Iterator

import pytest
from sqlalchemy import text
from sqlalchemy.engine import Engine

from bot.emulator import TelegramEmulator
from storage.db import make_engine
from storage.migrate import upgrade
from tests.harness import Harness, start_harness

POSTGRES_URL = os.environ.get("TEST_DATABASE_URL")


def _sqlite_url(tmp_path_factory: pytest.TempPathFactory) -> str:
    return f"sqlite:///{tmp_path_factory.mktemp('db') / 'tweetdrip.db'}"


@pytest.fixture
def postgres_url() -> Iterator[str]:
    """A fresh schema on the PostgreSQL test server, dropped afterwards."""
    if not POSTGRES_URL:
        pytest.skip("PostgreSQL tests need TEST_DATABASE_URL (CI sets it)")
    schema = f"t_{uuid.uuid4().hex[:12]}"
    admin = make_engine(POSTGRES_URL)
    with admin.begin() as connection:
        connection.execute(text(f'CREATE SCHEMA "{schema}"'))
    separator = "&" if "?" in POSTGRES_URL else "?"
    try:
        yield f"{POSTGRES_URL}{separator}options=-csearch_path%3D{schema}"
    finally:
        with admin.begin() as connection:
            connection.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> str:
    """A migrated, empty database URL: every storage test runs on both back ends."""
    if request.param == "sqlite":
        url = _sqlite_url(tmp_path_factory)
    else:
        url = request.getfixturevalue("postgres_url")
    engine = make_engine(url)
    upgrade(engine)
    engine.dispose()
    return url


@pytest.fixture
def engine(database_url: str) -> Iterator[Engine]:
    engine = make_engine(database_url)
    yield engine
    engine.dispose()


@pytest.fixture
def sqlite_engine(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Engine]:
    """A migrated SQLite database, for tests that need only one back end."""
    engine = make_engine(_sqlite_url(tmp_path_factory))
    upgrade(engine)
    yield engine
    engine.dispose()


@pytest.fixture
async def emulator() -> AsyncIterator[TelegramEmulator]:
    async with TelegramEmulator() as emu:
        yield emu


@pytest.fixture
async def harness(emulator: TelegramEmulator, sqlite_engine: Engine) -> AsyncIterator[Harness]:
    """The bot running against the emulator on SQLite, with a virtual clock."""
    async with start_harness(emulator, sqlite_engine) as h:
        yield h


@pytest.fixture
async def pg_harness(emulator: TelegramEmulator, engine: Engine) -> AsyncIterator[Harness]:
    """Like `harness`, on SQLite and on PostgreSQL (when TEST_DATABASE_URL is set)."""
    async with start_harness(emulator, engine) as h:
        yield h
