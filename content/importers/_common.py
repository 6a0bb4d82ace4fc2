"""Shared pieces of the importers: the report, text clean-up, numbering markers (at the start
or the end of a post), end words, media words, quotes, fitting posts, titles and ids."""

from __future__ import annotations

import datetime as dt
import enum
import re
import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

import yaml
from pydantic import ValidationError

from content.importers._links import normalize_links, normalize_url, tweet_date
from content.models import (
    ID_MAX,
    POST_CAPTION_MAX,
    POST_TEXT_MAX,
    Author,
    Post,
    Reference,
    Source,
    SourceKind,
    Thread,
    ThreadStatus,
    tg_len,
)

SLUG_MAX = ID_MAX  # ids travel in Telegram's buttons
TITLE_MAX = 90
UNKNOWN_AUTHOR = "Unknown author"
IMAGE_ONLY_TEXT = "(image)"
SLUG_RE = re.compile(r"^[a-z0-9]+(?:-[a-z0-9]+)*$")


class ImportFormat(enum.StrEnum):
    """The export formats `import_text` understands."""

    auto = "auto"
    threadreader = "threadreader"
    readwise = "readwise"
    readwise_csv = "readwise-csv"
    thread_text = "thread-text"
    x_archive = "x-archive"
    x_page = "x-page"
    markdown = "markdown"


class ContentImportError(Exception):
    """The text cannot be turned into a draft; the message says why and what to do."""


@dataclass
class ImportReport:
    """The drafts made from one export, and what the editor should know about them."""

    threads: list[Thread]
    notes: list[str] = field(default_factory=list)


# --------------------------------------------------------------------------- text clean-up

MAX_INPUT_CHARS = 1_000_000
_DROP_RE = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\ud800-\udfff\ufeff\u200b\u2060\ufffe\uffff]")


def normalize_text(text: str) -> str:
    """Unify line endings and drop control characters, keeping newlines and tabs."""
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    text = text.replace("\u2028", "\n").replace("\u2029", "\n\n").replace("\x85", "\n")
    text = text.replace("\u00a0", " ")
    return _DROP_RE.sub("", text)


def front_matter(lines: Sequence[str]) -> dict[str, str] | None:
    """The `key: value` pairs of a YAML front matter block (without its '---' lines), or None
    when the lines are not a YAML mapping. Lists are joined with commas."""
    text = "\n".join(lines)
    if len(text) > 20_000:
        return None
    try:
        data = yaml.safe_load(text)
    except (yaml.YAMLError, RecursionError, ValueError, TypeError):
        return None
    if not isinstance(data, dict):
        return None
    meta: dict[str, str] = {}
    for key, value in data.items():
        if not isinstance(key, str):
            continue
        if isinstance(value, list):
            value = ", ".join(str(v) for v in value if isinstance(v, str | int | float))
        if isinstance(value, str | int | float) and not isinstance(value, bool):
            meta[key.strip().lower()] = str(value).strip()
    return meta


def looks_binary(text: str) -> bool:
    """Return True for text that is evidently not a text export (NULs, control or junk bytes)."""
    if "\x00" in text:
        return True
    sample = text[:20000]
    if not sample:
        return False
    bad = sum(
        1
        for ch in sample
        if ch == "\ufffd" or (unicodedata.category(ch) == "Cc" and ch not in "\n\r\t\f\v")
    )
    return bad / len(sample) > 0.05


def tidy(text: str) -> str:
    """Tidy post text: no tabs, single spaces, no trailing spaces, at most one blank line."""
    text = text.replace("\t", " ")
    lines = [re.sub(r" {2,}", " ", line).strip() for line in text.split("\n")]
    joined = "\n".join(lines)
    joined = re.sub(r"\n{3,}", "\n\n", joined)
    return joined.strip()


_HASHTAG_RUN = re.compile(r"(?<![^\s(\[])#\w+(?:#\w+)+(?=$|[\s.,;:!?)\]])")


