"""Readwise exports of tweets (and other highlights): Obsidian, Logseq and CSV.

Obsidian: optional YAML front matter, "# Title", a cover image, "## Metadata" bullets
("- Author: [[@handle on Twitter]]", "- Full Title: ...", "- Category: #tweets",
"- URL: ..."), then "## Highlights" (or "## New highlights added ...") with one "- " bullet
per highlight, indented continuation lines (line breaks), "![](image)" and
"([View Tweet](url))".

Logseq: "key:: value" page properties (author::, full-title::, category::, url::, tags::),
then tab- or space-indented "- " blocks: "Highlights first synced by [[Readwise]] ..." or
"New highlights added ..." headers, one block per highlight, and "**Note**:" / "**Tags**:"
child blocks, which are notes and tags, not posts. A highlight's continuation lines are the
paragraphs of the tweet: each starts a paragraph.

CSV (Readwise's "Export to CSV"): the columns Highlight, Book Title, Book Author, Amazon
Book ID, Note, Color, Tags, Location Type, Location, Highlighted at, Document tags; one row
per highlight. Rows of the same title and author make one thread, in Location order (when
it is a number), Note becomes a report note, Tags and Document tags become tags. The CSV
has no URL column: posts get no link. A title or author "on Twitter"/"on X", or the
document tag "tweets", makes it a tweetorial.

Every format:

- Several exports in one file are split at each "# Title" (Obsidian) or property block
  (Logseq); exports of the same URL (or title) are merged, and repeated highlights removed.
- Numbering at the start ("3/...") or at the end of a highlight (a last line "3/N" or
  "10/N END"; "... 3/12" when at least two highlights end so) is removed; when every
  highlight is numbered, posts are put in numbering order. "1." and "1)" count only in
  tweets.
- HTML entities (&amp;, &#39;, ...) in titles, authors and text are decoded.
- The author "[[Jane Doe]]" or "Jane Doe" takes the handle from the tweet URL
  (https://x.com/janedoe/status/...).
- Images become `media`; their alt text stays in the post as "Image: <alt text>".
"""

from __future__ import annotations

import csv
import html
import io
import re
from dataclasses import dataclass, field

from content.importers._common import (
    IMAGE_ONLY_TEXT,
    UNKNOWN_AUTHOR,
    ContentImportError,
    Draft,
    author_from,
    clean_tags,
    fit_post,
    front_matter,
    is_marker_only,
    parse_marker,
    parse_trailing_marker,
    split_glued_hashtags,
    status_notes,
    strip_end_words,
    tidy,
    title_from_posts,
)
from content.importers._links import normalize_url, tweet_date
from content.models import Author, Post, SourceKind

OBSIDIAN = "Readwise export (Obsidian)"
LOGSEQ = "Readwise export (Logseq)"
CSV = "Readwise export (CSV)"
CSV_COLUMNS = (
    "Highlight",
    "Book Title",
    "Book Author",
    "Amazon Book ID",
    "Note",
    "Color",
    "Tags",
    "Location Type",
    "Location",
    "Highlighted at",
    "Document tags",
)
_CATEGORY_TAGS = {"tweets", "tweet", "readwise", "articles", "books", "podcasts"}
_GENERIC_ALT = {"", "image", "img", "photo", "picture", "rw-book-cover", "media"}

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
    location: float | None = None


@dataclass
class _Doc:
    variant: str
    title: str = ""
    meta: dict[str, str] = field(default_factory=dict)
    highlights: list[_Highlight] = field(default_factory=list)


def _unwiki(text: str) -> str:
    return html.unescape(_WIKI_RE.sub(lambda m: m.group("text"), text))


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
                highlight.lines.append(body)  # a list inside the highlight
                continue
            if base_indent is None or indent > base_indent:
                highlight = _Highlight([body])
                highlight_indent = indent
                doc.highlights.append(highlight)
                continue
            highlight, highlight_indent = None, -1
            continue
        if highlight is not None:
            # Readwise writes each paragraph of the tweet as a continuation line.
            highlight.lines.extend(("", body))
    return docs


# --------------------------------------------------------------------------- both


