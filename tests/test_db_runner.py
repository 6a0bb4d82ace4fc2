"""The database runner: work off the event loop, retried while another process holds a lock."""

from __future__ import annotations

import asyncio
import threading

import pytest
from sqlalchemy import insert, text
from sqlalchemy.engine import Connection, Engine
from sqlmodel import Session

from storage.db import make_engine
from storage.models import Admin
from storage.runner import Database, DatabaseBusy


def _grant(session: Session, user_id: int) -> int:
    session.add(Admin(user_id=user_id))
    return user_id


def _hold_write_lock(engine: Engine, release: threading.Event, held: threading.Event) -> None:
    """Another process's long write: holds the database's write lock until `release`."""
    with engine.connect() as connection:
        if engine.dialect.name == "sqlite":
            connection.exec_driver_sql("BEGIN IMMEDIATE")
        else:
            connection.execute(text("LOCK TABLE admin IN ACCESS EXCLUSIVE MODE"))
        held.set()
        release.wait(10)
        connection.rollback()


def _with_short_lock_timeout(session: Session, user_id: int) -> int:
    if session.get_bind().dialect.name == "postgresql":
        session.execute(text("SET LOCAL lock_timeout = '100ms'"))
    return _grant(session, user_id)


async def test_a_locked_database_does_not_hold_up_the_event_loop_and_the_work_is_done_after(
    database_url: str,
) -> None:
    engine = make_engine(database_url)
    other = make_engine(database_url)
    release, held = threading.Event(), threading.Event()
    locker = threading.Thread(target=_hold_write_lock, args=(other, release, held))
    locker.start()
    held.wait(5)
    database = Database(engine, busy_seconds=10)
    try:
        work = asyncio.ensure_future(database.run(_with_short_lock_timeout, 7))
        ticks = 0
        for _ in range(20):  # the loop goes on serving others while the work waits
            await asyncio.sleep(0.02)
            ticks += 1
        assert not work.done() and ticks == 20
        release.set()
        assert await work == 7
        with Session(engine) as session:
            assert session.get(Admin, 7) is not None
    finally:
        release.set()
        locker.join()
        database.close()
        engine.dispose()
        other.dispose()


async def test_work_that_stays_locked_ends_in_database_busy_and_writes_nothing(
    database_url: str,
) -> None:
    engine = make_engine(database_url)
    other = make_engine(database_url)
    release, held = threading.Event(), threading.Event()
    locker = threading.Thread(target=_hold_write_lock, args=(other, release, held))
    locker.start()
    held.wait(5)
    database = Database(engine, busy_seconds=0.5)
    try:
        with pytest.raises(DatabaseBusy):
            await database.run(_with_short_lock_timeout, 8)
    finally:
        release.set()
        locker.join()
        database.close()
    with Session(engine) as session:
        assert session.get(Admin, 8) is None
    engine.dispose()
    other.dispose()


async def test_a_fault_that_is_not_a_lock_is_raised_at_once(database_url: str) -> None:
    engine = make_engine(database_url)
    database = Database(engine, busy_seconds=30)

    def broken(session: Session) -> None:
        session.execute(text("SELECT * FROM no_such_table"))

    try:
        with pytest.raises(Exception, match="no_such_table"):
            await asyncio.wait_for(database.run(broken), 5)
    finally:
        database.close()
        engine.dispose()


async def test_work_on_a_bare_connection_is_retried_while_locked_too(database_url: str) -> None:
    engine = make_engine(database_url)
    other = make_engine(database_url)
    release, held = threading.Event(), threading.Event()
    locker = threading.Thread(target=_hold_write_lock, args=(other, release, held))
    locker.start()
    held.wait(5)
    database = Database(engine, busy_seconds=10)

    def grant(connection: Connection, user_id: int) -> int:
        if connection.dialect.name == "postgresql":
            connection.execute(text("SET LOCAL lock_timeout = '100ms'"))
        connection.execute(insert(Admin).values(user_id=user_id))
        return user_id

    try:
        work = asyncio.ensure_future(database.run_in_connection(grant, 9))
        await asyncio.sleep(0.3)
        assert not work.done()
        release.set()
        assert await work == 9
        with Session(engine) as session:
            assert session.get(Admin, 9) is not None
    finally:
        release.set()
        locker.join()
        database.close()
        engine.dispose()
        other.dispose()
