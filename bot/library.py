"""The library the bot serves: the bundled YAML plus threads admins imported through the bot."""

from __future__ import annotations

from sqlalchemy.engine import Engine
from sqlmodel import select

from content.loader import load_library
from content.models import Library
from content.validate import parse_thread_text
from storage.db import session_scope
from storage.models import ImportedThread


def load_current_library(engine: Engine) -> Library:
    """Bundled threads and tracks, and every published import stored in the database."""
    with session_scope(engine) as session:
        rows = session.exec(
            select(ImportedThread).where(ImportedThread.status == "published")
        ).all()
        texts = [(row.thread_id, row.yaml_text) for row in rows]
    extra = []
    for thread_id, text in texts:
        thread, _problems = parse_thread_text(text, f"{thread_id}.yaml")
        if thread is not None:
            extra.append(thread)
    return load_library(extra_threads=extra)
