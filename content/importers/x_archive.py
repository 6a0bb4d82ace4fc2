"""The Twitter/X data archive: `data/tweets.js` (or `tweet.js` in older archives).

The file is JavaScript around JSON: `window.YTD.tweets.part0 = [{"tweet": {...}}, ...]`
(`window.YTD.tweet.part0` in older archives; a bare JSON array is read too). The archive
holds only the account's own tweets, so a reply whose parent is in the file is a
self-reply. Rules:

- Threads are rebuilt from `in_reply_to_status_id(_str)` chains: a tweet that replies to
  nothing starts a thread, its earliest self-reply follows, and so on. Later self-replies to
  the same tweet (branches) are left out, with a note. Retweets, single tweets and replies to
  other people are skipped (counted in the report).
- Text: `full_text` without the leading @mentions of a reply (`display_text_range`), t.co
  links replaced by the `expanded_url` of `entities.urls`, the t.co link of attached media
  removed, HTML entities decoded; numbering and end words removed as in every importer.
- Media: photos from `extended_entities.media` (or `entities.media`) become `media`
  (`media_url_https`); a video or GIF marks the post `has_media: true` (the bot points to the
  original); a tweet without media is `has_media: false`.
- Each post links to its tweet (`https://x.com/<handle>/status/<id>`); the handle comes from
  `in_reply_to_screen_name` of the self-replies. `created_at` of the first tweet gives
  `source.published`. tweets.js has no display name: the author's name is the handle.
"""

from __future__ import annotations

import datetime as dt
import html
import json
import re
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

from content.importers._common import (
    UNKNOWN_AUTHOR,
    ContentImportError,
    Draft,
    fit_post,
    status_notes,
    title_from_posts,
)
from content.importers._links import status_url
from content.importers.thread_text import number_pieces
from content.models import Author, Post

IMPORTED_FROM = "X data archive (tweets.js)"
# A whole archive's tweets.js runs to tens of megabytes.
MAX_ARCHIVE_CHARS = 200_000_000
_PREFIX_RE = re.compile(r"^\s*window\.YTD\.(?P<name>\w{1,40})\.part\d{1,4}\s*=\s*")
_BARE_RE = re.compile(r'^\s*\[\s*\{\s*"tweet"\s*:')


@dataclass
class _Tweet:
    id: str
    text: str
    created: dt.datetime | None
    parent: str | None
    parent_handle: str | None
    retweet: bool
    photos: list[str] = field(default_factory=list)
    other_media: int = 0


def archive_part(text: str) -> str | None:
    """The name of the archive file the text comes from ("tweets", "like", ...), or None."""
    m = _PREFIX_RE.match(text[:200])
    if m:
        return m.group("name")
    return "tweets" if _BARE_RE.match(text[:200]) else None


def is_archive(text: str) -> bool:
    return archive_part(text) is not None


def _str(value: Any) -> str | None:
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, int | str):
        text = str(value).strip()
        return text or None
    return None


def _list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []


def _dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _created(value: Any) -> dt.datetime | None:
    text = _str(value)
    if text is None:
        return None
    for fmt in ("%a %b %d %H:%M:%S %z %Y", "%Y-%m-%dT%H:%M:%S.%f%z", "%Y-%m-%dT%H:%M:%S%z"):
        try:
            return dt.datetime.strptime(text.replace("Z", "+0000"), fmt).astimezone(dt.UTC)
        except ValueError:
            continue
    return None


def _tweet(obj: dict[str, Any]) -> _Tweet | None:
    tweet_id = _str(obj.get("id_str")) or _str(obj.get("id"))
    full = obj.get("full_text", obj.get("text"))
    if tweet_id is None or not tweet_id.isdigit() or not isinstance(full, str):
        return None
    entities = _dict(obj.get("entities"))
    extended = _dict(obj.get("extended_entities"))
    text = full
    span = _list(obj.get("display_text_range"))
    start = _str(span[0]) if span else None
    if start and start.isdigit() and 0 < int(start) <= len(text):
        prefix = text[: int(start)]
        # Only the @mentions Twitter puts before a reply are cut.
        if re.fullmatch(r"(?:@\w{1,15}\s*)+", prefix):
            text = text[int(start) :]
    for url in _list(entities.get("urls")):
        url = _dict(url)
        short, expanded = _str(url.get("url")), _str(url.get("expanded_url"))
        if short and expanded:
            text = text.replace(short, expanded)
    media = _list(extended.get("media")) or _list(entities.get("media"))
    tweet = _Tweet(
        id=tweet_id,
        text="",
        created=_created(obj.get("created_at")),
        parent=_str(obj.get("in_reply_to_status_id_str")) or _str(obj.get("in_reply_to_status_id")),
        parent_handle=_str(obj.get("in_reply_to_screen_name")),
        retweet=bool(re.match(r"^RT @\w{1,15}:", full)) or bool(obj.get("retweeted_status")),
    )
    for item in media:
        item = _dict(item)
        if short := _str(item.get("url")):
            text = text.replace(short, "")
        if item.get("type", "photo") == "photo":
            photo = _str(item.get("media_url_https")) or _str(item.get("media_url"))
            if photo and photo.startswith("http") and photo not in tweet.photos:
                tweet.photos.append(photo.replace("http://", "https://", 1))
        else:
            tweet.other_media += 1
    tweet.text = html.unescape(text).strip()
    return tweet


