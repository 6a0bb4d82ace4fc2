"""Database outages in the log: one line when one starts, one when it ends, none between.

Repeating work (the dispatcher every few seconds, the other jobs, every update) fails the
same way for as long as the database is unreachable; a traceback for each attempt would
bury everything else in the log.
"""

from __future__ import annotations

import logging
import time

from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout

log = logging.getLogger(__name__)


def database_unavailable(error: BaseException) -> bool:
    """Whether `error` says the database could not be reached or used just now (a server
    down, a file that cannot be opened, a lock held too long), rather than a bug."""
    if isinstance(error, OperationalError | InterfaceError | PoolTimeout):
        return True
    return isinstance(error, DBAPIError) and error.connection_invalidated


class OutageTracker:
    """Count the attempts that failed because the database is unavailable; log the first
    of an outage and, at the next attempt that succeeds, its end with the count."""

    def __init__(self) -> None:
        self.failures = 0
        self._started = 0.0

    def failed(self, error: BaseException, what: str) -> None:
        """Note that `what` (the dispatcher, a job, an update) failed for want of the database."""
        if self.failures == 0:
            self._started = time.monotonic()
            log.error(
                "database unavailable (%s failed: %s); retrying, quietly until it answers",
                what,
                _summary(error),
            )
        self.failures += 1

    def succeeded(self) -> None:
        """Note an attempt that used the database and succeeded."""
        if self.failures:
            log.warning(
                "database available again: the outage ended after %d failed attempts (%.0f s)",
                self.failures,
                time.monotonic() - self._started,
            )
            self.failures = 0


def _summary(error: BaseException) -> str:
    """The driver's own message, first line only: SQLAlchemy's text adds the statement and
    its parameters, which may hold people's data."""
    cause = error.orig if isinstance(error, DBAPIError) and error.orig is not None else error
    lines = str(cause).strip().splitlines() or [type(cause).__name__]
    return lines[0][:300]
