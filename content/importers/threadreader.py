"""Thread Reader App unrolls: the page text, possibly holding several threads.

The header of a thread is everything before its first post, and never becomes a post:

- a name line "<Display Name> Profile picture" (the name may carry credentials and commas,
  "Jane Doe, MD", and an "(@handle)"), optionally followed by the name again and by an
  "@handle" line;
- optional bio lines: their @mentions are institutions, never the author;
- one meta line, in any of its forms: "Aug 26, 2022 12 tweets 3 min read Read on X",
  "May 1 · 12 tweets · 3 min read" (no year: this year, or last year when May 1 is still
  to come), "... 3 min read Twitter logo Read on Twitter" / "X logo Read on X", the scroll
  view's "Aug 26, 2022, 12 tweets", ordinal dates "Aug 26th 2022", maybe after "@handle ·";
  or its parts on lines of their own. The name is the author, the date `source.published`,
  N the announced count (`source.announced_posts`).
- without a "Profile picture" line: "Name" and "@handle" lines just above the meta line
  (bio lines may sit between the handle and the meta line); "Thread by @handle". Up to six
  short lines just above a meta line, with no thread between, are bio lines too: dropped,
  with a note.
- a Thread Reader page URL (threadreaderapp.com/thread/<id>.html) gives the first tweet's
  id: the source link and, when the meta line has no year, the date.

Posts:

- "1/", "(1/12)", "1/N", "🧵1/" start a new thread; "N/" with N above the last number (by at
  most 5) starts the next post. The weaker "1)" and "1." are followed when the thread uses
  them, or, in a thread numbered otherwise, for the next number when no "N/" for it follows
  (mixed styles); a list "1. 2. 3." inside a post stays text.
- Numbering at the end of a post ("... 2/4", "... 3/ 🧵", a line "2/N" or "10/N END") ends
  that post and gives its number; inline end numbering counts only when at least two posts
  use it consecutively (so "improved in 2/3" stays text).
- A thread without any numbering splits into posts at blank lines, and after a line that
  ends with a media marker; when it then has fewer posts than lines and announces at least
  as many posts as it has lines, each line is a post. In a numbered thread blank lines are
  paragraph breaks.
- "END", "FIN", "fin", "/end" closing a post mark the end of the thread and are removed.
- "Image", "Video", "GIF" appended after a post's last word, one per medium ("...on CT
  Image", "#tag Image", "Image Image"), are removed and the post is recorded as having media
  (`has_media: true`; image URLs such as pbs.twimg.com become `media`). When the page shows
  such markers, posts without them are known to have none (`has_media: false`); a page
  without any leaves it unknown.
- A quoted tweet inside a post (a "Name @handle" line, or "Name" and "@handle" lines,
  followed by a date) is kept apart from the author's words, after them, as a quote.

Page furniture ("• • •", "Missing some Tweet in this thread? You can try to force a
refresh", "Practice here first or read more on our help page!", "Tweet / Share / Email",
"Help | About | TOS | Privacy", dates on a line of their own, "Share this page", "Follow
@x", premium and donation blurbs, the unroll form, ...) is dropped.

"More from @handle" opens the teasers: each (starting after a date line, ending with
"Read N tweets") is a thread of its own credited to that handle, announcing N posts.

Status is "partial" when the numbering skips posts or does not start at 1, when the thread
announces more posts ("12 tweets", "1/12", "Read 12 tweets") than were found, for a teaser
(unless all its posts are there), or when the page marks the end of its threads with
"• • •" and this thread runs into the next one or the end of the text without it (and
without a final "12/12" or "END"). The report flags a partial thread whose last post stops
mid-word.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass, field

from content.importers._common import (
    IMAGE_ONLY_TEXT,
    UNKNOWN_AUTHOR,
    Draft,
    Marker,
    Quote,
    fit_post,
    parse_marker,
    parse_trailing_marker,
    split_glued_hashtags,
    status_notes,
    strip_end_words,
    strip_media_words,
    tidy,
    title_from_posts,
    with_quote,
)
from content.importers._dates import DATE_PATTERN, PageDate, find_date, is_date_line
from content.importers._links import has_short_media_link, status_url, tweet_date, tweet_id
from content.models import Author, Post

IMPORTED_FROM = "Thread Reader App unroll"

_END_RE = re.compile(
    r"^(?:[•·∙⋅●]\s*){2,}$"
    r"|^missing some tweets? in this thread\??(?:\s*you can try to)?(?:\s*force a refresh\.?)?$"
    r"|^(?:you can try to\s+)?force a refresh\.?$",
    re.IGNORECASE,
)
_SEP = r"[\s•·,|–—-]*"
_META_RE = re.compile(
    r"^(?:@(?P<handle>\w{1,15})\s*[·•]?\s*)?"
    rf"(?P<date>{DATE_PATTERN})?{_SEP}"
    r"(?:(?P<count>\d{1,4})\s+(?:tweets?|posts?))?"
    rf"{_SEP}(?P<read>\d{{1,4}}\s+min(?:ute)?s?\s+read)?{_SEP}"
    r"(?P<logo>(?:twitter|x)\s+logo)?\s*"
    r"(?P<on>read\s+on\s+(?:twitter|x)(?:\s*\(x\))?\.?)?\s*$",
    re.IGNORECASE,
)
_THREAD_BY_RE = re.compile(
    r"^thread by @(?P<handle>\w{1,15})(?: on thread reader app)?.*$", re.IGNORECASE
)
_PROFILE_RE = re.compile(
    r"^(?:(?P<name>.{1,100}?)\s+)?profile picture$|^profile picture\s+(?P<after>.{1,100})$",
    re.IGNORECASE,
)
_HANDLE_RE = re.compile(r"^@(?P<handle>\w{1,15})$")
_MORE_FROM_RE = re.compile(
    r"^more from\s+(?:@(?P<handle>\w{1,15})|(?P<name>[^@\n]{1,60}?))\s*$", re.IGNORECASE
)
_READ_N_RE = re.compile(r"^read\s+(?P<count>\d{1,4})\s+(?:tweets?|posts?)\.?$", re.IGNORECASE)
_QUOTE_HEAD_RE = re.compile(
    rf"^(?P<name>[^@\n]{{1,60}}?)\s*[(\[]?@(?P<handle>\w{{1,15}})[)\]]?"
    rf"(?:\s*[·•-]?\s*(?P<date>{DATE_PATTERN}))?$",
    re.IGNORECASE,
)
_TR_URL_RE = re.compile(
    r"^(?:https?://)?(?:www\.)?threadreaderapp\.com/thread/\d+(?:\.html)?\S*$", re.IGNORECASE
)
_FURNITURE_RE = re.compile(
    r"^(?:"
    r"share this (?:page|thread)!?|share|tweet|post|email|e-mail|copy link|×|x"
    r"|tweet\s*/?\s*share\s*/?\s*email|tweet\s*[·|]\s*share\s*[·|]\s*email"
    r"|save as pdf|save this thread as pdf|subscribe|follow|follow us!?"
    r"|follow @\w{1,15}(?: on (?:twitter|x))?!?"
    r"|follow @threadreaderapp to mention us!?"
    r"|practice here first or read more on our help page!?"
    r"|help\s*\|\s*about\s*\|\s*tos\s*\|\s*privacy"
    r"|enter url or id to unroll|unroll thread|you can paste full url like:?.*"
    r"|or just the id like:?.*|how to get url link on (?:x|twitter).*"
    r"|on the (?:twitter|x) thread, click on.*|click again on.*"
    r"|choose .copy link to (?:tweet|post).*|paste the url above.*"
    r"|keep current with .{1,80}"
    r"|stay in touch and get notified when new unrolls are available from this author!?"
    r"|get real-time email alerts when new unrolls are available from this author!?"
    r"|this thread may be removed anytime!?"
    r"|(?:twitter|x) may remove this content at anytime!?.*"
    r"|try unrolling a thread yourself!?"
    r"|did thread reader help you today\??"
    r"|support us!? we are indie developers!?"
    r"|this site is made by just two indie developers.*"
    r"|read more about the story\.?"
    r"|become a .{0,4}premium member.*|become premium|premium members? .*"
    r"|don['’]t want to be a premium member.*"
    r"|make a small donation.*|donate via paypal|or donate anonymously using crypto!?"
    r"|ethereum|bitcoin|copy|thank you for your support!?|help us!?.*thank you.*"
    r"|0x[0-9a-f]{40}|[13][a-km-zA-HJ-NP-Z1-9]{25,34}"
    r"|related hashtags|enjoying this thread\??"
    r"|trending threads|explore trending threads|thread reader app|thread reader|unroll"
    r"|bookmark|@threadreaderapp unroll|scroll down for more|this content may be removed.*"
    r")$",
    re.IGNORECASE,
)
_URL_IN_TEXT_RE = re.compile(r"https?://[^\s<>\"]{1,2000}")
_IMAGE_URL_RE = re.compile(
    r"https?://pbs\.twimg\.com/media/\S+|\S+\.(?:jpe?g|png|gif|webp)(?:[?#]\S*)?",
    re.IGNORECASE,
)
_BIO_MAX_LINES = 6
_HEADER_LOOKAHEAD = 12


@dataclass
class _Header:
    name: str | None = None
    handle: str | None = None
    declared: int | None = None
    date: PageDate | None = None
    url: str | None = None
    teaser: bool = False
    page: bool = False  # a full page header (with a meta line), not a teaser card

    def merge(self, other: _Header) -> None:
        self.name = other.name or self.name
        self.handle = other.handle or self.handle
        self.declared = other.declared or self.declared
        self.date = other.date or self.date
        self.url = other.url or self.url
        self.page = other.page or self.page


@dataclass
class _RawPost:
    number: int | None = None
    total: int | None = None
    final: bool = False
    lines: list[tuple[str, str]] = field(default_factory=list)  # ("t"|"b"|"q", text)
    media_marks: int = 0
    quote: Quote | None = None
    closed: bool = False  # end numbering or a media marker ended it

    def has_text(self) -> bool:
        return any(kind != "b" and text.strip() for kind, text in self.lines)


@dataclass
class _RawThread:
    header: _Header
    posts: list[_RawPost] = field(default_factory=list)
    closed: bool = False
    style: str | None = None
    max_number: int = 0
    quoting: bool = False
    weak_text: tuple[str, int] | None = None  # a list item read as text in this post
    starts: set[tuple[int, str, str]] = field(default_factory=set)

    @property
    def marked(self) -> bool:
        return self.max_number > 0

    @property
    def last_number(self) -> int:
        """The highest post number so far (an un-numbered opening counts as 1)."""
        return self.max_number or (1 if any(p.has_text() for p in self.posts) else 0)

    @property
    def last(self) -> _RawPost:
        if not self.posts:
            self.posts.append(_RawPost())
        return self.posts[-1]

    def repeats(self, marker: Marker) -> bool:
        """True when `marker` starts a post this thread already has (a repeated tweet)."""
        return (marker.number, marker.style, marker.rest.strip()) in self.starts

    def number(self, post: _RawPost, marker: Marker) -> None:
        post.number = marker.number
        post.total = marker.total or post.total
        post.final = post.final or marker.final
        self.style = self.style or marker.style
        self.max_number = max(self.max_number, marker.number)

    def start_post(self, marker: Marker | None, text: str) -> _RawPost:
        post = _RawPost()
        if marker is not None:
            self.number(post, marker)
            self.starts.add((marker.number, marker.style, text.strip()))
        self.posts.append(post)
        self.quoting = False
        self.weak_text = None
        if text:
            post.lines.append(("t", text))
        return post

    def expected(self) -> int:
        """The number the open (last) post would have."""
        before = [p.number for p in self.posts[:-1] if p.number is not None]
        return (max(before) if before else len(self.posts) - 1) + 1


def _meta(line: str) -> re.Match[str] | None:
    """A header meta line ("Aug 26, 2022 12 tweets 3 min read Read on X", ...), or None."""
    if len(line) > 160:
        return None
    m = _META_RE.match(line)
    if m and (m.group("count") or m.group("read") or m.group("logo") or m.group("on")):
        return m
    return None


def _is_header_line(line: str) -> bool:
    return bool(_meta(line) or _THREAD_BY_RE.match(line))


def _apply_meta(header: _Header, m: re.Match[str]) -> None:
    header.page = True
    if m.group("handle"):
        header.handle = header.handle or m.group("handle")
    if m.group("count"):
        header.declared = int(m.group("count"))
    if m.group("date"):
        header.date = find_date(m.group("date")) or header.date


def _nonblank(lines: list[str], start: int, limit: int) -> list[int]:
    out: list[int] = []
    k = start
    while k < len(lines) and len(out) < limit:
        if lines[k].strip():
            out.append(k)
        k += 1
    return out


def _is_name(line: str) -> bool:
    return (
        0 < len(line) <= 80
        and "@" not in line
        and parse_marker(line) is None
        and not _END_RE.match(line)
        and not _FURNITURE_RE.match(line)
        and not _is_header_line(line)
        and line[-1] not in ".!?…:"
    )


def _header_tail(lines: list[str], start: int, header: _Header) -> int:
    """Consume meta lines and their parts (date, "Read on X", icon text) from `start`."""
    k = start
    while k < len(lines):
        line = lines[k].strip()
        if not line:
            k += 1
            continue
        meta = _meta(line)
        by = _THREAD_BY_RE.match(line)
        if meta:
            _apply_meta(header, meta)
        elif by:
            header.handle = header.handle or by.group("handle")
        elif is_date_line(line) and header.date is None:
            header.date = find_date(line)
        elif _TR_URL_RE.match(line):
            header.url = line
        else:
            break
        k += 1
    return max(k, start + 1)


_NAME_WITH_HANDLE_RE = re.compile(r"^(?P<name>[^@]*?)\s*[(\[]?@(?P<handle>\w{1,15})[)\]]?$")


def _name_and_handle(text: str) -> tuple[str | None, str | None]:
    """'Jane Doe, MD' or 'Jane Doe (@janedoe)' -> name and handle."""
    text = text.strip()
    m = _NAME_WITH_HANDLE_RE.match(text)
    if m:
        return m.group("name").strip(" ·-") or None, m.group("handle")
    return text or None, None


def _profile_header(lines: list[str], at: int, m: re.Match[str]) -> tuple[_Header, int]:
    """Read the header that starts with a "Name Profile picture" line; return where it ends."""
    name, handle = _name_and_handle(m.group("name") or m.group("after") or "")
    header = _Header(name=name, handle=handle)
    ahead = _nonblank(lines, at + 1, _HEADER_LOOKAHEAD)
    meta_at = None
    for k in ahead:
        line = lines[k].strip()
        if _meta(line):
            meta_at = k
            break
        marker = parse_marker(line)
        if (
            _END_RE.match(line)
            or _PROFILE_RE.match(line)
            or len(line) > 200
            or (marker is not None and marker.style == "/" and marker.number == 1)
        ):
            break
    between = [lines[k].strip() for k in ahead if meta_at is None or k < meta_at]
    if meta_at is None:
        # No meta line: only a repeated name and an "@handle" line belong to the header.
        between = between[:2]
    used = 0
    if between and header.name is None and _is_name(between[0]):
        header.name, used = between[0], 1
    elif between and header.name and between[0] == header.name:
        used = 1
    if used < len(between) and (h := _HANDLE_RE.match(between[used])):
        header.handle = header.handle or h.group("handle")
        used += 1
    if meta_at is None:
        return header, (ahead[used - 1] + 1) if used else at + 1
    for line in between[used:]:
        if is_date_line(line) and header.date is None:
            header.date = find_date(line)
    return header, _header_tail(lines, meta_at, header)


def _banner_headers(lines: list[str]) -> dict[int, tuple[_Header, int]]:
    """Headers without a "Profile picture" line: "Name" and "@handle" lines, maybe bio lines,
    then a meta line. Keyed by the first line of the header; the value says where it ends."""
    found: dict[int, tuple[_Header, int]] = {}
    for i, raw in enumerate(lines):
        line = raw.strip()
        if not _is_header_line(line):
            continue
        header = _Header()
        start = i
        back = [k for k in range(i - 1, max(-1, i - 30), -1) if lines[k].strip()]
        back = back[: _BIO_MAX_LINES + 2]
        if back and _is_header_line(lines[back[0]].strip()):
            continue  # the header began on an earlier line
        for n, k in enumerate(back):
            prev = lines[k].strip()
            if _is_header_line(prev):
                continue
            h = _HANDLE_RE.match(prev)
            if h:
                header.handle = h.group("handle")
                start = k
                if n + 1 < len(back) and _is_name(lines[back[n + 1]].strip()):
                    header.name = lines[back[n + 1]].strip()
                    start = back[n + 1]
                break
            marker = parse_marker(prev)
            if (
                _END_RE.match(prev)
                or (marker is not None and marker.style == "/")
                or len(prev) > 200
                or _FURNITURE_RE.match(prev)
            ):
                break
        found[start] = (header, i)
    return found


def _trailing_numbering_used(lines: list[str]) -> bool:
    """True when at least two posts end with consecutive numbers ("... 1/", "... 2/")."""
    numbers: set[int] = set()
    for raw in lines:
        core, _ = strip_media_words(raw.strip())
        if not core or parse_marker(core) is not None:
            continue
        marker = parse_trailing_marker(core)
        if marker is not None and marker.style == "/" and marker.rest:
            numbers.add(marker.number)
    return any(n + 1 in numbers for n in numbers)


def _strong_ahead(lines: list[str], start: int, number: int) -> bool:
    """True when an "N/" marker for `number` follows before this thread ends."""
    for k in range(start, min(len(lines), start + 500)):
        line = lines[k].strip()
        if _END_RE.match(line) or _PROFILE_RE.match(line) or _MORE_FROM_RE.match(line):
            return False
        marker = parse_marker(line)
        if marker is not None and marker.style == "/":
            if marker.number == number:
                return True
            if marker.number == 1:
                return False
    return False


def _quote_head(lines: list[str], at: int, line: str, post: _RawPost) -> tuple[Quote, int] | None:
    """A quoted tweet's head at `line` ("Name @handle" + a date, or "@handle" after a name
    line and before a date); return it and the index after it."""
    nxt = _nonblank(lines, at + 1, 1)
    next_is_date = bool(nxt) and is_date_line(lines[nxt[0]].strip())
    m = _QUOTE_HEAD_RE.match(line)
    if m and len(line) <= 100:
        if m.group("date"):
            return Quote(
                "", m.group("name").strip(" ·-"), m.group("handle"), m.group("date")
            ), at + 1
        if next_is_date:
            date = lines[nxt[0]].strip().lstrip("·• ")
            return Quote("", m.group("name").strip(" ·-"), m.group("handle"), date), nxt[0] + 1
    h = _HANDLE_RE.match(line)
    if h and next_is_date:
        name = None
        if post.lines and post.lines[-1][0] == "t" and _is_name(post.lines[-1][1]):
            name = post.lines.pop()[1]
        date = lines[nxt[0]].strip().lstrip("·• ")
        return Quote("", name, h.group("handle"), date), nxt[0] + 1
    return None


@dataclass
class _Page:
    threads: list[_RawThread]
    marks_ends: bool
    shows_media: bool
    dropped: list[str]


def _split_threads(text: str) -> _Page:
    lines = text.split("\n")
    banners = _banner_headers(lines)
    trailing = _trailing_numbering_used(lines)
    threads: list[_RawThread] = []
    current: _RawThread | None = None
    pending = _Header()
    teaser: _Header | None = None
    marks_ends = shows_media = False
    dropped: list[str] = []

    def close() -> None:
        nonlocal current
        current = None

    def header_follows() -> None:
        """A header line ends the thread above it, unless those lines were the header's
        own (bio lines above the meta line): then they are dropped, never a thread."""
        nonlocal current
        header = current.header if current is not None else None
        if (
            current is not None
            and header is not None
            and not (header.page or header.teaser or header.name or header.handle)
            and not current.marked
            and len(current.posts) == 1
        ):
            lines_above = [t for kind, t in current.posts[0].lines if kind == "t" and t]
            if 0 < len(lines_above) <= _BIO_MAX_LINES and all(len(t) <= 160 for t in lines_above):
                threads.remove(current)
                dropped.extend(lines_above)
        current = None

    names: dict[str, str] = {}  # handle -> display name, from the page headers

    def start(marker: Marker | None, body: str) -> _RawThread:
        nonlocal pending
        header = pending
        if teaser is not None:
            header.teaser = True
            header.handle = header.handle or teaser.handle
            header.name = header.name or teaser.name
            if header.handle and not header.name:
                header.name = names.get(header.handle.lower())
        elif header.handle and header.name:
            names[header.handle.lower()] = header.name
        thread = _RawThread(header=header)
        pending = _Header()
        thread.start_post(marker, body)
        threads.append(thread)
        return thread

    i = 0
    while i < len(lines):
        index = i
        line = lines[i].strip()
        i += 1
        if not line:
            if current is not None:
                current.last.lines.append(("b", ""))
                if current.quoting and not current.marked:
                    current.quoting = False
                    current.last.closed = True
            continue
        if _END_RE.match(line):
            marks_ends = True
            if current is not None:
                current.closed = True
            close()
            continue
        if (m := _PROFILE_RE.match(line)) and _is_name(
            _name_and_handle(m.group("name") or m.group("after") or "")[0] or "Name"
        ):
            header, after = _profile_header(lines, index, m)
            # Inside a thread, "... profile picture" is text unless a header follows it.
            if current is None or header.page or header.handle:
                i = after
                close()
                if header.page:
                    teaser = None
                pending.merge(header)
                continue
        if m := _MORE_FROM_RE.match(line):
            close()
            teaser = _Header(name=m.group("name"), handle=m.group("handle"))
            pending = _Header()
            continue
        if m := _READ_N_RE.match(line):
            # It closes a teaser; after a closed thread it is only page furniture.
            target = current
            if target is None and threads and threads[-1].header.teaser:
                target = threads[-1] if threads[-1].header.declared is None else None
            if target is not None:
                target.header.declared = int(m.group("count"))
            close()
            continue
        if index in banners:
            header, meta_at = banners[index]
            if index == meta_at:
                header_follows()
            else:
                close()  # the lines above the name line are not the header's
            teaser = None
            pending.merge(header)
            i = _header_tail(lines, meta_at, pending)
            continue
        if m := _THREAD_BY_RE.match(line):
            close()
            pending.handle = m.group("handle")
            continue
        if meta := _meta(line):
            header_follows()
            teaser = None
            _apply_meta(pending, meta)
            continue
        if _TR_URL_RE.match(line):
            pending.url = line
            continue
        if is_date_line(line):
            nxt = _nonblank(lines, i, 1)
            before_meta = bool(nxt) and _is_header_line(lines[nxt[0]].strip())
            if current is None or before_meta or current.header.teaser:
                close()
                pending.date = find_date(line)
            continue
        if _FURNITURE_RE.match(line):
            continue

        if "@" in line and current is not None and current.posts and current.last.has_text():
            quote = _quote_head(lines, index, line, current.last)
            if quote is not None:
                current.last.quote, i = quote
                current.quoting = True
                continue

        core, marks = strip_media_words(line)
        shows_media = shows_media or marks > 0
        if not core:
            if current is not None and current.posts:
                current.last.media_marks += marks
            continue
        marker = parse_marker(core)
        if current is None and marker is None:
            # An un-numbered opening: its line may still end with a number ("... 1/").
            current = start(None, "")
        if current is None:
            current = start(marker, marker.rest if marker else core)
        elif current.quoting and not (
            marker is not None and marker.number == current.last_number + 1
        ):
            current.last.lines.append(("q", core))
        elif marker is not None and not marker.rest.strip() and _ends_open_post(current, marker):
            current.number(current.last, marker)
            current.last.closed = True
        elif marker is not None and marker.style == "/" and marker.number == 1:
            current = start(marker, marker.rest)
        elif marker is not None and _next_post(current, marker, lines, i):
            current.start_post(marker, marker.rest)
        else:
            end = parse_trailing_marker(core) if trailing else None
            if end is not None and end.style == "/" and end.rest:
                post = current.last if not current.last.closed else current.start_post(None, "")
                if post.number is None and end.number == current.expected():
                    post.lines.append(("t", end.rest))
                    current.number(post, end)
                    post.closed = True
                    post.media_marks += marks
                    continue
                if post.number == end.number:
                    post.lines.append(("t", end.rest))
                    post.total = end.total or post.total
                    post.final = post.final or end.final
                    post.closed = True
                    post.media_marks += marks
                    continue
            if current.last.closed:
                current.start_post(None, core)
            else:
                weak = marker is not None and marker.style != "/"
                if weak and marker is not None:
                    current.weak_text = (marker.style, marker.number)
                current.last.lines.append(("t", core))
        current.last.media_marks += marks
        if marks and not current.marked:
            current.last.closed = True
    return _Page(threads, marks_ends, shows_media, dropped)


def _ends_open_post(thread: _RawThread, marker: Marker) -> bool:
    """True when a line holding only "N/" ends the open post rather than starting one."""
    post = thread.last
    if post.closed or not post.has_text():
        return False
    if post.number is None:
        return marker.number == thread.expected()
    return post.number == marker.number


def _next_post(thread: _RawThread, marker: Marker, lines: list[str], at: int) -> bool:
    last = thread.last_number
    if marker.style == "/":
        return last < marker.number <= last + 5 or thread.repeats(marker)
    if marker.number != last + 1:
        return thread.repeats(marker)
    if thread.style == marker.style:
        return True
    if not thread.marked or thread.weak_text == (marker.style, marker.number - 1):
        return False
    return not _strong_ahead(lines, at, marker.number)


def _posts_of(thread: _RawThread) -> list[_RawPost]:
    """The thread's posts; an un-numbered thread splits at blank lines."""
    posts: list[_RawPost] = []
    if thread.marked:
        posts = thread.posts
    else:
        for raw in thread.posts:
            piece = _RawPost(closed=raw.closed)
            for kind, text in raw.lines:
                if kind == "b" and piece.has_text():
                    posts.append(piece)
                    piece = _RawPost()
                    continue
                if kind == "q":
                    piece.quote = raw.quote
                piece.lines.append((kind, text))
            piece.media_marks = raw.media_marks
            posts.append(piece)
    posts = [p for p in posts if p.has_text() or p.media_marks]
    declared = thread.header.declared
    if not thread.marked and declared and len(posts) < declared:
        lines = sum(1 for p in posts for kind, text in p.lines if kind == "t" and text.strip())
        if len(posts) < lines <= declared:
            # One tweet a line: the page announces at least as many posts as it has lines.
            posts = [piece for p in posts for piece in _line_posts(p)]
    if thread.marked and posts and posts[0].number is None:
        posts[0].number = 1
    numbers = [p.number for p in posts]
    if thread.marked and None not in numbers and len(set(numbers)) == len(numbers):
        posts.sort(key=lambda p: p.number or 0)
    return posts


