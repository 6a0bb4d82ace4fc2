"""Turn content into Telegram HTML. Every piece of content is escaped."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from html import escape

from content.models import POST_CAPTION_MAX, Post, Thread


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


def credit_line(thread: Thread) -> str:
    author = thread.author.handle or thread.author.name
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
