"""Importers: turn tweetorial exports into YAML drafts.

`import_text` returns an `ImportReport`: valid `Thread` drafts (quiz empty, status
"complete" or "partial") and notes for the editor. Each format's rules are documented in
its module:

- `threadreader`: Thread Reader App page text (`--format threadreader`);
- `readwise`: Readwise exports for Obsidian and Logseq (`readwise`) and its CSV export
  (`readwise-csv`);
- `thread_text`: a thread pasted as plain text or a Typefully-style draft (`thread-text`);
- `x_archive`: the Twitter/X data archive's `data/tweets.js` (`x-archive`);
- `x_page`: a thread copied from the x.com web page (`x-page`);
- `markdown`: Markdown or plain-text articles and notes (`markdown`).

Format detection (`detect_format`), first match wins:

1. X archive: `window.YTD.<name>.part0 = [` (or a JSON array of {"tweet": ...}).
2. Readwise CSV: a first row naming the columns Highlight and Book Title.
3. Other JSON or CSV: refused with an error naming the formats that are understood.
4. Readwise Markdown: Logseq page properties (two of author::, full-title::, category::,
   url::, title::, tags::) or "synced by [[Readwise]]"; or an Obsidian "## Highlights"
   section with "## Metadata", "- Full Title:", "[View Tweet](" or "[View Highlight](", or
   a "![rw-book-cover]" image.
5. Thread Reader: its page furniture ("Profile picture" header, "• • •", "Missing some
   Tweet in this thread", "force a refresh", "12 tweets 3 min read", "Read on X", "Read on
   Twitter", "Read 12 tweets", "More from @x", threadreaderapp.com).
6. x.com page: two post headers (name, "@handle", date), or one with the page's furniture
   ("Show this thread", "Translate post", "Replying to", views, "10:15 AM · Oct 11, 2024").
7. Thread text: posts separated by "---" lines or three blank lines, or blank-line
   separated blocks numbered in sequence ("1/ ...", "2/ ...", or "... 1/4", "... 2/4").
8. Thread Reader again for numbered lines without blank lines: lines starting "1/", "2/",
   ... with at least two different numbers, one of them 1 or 2.
9. Markdown otherwise.
"""

from __future__ import annotations

import csv
import datetime as dt
import json
import re

from content.importers import markdown, readwise, thread_text, threadreader, x_archive, x_page
from content.importers._common import (
    MAX_INPUT_CHARS,
    ContentImportError,
    Draft,
    ImportFormat,
    ImportReport,
    check_nonempty,
    finish,
    no_posts,
    parse_marker,
    parse_trailing_marker,
)

__all__ = ["ContentImportError", "ImportFormat", "ImportReport", "detect_format", "import_text"]

_TR_FURNITURE = re.compile(
    r"^(?:(?:[•·∙⋅●]\s*){3,}|missing some tweets? in this thread.*|(?:you can try to\s+)?force a "
    r"refresh\.?|.{0,40}\d{1,4}\s+(?:tweets?|posts?)\s*(?:[•·|,-]\s*)?\d{1,4}\s+min(?:ute)?s?\s+"
    r"read.*|(?:.{0,60}\s)?read on (?:x|twitter)\.?|.*threadreaderapp\.com.*|thread by @\w+.*"
    r"|.{1,100}\sprofile picture|read \d{1,4} (?:tweets|posts)|more from @\w{1,15})$",
    re.IGNORECASE | re.MULTILINE,
)
_JSON_START = re.compile(r"^\s*[\[{]")
_FORMATS = (
    "Thread Reader App page text, Readwise (Obsidian, Logseq or CSV), a thread as plain "
    "text, the X archive's data/tweets.js, a thread copied from x.com, or Markdown"
)