def _line_posts(raw: _RawPost) -> list[_RawPost]:
    """Each text line of `raw` as a post of its own (a quote stays with its line)."""
    pieces: list[_RawPost] = []
    for kind, text in raw.lines:
        if kind == "t" and text.strip():
            pieces.append(_RawPost(lines=[(kind, text)]))
        elif kind == "q" and pieces:
            pieces[-1].lines.append((kind, text))
            pieces[-1].quote = raw.quote
    if pieces:
        pieces[-1].media_marks = raw.media_marks
    return pieces


def _media_from(text: str) -> tuple[str, list[str]]:
    """Image URLs in the text become media; other links stay in the text."""
    media: list[str] = []

    def take(m: re.Match[str]) -> str:
        url = m.group(0).rstrip(".,;:)")
        if _IMAGE_URL_RE.fullmatch(url):
            media.append(url)
            return m.group(0)[len(url) :]
        return m.group(0)

    return _URL_IN_TEXT_RE.sub(take, text), media


def _join(raw: _RawPost, kind: str) -> str:
    lines = [text if k == kind else "" for k, text in raw.lines if k in (kind, "b")]
    return tidy(split_glued_hashtags("\n".join(lines)))


def _stops_mid_word(text: str) -> bool:
    """True when the text ends in a word without closing punctuation (not a tag or link)."""
    words = text.split()
    if not words or words[-1].startswith(("#", "@", "http")):
        return False
    return bool(re.search(r"\w(?:…|\.\.\.)?$", words[-1]))


