"""Thread Reader App unrolls: the page text, possibly holding several threads.

Rules, in the order they apply to each line:

- Blank lines are kept: inside a numbered post they are paragraph breaks; in a thread that
  has no numbering they separate the posts.
- End-of-thread furniture ("• • •", "Missing some Tweet in this thread? You can try to",
  "force a refresh") closes the current thread.
- Header furniture ("12 tweets 3 min read", "12 tweets • 3 min read", "Read on X",
  "Read on Twitter", "Thread by @x", and the author banner just above such a line: a
  "Name" line and an "@handle" line, or "Name @handle") also ends the current thread and
  gives the author and the announced post count to the next thread.
- Other page furniture ("Share this page", "Follow @x", "Subscribe", premium and donation
  blurbs, ...) is dropped.
- "1/", "(1/12)", "1/N" start a new thread; "N/" with N above the last number (by at most
  5) starts the next post; anything else continues the current post. "1)" numbering is
  followed only when the thread started with it. A line after the end of a thread (or at
  the top) opens a new thread even without a number: its first post is un-numbered.
- A line that is only "Image" (or "Video", "GIF"), or such a word after the closing
  punctuation of a post, marks an image the unroll does not link: media stays empty and the
  report says which post had it. Image URLs (pbs.twimg.com, .jpg/.png/...) become media.

Status is "partial" when the numbering skips posts or does not start at 1, when the thread
announces more posts ("12 tweets", "1/12") than were found, or when the page marks the end
of its threads with "• • •" / "Missing some Tweet" and this thread runs into the next one
or the end of the text without that marker (and without a final "12/12" or "END").
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from content.importers._common import (
    IMAGE_ONLY_TEXT,
    UNKNOWN_AUTHOR,
    Draft,
    Marker,
    fit_post,
    parse_marker,
    split_glued_hashtags,
    status_notes,
    tidy,
    title_from_posts,
)
from content.models import Author, Post

IMPORTED_FROM = "Thread Reader App unroll"

_END_RE = re.compile(
    r"^(?:[•·∙⋅●]\s*){2,}$"
    r"|^missing some tweets? in this thread\??(?:\s*you can try to)?(?:\s*force a refresh\.?)?$"
    r"|^(?:you can try to\s+)?force a refresh\.?$",
    re.IGNORECASE,
)
_COUNT_RE = re.compile(
    r"^(?P<count>\d{1,4})\s+(?:tweets?|posts?)\s*(?:[•·|,-]\s*)?\d{1,4}\s+min(?:ute)?s?\s+read$",
    re.IGNORECASE,
)
_READ_ON_RE = re.compile(r"^read on (?:x|twitter)(?: \(x\))?\.?$", re.IGNORECASE)
_THREAD_BY_RE = re.compile(
    r"^thread by @(?P<handle>\w{1,15})(?: on thread reader app)?.*$", re.IGNORECASE
)
_HANDLE_RE = re.compile(r"^@(?P<handle>\w{1,15})$")
_NAME_HANDLE_RE = re.compile(r"^(?P<name>[^@\n]{1,60}?)\s*[(\[]?@(?P<handle>\w{1,15})[)\]]?$")
_TR_URL_RE = re.compile(r"^https?://(?:www\.)?threadreaderapp\.com/thread/\d+(?:\.html)?\S*$")
_FURNITURE_RE = re.compile(
    r"^(?:"
    r"share this (?:page|thread)!?|share|tweet|save as pdf|save this thread as pdf"
    r"|subscribe|follow|follow @\w{1,15}(?: on (?:twitter|x))?!?"
    r"|follow @threadreaderapp to mention us!?"
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
    r"|become a premium member.*|become premium|premium members? .*"
    r"|don'?t want to be a premium member.*|don’t want to be a premium member.*"
    r"|make a small donation.*|donate via paypal|or donate anonymously using crypto!?"
    r"|ethereum|bitcoin|copy|thank you for your support!?|help us!?.*thank you.*"
    r"|0x[0-9a-f]{40}|[13][a-km-zA-HJ-NP-Z1-9]{25,34}"
    r"|more from @?\w{1,15}|more from .{1,60}|related hashtags|enjoying this thread\??"
    r"|trending threads|explore trending threads|thread reader app|unroll|bookmark"
    r"|@threadreaderapp unroll|scroll down for more|this content may be removed.*"
    r"|(?:jan|feb|mar|apr|may|jun|jul|aug|sep|oct|nov|dec)[a-z]*\.? \d{1,2}(?:st|nd|rd|th)?,? \d{4}"
    r")$",
    re.IGNORECASE,
)
_MEDIA_WORDS = ("Image", "Video", "GIF")
# "... the end. END", "... /end", "(END)" closing the last post.
_TRAILING_END_RE = re.compile(
    r"(?:(?<=\W)|^)[ \t]*(?:(?-i:END|FIN)|/end|/fin|\((?-i:END)\)|\[(?-i:END)\])\.?$", re.I
)
_URL_IN_TEXT_RE = re.compile(r"https?://[^\s<>\"]{1,2000}")
_IMAGE_URL_RE = re.compile(
    r"https?://pbs\.twimg\.com/media/\S+|\S+\.(?:jpe?g|png|gif|webp)(?:[?#]\S*)?",
    re.IGNORECASE,
)


@dataclass
class _Item:
    kind: str  # "marker", "line", "blank"
    text: str = ""
    marker: Marker | None = None
    images: int = 0


@dataclass
class _Header:
    name: str | None = None
    handle: str | None = None
    declared: int | None = None
    url: str | None = None


@dataclass
class _RawThread:
    header: _Header
    items: list[_Item] = field(default_factory=list)
    closed: bool = False
    style: str | None = None
    max_number: int = 0
    has_lines: bool = False
    starts: set[tuple[int, str, str]] = field(default_factory=set)

    @property
    def last_number(self) -> int:
        """The highest post number so far (an un-numbered opening counts as 1)."""
        return self.max_number or (1 if self.has_lines else 0)

    def repeats(self, marker: Marker) -> bool:
        """True when `marker` starts a post this thread already has (a repeated tweet)."""
        return (marker.number, marker.style, marker.rest.strip()) in self.starts

    def add(self, item: _Item) -> None:
        if item.marker is not None:
            self.style = self.style or item.marker.style
            self.max_number = max(self.max_number, item.marker.number)
            self.starts.add((item.marker.number, item.marker.style, item.text.strip()))
        elif item.kind == "line":
            self.has_lines = True
        self.items.append(item)


def _trailing_media(line: str) -> tuple[str, int]:
    """Strip trailing 'Image'/'Video'/'GIF' words that follow the post's last punctuation."""
    body = line.rstrip()
    count = 0
    while True:
        for word in _MEDIA_WORDS:
            if body == word:
                return "", count + 1
            if body.endswith(word) and body[-len(word) - 1] in " \t":
                before = body[: -len(word)].rstrip()
                if before and (before.endswith(_MEDIA_WORDS) or not before[-1].isalnum()):
                    body = before
                    count += 1
                    break
        else:
            return body, count


