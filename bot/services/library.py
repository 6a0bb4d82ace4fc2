"""The library the bot serves: the bundled YAML plus threads admins imported through the bot.

An import goes in three steps: the uploaded file is read (in a child process, with a time
limit), its drafts wait for the admin's Publish (`stage_import`), and Publish makes them
part of the library (`publish_import`), undone at once if the library would not load.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import os
import pickle
import sys
from collections.abc import Callable
from dataclasses import dataclass, field

from sqlalchemy.engine import Engine
from sqlmodel import Session, select

from bot.domain.admin import ImportResult, import_token, prepare_import
from content.loader import load_library
from content.models import Library
from content.validate import ContentError, parse_thread_text
from storage import admin as store
from storage.db import session_scope
from storage.models import ImportedThread
from storage.runner import Database

IMPORT_SECONDS = 20.0  # how long reading one uploaded file may take


def current_library(session: Session) -> Library:
    """Bundled threads and tracks, and every published import stored in the database."""
    rows = session.exec(select(ImportedThread).where(ImportedThread.status == "published")).all()
    extra = []
    for row in rows:
        thread, _problems = parse_thread_text(row.yaml_text, f"{row.thread_id}.yaml")
        if thread is not None:
            extra.append(thread)
    return load_library(extra_threads=extra)


def load_current_library(engine: Engine) -> Library:
    """`current_library` in a session of its own (start-up, the CLI)."""
    with session_scope(engine) as session:
        return current_library(session)


def imported_ids(session: Session) -> set[str]:
    """Ids of the threads that joined the library by an import."""
    return store.published_import_ids(session)


# --- reading an upload --------------------------------------------------------------------------


class ReadFailed(Exception):
    """The child process reading an uploaded file ended without a result."""


class ReadTooSlow(ReadFailed):
    """Reading an uploaded file took longer than IMPORT_SECONDS; the reader was stopped."""


async def read_import(filename: str, data: bytes, library: Library) -> ImportResult:
    """`prepare_import` in a child process, stopped after IMPORT_SECONDS (ReadTooSlow): a
    huge or hostile file can neither hold up the bot nor keep a core busy once given up."""
    # The function travels by reference (module and name), so a stand-in works too.
    payload = pickle.dumps((prepare_import, filename, data, library))
    child = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "bot.import_worker",
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        # Whatever this process can import, the child can (the stand-in's module included).
        env={**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)},
    )
    try:
        output, errors = await asyncio.wait_for(child.communicate(payload), IMPORT_SECONDS)
    except TimeoutError:
        child.kill()
        await child.wait()
        raise ReadTooSlow from None
    if child.returncode != 0:
        last = errors.decode(errors="replace").strip().splitlines()[-1:] or ["no output"]
        raise ReadFailed(f"exit status {child.returncode}: {last[0]}")
    result: ImportResult = pickle.loads(output)
    return result


# --- waiting for Publish, and publishing --------------------------------------------------------


def stage_import(session: Session, admin_id: int, result: ImportResult, now: dt.datetime) -> str:
    """Hold an admin's checked drafts until they press Publish (replacing any earlier upload
    of theirs); return the token their Publish and Cancel buttons carry."""
    items = [(d.thread.id, d.yaml_text) for d in result.drafts]
    store.replace_pending_imports(session, admin_id, items, now)
    return import_token(items)


def cancel_import(session: Session, admin_id: int, token: str) -> bool:
    """Cancel: drop the admin's waiting import if `token` is still its; False if it was not."""
    rows = _waiting(session, admin_id, token)
    if rows:
        store.discard_pending_imports(session, admin_id)
    return bool(rows)


@dataclass(frozen=True)
class Published:
    """What Publish did: the threads now in the library, or why none are."""

    stale: bool = False  # the import was published, cancelled or replaced meanwhile
    thread_ids: list[str] = field(default_factory=list)
    clashes: list[str] = field(default_factory=list)  # ids that joined the library meanwhile
    problems: list[str] = field(default_factory=list)  # the library would not load with them

    @property
    def ok(self) -> bool:
        return bool(self.thread_ids)


def publish_import(
    db: Database,
    admin_id: int,
    token: str,
    library: Library,
    reload_library: Callable[[], Library],
) -> Published:
    """Publish an admin's waiting import and reload the library; undo it if it won't load.

    Runs several units of work (the library is read back between them): call it in a
    worker thread.
    """
    outcome = db.run_sync(_publish, admin_id, token, library)
    if not outcome.ok:
        return outcome
    try:
        reload_library()
    except ContentError as exc:
        db.run_sync(_unpublish, admin_id, outcome.thread_ids)
        reload_library()
        return Published(problems=[str(p) for p in exc.problems])
    return outcome


def _waiting(session: Session, admin_id: int, token: str) -> list[ImportedThread]:
    rows = store.pending_imports(session, admin_id)
    current = import_token((r.thread_id, r.yaml_text) for r in rows) if rows else None
    return rows if current == token else []


def _publish(session: Session, admin_id: int, token: str, library: Library) -> Published:
    rows = _waiting(session, admin_id, token)
    if not rows:
        return Published(stale=True)
    clashes = [r.thread_id for r in rows if r.thread_id in library.threads]
    if clashes:
        store.discard_pending_imports(session, admin_id)
        return Published(clashes=clashes)
    return Published(thread_ids=store.publish_imports(session, rows))


def _unpublish(session: Session, admin_id: int, thread_ids: list[str]) -> None:
    for thread_id in thread_ids:
        row = session.get(ImportedThread, thread_id)
        if row is not None:
            row.status = store.IMPORT_PENDING
            session.add(row)
    store.discard_pending_imports(session, admin_id)
