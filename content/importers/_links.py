"""Links in exported tweets: status URLs in one form, short links kept, tweet ids and dates.

- twitter.com, x.com, mobile.twitter.com (and www., m.) status URLs, with or without a
  scheme, become `https://x.com/<handle>/status/<id>` (`/i/web/status/<id>` becomes
  `https://x.com/i/status/<id>`); tracking tails (`?s=20&t=...`, `?ref_src=...`) are dropped,
  a `/photo/1` or `/video/1` suffix is kept.
- t.co and pic.twitter.com short links stay links (given `https://` when written without).
- A Thread Reader page URL (`threadreaderapp.com/thread/<id>.html`) names the first tweet of
  the thread: its id gives the status URL and, being a snowflake, the date it was posted.
"""

from __future__ import annotations

import datetime as dt
import re

# Twitter's snowflake ids carry milliseconds since this instant in their top bits.
_SNOWFLAKE_EPOCH_MS = 1288834974657
# Ids below this are the sequential ids of tweets before November 2010: they hold no date.
_FIRST_SNOWFLAKE = 30_000_000_000

_STATUS_RE = re.compile(
    r"(?<![\w.@/-])(?:https?://)?(?:(?:www|mobile|m)\.)?(?:twitter|x)\.com/"
    r"(?P<user>i/web|i|\w{1,15})/status(?:es)?/(?P<id>\d{1,20})"
    r"(?P<media>/(?:photo|video)/\d)?/?(?P<tail>[?#][^\s<>\"'()\[\]]*)?",
    re.IGNORECASE,
)
_SHORT_RE = re.compile(
    r"(?<![\w.@/-])(?P<scheme>https?://)?(?P<host>t\.co|pic\.(?:twitter|x)\.com)/(?P<path>\w{4,20})",
    re.IGNORECASE,
)
_THREADREADER_RE = re.compile(
    r"(?:https?://)?(?:www\.)?threadreaderapp\.com/thread/(?P<id>\d{5,20})(?:\.html)?",
    re.IGNORECASE,
)
_TRAILING_PUNCT = ".,;:!?"


def status_url(tweet_id: str, handle: str | None = None) -> str:
    """The one form of a tweet's URL."""
    user = handle.lstrip("@") if handle else "i"
    return f"https://x.com/{user}/status/{tweet_id}"


def _status_replacement(m: re.Match[str]) -> str:
    user = m.group("user")
    user = "i" if user.lower() in ("i", "i/web") else user
    tail = m.group("tail") or ""
    # Give back sentence punctuation that the tracking tail swallowed.
    kept = len(tail) - len(tail.rstrip(_TRAILING_PUNCT)) if tail else 0
    return status_url(m.group("id"), user) + (m.group("media") or "") + tail[len(tail) - kept :]


def normalize_links(text: str) -> str:
    """Write every status URL in one form and give short links a scheme."""
    text = _STATUS_RE.sub(_status_replacement, text)
    return _SHORT_RE.sub(
        lambda m: f"{m.group('scheme') or 'https://'}{m.group('host')}/{m.group('path')}", text
    )


def normalize_url(url: str | None) -> str | None:
    """A status URL (or Thread Reader page URL) in its one form; other URLs unchanged."""
    if not url:
        return url
    url = url.strip()
    tr = _THREADREADER_RE.fullmatch(url.split("?")[0].split("#")[0])
    if tr:
        return status_url(tr.group("id"))
    m = _STATUS_RE.fullmatch(url)
    if m:
        return _status_replacement(m).rstrip(_TRAILING_PUNCT)
    return url


def has_short_media_link(text: str) -> bool:
    """True when the text links media through pic.twitter.com (the post had media)."""
    return any(m.group("host").lower().startswith("pic.") for m in _SHORT_RE.finditer(text))


def threadreader_tweet_id(text: str) -> str | None:
    """The first tweet's id from a Thread Reader page URL in `text`."""
    m = _THREADREADER_RE.search(text)
    return m.group("id") if m else None


def tweet_id(url: str | None) -> str | None:
    """The tweet id in a status URL or Thread Reader page URL."""
    if not url:
        return None
    m = _STATUS_RE.search(url) or _THREADREADER_RE.search(url)
    return m.group("id") if m else None


def snowflake_time(tweet_id_text: str | None) -> dt.datetime | None:
    """When a tweet was posted (UTC), decoded from its snowflake id."""
    if not tweet_id_text or not tweet_id_text.isdigit():
        return None
    value = int(tweet_id_text)
    if value < _FIRST_SNOWFLAKE or value >= 1 << 63:
        return None
    millis = (value >> 22) + _SNOWFLAKE_EPOCH_MS
    return dt.datetime.fromtimestamp(millis / 1000, tz=dt.UTC)


def tweet_date(url: str | None) -> dt.date | None:
    """The UTC date a tweet was posted, decoded from the id in its URL."""
    when = snowflake_time(tweet_id(url))
    return when.date() if when else None