def _is_header(line: str) -> bool:
    return bool(_COUNT_RE.match(line) or _READ_ON_RE.match(line) or _THREAD_BY_RE.match(line))


def _find_banners(lines: list[str]) -> dict[int, _Header]:
    """Author banner lines just above a header line ('N tweets N min read', 'Read on X')."""
    banners: dict[int, _Header] = {}
    for i, raw in enumerate(lines):
        if not _is_header(raw.strip()):
            continue
        j = i - 1
        seen = 0
        handle_found = False
        while j >= max(0, i - 20) and seen < 3:
            line = lines[j].strip()
            j -= 1
            if not line:
                continue
            seen += 1
            if _is_header(line):
                continue
            m = _HANDLE_RE.match(line)
            if m and not handle_found:
                banners[j + 1] = _Header(handle=m.group("handle"))
                handle_found = True
                continue
            if handle_found:
                if (
                    len(line) <= 60
                    and parse_marker(line) is None
                    and not _END_RE.match(line)
                    and not _FURNITURE_RE.match(line)
                    and line[-1] not in ".!?…:"
                ):
                    banners[j + 1] = _Header(name=line)
                break
            m = _NAME_HANDLE_RE.match(line)
            if m and parse_marker(line) is None:
                banners[j + 1] = _Header(name=m.group("name").strip(), handle=m.group("handle"))
            break
    return banners


def _split_threads(text: str) -> tuple[list[_RawThread], bool]:
    lines = text.split("\n")
    banners = _find_banners(lines)
    threads: list[_RawThread] = []
    current: _RawThread | None = None
    pending = _Header()
    page_marks_ends = False

    def start(item: _Item) -> _RawThread:
        nonlocal pending
        thread = _RawThread(header=pending)
        pending = _Header()
        thread.add(item)
        threads.append(thread)
        return thread

    for index, raw in enumerate(lines):
        line = raw.strip()
        if not line:
            if current is not None:
                current.items.append(_Item("blank"))
            continue
        if _END_RE.match(line):
            page_marks_ends = True
            if current is not None:
                current.closed = True
            current = None
            continue
        banner = banners.get(index)
        count = _COUNT_RE.match(line)
        by = _THREAD_BY_RE.match(line)
        if banner is not None or count or by or _READ_ON_RE.match(line):
            current = None
            if banner is not None:
                pending.name = banner.name or pending.name
                pending.handle = banner.handle or pending.handle
            if count:
                pending.declared = int(count.group("count"))
            if by:
                pending.handle = by.group("handle")
            continue
        if _TR_URL_RE.match(line):
            pending.url = line
            continue
        if _FURNITURE_RE.match(line):
            continue
        body, images = _trailing_media(line)
        marker = parse_marker(body) if body else None
        if marker is not None:
            item = _Item("marker", marker.rest, marker, images)
        elif body:
            item = _Item("line", body, None, images)
        else:
            if current is not None and images:
                current.add(_Item("line", "", None, images))
            continue
        if current is None or (marker is not None and marker.style == "/" and marker.number == 1):
            current = start(item)
        elif marker is not None and (
            (marker.style == "/" and current.last_number < marker.number <= current.last_number + 5)
            or (current.style == ")" and marker.number == current.last_number + 1)
            or current.repeats(marker)
        ):
            current.add(item)
        else:
            current.add(_Item("line", body, None, images))
    return threads, page_marks_ends