def _numbered_posts(text: str) -> bool:
    """Lines starting (or ending) with post numbers: two different ones, one of them 1 or 2."""
    starts: set[int] = set()
    ends: set[int] = set()
    for line in text.split("\n"):
        marker = parse_marker(line)
        if marker is not None and marker.style == "/":
            starts.add(marker.number)
        elif (end := parse_trailing_marker(line)) is not None and end.style == "/":
            ends.add(end.number)
        for numbers in (starts, ends):
            if len(numbers) >= 2 and numbers & {1, 2}:
                return True
    return False


def _is_json(text: str) -> bool:
    if not _JSON_START.match(text) or text.strip()[-1:] not in ("]", "}"):
        return False
    try:
        json.loads(text)
    except (ValueError, RecursionError):
        return False
    return True


def _looks_like_csv(text: str) -> bool:
    """A header row of short column names, and rows with as many cells."""
    lines = [line for line in text.split("\n")[:20] if line.strip()][:5]
    if len(lines) < 2:
        return False
    try:
        rows = list(csv.reader(lines))
    except csv.Error:
        return False
    header = rows[0]
    return (
        len(header) >= 3
        and all(0 < len(cell.strip()) <= 40 and ". " not in cell for cell in header)
        and all(len(row) == len(header) for row in rows[1:])
    )


def detect_format(text: str) -> ImportFormat:
    """Guess the export format from the text itself (see the module docstring).

    Raise ContentImportError for JSON or CSV that no importer reads."""
    if x_archive.is_archive(text):
        return ImportFormat.x_archive
    if readwise.is_csv(text):
        return ImportFormat.readwise_csv
    if _is_json(text):
        raise ContentImportError(
            "this is JSON, but not the X archive's tweets.js (`window.YTD.tweets.part0 = "
            f"[...]`); the importer reads {_FORMATS}"
        )
    if _looks_like_csv(text):
        raise ContentImportError(
            "this looks like a CSV file, but not Readwise's export (its first row must name "
            "the columns " + ", ".join(readwise.CSV_COLUMNS) + f"); the importer reads {_FORMATS}"
        )
    if readwise.is_logseq(text) or readwise.is_obsidian(text):
        return ImportFormat.readwise
    if _TR_FURNITURE.search(text):
        return ImportFormat.threadreader
    if x_page.looks_like(text):
        return ImportFormat.x_page
    if thread_text.looks_like(text):
        return ImportFormat.thread_text
    if _numbered_posts(text):
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
    fmt = _coerce_format(format)
    today = today or dt.datetime.now(dt.UTC).date()
    what = f"{source_name}" if source_name else "the text"
    archive = fmt is ImportFormat.x_archive or (
        fmt is ImportFormat.auto and x_archive.is_archive(text)
    )
    limit = x_archive.MAX_ARCHIVE_CHARS if archive else MAX_INPUT_CHARS
    text = check_nonempty(text, what, limit)
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
    elif fmt is ImportFormat.readwise_csv:
        drafts = readwise.parse_csv(text)
        if not drafts:
            raise no_posts("the Readwise CSV has no highlights (the Highlight column is empty)")
    elif fmt is ImportFormat.threadreader:
        drafts, found = threadreader.parse(text, today)
        notes.extend(found)
        if not drafts:
            raise no_posts("nothing but Thread Reader page furniture in the text")
    elif fmt is ImportFormat.x_archive:
        drafts, found = x_archive.parse(text)
        notes.extend(found)
    elif fmt is ImportFormat.x_page:
        drafts = x_page.parse(text, today)
        if not drafts:
            raise no_posts(
                "no x.com posts in the text (each post starts with a name line and an "
                "'@handle' line)"
            )
    elif fmt is ImportFormat.thread_text:
        drafts = thread_text.parse(text, source_name)
        if not drafts:
            raise no_posts("the text has no posts")
    else:
        drafts = markdown.parse(text, source_name)
        if not drafts:
            raise no_posts("nothing but headings or page furniture in the text")
    return finish(drafts, notes, _fallback_title(source_name))


def _fallback_title(source_name: str) -> str:
    stem = re.sub(r"\.[A-Za-z0-9]{1,5}$", "", source_name)
    return re.sub(r"[_\s]+", " ", stem).strip()