def split_glued_hashtags(text: str) -> str:
    """Turn '#medtwitter#CSFleak' into '#medtwitter #CSFleak' (URLs are left alone)."""
    return _HASHTAG_RUN.sub(lambda m: m.group(0).replace("#", " #").lstrip(), text)


# Numbering markers at the start of a post: "1/", "1/ ", "(1/21)", "[1/21]", "1/N",
# "10/N END", "🧵1/", and the weaker "1)" and "1." (list items look the same).
_MARKER_RE = re.compile(
    r"""^[ \t]*(?:🧵[ \t]*)?(?:
        [(\[]\s*(?P<pn>\d{1,3})\s*/\s*(?P<pt>\d{1,3}|[nN])\s*[)\]]
      | (?P<n>\d{1,3})[ \t]*/(?!\d{1,4}/)(?:(?P<t>\d{1,3}|[nN])(?![\w/]))?
      | (?P<rn>\d{1,3})\)
      | (?P<dn>\d{1,3})\.(?=[ \t]|$)
    )(?P<end>[ \t]*(?-i:END|FIN)(?![\w]))?[ \t]*""",
    re.VERBOSE | re.IGNORECASE,
)
# The same numbering at the end of a post: "... 2/4", "... (3/12)", "10/N END", "... 5/ 🧵".
_TRAILING_MARKER_RE = re.compile(
    r"""(?:^|(?<=\s))(?:
        [(\[]\s*(?P<pn>\d{1,3})\s*/\s*(?P<pt>\d{1,3}|[nN])\s*[)\]]
      | (?P<n>\d{1,3})[ \t]*/[ \t]*(?P<t>\d{1,3}|[nN])?
    )(?P<end>[ \t]*(?:(?-i:END|FIN)|/end|/fin)\.?)?[ \t]*(?:(?:🧵|👇|⬇️|⬇|↓)[ \t]*)*$""",
    re.VERBOSE | re.IGNORECASE,
)
# "... the end. END", "/end", "(end)", "fin" closing the last post.
_END_WORDS_RE = re.compile(
    r"(?:(?<=\W)|^)[ \t]*(?:(?-i:END|FIN)|/end|/fin|[(\[](?:end|fin)[)\]])\.?$"
    r"|(?:(?<=[.!?…\n])|^)[ \t]*fin\.?$",
    re.IGNORECASE,
)


@dataclass(frozen=True)
class Marker:
    number: int
    total: int | None
    final: bool
    style: str  # "/" (strong), ")" or "." (weak: list items look the same)
    rest: str  # the text after a leading marker, or before a trailing one


def _marker_from(m: re.Match[str], rest: str) -> Marker | None:
    groups = m.groupdict()
    if groups.get("rn"):
        number, total_s, style = int(groups["rn"]), None, ")"
    elif groups.get("dn"):
        number, total_s, style = int(groups["dn"]), None, "."
    elif groups.get("pn"):
        number, total_s, style = int(groups["pn"]), groups["pt"], "/"
    else:
        number, total_s, style = int(groups["n"]), groups["t"], "/"
    total = int(total_s) if total_s and total_s.isdigit() else None
    if number < 1 or (total is not None and (total < number or total == 0)):
        return None
    final = bool(groups.get("end")) or (total is not None and total == number and number > 1)
    return Marker(number, total, final, style, rest)


def parse_marker(line: str) -> Marker | None:
    """Read a numbering marker at the start of `line`, or return None."""
    m = _MARKER_RE.match(line)
    return _marker_from(m, line[m.end() :]) if m else None


def parse_trailing_marker(text: str) -> Marker | None:
    """Read a numbering marker ("2/4", "(2/4)", "10/N END") at the end of `text`."""
    m = _TRAILING_MARKER_RE.search(text[-80:]) if text else None
    if not m:
        return None
    start = len(text) - len(text[-80:]) + m.start()
    return _marker_from(m, text[:start].rstrip())


def is_marker_only(line: str) -> bool:
    """True for a line holding nothing but a numbering marker ("2/N", "(3/12)", "10/N END")."""
    marker = parse_marker(line)
    return marker is not None and marker.style == "/" and not marker.rest.strip()