@dataclass
class _RawPost:
    number: int | None
    lines: list[str] = field(default_factory=list)
    images: int = 0
    final: bool = False
    total: int | None = None


def _raw_posts(thread: _RawThread) -> tuple[list[_RawPost], bool]:
    markers = [it.marker for it in thread.items if it.marker is not None]
    numbered = len(markers) >= 2 or (len(markers) == 1 and markers[0].number > 1)
    posts: list[_RawPost] = []
    if numbered:
        current = _RawPost(number=None)
        for it in thread.items:
            if it.marker is not None:
                posts.append(current)
                current = _RawPost(
                    it.marker.number, [it.text], it.images, it.marker.final, it.marker.total
                )
            elif it.kind == "blank":
                current.lines.append("")
            else:
                current.lines.append(it.text)
                current.images += it.images
        posts.append(current)
    else:
        current = _RawPost(number=None)
        for it in thread.items:
            if it.kind == "blank":
                if current.lines or current.images:
                    posts.append(current)
                    current = _RawPost(number=None)
                continue
            if it.marker is not None:
                current.final = current.final or it.marker.final
                current.total = it.marker.total
            current.lines.append(it.text)
            current.images += it.images
        posts.append(current)
    posts = [p for p in posts if any(line.strip() for line in p.lines) or p.images]
    if numbered and posts and posts[0].number is None:
        posts[0].number = 1
    return posts, numbered


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


def _draft(thread: _RawThread, page_marks_ends: bool) -> Draft | None:
    raw_posts, numbered = _raw_posts(thread)
    notes: list[str] = []
    posts: list[Post] = []
    seen: set[tuple[int | None, str]] = set()
    duplicates = 0
    image_posts: list[int] = []
    for raw in raw_posts:
        text = split_glued_hashtags("\n".join(raw.lines))
        text, media = _media_from(text)
        text = tidy(text)
        end = _TRAILING_END_RE.search(text)
        if end:
            text, raw.final = text[: end.start()].rstrip(), True
        key = (raw.number, re.sub(r"\s+", " ", text).casefold())
        if key[1] and key in seen:
            duplicates += 1
            continue
        seen.add(key)
        if not text and not media and not raw.images:
            continue  # nothing but an "END" marker
        if not text:
            if not media:
                notes.append(
                    f"post {len(posts) + 1} is only an image that the unroll does not link; "
                    "add the image or remove the post"
                )
            text = IMAGE_ONLY_TEXT
        elif raw.images and not media:
            image_posts.append(len(posts) + 1)
        posts.extend(fit_post(text, media))
    if not posts:
        return None
    if duplicates:
        notes.append(f"{duplicates} duplicate post(s) removed")
    for number in image_posts:
        notes.append(f"post {number} had an image that the unroll does not link; media left empty")

    numbers = [p.number for p in raw_posts if p.number is not None] if numbered else []
    totals = [p.total for p in raw_posts if p.total is not None]
    declared = max([*totals, *([thread.header.declared] if thread.header.declared else [])] or [0])
    status, status_msgs = status_notes(numbers, declared or None, len(raw_posts) - duplicates)
    explicit_end = any(p.final for p in raw_posts)
    if page_marks_ends and not thread.closed and not explicit_end:
        status = "partial"
        last = raw_posts[-1].number or len(raw_posts)
        status_msgs.append(
            f"partial: the unroll stops after post {last} without Thread Reader's "
            "end-of-thread marker ('• • •'); add the missing posts or keep it as a preview"
        )
    notes = status_msgs + notes

    header = thread.header
    if header.handle or header.name:
        author = Author(
            name=header.name or header.handle or UNKNOWN_AUTHOR,
            handle=f"@{header.handle}" if header.handle else None,
        )
    else:
        author = Author(name=UNKNOWN_AUTHOR)
    return Draft(
        title=title_from_posts([p.text for p in posts]),
        posts=posts,
        author=author,
        url=header.url,
        kind="tweetorial",
        imported_from=IMPORTED_FROM,
        status=status,
        notes=notes,
    )


def parse(text: str) -> tuple[list[Draft], list[str]]:
    """Turn Thread Reader App page text into drafts, one per thread, and general notes."""
    threads, page_marks_ends = _split_threads(text)
    drafts: list[Draft] = []
    seen: set[tuple[str, ...]] = set()
    repeated = 0
    for thread in threads:
        draft = _draft(thread, page_marks_ends)
        if draft is None:
            continue
        key = tuple(p.text for p in draft.posts)
        if key in seen:
            repeated += 1
            continue
        seen.add(key)
        drafts.append(draft)
    notes = [f"{repeated} repeated thread(s) removed"] if repeated else []
    return drafts, notes
