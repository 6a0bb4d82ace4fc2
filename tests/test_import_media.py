"""Posts whose original had media we cannot show: the model, YAML, validation, rendering."""

from __future__ import annotations

import html
import re

import pytest
from pydantic import ValidationError

from bot.render import render_post
from content.loader import dump_thread_yaml
from content.models import MESSAGE_TEXT_LIMIT, POST_TEXT_MAX, Author, Post, Source, Thread
from content.validate import parse_thread_text

PHOTO = "https://pbs.twimg.com/media/FxStar.jpg"
TWEET = "https://x.com/janedoe/status/1563306679910817792"


def thread_of(*posts: Post, source_url: str | None = None) -> Thread:
    return Thread(
        id="sah-on-ct",
        title="SAH on CT",
        author=Author(name="Jane Doe"),
        source=Source(url=source_url, announced_posts=12),
        posts=list(posts),
    )


def visible(html_text: str) -> str:
    """The text Telegram shows once it has parsed the HTML entities."""
    return html.unescape(re.sub(r"<[^>]+>", "", html_text))


def test_has_media_false_with_media_urls_is_refused() -> None:
    with pytest.raises(ValidationError, match="has_media is false but media lists URLs"):
        Post(text="x", media=[PHOTO], has_media=False)
    assert Post(text="x", media=[PHOTO], has_media=True).has_media is True
    assert Post(text="x").has_media is None


def test_yaml_writes_has_media_and_the_announced_count_only_when_known() -> None:
    thread = thread_of(
        Post(text="One", has_media=True),
        Post(text="Two", has_media=False),
        Post(text="Three"),
        Post(text="Four", media=[PHOTO], has_media=True),
    )
    text = dump_thread_yaml(thread)
    assert "  announced_posts: 12\n" in text
    assert text.count("has_media: true") == 2
    assert text.count("has_media: false") == 1
    assert "- text: Three\n  - text: Four" in text  # nothing written for "unknown"
    loaded, problems = parse_thread_text(text, "sah-on-ct.yaml")
    assert problems == [] and loaded == thread


def test_validation_names_the_media_keys_and_the_contradiction() -> None:
    base = (
        "schema: 1\nid: sah-on-ct\ntitle: SAH on CT\nauthor: {name: Jane Doe}\n"
        "source: {kind: tweetorial}\nposts:\n"
    )
    _, problems = parse_thread_text(base + "  - text: One\n    has_medias: true\n", "t.yaml")
    assert len(problems) == 1
    assert "did you mean `has_media`?" in str(problems[0])
    _, problems = parse_thread_text(
        base + f"  - text: One\n    media: [{PHOTO}]\n    has_media: false\n", "t.yaml"
    )
    assert len(problems) == 1
    assert str(problems[0]).startswith("t.yaml:7:")
    assert "has_media is false but media lists URLs" in str(problems[0])
    _, problems = parse_thread_text(
        base.replace("kind: tweetorial", "kind: tweetorial, announced_posts: 0")
        + "  - text: One\n",
        "t.yaml",
    )
    assert len(problems) == 1 and "announced_posts" in str(problems[0])


def test_render_says_the_original_had_media_and_links_to_the_post() -> None:
    thread = thread_of(Post(text="The star sign.", has_media=True, url=TWEET))
    rendered = render_post(thread, 1)
    assert rendered.photo is None and rendered.extra_media == []
    assert rendered.text == (
        f'<b>1/1</b> The star sign.\n\n🖼 <a href="{TWEET}">The original post has an image or '
        "video</a>"
    )
    assert "View the original post" not in rendered.text


def test_render_links_the_thread_source_when_the_post_has_no_link() -> None:
    thread = thread_of(Post(text="The star sign.", has_media=True), source_url=TWEET)
    assert render_post(thread, 1).text.endswith(
        f'🖼 <a href="{TWEET}">The original post has an image or video</a>'
    )
    unlinked = thread_of(Post(text="The star sign.", has_media=True))
    assert render_post(unlinked, 1).text == (
        "<b>1/1</b> The star sign.\n\n🖼 The original post has an image or video"
    )


@pytest.mark.parametrize(
    "post",
    [
        Post(text="No media.", has_media=False, url=TWEET),
        Post(text="Unknown.", url=TWEET),
    ],
)
def test_render_says_nothing_about_media_when_there_was_none_or_it_is_unknown(post: Post) -> None:
    text = render_post(thread_of(post), 1).text
    assert "🖼" not in text
    assert text.endswith(f'<a href="{TWEET}">View the original post</a>')


def test_render_sends_known_media_as_before() -> None:
    rendered = render_post(thread_of(Post(text="Star.", media=[PHOTO], has_media=True)), 1)
    assert rendered.photo == PHOTO and "🖼" not in rendered.text


def test_the_media_note_fits_in_a_full_length_post() -> None:
    posts = [Post(text="x") for _ in range(998)] + [
        Post(text="a" * POST_TEXT_MAX, has_media=True, url=TWEET)
    ]
    text = render_post(thread_of(*posts), 999).text
    assert len(visible(text).encode("utf-16-le")) // 2 <= MESSAGE_TEXT_LIMIT