def strip_end_words(text: str) -> tuple[str, bool]:
    """Remove an end-of-thread word ("END", "fin", "/end") closing the text."""
    m = _END_WORDS_RE.search(text)
    if not m:
        return text, False
    return text[: m.start()].rstrip(), True


_MEDIA_WORDS_RE = re.compile(r"(?:^|(?<=\s))(?:Image|Video|GIF)[ \t]*$")
_MEDIA_LINE_RE = re.compile(r"^[ \t]*(?:(?:Image|Video|GIF)[ \t]*)+$", re.MULTILINE)


def strip_media_words(text: str) -> tuple[str, int]:
    """Remove the "Image" / "Video" / "GIF" words a page appends after a post's last word
    (one per medium) and lines holding nothing else; return the text and how many."""
    count = sum(len(m.group(0).split()) for m in _MEDIA_LINE_RE.finditer(text))
    text = _MEDIA_LINE_RE.sub("", text).rstrip()
    while m := _MEDIA_WORDS_RE.search(text):
        text = text[: m.start()].rstrip()
        count += 1
    return text, count


@dataclass(frozen=True)
class Quote:
    """A post quoted inside another post, kept apart from the author's own words."""

    text: str
    name: str | None = None
    handle: str | None = None
    date: str | None = None


def with_quote(text: str, quote: Quote | None) -> str:
    """The author's text followed by the quoted post, marked as a quote."""
    if quote is None or not quote.text.strip():
        return text
    handle = f"@{quote.handle.lstrip('@')}" if quote.handle else None
    if quote.name and handle:
        who = f"{quote.name} ({handle})"
    else:
        who = quote.name or handle or "another post"
    when = f", {quote.date}" if quote.date else ""
    block = f"Quoting {who}{when}:\n“{quote.text.strip()}”"
    return f"{text}\n\n{block}" if text.strip() else block


# --------------------------------------------------------------------------- fitting posts

_SENTENCE_END = re.compile(r"(?<=[.!?…])[\"”’')\]]*\s+(?=\S)")


def _pieces(text: str, level: int) -> tuple[list[str], str]:
    if level == 0:
        return re.split(r"\n\s*\n", text), "\n\n"
    if level == 1:
        return text.split("\n"), "\n"
    if level == 2:
        out: list[str] = []
        start = 0
        for m in _SENTENCE_END.finditer(text):
            out.append(text[start : m.start()] + m.group(0).rstrip())
            start = m.end()
        out.append(text[start:])
        return out, " "
    return text.split(" "), " "


def _hard_split(text: str, limit: int) -> list[str]:
    chunks: list[str] = []
    current: list[str] = []
    size = 0
    for ch in text:
        cost = 2 if ord(ch) > 0xFFFF else 1
        if size + cost > limit and current:
            chunks.append("".join(current))
            current, size = [], 0
        current.append(ch)
        size += cost
    if current:
        chunks.append("".join(current))
    return chunks


def split_to_fit(text: str, limit: int, level: int = 0) -> list[str]:
    """Split text into chunks of at most `limit` (Telegram length), at the largest boundary
    that works: paragraphs, then lines, then sentences, then words, then characters."""
    text = text.strip()
    if not text:
        return []
    if tg_len(text) <= limit:
        return [text]
    if level > 3:
        return [c.strip() for c in _hard_split(text, limit) if c.strip()]
    parts, sep = _pieces(text, level)
    if len(parts) <= 1:
        return split_to_fit(text, limit, level + 1)
    sep_len = tg_len(sep)
    chunks: list[str] = []
    current: list[str] = []
    size = 0
    for part in parts:
        part = part.strip()
        if not part:
            continue
        part_len = tg_len(part)
        if part_len > limit:
            if current:
                chunks.append(sep.join(current))
                current, size = [], 0
            chunks.extend(split_to_fit(part, limit, level + 1))
            continue
        new_size = size + sep_len + part_len if current else part_len
        if new_size <= limit:
            current.append(part)
            size = new_size
        else:
            chunks.append(sep.join(current))
            current, size = [part], part_len
    if current:
        chunks.append(sep.join(current))
    return [c for c in chunks if c]


