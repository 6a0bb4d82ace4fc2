"""Load the content library, and write threads back as clean, human-editable YAML."""

from __future__ import annotations

import functools
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from content.documents import FlowList, dump_yaml, without_empty
from content.models import Library, Thread
from content.validate import (
    ContentError,
    check_files,
    collect_files,
    default_paths,
    parse_file,
    paused_gc,
)

__all__ = ["ContentError", "bundled_library", "dump_thread_yaml", "load_library"]


def load_library(
    paths: Iterable[Path] | None = None, extra_threads: Iterable[Thread] = ()
) -> Library:
    """Load and check content files plus threads imported into the database.

    Raise ContentError listing every problem, including imported threads whose ids clash
    with bundled ones.
    """
    files, problems = collect_files(default_paths() if paths is None else paths)
    with paused_gc():
        library, found = check_files([parse_file(f) for f in files], extra_threads)
    problems.extend(found)
    if problems or library is None:
        raise ContentError(problems)
    return library


@functools.lru_cache(maxsize=1)
def bundled_library() -> Library:
    """Return the library shipped with the package, loaded once per process."""
    return load_library()


# --------------------------------------------------------------------------------------------
# Writing YAML


def _thread_document(thread: Thread) -> dict[str, Any]:
    """Return the thread as plain data in the documented key order."""
    source = thread.source
    return {
        "schema": thread.schema_version,
        "id": thread.id,
        "title": thread.title,
        "author": without_empty({"name": thread.author.name, "handle": thread.author.handle}),
        "source": without_empty(
            {
                "url": source.url,
                "kind": source.kind,
                "imported_from": source.imported_from,
                "published": source.published,
                "announced_posts": source.announced_posts,
            }
        ),
        "tags": FlowList(thread.tags),
        "status": thread.status,
        "posts": [
            without_empty(
                {
                    "text": post.text,
                    "media": list(post.media),
                    "has_media": post.has_media,
                    "url": post.url,
                }
            )
            for post in thread.posts
        ],
        "quiz": [
            without_empty(
                {
                    "id": q.id,
                    "question": q.question,
                    "options": list(q.options),
                    "correct": FlowList(q.correct),
                    "explanation": q.explanation,
                    "after_post": q.after_post,
                    "source_post": q.source_post,
                    "image": q.image,
                },
                keep=("options", "correct"),
            )
            for q in thread.quiz
        ],
        "references": [
            without_empty({"title": ref.title, "url": ref.url, "citation": ref.citation})
            for ref in thread.references
        ],
    }


def dump_thread_yaml(thread: Thread) -> str:
    """Return `thread` as YAML that reads well, edits easily and loads back unchanged."""
    return dump_yaml(_thread_document(thread))
