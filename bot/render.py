"""Turn content into Telegram HTML. Every piece of content is escaped."""

from __future__ import annotations

import datetime as dt
import html
import re
from collections.abc import Iterator
from dataclasses import dataclass
from html import escape

from content.models import MESSAGE_TEXT_LIMIT, POST_CAPTION_MAX, Post, Thread


@dataclass(frozen=True)
class RenderedPost:
    text: str  # HTML
    photo: str | None  # URL of the post's first image, sent with the text as caption
    extra_media: list[str]


def header_text(day: int, thread: Thread, first_post: int, last_post: int) -> str:
    """`Day 3 · CSF leaks & blood patches · posts 5-8 of 12`."""
    total = len(thread.posts)
    span = f"post {first_post}" if first_post == last_post else f"posts {first_post}-{last_post}"
    return f"<b>Day {day}</b> · {escape(thread.title)} · {span} of {total}"


def post_link(post: Post) -> str:
    return (
        f'\n\n<a href="{escape(post.url, quote=True)}">View the original post</a>'
        if post.url
        else ""
    )


# Short enough to fit the room kept in every post for the marker and the link.
MEDIA_NOTE = "The original post has an image or video"


def missing_media_note(post: Post, thread: Thread) -> str:
    """Say that the original post had an image or video we cannot show, linking to it."""
    link = post.url or thread.source.url
    if link is None:
        return f"\n\n🖼 {MEDIA_NOTE}"
    return f'\n\n🖼 <a href="{escape(link, quote=True)}">{MEDIA_NOTE}</a>'


def render_post(thread: Thread, number: int) -> RenderedPost:
    """Post `number` (1-based) with its marker, its first image and a link to the original.

    A post whose original had media with no URL known says so instead of linking plainly.
    """
    post = thread.posts[number - 1]
    tail = missing_media_note(post, thread) if post.has_media and not post.media else ""
    text = f"<b>{number}/{len(thread.posts)}</b> {escape(post.text)}{tail or post_link(post)}"
    photo = post.media[0] if post.media and len(post.text) <= POST_CAPTION_MAX else None
    return RenderedPost(text=text, photo=photo, extra_media=post.media[1:] if photo else post.media)


def text_with_media_links(rendered: RenderedPost) -> str:
    """The text-only fallback when Telegram refuses an image: the image becomes a link."""
    links = [rendered.photo, *rendered.extra_media] if rendered.photo else rendered.extra_media
    tail = "".join(
        f'\n<a href="{escape(url, quote=True)}">Image {i}</a>' for i, url in enumerate(links, 1)
    )
    return rendered.text + tail


def author_credit(thread: Thread) -> str:
    """Name the author and their handle ("Lea Alhilali (@teachplaygrub)").

    An import that knows only the handle uses it as the name too; it is shown once.
    """
    name, handle = thread.author.name, thread.author.handle
    if not handle or name.lstrip("@").casefold() == handle.lstrip("@").casefold():
        return handle or name
    return f"{name} ({handle})"


def credit_line(thread: Thread) -> str:
    author = author_credit(thread)
    if thread.source.url:
        return (
            f'By {escape(author)} · <a href="{escape(thread.source.url, quote=True)}">original</a>'
        )
    return f"By {escape(author)}"


def thread_end_text(
    thread: Thread,
    next_thread: Thread | None,
    next_at_local: dt.datetime | None,
    plan_title: str | None,
) -> str:
    """Tell the trainee the thread is done and what comes next."""
    lines = [f"✅ You finished <b>{escape(thread.title)}</b>. {credit_line(thread)}"]
    if next_thread is not None:
        when = f" on {next_at_local:%a %d %b at %H:%M}" if next_at_local else ""
        lines.append(f"Next up{when}: <b>{escape(next_thread.title)}</b>.")
    elif plan_title:
        lines.append(f"🎉 That was the last thread of <b>{escape(plan_title)}</b>. Well done!")
        lines.append(
            "Use /quiz to revisit the questions, /review for spaced review, "
            "or /start for a new track."
        )
    else:
        lines.append("🎉 That was the whole thread. Use /quiz to revisit its questions.")
    return "\n".join(lines)


