"""Database work off the event loop: each unit of work runs in a worker thread.

A handler or job that touches the database awaits `Database.run(fn, ...)`: `fn(session, ...)`
runs in one transaction in a worker thread, so a slow or locked database holds up only the
chat that is waiting for it, never the event loop and every other chat with it. When the
database is busy (SQLite's write lock held by another process, a PostgreSQL lock or
serialization conflict) the whole unit of work is rolled back and run again with backoff,
for at most `busy_seconds`; after that `DatabaseBusy` says so, and the caller answers the
person instead of dropping their request.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from contextlib import AbstractContextManager
from functools import partial
from typing import Any, Concatenate, ParamSpec, TypeVar

from sqlalchemy.engine import Connection, Engine
from sqlalchemy.exc import DBAPIError
from sqlmodel import Session

from storage.db import session_scope

log = logging.getLogger(__name__)

P = ParamSpec("P")
T = TypeVar("T")

WORKER_THREADS = 8
BUSY_SECONDS = 20.0  # how long a unit of work keeps trying while the database is busy
FIRST_BACKOFF = 0.05
MAX_BACKOFF = 1.0

# PostgreSQL: serialization_failure, deadlock_detected, lock_not_available.
_BUSY_SQLSTATES = {"40001", "40P01", "55P03"}
_BUSY_SQLITE = ("database is locked", "database table is locked", "database is busy")


class DatabaseBusy(Exception):
    """The database stayed busy (locked by other work) longer than a person should wait."""


def is_busy(exc: BaseException) -> bool:
    """Whether `exc` means "busy, try again" rather than a fault or an outage."""
    if not isinstance(exc, DBAPIError):
        return False
    original = exc.orig
    if getattr(original, "sqlstate", None) in _BUSY_SQLSTATES:
        return True
    message = str(original).lower()
    return any(text in message for text in _BUSY_SQLITE)


class Database:
    """Run units of work in worker threads, each in its own transaction, retried while busy."""

    def __init__(
        self,
        engine: Engine,
        *,
        threads: int = WORKER_THREADS,
        busy_seconds: float = BUSY_SECONDS,
    ) -> None:
        self.engine = engine
        self.busy_seconds = busy_seconds
        self._executor = ThreadPoolExecutor(max_workers=threads, thread_name_prefix="db")

    async def run(
        self, fn: Callable[Concatenate[Session, P], T], *args: P.args, **kwargs: P.kwargs
    ) -> T:
        """Run `fn(session, *args, **kwargs)` in a worker thread and return its result."""
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(
            self._executor, partial(self.run_sync, fn, *args, **kwargs)
        )

    async def run_in_connection(
        self, fn: Callable[Concatenate[Connection, P], T], *args: P.args, **kwargs: P.kwargs
    ) -> T:
        """`run` for hot paths that use no ORM: `fn(connection, ...)` in one transaction,
        without a session's bookkeeping."""
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(
            self._executor, partial(self._retried, self.engine.begin, fn, *args, **kwargs)
        )

    def run_sync(
        self, fn: Callable[Concatenate[Session, P], T], *args: P.args, **kwargs: P.kwargs
    ) -> T:
        """The same unit of work in the calling thread (the CLI, and code already off the loop)."""
        return self._retried(partial(session_scope, self.engine), fn, *args, **kwargs)

    def _retried(
        self,
        transaction: Callable[[], AbstractContextManager[Any]],
        fn: Callable[..., T],
        *args: Any,
        **kwargs: Any,
    ) -> T:
        deadline = time.monotonic() + self.busy_seconds
        backoff = FIRST_BACKOFF
        while True:
            try:
                with transaction() as scope:
                    return fn(scope, *args, **kwargs)
            except DBAPIError as exc:
                if not is_busy(exc):
                    raise
                if time.monotonic() + backoff > deadline:
                    log.warning("the database stayed busy for %.0f s; giving up", self.busy_seconds)
                    raise DatabaseBusy from exc
                time.sleep(backoff)
                backoff = min(backoff * 2, MAX_BACKOFF)

    def close(self) -> None:
        """Let the work under way finish and stop the worker threads."""
        self._executor.shutdown(wait=True)
