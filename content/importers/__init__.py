"""Importers: turn Thread Reader App unrolls, Readwise exports and Markdown into YAML drafts.

`import_text` returns an `ImportReport`: valid `Thread` drafts (quiz empty, status
"complete" or "partial") and notes for the editor. Each format's rules are documented in
its module: `threadreader`, `readwise`, `markdown`.

Format detection (`detect_format`), first match wins:

1. Readwise: Logseq page properties (two of author::, full-title::, category::, url::,
   title::, tags::) or "synced by [[Readwise]]"; or an Obsidian "## Highlights" section
   with "## Metadata", "- Full Title:", "[View Tweet](" or "[View Highlight](", or a
   "![rw-book-cover]" image.
2. Thread Reader: its page furniture ("• • •", "Missing some Tweet in this thread",
   "force a refresh", "12 tweets 3 min read", "Read on X", "Read on Twitter",
   threadreaderapp.com), or numbered posts: lines starting "1/", "2/", ... with at least
   two different numbers, one of them 1 or 2.
3. Markdown otherwise.
"""

from __future__ import annotations

import datetime as dt
import re

from content.importers import markdown, readwise, threadreader
from content.importers._common import (
    ContentImportError,
    Draft,
    ImportFormat,
    ImportReport,
    check_nonempty,
    finish,
    no_posts,
    parse_marker,
)

__all__ = ["ContentImportError", "ImportFormat", "ImportReport", "detect_format", "import_text"]

_TR_FURNITURE = re.compile(
    r"^(?:(?:[•·∙⋅●]\s*){3,}|missing some tweets? in this thread.*|(?:you can try to\s+)?force a "
    r"refresh\.?|\d{1,4}\s+(?:tweets?|posts?)\s*(?:[•·|,-]\s*)?\d{1,4}\s+min(?:ute)?s?\s+read"
    r"|read on (?:x|twitter)\.?|.*threadreaderapp\.com.*|thread by @\w+.*)$",
    re.IGNORECASE | re.MULTILINE,
)


def _numbered_posts(text: str) -> bool:
    numbers: set[int] = set()
    for line in text.split("\n"):
        marker = parse_marker(line)
        if marker is not None and marker.style == "/":
            numbers.add(marker.number)
            if len(numbers) >= 2 and numbers & {1, 2}:
                return True
    return False


def detect_format(text: str) -> ImportFormat:
    """Guess the export format from the text itself (see the module docstring)."""
    if readwise.is_logseq(text) or readwise.is_obsidian(text):
        return ImportFormat.readwise
    if _TR_FURNITURE.search(text) or _numbered_posts(text):
        return ImportFormat.threadreader
    return ImportFormat.markdown


def _coerce_format(format: ImportFormat | str) -> ImportFormat:
    if isinstance(format, ImportFormat):
        return format
    try:
        return ImportFormat(str(format).strip().lower())
    except ValueError:
        choices = ", ".join(f.value for f in ImportFormat)
        raise ContentImportError(f"unknown format {format!r}: choose one of {choices}") from None


def import_text(
    text: str,
    format: ImportFormat | str = "auto",
    source_name: str = "",
    today: dt.date | None = None,
) -> ImportReport:
    """Turn an export into Thread drafts; raise ContentImportError when that is impossible.

    `today` dates what a page shows without a year (default: today in UTC)."""
    today = today or dt.datetime.now(dt.UTC).date()
    fmt = _coerce_format(format)
    what = f"{source_name}" if source_name else "the text"
    text = check_nonempty(text, what)
    detected = fmt is ImportFormat.auto
    if detected:
        fmt = detect_format(text)
    drafts: list[Draft]
    notes = [f"format: {fmt.value} (detected)"] if detected else []
    if fmt is ImportFormat.readwise:
        drafts = readwise.parse(text)
        if not drafts:
            raise no_posts(
                "no Readwise highlights in the text (Obsidian: '- ' bullets under "
                "'## Highlights'; Logseq: '- ' blocks under the page properties)"
            )
    elif fmt is ImportFormat.threadreader:
        drafts, found = threadreader.parse(text, today)
        notes.extend(found)
        if not drafts:
            raise no_posts("nothing but Thread Reader page furniture in the text")
    else:
        drafts = markdown.parse(text, source_name)
        if not drafts:
            raise no_posts("nothing but headings or page furniture in the text")
    return finish(drafts, notes, _fallback_title(source_name))


def _fallback_title(source_name: str) -> str:
    stem = re.sub(r"\.[A-Za-z0-9]{1,5}$", "", source_name)
    return re.sub(r"[_\s]+", " ", stem).strip()