def _clean_highlight(lines: list[str]) -> tuple[str, list[str], str | None, list[str]]:
    """The highlight's text, image URLs, tweet link and image alt texts."""
    text = "\n".join(lines)
    url = None
    m = _VIEW_LINK_RE.search(text)
    if m:
        url = m.group("url")
    text = _VIEW_LINK_RE.sub("", text)
    media = [m.group("url") for m in _IMAGE_RE.finditer(text)]
    alts = [
        html.unescape(m.group("alt").strip())
        for m in _IMAGE_RE.finditer(text)
        if m.group("alt").strip().casefold() not in _GENERIC_ALT
    ]
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
    return tidy(split_glued_hashtags(text)), media, url, alts


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


@dataclass
class _Item:
    text: str
    media: list[str]
    url: str | None
    highlight: _Highlight
    alts: list[str] = field(default_factory=list)
    number: int | None = None
    total: int | None = None
    final: bool = False


def _numbering(items: list[_Item], tweets: bool) -> None:
    """Take the numbering off each highlight's start or end and keep it on the item."""
    inline_ends: set[int] = set()
    for item in items:
        last = item.text.rsplit("\n", 1)[-1]
        end = parse_trailing_marker(item.text)
        if end is not None and not is_marker_only(last) and end.rest:
            inline_ends.add(end.number)
    # "... improved in 2/3" is a fraction unless other highlights end in numbers too.
    inline_ok = any(n + 1 in inline_ends for n in inline_ends)
    for item in items:
        text, final = strip_end_words(item.text)
        lead = parse_marker(text)
        if lead is not None and (lead.style == "/" or tweets):
            item.number, item.total, final = lead.number, lead.total, final or lead.final
            text = lead.rest
        head, _, last = text.rpartition("\n")
        end = parse_trailing_marker(text)
        marker_line = is_marker_only(last)
        if (
            end is not None
            and (marker_line or (inline_ok and end.rest))
            and item.number in (None, end.number)
        ):
            item.number = end.number
            item.total = end.total or item.total
            final = final or end.final
            text = head if marker_line else end.rest
        text, more = strip_end_words(tidy(text))
        item.text, item.final = tidy(text), final or more


def _author(doc: _Doc, url: str | None) -> Author:
    """The exported author; the handle comes from the tweet URL when the name lacks one."""
    author = author_from(_meta(doc, "author", "book author"))
    if author.handle is None and url:
        m = re.match(r"https://x\.com/(?P<user>\w{1,15})/status/", normalize_url(url) or "")
        if m and m.group("user") != "i":
            handle = f"@{m.group('user')}"
            name = author.name if author.name != UNKNOWN_AUTHOR else m.group("user")
            author = Author(name=name, handle=handle)
    return author


def _draft(group: list[_Doc]) -> Draft | None:
    first = group[0]
    notes: list[str] = []
    items: list[_Item] = []
    for doc in group:
        for highlight in doc.highlights:
            text, media, url, alts = _clean_highlight(highlight.lines)
            if text or media:
                items.append(_Item(text, media, url, highlight, alts))
    if not items:
        return None

    category = _meta(first, "category").lstrip("#").strip().lower()
    url = _meta(first, "url", "source", "link") or None
    if url and not re.match(r"^https?://\S+$", url):
        url = None
    full_title = _meta(first, "full title", "full-title", "title") or first.title
    is_tweet = category in ("tweets", "tweet") or (url is not None and "/status/" in url)
    _numbering(items, is_tweet)

    seen: set[tuple[int | None, str, str, str | None]] = set()
    unique: list[_Item] = []
    duplicates = 0
    for item in items:
        key = (
            item.number,
            re.sub(r"\s+", " ", item.text).casefold(),
            " ".join(item.media),
            item.url,
        )
        if not item.text and not item.media:
            continue
        if key in seen:
            duplicates += 1
            continue
        seen.add(key)
        unique.append(item)
    items = unique
    if not items:
        return None
    numbers = [item.number for item in items]
    if all(n is not None for n in numbers):
        items.sort(key=lambda item: item.number or 0)
    elif all(item.highlight.location is not None for item in items):
        items.sort(key=lambda item: item.highlight.location or 0.0)
    posts: list[Post] = []
    tags: list[str] = []
    for item in items:
        position = len(posts) + 1
        # The alt text describes the image for those who cannot see it: keep it.
        text = "\n\n".join([item.text, *(f"Image: {alt}" for alt in item.alts)]).strip()
        if not text:
            text = IMAGE_ONLY_TEXT
            notes.append(f"post {position} is only an image; write a caption or remove it")
        posts.extend(fit_post(text, item.media, item.url))
        for note in item.highlight.notes:
            notes.append(f"post {position} has a Readwise note: {note}")
        tags.extend(item.highlight.tags)
    if duplicates:
        notes.insert(0, f"{duplicates} duplicate post(s) removed")
    if len(group) > 1:
        notes.insert(0, f"{len(group)} exports of the same source merged")

    kind: SourceKind = "tweetorial" if is_tweet else "article"
    truncated = full_title.endswith(("...", "…")) or parse_marker(full_title) is not None
    if is_tweet or truncated or not full_title:
        title = title_from_posts([p.text for p in posts]) or full_title
    else:
        title = full_title
    doc_tags = _split_tags(first.meta.get("tags") or first.meta.get("document tags") or "")
    numbered = [n for n in numbers if n is not None]
    totals = [item.total for item in items if item.total is not None]
    announced = max(totals) if totals else None
    status, status_msgs = status_notes(
        numbered if len(numbered) == len(numbers) else [], announced, len(items)
    )
    published = tweet_date(url) if is_tweet else None
    if published:
        notes.append("source.published decoded from the tweet ID in the URL")
    return Draft(
        title=title,
        posts=posts,
        author=_author(first, url),
        url=url,
        kind=kind,
        imported_from=first.variant,
        published=published,
        status=status,
        tags=clean_tags(t for t in [*doc_tags, *tags] if t.lower() not in _CATEGORY_TAGS),
        notes=status_msgs + notes,
        announced=announced,
    )