def fit_post(
    text: str, media: Sequence[str] = (), url: str | None = None, has_media: bool | None = None
) -> list[Post]:
    """Make one post, or several when the text is over Telegram's limits.

    Status links are written in one form. A post with media is sent as a caption, so its
    text must fit POST_CAPTION_MAX; the rest of a long text follows in posts of its own.
    `has_media` says whether the original had media (True when `media` is not empty)."""
    text = normalize_links(tidy(text))
    media = clean_urls(media)
    url = clean_url(normalize_url(url))
    if media:
        has_media = True
    if not text and not media and not has_media:
        return []
    if not text:
        text = IMAGE_ONLY_TEXT
    # Pieces after the first are the same original post: its media belongs to the first.
    rest_has_media = None if has_media is None else False
    if not media:
        chunks = split_to_fit(text, POST_TEXT_MAX)
        return [
            Post(text=chunk, url=url, has_media=has_media if i == 0 else rest_has_media)
            for i, chunk in enumerate(chunks)
        ]
    if tg_len(text) <= POST_CAPTION_MAX:
        return [Post(text=text, media=media, url=url, has_media=True)]
    head = split_to_fit(text, POST_CAPTION_MAX)[0]
    rest = text[len(head) :].strip() if text.startswith(head) else ""
    if not rest:
        # The split normalised whitespace: fall back to the remaining chunks.
        chunks = split_to_fit(text, POST_CAPTION_MAX)
        head, rest = chunks[0], "\n\n".join(chunks[1:])
    posts = [Post(text=head, media=media, url=url, has_media=True)]
    posts.extend(
        Post(text=chunk, url=url, has_media=False) for chunk in split_to_fit(rest, POST_TEXT_MAX)
    )
    return posts


# --------------------------------------------------------------------------- titles and ids

_TOPIC_RE = re.compile(
    r"(?:\b(?:tweetorial|thread)\b|🧵)[ \t]*"
    r"(?:(?:to|that\s+will|which\s+will)\s+help\s+you\s+|about\s+|on\s+|for\s+|explaining\s+|to\s+)"
    r"(?P<topic>[^.!?\n]{3,160})",
    re.IGNORECASE,
)
_PURPOSE_CLAUSE = re.compile(r"\s+(?:to|so|that|which|because|so\s+that)\s+.*$", re.IGNORECASE)
_LEADING_DETERMINER = re.compile(r"^(?:all\s+(?:the\s+)?|the\s+|an?\s+|some\s+|my\s+)", re.I)
_BACK_REFERENCE = re.compile(r"\b(?:this|these|that|those|it|them|you|your|i|me|we)\b", re.I)


def _clean_title(text: str) -> str:
    text = re.sub(r"https?://\S+", "", text)
    text = re.sub(r"#(\w)", r"\1", text)
    text = re.sub(r"\s+", " ", text).strip()
    edge = " \"“”'‘’«»-–—:;,"

    def is_edge(ch: str) -> bool:
        return ch in edge or unicodedata.category(ch) in ("So", "Sk", "Cf", "Zs", "Mn", "Me")

    start, end = 0, len(text)
    while start < end and is_edge(text[start]):
        start += 1
    while end > start and is_edge(text[end - 1]):
        end -= 1
    return text[start:end]


def _shorten(text: str, limit: int = TITLE_MAX) -> str:
    if len(text) <= limit:
        return text
    cut = text[: limit - 1]
    for sep in (", ", "; ", " — ", " – ", " "):
        idx = cut.rfind(sep)
        if idx >= limit // 2:
            return cut[:idx].rstrip(" ,;:—–-") + "…"
    return cut + "…"


def topic_title(text: str) -> str | None:
    """'A #tweetorial about CSF leaks & blood patches!' -> 'CSF leaks & blood patches'."""
    m = _TOPIC_RE.search(text.replace("#", ""))
    if not m:
        return None
    topic = _PURPOSE_CLAUSE.sub("", m.group("topic")).strip()
    topic = _LEADING_DETERMINER.sub("", topic).strip(" ,;:-–—")
    words = topic.split()
    if not 1 <= len(words) <= 12 or _BACK_REFERENCE.search(topic) or len(topic) < 3:
        return None
    return _shorten(topic[0].upper() + topic[1:])


