"""The schema comes from Alembic migrations, and they match the models."""

from __future__ import annotations

import multiprocessing
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import inspect, text
from sqlalchemy.engine import Engine
from sqlmodel import SQLModel

from storage.db import make_engine
from storage.migrate import current_revision, head_revision, upgrade
from tests.conftest import POSTGRES_URL


def test_migrations_create_every_table_the_models_define(engine: Engine) -> None:
    tables = set(inspect(engine).get_table_names())
    assert set(SQLModel.metadata.tables) <= tables
    assert current_revision(engine) == head_revision()


def test_models_and_migrations_agree(engine: Engine) -> None:
    with engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        differences = compare_metadata(context, SQLModel.metadata)
    assert differences == []


# -- several processes migrating one database at once -----------------------------------

ROUNDS = 5


def _migrate_rounds(urls: list[str], barrier: Any, results: Any) -> None:
    """In a child process: for each URL, wait for the other process, then migrate."""
    for url in urls:
        engine = make_engine(url)
        try:
            with engine.connect():
                pass  # connected before the barrier, so both start migrating together
            barrier.wait(timeout=60)
            upgrade(engine)
            results.put((url, "ok"))
        except Exception as exc:
            results.put((url, f"{type(exc).__name__}: {str(exc).splitlines()[0]}"))
        finally:
            engine.dispose()


@contextmanager
def fresh_schemas(count: int) -> Iterator[list[str]]:
    """`count` empty PostgreSQL schemas on the test server, dropped afterwards."""
    if not POSTGRES_URL:
        pytest.skip("PostgreSQL tests need TEST_DATABASE_URL (CI sets it)")
    names = [f"t_{uuid.uuid4().hex[:12]}" for _ in range(count)]
    admin = make_engine(POSTGRES_URL)
    with admin.begin() as connection:
        for name in names:
            connection.execute(text(f'CREATE SCHEMA "{name}"'))
    separator = "&" if "?" in POSTGRES_URL else "?"
    try:
        yield [f"{POSTGRES_URL}{separator}options=-csearch_path%3D{name}" for name in names]
    finally:
        with admin.begin() as connection:
            for name in names:
                connection.execute(text(f'DROP SCHEMA "{name}" CASCADE'))
        admin.dispose()


def test_two_processes_migrating_an_empty_postgresql_database_at_once_both_succeed() -> None:
    spawn = multiprocessing.get_context("spawn")
    with fresh_schemas(ROUNDS) as urls:
        barrier, results = spawn.Barrier(2), spawn.Queue()
        workers = [
            spawn.Process(target=_migrate_rounds, args=(urls, barrier, results)) for _ in range(2)
        ]
        for worker in workers:
            worker.start()
        outcomes = [results.get(timeout=120) for _ in range(2 * ROUNDS)]
        for worker in workers:
            worker.join(timeout=60)
        failures = [outcome for outcome in outcomes if outcome[1] != "ok"]
        assert failures == []
        for url in urls:
            engine = make_engine(url)
            assert current_revision(engine) == head_revision()
            assert set(SQLModel.metadata.tables) <= set(inspect(engine).get_table_names())
            engine.dispose()
