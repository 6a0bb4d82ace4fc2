"""A thread copied from the x.com (Twitter) web page: select the posts, copy, paste.

Each post starts with its author: a name line, then "@handle" (the date may follow on the
same line, "@handle · Oct 11", or on lines of its own, "·" then "Oct 11", "Oct 11, 2024",
"5h"); or one line "Name @handle · Oct 11". The page's own furniture is removed:

- counts (replies, reposts, likes, bookmarks, views: "12", "1.2K", "3M", "12.3K Views"),
  the timestamp under the opened post ("10:15 AM · Oct 11, 2024", which dates it),
  "Show this thread", "Show more", "Replying to @handle", "Translate post", "Show
  translation", "Quote", "Pinned", "Edited", menus, sign-up and footer text; everything
  from "Relevant people", "New to X?", "Who to follow", "What's happening", "Discover
  more" or "More replies" on is the page around the thread, not the thread.
- "Image", "Video", "GIF", "Embedded video" and video lengths ("0:42") on lines of their own
  mark the post as having media (`has_media: true`); copied text carries no image URLs.
- A post shown under a "Quote" line is kept with the post that quotes it, as a quote.

The thread is the run of posts by the author of the first post; replies by other people
that follow are left out (counted in the report). The first post's date is
`source.published` (a date without a year is this year's; "5h" is the day of the import).
Numbering and end words are removed as in every importer, and order the posts.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass, field

from content.importers._common import (
    UNKNOWN_AUTHOR,
    Draft,
    Quote,
    fit_post,
    status_notes,
    strip_media_words,
    tidy,
    title_from_posts,
    with_quote,
)
from content.importers._dates import DATE_PATTERN, find_date
from content.importers.thread_text import number_pieces
from content.models import Author, Post

IMPORTED_FROM = "x.com page"

_HANDLE_LINE_RE = re.compile(r"^@(?P<handle>\w{1,15})(?:\s*·\s*(?P<when>.{1,40}))?$")
_ONE_LINE_RE = re.compile(
    r"^(?P<name>[^@\n]{1,60}?)\s+@(?P<handle>\w{1,15})\s*·\s*(?P<when>.{1,40})$"
)
_RELATIVE_RE = re.compile(r"^(?:\d{1,2}\s?[smhd]|just now|now)$", re.IGNORECASE)
_WHEN_RE = re.compile(rf"^(?:{DATE_PATTERN}|\d{{1,2}}\s?[smhd]|just now|now)$", re.IGNORECASE)
_TIMESTAMP_RE = re.compile(
    rf"^\d{{1,2}}:\d{{2}}(?:\s*[AaPp]\.?[Mm]\.?)?\s*·\s*(?P<date>{DATE_PATTERN})"
    r"(?:\s*·.*)?$",
    re.IGNORECASE,
)
_COUNT_RE = re.compile(
    r"^(?:\d[\d.,]*\s?[KMB]?(?:\s+(?:views?|reposts?|retweets?|quotes?|likes?|bookmarks?"
    r"|replies|reply))?|views?|reposts?|quotes?|likes?|bookmarks?)$",
    re.IGNORECASE,
)
_MEDIA_LINE_RE = re.compile(r"^(?:image|video|gif|embedded video|\d{1,2}:\d{2}(?::\d{2})?)$", re.I)
_FURNITURE_RE = re.compile(
    r"^(?:show this thread|show more|show less|show replies|show more replies|translate post"
    r"|translate|show translation|translated from .{1,40}|rate this translation|quote|·|\||"
    r"pinned|edited|last edited .{1,60}|ad|promoted|post|see new posts|conversation|reply"
    r"|post your reply|follow|following|click to follow \w{1,15}|alt|more|retry"
    r"|something went wrong\. try reloading\.|readers added context.*|verified account"
    r"|show probable spam|show additional replies.*|read \d[\d.,]*[kmb]? replies"
    r"|home|explore|notifications|messages|grok|bookmarks|communities|premium|profile"
    r"|search|lists|jobs|verified orgs|@\w{1,15} reposted|you reposted|.{1,60} reposted"
    r")$",
    re.IGNORECASE,
)
_STOP_RE = re.compile(
    r"^(?:relevant people|new to x\??|new to twitter\??|who to follow|what['’]s happening"
    r"|discover more|more replies|trending now|terms of service|sign up now.*"
    r"|don['’]t miss what['’]s happening|people on x are the first to know\.?)$",
    re.IGNORECASE,
)


@dataclass
class _Post:
    name: str | None
    handle: str
    when: str | None
    lines: list[str] = field(default_factory=list)
    quote: _Post | None = None
    is_quote: bool = False


def _name_like(line: str) -> bool:
    return (
        0 < len(line) <= 60
        and "@" not in line
        and not _COUNT_RE.match(line)
        and not _FURNITURE_RE.match(line)
        and not _TIMESTAMP_RE.match(line)
        and not _WHEN_RE.match(line)
        and not _MEDIA_LINE_RE.match(line)
        and line.lower() != "replying to"
    )


def _headers(lines: list[str]) -> dict[int, tuple[int, str | None, str, str | None]]:
    """Post headers: {first line: (line after the header, name, handle, when)}."""
    found: dict[int, tuple[int, str | None, str, str | None]] = {}
    for i, line in enumerate(lines):
        m = _ONE_LINE_RE.match(line)
        if m and _WHEN_RE.match(m.group("when").strip()):
            found[i] = (i + 1, m.group("name").strip(), m.group("handle"), m.group("when"))
            continue
        h = _HANDLE_LINE_RE.match(line)
        if not h or i == 0 or not _name_like(lines[i - 1]):
            continue
        if i >= 2 and lines[i - 2].lower() == "replying to":
            continue
        when = h.group("when")
        end = i + 1
        k = end
        while k < len(lines) and k < i + 3 and lines[k] in ("·", ""):
            k += 1
        if when is None and k < len(lines) and _WHEN_RE.match(lines[k]):
            when, end = lines[k], k + 1
        found[i - 1] = (end, lines[i - 1], h.group("handle"), when)
    return found


def _posts(text: str) -> list[_Post]:
    lines = [line.strip() for line in text.split("\n")]
    headers = _headers(lines)
    posts: list[_Post] = []
    current: _Post | None = None
    quote_next = False
    i = 0
    while i < len(lines):
        line = lines[i]
        if current is not None and _STOP_RE.match(line):
            break
        if i in headers:
            end, name, handle, when = headers[i]
            post = _Post(name, handle, when, is_quote=quote_next)
            if quote_next and posts:
                posts[-1].quote = post
            else:
                posts.append(post)
            current, quote_next, i = post, False, end
            continue
        i += 1
        if current is None:
            continue
        if line.lower() == "quote":
            quote_next = True
            continue
        if line.lower() == "replying to" or line.lower().startswith("replying to @"):
            while i < len(lines) and re.match(r"^(?:@\w{1,15}|and|and \d+ others?|,)$", lines[i]):
                i += 1
            continue
        current.lines.append(line)
    return posts


def _body(post: _Post) -> tuple[str, int, str | None]:
    """The post's text without furniture, its media markers, and the timestamp's date."""
    kept: list[str] = []
    marks = 0
    stamp = None
    for line in post.lines:
        if m := _TIMESTAMP_RE.match(line):
            stamp = m.group("date")
            continue
        if _MEDIA_LINE_RE.match(line):
            marks += 1
            continue
        if _FURNITURE_RE.match(line):
            continue
        kept.append(line)
    # Counts (replies, reposts, likes, views) follow the text: drop them from the end.
    while kept and (not kept[-1] or _COUNT_RE.match(kept[-1])):
        kept.pop()
    text, more = strip_media_words(tidy("\n".join(kept)))
    return text, marks + more, stamp


def _published(when: str | None, today: dt.date) -> tuple[dt.date | None, str | None]:
    if not when:
        return None, None
    if _RELATIVE_RE.match(when.strip()):
        return today, f"source.published: the page shows “{when}”; the day of the import used"
    date = find_date(when)
    if date is None:
        return None, None
    resolved = date.resolve(today)
    if date.year is None and resolved is not None:
        return resolved, (
            f"source.published: the page shows “{date.shown}” without a year; "
            f"{resolved.year} assumed"
        )
    return resolved, None


def parse(text: str, today: dt.date) -> list[Draft]:
    """Turn a copied x.com thread into one draft."""
    posts = _posts(text)
    if not posts:
        return []
    author = posts[0].handle.lower()
    thread = []
    for post in posts:
        if post.handle.lower() != author:
            break
        thread.append(post)
    others = len(posts) - len(thread)
    bodies = [_body(p) for p in thread]
    pieces = number_pieces([b[0] for b in bodies])
    out: list[Post] = []
    quoted: list[int] = []
    for post, (_, marks, _), piece in zip(thread, bodies, pieces, strict=True):
        words = piece.text
        if post.quote is not None:
            quote_text, quote_marks = _body(post.quote)[:2]
            marks += quote_marks
            if quote_text:
                quoted.append(len(out) + 1)
                q = post.quote
                words = with_quote(words, Quote(quote_text, q.name, q.handle, q.when))
        out.extend(fit_post(words, has_media=True if marks else None))
    if not out:
        return []
    notes: list[str] = []
    if others:
        notes.append(f"{others} post(s) by other people after the thread left out")
    if quoted:
        shown = ", ".join(str(n) for n in quoted)
        notes.append(f"post(s) {shown} quote another post: the quote follows the author's text")
    stamp = bodies[0][2]
    published, date_note = _published(stamp or thread[0].when, today)
    if date_note:
        notes.append(date_note)
    numbers = [p.number for p in pieces]
    numbered = [n for n in numbers if n is not None]
    totals = [p.total for p in pieces if p.total is not None]
    announced = max(totals) if totals else None
    status, status_msgs = status_notes(
        numbered if len(numbered) == len(numbers) else [], announced, len(pieces)
    )
    first = thread[0]
    return [
        Draft(
            title=title_from_posts([p.text for p in out]),
            posts=out,
            author=Author(
                name=first.name or first.handle or UNKNOWN_AUTHOR, handle=f"@{first.handle}"
            ),
            kind="tweetorial",
            imported_from=IMPORTED_FROM,
            published=published,
            status=status,
            notes=status_msgs + notes,
            announced=announced,
        )
    ]


_X_FURNITURE_RE = re.compile(
    r"^(?:show this thread|translate post|replying to(?: @\w{1,15})?|\d[\d.,]*[kmb]? views"
    r"|views|see new posts|conversation|post your reply)$",
    re.IGNORECASE | re.MULTILINE,
)


def looks_like(text: str) -> bool:
    """True for a copied x.com page: two post headers, or one with the page's furniture."""
    lines = [line.strip() for line in text[:200_000].split("\n")]
    headers = _headers(lines)
    if len(headers) >= 2:
        return True
    furniture = bool(_X_FURNITURE_RE.search(text[:200_000])) or any(
        _TIMESTAMP_RE.match(line) for line in lines
    )
    return len(headers) == 1 and furniture