# --------------------------------------------------------------------------- CSV


def _csv_header(text: str) -> list[str] | None:
    first = text.lstrip("\ufeff\n").split("\n", 1)[0]
    if len(first) > 2000:
        return None
    try:
        row = next(csv.reader([first]))
    except (csv.Error, StopIteration):
        return None
    return [cell.strip().lstrip("\ufeff") for cell in row]


def is_csv(text: str) -> bool:
    """True for Readwise's CSV export: a header row with Highlight and Book Title."""
    header = {cell.casefold() for cell in _csv_header(text) or []}
    return {"highlight", "book title"} <= header


def _location(kind: str, value: str) -> float | None:
    if kind.strip().lower() in ("", "none"):
        return None
    try:
        return float(value)
    except ValueError:
        return None


def _parse_csv(text: str) -> list[_Doc]:
    reader = csv.DictReader(io.StringIO(text.lstrip("\ufeff\n")))
    docs: dict[tuple[str, str], _Doc] = {}
    try:
        rows = list(reader)
    except csv.Error as exc:
        raise ContentImportError(f"the Readwise CSV cannot be read: {exc}") from None
    for row in rows:
        cells = {
            (key or "").strip().lstrip("\ufeff").casefold(): (value or "")
            for key, value in row.items()
            if isinstance(value, str)
        }
        title = html.unescape(cells.get("book title", "").strip())
        author = html.unescape(cells.get("book author", "").strip())
        doc = docs.get((title, author))
        if doc is None:
            doc = _Doc(CSV, title=title)
            doc.meta["full title"] = title
            doc.meta["author"] = author
            docs[(title, author)] = doc
        doc_tags = cells.get("document tags", "").strip()
        if doc_tags:
            known = doc.meta.get("document tags", "")
            doc.meta["document tags"] = f"{known}, {doc_tags}" if known else doc_tags
        tweets = re.search(r"\bon (?:twitter|x)\s*$", author, re.I) or re.search(
            r"(?:^|[,\s#])tweets?(?:$|[,\s])", doc_tags, re.I
        )
        if tweets or re.match(r"^\s*@\w{1,15}\s*$", author):
            doc.meta["category"] = "tweets"
        highlight = _Highlight(
            lines=cells.get("highlight", "").split("\n"),
            location=_location(cells.get("location type", ""), cells.get("location", "")),
        )
        if note := cells.get("note", "").strip():
            _add_note(highlight, "note", note)
        if row_tags := cells.get("tags", "").strip():
            highlight.tags.extend(_split_tags(row_tags))
        doc.highlights.append(highlight)
    return list(docs.values())


def parse_csv(text: str) -> list[Draft]:
    """Turn Readwise's CSV export into drafts, one per title and author."""
    if not is_csv(text):
        raise ContentImportError(
            "this is not Readwise's CSV export: its first row must name the columns "
            + ", ".join(CSV_COLUMNS)
        )
    drafts = [_draft([doc]) for doc in _parse_csv(text)]
    return [d for d in drafts if d is not None]


# --------------------------------------------------------------------------- detection


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