def first_sentence_title(text: str) -> str:
    """The first sentence (or line) of `text`, cleaned and shortened, as a title."""
    for line in text.split("\n"):
        line = _clean_title(line)
        if re.search(r"\w", line):
            m = re.match(r"(.+?[.!?])(?:\s|$)", line)
            sentence = m.group(1) if m else line
            return _shorten(sentence.rstrip("."))
    return ""


def title_from_posts(texts: Sequence[str]) -> str:
    """A title for a thread: the topic named in its opening ('a thread on X'), else the
    opening's first sentence."""
    if not texts:
        return ""
    return topic_title(texts[0]) or first_sentence_title(texts[0])


def slugify(text: str, max_len: int = SLUG_MAX) -> str:
    """Lowercase ASCII words joined by hyphens, at most `max_len` characters."""
    text = text.replace("&", " and ").replace("’", "").replace("'", "")
    text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode("ascii")
    slug = re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")
    if len(slug) > max_len:
        cut = slug[: max_len + 1]
        idx = cut.rfind("-")
        slug = cut[:idx] if idx > 0 else slug[:max_len]
        slug = slug.strip("-")
    return slug


def unique_slug(base: str, taken: set[str]) -> str:
    slug = base or "imported-thread"
    n = 1
    candidate = slug
    while candidate in taken:
        n += 1
        suffix = f"-{n}"
        candidate = slugify(slug, SLUG_MAX - len(suffix)) + suffix
    taken.add(candidate)
    return candidate


_URL_OK = re.compile(
    r"https?://(?:[^\s/?#@]+@)?(?:[A-Za-z0-9](?:[A-Za-z0-9.-]*[A-Za-z0-9])?|\[[0-9A-Fa-f:.]+\])"
    r"(?::[0-9]{1,5})?(?:[/?#]\S*)?",
    re.IGNORECASE,
)


def clean_url(url: str | None) -> str | None:
    """`url` without surrounding spaces or trailing punctuation, or None unless it is an
    absolute http(s) URL (relative links and other schemes cannot be sent to Telegram)."""
    if not url:
        return None
    url = url.strip().strip("<>").rstrip(".,;:!?'\"")
    return url if _URL_OK.fullmatch(url) else None


def clean_urls(urls: Iterable[str]) -> list[str]:
    out: list[str] = []
    for url in urls:
        cleaned = clean_url(url)
        if cleaned and cleaned not in out:
            out.append(cleaned)
    return out


def author_from(text: str | None) -> Author:
    """'@teachplaygrub on Twitter', 'Jane Doe (@jdoe)', 'Jane Doe' -> Author."""
    text = re.sub(r"\s+", " ", (text or "").replace("\\|", "|")).strip()
    text = re.sub(r"\[\[(?:[^\]|]*\|)?([^\]]*)\]\]", r"\1", text).strip()
    if not text:
        return Author(name=UNKNOWN_AUTHOR)
    m = re.fullmatch(r"@?(\w{1,30}) on (?:Twitter|X)", text)
    if m:
        return Author(name=m.group(1), handle=f"@{m.group(1)}")
    m = re.search(r"@(\w{1,30})", text)
    if m:
        name = re.sub(r"[(\[]?@\w+[)\]]?", "", text).strip(" ,-–—|")
        return Author(name=name or m.group(1), handle=f"@{m.group(1)}")
    return Author(name=text[:200])


# --------------------------------------------------------------------------- drafts


@dataclass
class Draft:
    """A thread being assembled by an importer, before it gets its id."""

    title: str
    posts: list[Post]
    author: Author = field(default_factory=lambda: Author(name=UNKNOWN_AUTHOR))
    url: str | None = None
    kind: SourceKind = "tweetorial"
    imported_from: str = ""
    published: dt.date | None = None
    status: ThreadStatus = "complete"
    tags: list[str] = field(default_factory=list)
    references: list[Reference] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    announced: int | None = None  # how many posts the original announced


