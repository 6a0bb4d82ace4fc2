"""Readwise exports of tweets (and other highlights), Obsidian and Logseq templates.

Obsidian: optional YAML front matter, "# Title", a cover image, "## Metadata" bullets
("- Author: [[@handle on Twitter]]", "- Full Title: ...", "- Category: #tweets",
"- URL: ..."), then "## Highlights" (or "## New highlights added ...") with one "- " bullet
per highlight, indented continuation lines, "![](image)" and "([View Tweet](url))".

Logseq: "key:: value" page properties (author::, full-title::, category::, url::, tags::),
then tab- or space-indented "- " blocks: "Highlights first synced by [[Readwise]] ..." or
"New highlights added ..." headers, one block per highlight, and "**Note**:" / "**Tags**:"
child blocks, which are notes and tags, not posts.

Several exports in one file are split at each "# Title" (Obsidian) or property block
(Logseq); exports of the same URL (or title) are merged, and repeated highlights removed.
When every highlight is numbered ("3/..."), posts are put in numbering order.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from content.importers._common import (
    IMAGE_ONLY_TEXT,
    Draft,
    author_from,
    clean_tags,
    fit_post,
    front_matter,
    parse_marker,
    split_glued_hashtags,
    status_notes,
    tidy,
    title_from_posts,
    tweet_date,
)
from content.models import Post, SourceKind

OBSIDIAN = "Readwise export (Obsidian)"
LOGSEQ = "Readwise export (Logseq)"

_LOGSEQ_PROP_RE = re.compile(r"^(?:-\s+)?(?P<key>[A-Za-z][\w-]{0,40})::\s?(?P<value>.*)$")
_OBSIDIAN_META_RE = re.compile(r"^-\s+(?P<key>[A-Za-z][\w ]{0,40}?)::?\s*(?P<value>.*)$")
_VIEW_LINK_RE = re.compile(
    r"\(\s*\[(?:View Tweet|View Highlight|View Post|Location [^\]\n]{0,80}|Page [^\]\n]{0,80})\]"
    r"\((?P<url>[^)\s]{1,2000})\)\s*\)",
    re.IGNORECASE,
)
_IMAGE_RE = re.compile(r"!\[(?P<alt>[^\]\n]{0,300})\]\((?P<url>[^)\s]{1,2000})\)")
_LINK_RE = re.compile(r"(?<!!)\[(?P<text>[^\]\n]{1,500})\]\((?P<url>[^)\s]{1,2000})\)")
_WIKI_RE = re.compile(r"\[\[(?:[^\]|\n]{0,300}?(?:\\?\|))?(?P<text>[^\]\n]{0,300})\]\]")
_NOTE_RE = re.compile(
    r"^(?:\*\*|__)?(?P<kind>note|tags?)(?:\*\*|__)?\s*:\s*(?:\*\*|__)?\s*(?P<value>.*)$",
    re.IGNORECASE,
)
_SYNC_HEADER_RE = re.compile(
    r"^(?:highlights first synced by|new highlights added|on .{1,40} readwise synced)\b",
    re.IGNORECASE,
)
_HIGHLIGHTS_HEADING_RE = re.compile(
    r"^#{2,6}\s+(?:highlights|new highlights added)\b", re.IGNORECASE | re.MULTILINE
)


@dataclass
class _Highlight:
    lines: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    tags: list[str] = field(default_factory=list)


@dataclass
class _Doc:
    variant: str
    title: str = ""
    meta: dict[str, str] = field(default_factory=dict)
    highlights: list[_Highlight] = field(default_factory=list)


def _unwiki(text: str) -> str:
    return _WIKI_RE.sub(lambda m: m.group("text"), text)


def _indent(line: str) -> int:
    expanded = line.replace("\t", "    ")
    return len(expanded) - len(expanded.lstrip(" "))


# --------------------------------------------------------------------------- Obsidian


def _parse_obsidian(text: str) -> list[_Doc]:
    docs: list[_Doc] = []
    doc: _Doc | None = None
    section = ""
    highlight: _Highlight | None = None
    after_blank = last_was_quote = False
    lines = text.split("\n")
    i = 0
    while i < len(lines):
        line = lines[i]
        stripped = line.strip()
        i += 1
        if stripped == "---":
            close = next(
                (k for k in range(i, min(len(lines), i + 100)) if lines[k].strip() == "---"), None
            )
            front = front_matter(lines[i:close]) if close is not None else None
            if front is not None and close is not None:
                if doc is None or doc.title or doc.highlights:
                    doc = _Doc(OBSIDIAN)
                    docs.append(doc)
                for key, value in front.items():
                    doc.meta.setdefault(key, value)
                i = close + 1
                section, highlight = "", None
                continue
            highlight = None  # a horizontal rule ends the highlight above it
            continue
        if re.match(r"^#\s+\S", stripped):
            if doc is None or doc.title or doc.highlights:
                doc = _Doc(OBSIDIAN)
                docs.append(doc)
            doc.title = _unwiki(stripped[1:].strip())
            section, highlight = "", None
            continue
        if doc is None:
            doc = _Doc(OBSIDIAN)
            docs.append(doc)
        if _HIGHLIGHTS_HEADING_RE.match(stripped):
            section, highlight = "highlights", None
            continue
        if re.match(r"^#{2,6}\s+metadata\b", stripped, re.IGNORECASE):
            section, highlight = "metadata", None
            continue
        if re.match(r"^#{2,6}\s", stripped):
            section, highlight = "other", None
            continue
        if section == "metadata":
            m = _OBSIDIAN_META_RE.match(stripped)
            if m:
                doc.meta.setdefault(m.group("key").strip().lower(), m.group("value").strip())
            continue
        if section != "highlights":
            continue
        if not stripped:
            after_blank = True
            continue
        indent = _indent(line)
        is_bullet = bool(re.match(r"^[-*+]\s", stripped)) or stripped in ("-", "*", "+")
        is_quote = stripped.startswith(">") and indent == 0
        body = stripped[2:] if is_bullet else stripped.lstrip(">").strip() if is_quote else stripped
        starts_new = (is_bullet and indent == 0) or (
            indent == 0 and (after_blank or is_quote != last_was_quote)
        )
        after_blank, last_was_quote = False, is_quote
        note = _NOTE_RE.match(body) if is_bullet and highlight is not None else None
        if highlight is not None and note:
            _add_note(highlight, note.group("kind"), note.group("value"))
        elif highlight is None or starts_new:
            highlight = _Highlight([body])
            doc.highlights.append(highlight)
        else:
            highlight.lines.append(body)
    return docs


def _split_tags(value: str) -> list[str]:
    """'[[csf leak]] #history', 'a, b' or 'a b' -> tags."""
    found = re.findall(r"\[\[([^\]\n]+)\]\]|#([\w-]+)", value)
    if found:
        return [wiki or hashtag for wiki, hashtag in found]
    sep = "," if "," in value else None
    return [t.strip() for t in value.split(sep) if t.strip()]


def _add_note(highlight: _Highlight, kind: str, value: str) -> None:
    value = value.strip()
    if not value:
        return
    if kind.lower().startswith("tag"):
        highlight.tags.extend(_split_tags(value))
    else:
        highlight.notes.append(_unwiki(value))


# --------------------------------------------------------------------------- Logseq


def _parse_logseq(text: str) -> list[_Doc]:
    docs: list[_Doc] = []
    doc: _Doc | None = None
    highlight: _Highlight | None = None
    highlight_indent = -1
    base_indent: int | None = None
    for line in text.split("\n"):
        stripped = line.strip()
        if not stripped:
            continue
        indent = _indent(line)
        prop = _LOGSEQ_PROP_RE.match(stripped)
        if prop and highlight is not None and indent > highlight_indent:
            continue  # a block property (id::, collapsed::), not text
        if prop and (highlight is None or indent <= max(highlight_indent, 0)):
            if doc is None or doc.highlights:
                doc = _Doc(LOGSEQ)
                docs.append(doc)
                highlight, highlight_indent, base_indent = None, -1, None
            doc.meta.setdefault(prop.group("key").lower(), prop.group("value").strip())
            continue
        if doc is None:
            doc = _Doc(LOGSEQ)
            docs.append(doc)
        is_bullet = bool(re.match(r"^[-*+]\s", stripped)) or stripped in ("-", "*", "+")
        body = stripped[2:].strip() if is_bullet else stripped
        if is_bullet and _SYNC_HEADER_RE.match(body):
            base_indent = indent
            highlight, highlight_indent = None, -1
            continue
        if re.match(r"^#{1,6}\s", stripped):
            if not doc.title:
                doc.title = _unwiki(stripped.lstrip("#").strip())
            continue
        if is_bullet:
            note = _NOTE_RE.match(body)
            if highlight is not None and indent > highlight_indent and note:
                _add_note(highlight, note.group("kind"), note.group("value"))
                continue
            if highlight is not None and indent > highlight_indent:
                highlight.lines.append(body)
                continue
            if base_indent is None or indent > base_indent:
                highlight = _Highlight([body])
                highlight_indent = indent
                doc.highlights.append(highlight)
                continue
            highlight, highlight_indent = None, -1
            continue
        if highlight is not None:
            highlight.lines.append(body)
    return docs


# --------------------------------------------------------------------------- both


def _clean_highlight(lines: list[str]) -> tuple[str, list[str], str | None]:
    text = "\n".join(lines)
    url = None
    m = _VIEW_LINK_RE.search(text)
    if m:
        url = m.group("url")
    text = _VIEW_LINK_RE.sub("", text)
    media = [m.group("url") for m in _IMAGE_RE.finditer(text)]
    text = _IMAGE_RE.sub("", text)
    text = _LINK_RE.sub(
        lambda m: (
            m.group("url")
            if m.group("text") == m.group("url")
            else f"{m.group('text')} ({m.group('url')})"
        ),
        text,
    )
    text = _unwiki(text)
    text = re.sub(r"(\*\*|__)([^\n]{1,300}?)\1", r"\2", text)
    text = re.sub(r"==([^\n]{1,300}?)==", r"\1", text)
    return tidy(split_glued_hashtags(text)), media, url


def _meta(doc: _Doc, *keys: str) -> str:
    for key in keys:
        value = doc.meta.get(key, "").strip()
        if value:
            return _unwiki(value).strip()
    return ""


def _group(docs: list[_Doc]) -> list[list[_Doc]]:
    groups: dict[str, list[_Doc]] = {}
    for n, doc in enumerate(docs):
        key = _meta(doc, "url", "source", "link") or _meta(doc, "full title", "full-title")
        key = key or doc.title or f"#{n}"
        groups.setdefault(key, []).append(doc)
    return list(groups.values())


def _draft(group: list[_Doc]) -> Draft | None:
    first = group[0]
    notes: list[str] = []
    items: list[tuple[int | None, str, list[str], str | None, _Highlight]] = []
    seen: set[tuple[int | None, str, str, str | None]] = set()
    duplicates = 0
    for doc in group:
        for highlight in doc.highlights:
            text, media, url = _clean_highlight(highlight.lines)
            marker = parse_marker(text)
            number = marker.number if marker and marker.style == "/" else None
            if marker:
                text = tidy(marker.rest)
            key = (number, re.sub(r"\s+", " ", text).casefold(), " ".join(media), url)
            if not text and not media:
                continue
            if key in seen:
                duplicates += 1
                continue
            seen.add(key)
            items.append((number, text, media, url, highlight))
    if not items:
        return None
    numbers = [n for n, *_ in items]
    if all(n is not None for n in numbers):
        items.sort(key=lambda item: item[0] or 0)
    posts: list[Post] = []
    tags: list[str] = []
    for _number, text, media, url, highlight in items:
        position = len(posts) + 1
        if not text:
            text = IMAGE_ONLY_TEXT
            notes.append(f"post {position} is only an image; write a caption or remove it")
        posts.extend(fit_post(text, media, url))
        for note in highlight.notes:
            notes.append(f"post {position} has a Readwise note: {note}")
        tags.extend(highlight.tags)
    if duplicates:
        notes.insert(0, f"{duplicates} duplicate post(s) removed")
    if len(group) > 1:
        notes.insert(0, f"{len(group)} exports of the same source merged")

    category = _meta(first, "category").lstrip("#").strip().lower()
    author = author_from(_meta(first, "author"))
    url = _meta(first, "url", "source", "link") or None
    if url and not re.match(r"^https?://\S+$", url):
        url = None
    full_title = _meta(first, "full title", "full-title", "title") or first.title
    is_tweet = category in ("tweets", "tweet") or (url is not None and "/status/" in url)
    kind: SourceKind = "tweetorial" if is_tweet else "article"
    truncated = full_title.endswith(("...", "…")) or parse_marker(full_title) is not None
    if is_tweet or truncated or not full_title:
        title = title_from_posts([p.text for p in posts]) or full_title
    else:
        title = full_title
    doc_tags = _split_tags(first.meta.get("tags") or first.meta.get("document tags") or "")
    numbered = [n for n in numbers if n is not None]
    status, status_msgs = status_notes(numbered if len(numbered) == len(numbers) else [], None, 0)
    published = tweet_date(url) if is_tweet else None
    if published:
        notes.append("source.published decoded from the tweet ID in the URL")
    return Draft(
        title=title,
        posts=posts,
        author=author,
        url=url,
        kind=kind,
        imported_from=first.variant,
        published=published,
        status=status,
        tags=clean_tags(t for t in [*doc_tags, *tags] if t.lower() not in ("tweets", "readwise")),
        notes=status_msgs + notes,
    )


def is_logseq(text: str) -> bool:
    props = re.findall(
        r"^(?:-\s+)?(?:author|full-title|category|url|title|tags|document_note)::",
        text,
        re.IGNORECASE | re.MULTILINE,
    )
    return len(props) >= 2 or "synced by [[Readwise]]" in text


def is_obsidian(text: str) -> bool:
    has_highlights = _HIGHLIGHTS_HEADING_RE.search(text)
    signals = (
        re.search(r"^#{2,6}\s+metadata\b", text, re.I | re.M),
        re.search(r"^-\s+full title::?\s", text, re.I | re.M),
        "[View Tweet](" in text,
        "[View Highlight](" in text,
        "![rw-book-cover]" in text,
    )
    return bool(has_highlights and any(signals)) or "![rw-book-cover]" in text


def parse(text: str) -> list[Draft]:
    """Turn a Readwise export into drafts, one per exported source."""
    if is_logseq(text) and not is_obsidian(text):
        docs = _parse_logseq(text)
    else:
        docs = _parse_obsidian(text)
    drafts = [_draft(group) for group in _group(docs)]
    return [d for d in drafts if d is not None]