def _load(text: str) -> list[Any]:
    m = _PREFIX_RE.match(text[:200])
    payload = text[m.end() :] if m else text
    payload = payload.strip().rstrip(";")
    try:
        data = json.loads(payload)
    except (json.JSONDecodeError, RecursionError) as exc:
        where = ""
        if isinstance(exc, json.JSONDecodeError):
            where = f" (line {exc.lineno}, column {exc.colno})"
        raise ContentImportError(
            f"the archive file is not valid JSON after `window.YTD...part0 =`{where}: export "
            "the archive again, or send data/tweets.js unchanged"
        ) from None
    if not isinstance(data, list):
        raise ContentImportError("the archive file holds no list of tweets")
    return data


def _chains(tweets: list[_Tweet]) -> tuple[list[list[_Tweet]], dict[str, int]]:
    by_id = {t.id: t for t in tweets if not t.retweet}
    children: dict[str, list[_Tweet]] = defaultdict(list)
    for t in by_id.values():
        if t.parent is not None and t.parent in by_id:
            children[t.parent].append(t)
    counts = {"single": 0, "replies": 0, "retweets": sum(t.retweet for t in tweets), "branches": 0}
    chains: list[list[_Tweet]] = []
    for t in sorted(by_id.values(), key=lambda t: int(t.id)):
        if t.parent is not None:
            if t.parent not in by_id:
                counts["replies"] += 1
            continue
        chain = [t]
        seen = {t.id}
        while kids := [k for k in children.get(chain[-1].id, []) if k.id not in seen]:
            kids.sort(key=lambda k: int(k.id))
            counts["branches"] += len(kids) - 1
            chain.append(kids[0])
            seen.add(kids[0].id)
        if len(chain) == 1:
            counts["single"] += 1
        else:
            chains.append(chain)
    return chains, counts


def _draft(chain: list[_Tweet]) -> Draft:
    handle = next((t.parent_handle for t in chain[1:] if t.parent_handle), None)
    pieces = number_pieces([t.text for t in chain])
    posts: list[Post] = []
    notes: list[str] = []
    videos: list[int] = []
    for tweet, piece in zip(chain, pieces, strict=True):
        position = len(posts) + 1
        has_media = bool(tweet.photos or tweet.other_media)
        if tweet.other_media:
            videos.append(position)
        url = status_url(tweet.id, handle)
        posts.extend(fit_post(piece.text, tweet.photos, url, has_media=has_media))
    if videos:
        shown = ", ".join(str(n) for n in videos)
        notes.append(f"post(s) {shown} had a video or GIF: the bot links to the original")
    numbers = [p.number for p in pieces]
    numbered = [n for n in numbers if n is not None]
    totals = [p.total for p in pieces if p.total is not None]
    announced = max(totals) if totals else None
    status, status_msgs = status_notes(
        numbered if len(numbered) == len(numbers) else [], announced, len(chain)
    )
    name = handle or UNKNOWN_AUTHOR
    if handle:
        notes.append("author.name is the handle (tweets.js has no display name); change it")
    root = chain[0]
    return Draft(
        title=title_from_posts([p.text for p in posts]),
        posts=posts,
        author=Author(name=name, handle=f"@{handle}" if handle else None),
        url=status_url(root.id, handle),
        kind="tweetorial",
        imported_from=IMPORTED_FROM,
        published=root.created.date() if root.created else None,
        status=status,
        notes=status_msgs + notes,
        announced=announced,
    )


def parse(text: str) -> tuple[list[Draft], list[str]]:
    """Rebuild the threads of an archive's tweets.js; return drafts and general notes."""
    part = archive_part(text)
    if part is not None and part not in ("tweets", "tweet"):
        raise ContentImportError(
            f"this is {part}.js from the X archive, not the tweets: import data/tweets.js"
        )
    tweets: list[_Tweet] = []
    for item in _load(text):
        obj = _dict(item)
        tweet = _tweet(_dict(obj.get("tweet")) or obj)
        if tweet is not None:
            tweets.append(tweet)
    if not tweets:
        raise ContentImportError("the archive file holds no tweets")
    chains, counts = _chains(tweets)
    notes = [f"{len(tweets)} tweets read, {len(chains)} thread(s) rebuilt"]
    skipped = [
        f"{counts['single']} single tweet(s)" if counts["single"] else "",
        f"{counts['replies']} repl(ies) to other people" if counts["replies"] else "",
        f"{counts['retweets']} retweet(s)" if counts["retweets"] else "",
    ]
    if any(skipped):
        notes.append("skipped: " + ", ".join(s for s in skipped if s))
    if counts["branches"]:
        notes.append(
            f"{counts['branches']} later self-repl(ies) branching off a thread left out "
            "(each thread follows the earliest reply)"
        )
    if not chains:
        raise ContentImportError(
            f"no threads in the archive: {len(tweets)} tweets, none with a reply to itself "
            "(a thread is a tweet followed by the author's own replies)"
        )
    return [_draft(chain) for chain in chains], notes
