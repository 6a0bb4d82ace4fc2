"""One engine per process, one short session per unit of work."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import any_, bindparam, event
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.engine import URL, Connection, Engine, make_url
from sqlalchemy.exc import ArgumentError, DBAPIError, NoSuchModuleError
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.expression import ColumnElement
from sqlalchemy.sql.visitors import InternalTraversal, _TraverseInternalsType
from sqlalchemy.types import Boolean
from sqlmodel import Session, create_engine

SQLITE_BUSY_TIMEOUT_MS = 5000
# An unreachable PostgreSQL host fails in this many seconds, not after the system's TCP
# timeout (minutes); the URL can set its own (?connect_timeout=...).
POSTGRES_CONNECT_TIMEOUT_SECONDS = 10
SUPPORTED = "use sqlite:///path/to/tweetdrip.db or postgresql://user:password@host/database"


class DatabaseUnavailable(Exception):
    """DATABASE_URL names a database that cannot be used; the message says why in one line.

    The message never contains the password.
    """


def parse_url(url: str) -> URL:
    """Parse DATABASE_URL, or say in one line (without the URL: it may hold a password) why not."""
    try:
        parsed = make_url(url)
    except (ArgumentError, ValueError):
        raise DatabaseUnavailable(f"DATABASE_URL is not a database URL; {SUPPORTED}") from None
    backend = parsed.get_backend_name()
    if backend not in ("sqlite", "postgresql", "postgres"):
        raise DatabaseUnavailable(
            f"DATABASE_URL names a {backend} database, which tweetdrip does not support; "
            f"{SUPPORTED}"
        )
    return parsed


def safe_url(url: str | URL) -> str:
    """The URL as it may be shown: the password replaced by ***."""
    return (url if isinstance(url, URL) else parse_url(url)).render_as_string(hide_password=True)


def sqlite_file(url: str) -> Path | None:
    """The file of a file-backed SQLite URL; None for PostgreSQL and in-memory databases."""
    parsed = parse_url(url)
    database = parsed.database
    if parsed.get_backend_name() != "sqlite" or not database or database == ":memory:":
        return None
    if database.startswith("file:"):
        return None  # a URI filename: SQLite reads its options, not a plain path
    return Path(database).expanduser()


def normalize_url(url: str) -> str:
    """Pick the driver from a plain URL: postgresql:// uses psycopg 3, sqlite:// pysqlite."""
    parsed = parse_url(url)
    if parsed.drivername in ("postgresql", "postgres"):
        parsed = parsed.set(drivername="postgresql+psycopg")
    elif parsed.drivername == "sqlite":
        parsed = parsed.set(drivername="sqlite+pysqlite")
    return parsed.render_as_string(hide_password=False)


def is_sqlite(engine: Engine) -> bool:
    return engine.dialect.name == "sqlite"


def make_engine(url: str, **kwargs: Any) -> Engine:
    """Create the engine; SQLite gets WAL, a busy timeout and foreign keys.

    Raises DatabaseUnavailable for a URL that is not one tweetdrip can use, or a SQLite
    folder that cannot be created. Nothing connects yet: `connect` does, and says why not.
    """
    url = normalize_url(url)
    parsed = make_url(url)
    path = sqlite_file(url)
    if path is not None:
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise DatabaseUnavailable(
                f"DATABASE_URL: cannot create the folder {path.parent} for the SQLite "
                f"database: {exc.strerror}"
            ) from None
    if parsed.get_backend_name() == "sqlite":
        kwargs.setdefault("connect_args", {"check_same_thread": False})
    else:
        kwargs.setdefault("pool_pre_ping", True)
        if "connect_timeout" not in parsed.query:
            kwargs.setdefault("connect_args", {"connect_timeout": POSTGRES_CONNECT_TIMEOUT_SECONDS})
    try:
        engine = create_engine(url, **kwargs)
    except (NoSuchModuleError, ImportError) as exc:
        raise DatabaseUnavailable(
            f"DATABASE_URL: no driver for {parsed.drivername} ({exc}); {SUPPORTED}"
        ) from None
    if engine.dialect.name == "sqlite":
        event.listen(engine, "connect", _sqlite_pragmas)
    return engine


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
    cursor.execute("PRAGMA foreign_keys=ON")
    # WAL with NORMAL loses at most the last transactions on power loss, never consistency.
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()


def connect(engine: Engine) -> Connection:
    """Open a connection, or raise DatabaseUnavailable saying in one line why it cannot be."""
    try:
        return engine.connect()
    except DBAPIError as exc:
        raise DatabaseUnavailable(unavailable_message(engine, exc)) from exc


def unavailable_message(engine: Engine, exc: DBAPIError) -> str:
    """One line naming DATABASE_URL (password hidden) and the driver's reason."""
    reason = (str(exc.orig or exc).strip().splitlines() or ["no reason given"])[0]
    # Shown as the operator wrote it: without the driver tweetdrip chose, password hidden.
    shown = safe_url(engine.url.set(drivername=engine.url.get_backend_name()))
    message = f"DATABASE_URL: cannot open {shown}: {reason}"
    if is_sqlite(engine) and "unable to open" in reason:
        message += " (does the folder exist, and may this user write to it?)"
    return message


@contextmanager
def session_scope(engine: Engine) -> Iterator[Session]:
    """A session that commits on success and rolls back on error.

    Never `await` inside one: the event loop must not hold a transaction open.
    """
    with Session(engine, expire_on_commit=False) as session:
        try:
            yield session
            session.commit()
        except BaseException:
            session.rollback()
            raise


class InList(ColumnElement[bool]):
    """`column IN (...)` for a list given at execution as the parameter `name`.

    SQLite gets one placeholder per item. PostgreSQL gets `column = ANY(:name)` with one array:
    the statement's text is then the same whatever the list's length, so psycopg and the
    server parse and plan it once instead of once per length.
    """

    inherit_cache = True
    type = Boolean()
    _is_implicitly_boolean = True  # a condition already: no "= 1" appended on SQLite
    _traverse_internals: _TraverseInternalsType = [  # noqa: RUF012  (SQLAlchemy's own form)
        ("column", InternalTraversal.dp_clauseelement),
        ("name", InternalTraversal.dp_string),
    ]

    def __init__(self, column: ColumnElement[Any], name: str) -> None:
        self.column = column
        self.name = name


@compiles(InList)
def _in_list(element: InList, compiler: SQLCompiler, **kw: Any) -> str:
    return compiler.process(element.column.in_(bindparam(element.name, expanding=True)), **kw)


@compiles(InList, "postgresql")
def _in_array(element: InList, compiler: SQLCompiler, **kw: Any) -> str:
    array = bindparam(element.name, type_=ARRAY(element.column.type))
    return compiler.process(element.column == any_(array), **kw)
