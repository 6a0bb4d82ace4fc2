"""Load the content library, and write threads back as clean, human-editable YAML."""

from __future__ import annotations

import functools
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import yaml

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

# Characters that YAML readers turn into a plain "\n" inside a block scalar (or refuse),
# so a string holding them must be written double-quoted, with escapes, to round-trip.
_UNSAFE_IN_BLOCK = frozenset("\r\x85\u2028\u2029")


class _FlowList(list[Any]):
    """A short list written inline: `tags: [csf, neurorad]`."""


class _ThreadDumper(yaml.SafeDumper):
    """A safe dumper that writes multi-line text as `|` blocks and short lists inline."""

    def increase_indent(self, flow: bool = False, indentless: bool = False) -> None:
        # Indent list items under their key, as people write them by hand.
        super().increase_indent(flow, False)


def _represent_str(dumper: yaml.SafeDumper, value: str) -> yaml.ScalarNode:
    if "\n" in value and not _UNSAFE_IN_BLOCK.intersection(value):
        return dumper.represent_scalar("tag:yaml.org,2002:str", value, style="|")
    if _UNSAFE_IN_BLOCK.intersection(value):
        return dumper.represent_scalar("tag:yaml.org,2002:str", value, style='"')
    return dumper.represent_scalar("tag:yaml.org,2002:str", value)


def _represent_flow_list(dumper: yaml.SafeDumper, value: _FlowList) -> yaml.SequenceNode:
    return dumper.represent_sequence("tag:yaml.org,2002:seq", value, flow_style=True)


_ThreadDumper.add_representer(str, _represent_str)
_ThreadDumper.add_representer(_FlowList, _represent_flow_list)


def _without_empty(mapping: dict[str, Any], keep: Iterable[str] = ()) -> dict[str, Any]:
    """Drop keys whose value is None or empty, so drafts show only what was filled in."""
    kept = set(keep)
    return {k: v for k, v in mapping.items() if k in kept or v not in (None, "", [])}


def _thread_document(thread: Thread) -> dict[str, Any]:
    """Return the thread as plain data in the documented key order."""
    source = thread.source
    return {
        "schema": thread.schema_version,
        "id": thread.id,
        "title": thread.title,
        "author": _without_empty({"name": thread.author.name, "handle": thread.author.handle}),
        "source": _without_empty(
            {
                "url": source.url,
                "kind": source.kind,
                "imported_from": source.imported_from,
                "published": source.published,
                "announced_posts": source.announced_posts,
            }
        ),
        "tags": _FlowList(thread.tags),
        "status": thread.status,
        "posts": [
            _without_empty(
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
            _without_empty(
                {
                    "id": q.id,
                    "question": q.question,
                    "options": list(q.options),
                    "correct": _FlowList(q.correct),
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
            _without_empty({"title": ref.title, "url": ref.url, "citation": ref.citation})
            for ref in thread.references
        ],
    }


def dump_thread_yaml(thread: Thread) -> str:
    """Return `thread` as YAML that reads well, edits easily and loads back unchanged."""
    return yaml.dump(
        _thread_document(thread),
        Dumper=_ThreadDumper,
        sort_keys=False,
        allow_unicode=True,
        default_flow_style=False,
        # Never fold long lines: a folded plain scalar hides where the real line breaks are.
        width=1_000_000,
        indent=2,
    )