def _draft(thread: _RawThread, page: _Page, today: dt.date) -> Draft | None:
    raw_posts = _posts_of(thread)
    notes: list[str] = []
    posts: list[Post] = []
    seen: set[tuple[int | None, str]] = set()
    duplicates = 0
    unlinked: list[int] = []
    quoted: list[int] = []
    last_text = ""
    for raw in raw_posts:
        text, marks = strip_media_words(_join(raw, "t"))
        text, final = strip_end_words(text)
        text, more = strip_media_words(text)
        raw.final = raw.final or final
        marks += more + raw.media_marks
        text, media = _media_from(text)
        text = tidy(text)
        quote_text, quote_marks = strip_media_words(_join(raw, "q"))
        marks += quote_marks
        key = (raw.number, re.sub(r"\s+", " ", text + quote_text).casefold())
        if key[1] and key in seen:
            duplicates += 1
            continue
        seen.add(key)
        if not text and not quote_text and not media and not marks:
            continue  # nothing but an "END" marker
        had_media = bool(media or marks or has_short_media_link(text))
        has_media: bool | None = True if had_media else (False if page.shows_media else None)
        position = len(posts) + 1
        if raw.quote is not None and quote_text:
            quoted.append(position)
            text = with_quote(
                text, Quote(quote_text, raw.quote.name, raw.quote.handle, raw.quote.date)
            )
        if not text:
            text = IMAGE_ONLY_TEXT
        if had_media and not media:
            unlinked.append(position)
        last_text = text
        posts.extend(fit_post(text, media, has_media=has_media))
    if not posts:
        return None
    if duplicates:
        notes.append(f"{duplicates} duplicate post(s) removed")
    if unlinked:
        shown = ", ".join(str(n) for n in unlinked)
        notes.append(
            f"post(s) {shown} had an image or video that the page does not link: marked "
            "`has_media: true` (the bot points to the original); add the image URLs to "
            "`media` to show them"
        )
    if quoted:
        shown = ", ".join(str(n) for n in quoted)
        notes.append(f"post(s) {shown} quote another post: the quote follows the author's text")

    header = thread.header
    count = len(raw_posts) - duplicates
    numbers = [p.number for p in raw_posts if p.number is not None] if thread.marked else []
    totals = [p.total for p in raw_posts if p.total is not None]
    declared = max([*totals, *([header.declared] if header.declared else [])] or [0]) or None
    status, status_msgs = status_notes(numbers, declared, count)
    explicit_end = any(p.final for p in raw_posts)
    if header.teaser and (declared is None or declared > count):
        who = f"@{header.handle}" if header.handle else (header.name or "the author")
        status = "partial"
        status_msgs.append(
            f"a teaser from “More from {who}”: only its opening posts are on the page; "
            "import the whole thread to complete it"
        )
    elif page.marks_ends and not thread.closed and not explicit_end and not header.teaser:
        status = "partial"
        last = raw_posts[-1].number or len(raw_posts)
        status_msgs.append(
            f"partial: the unroll stops after post {last} without Thread Reader's "
            "end-of-thread marker ('• • •'); add the missing posts or keep it as a preview"
        )
    if status == "partial" and _stops_mid_word(last_text):
        tail = last_text[-40:].split("\n")[-1]
        status_msgs.append(
            f"the last post may stop mid-word (it ends “…{tail}”); check it against the original"
        )
    notes = status_msgs + notes

    if header.handle or header.name:
        author = Author(
            name=header.name or header.handle or UNKNOWN_AUTHOR,
            handle=f"@{header.handle}" if header.handle else None,
        )
    else:
        author = Author(name=UNKNOWN_AUTHOR)
    first_id = tweet_id(header.url)
    url = status_url(first_id, header.handle) if first_id else None
    published = None
    if header.date is not None and header.date.year is not None:
        published = header.date.resolve(today)
    elif url is not None and (published := tweet_date(url)):
        notes.append("source.published decoded from the tweet id in the Thread Reader URL")
    elif header.date is not None:
        published = header.date.resolve(today)
        if published is not None:
            notes.append(
                f"source.published: the page shows “{header.date.shown}” without a year; "
                f"{published.year} assumed"
            )
    return Draft(
        title=title_from_posts([p.text for p in posts]),
        posts=posts,
        author=author,
        url=url,
        kind="tweetorial",
        imported_from=IMPORTED_FROM,
        published=published,
        status=status,
        notes=notes,
        announced=declared,
    )


def parse(text: str, today: dt.date) -> tuple[list[Draft], list[str]]:
    """Turn Thread Reader App page text into drafts, one per thread, and general notes."""
    page = _split_threads(text)
    drafts: list[Draft] = []
    seen: set[tuple[str, ...]] = set()
    repeated = 0
    for thread in page.threads:
        draft = _draft(thread, page, today)
        if draft is None:
            continue
        key = tuple(p.text for p in draft.posts)
        if key in seen:
            repeated += 1
            continue
        seen.add(key)
        drafts.append(draft)
    notes = [f"{repeated} repeated thread(s) removed"] if repeated else []
    if page.dropped:
        shown = ", ".join(f"“{line[:40]}”" for line in page.dropped[:3])
        notes.append(f"{len(page.dropped)} header line(s) above a thread dropped ({shown})")
    return drafts, notes