# --- long texts -------------------------------------------------------------------------------

_TAG = re.compile(r"(<[^>]*>)")
_TAG_NAME = re.compile(r"<\s*([A-Za-z0-9-]+)")
# The entities Telegram decodes; anything else after "&" counts as written.
_ENTITY = re.compile(r"&(?:lt|gt|amp|quot|#[0-9]{1,7}|#[xX][0-9a-fA-F]{1,6});")


def split_html(text: str, limit: int = MESSAGE_TEXT_LIMIT) -> list[str]:
    """Split Telegram HTML into messages of at most `limit` characters as Telegram counts
    them (after the markup is parsed, in UTF-16 units), in order.

    Cuts fall between lines; a line longer than a message is cut at a space (between any
    two characters when it has none), never inside a tag or an entity. Tags open at a cut
    are closed at the end of one part and opened again at the start of the next. Parts
    with nothing to read are left out.
    """
    parts: list[str] = []
    open_tags: list[str] = []  # as written, at the current point
    head: list[str] = []  # the tags open where the current part starts
    lines: list[str] = []
    size = 0

    def flush() -> None:
        nonlocal head, lines, size
        body = "\n".join(lines)
        if _plain(body).strip():
            closing = "".join(f"</{_tag_name(tag)}>" for tag in reversed(open_tags))
            parts.append("".join(head) + body + closing)
        head, lines, size = list(open_tags), [], 0

    for line in text.split("\n"):
        for piece, continues_line in _pieces(line, limit):
            length = _length(piece)
            if lines and (continues_line or size + 1 + length > limit):
                flush()
            size += length + (1 if lines else 0)
            lines.append(piece)
            _track_tags(piece, open_tags)
    flush()
    return parts


def _pieces(line: str, limit: int) -> Iterator[tuple[str, bool]]:
    """The line, or pieces of it that each fit in `limit`; True for every piece but the first."""
    if _length(line) <= limit:
        yield line, False
        return
    piece: list[str] = []
    room = limit
    first = True
    for token in _TAG.split(line):
        if not token:
            continue
        if token.startswith("<"):
            piece.append(token)
            continue
        plain = _plain(token)
        while _utf16(plain) > room:
            cut = _cut(plain, room)
            if cut == 0 and not _plain("".join(piece)):
                cut = 1  # a character wider than a whole message: send it alone anyway
            piece.append(escape(plain[:cut], quote=False))
            yield "".join(piece), not first
            first, piece, room = False, [], limit
            plain = plain[cut:].lstrip(" ")
        piece.append(escape(plain, quote=False))
        room -= _utf16(plain)
    if piece:
        yield "".join(piece), not first


def _cut(plain: str, room: int) -> int:
    """Where to cut `plain` so the first part fits in `room`: after the last space that
    fits, else as many characters as fit."""
    fits = 0
    used = 0
    for index, char in enumerate(plain):
        used += 2 if ord(char) > 0xFFFF else 1
        if used > room:
            break
        fits = index + 1
    space = plain.rfind(" ", 0, fits + 1)
    return space if space > 0 else fits


def _track_tags(piece: str, open_tags: list[str]) -> None:
    for tag in _TAG.findall(piece):
        if tag.startswith("</"):
            if open_tags:
                open_tags.pop()
        else:
            open_tags.append(tag)


def _tag_name(tag: str) -> str:
    match = _TAG_NAME.match(tag)
    return match[1] if match else ""


def _plain(fragment: str) -> str:
    """The text Telegram shows for an HTML fragment: tags dropped, entities decoded."""
    return _ENTITY.sub(lambda m: html.unescape(m[0]), _TAG.sub("", fragment))


def _utf16(text: str) -> int:
    return len(text.encode("utf-16-le")) // 2


def _length(fragment: str) -> int:
    return _utf16(_plain(fragment))