def clean_tags(tags: Iterable[str]) -> list[str]:
    out: list[str] = []
    for tag in tags:
        slug = slugify(tag, 40)
        if slug and slug not in out:
            out.append(slug)
    return out


def finish(drafts: Sequence[Draft], notes: list[str], fallback_title: str) -> ImportReport:
    """Give each draft an id, turn it into a validated Thread and collect the notes."""
    taken: set[str] = set()
    threads: list[Thread] = []
    report_notes = list(notes)
    for draft in drafts:
        if not draft.posts:
            continue
        title = _shorten(_clean_title(draft.title) or fallback_title or "Imported thread", 200)
        thread_id = unique_slug(slugify(title) or slugify(fallback_title), taken)
        url = clean_url(normalize_url(draft.url))
        published = draft.published
        if published is None and (published := tweet_date(url)):
            draft.notes.append("source.published decoded from the tweet id in the URL")
        try:
            thread = Thread(
                id=thread_id,
                title=title,
                author=draft.author,
                source=Source(
                    url=url,
                    kind=draft.kind,
                    imported_from=draft.imported_from,
                    published=published,
                    announced_posts=draft.announced if draft.announced else None,
                ),
                tags=draft.tags,
                status=draft.status,
                posts=draft.posts,
                quiz=[],
                references=[
                    Reference(title=r.title, url=clean_url(r.url), citation=r.citation)
                    for r in draft.references
                    if r.title.strip()
                ],
            )
        except ValidationError as exc:  # pragma: no cover - a bug, not a user error
            raise ContentImportError(f"could not build a draft for {title!r}: {exc}") from exc
        threads.append(thread)
        for note in draft.notes:
            report_notes.append(f"{thread_id}: {note}")
        if draft.author.name == UNKNOWN_AUTHOR:
            report_notes.append(f"{thread_id}: author not found in the export; set author")
        report_notes.append(f"{thread_id}: quiz left empty; add questions before publishing")
    if not threads:
        raise ContentImportError(
            "no posts found: the text has no content left after removing page furniture; "
            "expected numbered posts like '1/...' or paragraphs"
        )
    return ImportReport(threads=threads, notes=report_notes)


def status_notes(
    numbers: Sequence[int], declared: int | None, count: int
) -> tuple[ThreadStatus, list[str]]:
    """'partial' when the numbering skips posts, does not start at 1, or promises more posts
    than were found."""
    notes: list[str] = []
    if numbers:
        expected = set(range(1, max(numbers) + 1))
        missing = sorted(expected - set(numbers))
        if missing:
            shown = ", ".join(str(n) for n in missing[:10]) + (", …" if len(missing) > 10 else "")
            notes.append(f"partial: post(s) {shown} missing from the numbering")
    if declared is not None and declared > count:
        notes.append(f"partial: the thread announces {declared} posts but {count} were found")
    return ("partial" if notes else "complete"), notes


def check_nonempty(text: str, what: str, max_chars: int = MAX_INPUT_CHARS) -> str:
    """Normalise `text` and refuse empty or binary input with a clear message."""
    if looks_binary(text):
        raise ContentImportError(
            f"{what} looks like binary data, not text: export the thread as text or Markdown "
            "(Thread Reader App page text, Readwise Markdown export, or a .md/.txt file)"
        )
    if len(text) > max_chars:
        raise ContentImportError(
            f"{what} has {len(text):,} characters; the importer takes at most "
            f"{max_chars:,}: split the export into smaller files"
        )
    text = normalize_text(text)
    if not text.strip():
        raise ContentImportError(
            f"{what} is empty: expected a Thread Reader App unroll, a Readwise export or "
            "Markdown text"
        )
    return text


def no_posts(detail: str) -> ContentImportError:
    return ContentImportError(
        f"no posts found: {detail}; expected numbered posts like '1/...' or paragraphs"
    )
