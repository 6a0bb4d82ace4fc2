"""Texts longer than one Telegram message arrive whole, in order, as several valid messages."""

from __future__ import annotations

import random

import pytest

from bot.emulator.formatting import EntityParseError, format_text, utf16_len
from bot.render import split_html
from content.models import Author, Library, Post, Source, Thread
from tests.harness import ADMIN_ID, Harness

LIMIT = 4096
TRAINEE = 501


def shown(html: str) -> str:
    """The text Telegram shows for an HTML message (the emulator parses it as Telegram does)."""
    return format_text(html, "HTML").text


def check_parts(html: str, parts: list[str], limit: int = LIMIT) -> None:
    """Every part is valid HTML within the limit, and together they show all of `html`."""
    for part in parts:
        assert utf16_len(shown(part)) <= limit
    joined = "".join(shown(part) for part in parts)
    assert "".join(joined.split()) == "".join(shown(html).split())


# --- the splitter -----------------------------------------------------------------------------


def test_a_short_text_stays_one_message() -> None:
    assert split_html("<b>Hello</b> &amp; welcome") == ["<b>Hello</b> &amp; welcome"]


def test_long_texts_split_on_lines_and_tags_open_across_a_cut_are_closed_and_reopened() -> None:
    lines = [
        f'<a href="https://x.org/{n}?a=1&amp;b=2">link {n}</a> &lt;{n}&gt; 🧠' for n in range(400)
    ]
    html = "<blockquote><b>Library</b>\n" + "\n".join(lines) + "</blockquote>"
    parts = split_html(html, 500)
    assert len(parts) > 10
    check_parts(html, parts, 500)
    for part in parts:
        assert part.startswith("<blockquote>") and part.endswith("</blockquote>")
        assert "\n<a" in part or part.startswith("<blockquote><b>")  # whole lines only


def test_a_line_longer_than_a_message_is_cut_at_spaces_never_inside_a_tag() -> None:
    words = " ".join(f"w{n}&amp;🧠" for n in range(3000))
    html = f"<pre>table\n{words}\nend</pre>\n<i>{'x' * 9000}</i>"
    parts = split_html(html)
    check_parts(html, parts)
    assert all("</pre>" in part or "</i>" in part for part in parts)


@pytest.mark.parametrize("seed", range(30))
def test_random_markup_always_splits_into_valid_parts(seed: int) -> None:
    rng = random.Random(seed)
    words = ["alpha", "b&amp;c", "🧠", "x" * 60, "&lt;tag&gt;", "é", ""]

    def line() -> str:
        text = " ".join(rng.choice(words) for _ in range(rng.randint(0, 80)))
        return rng.choice([text, f"<b>{text}</b>", f"• <i>{text}</i> – <code>{text}</code>"])

    html = "\n".join(line() for _ in range(rng.randint(1, 300)))
    if rng.random() < 0.3:
        html = f"<pre>{html}</pre>"
    limit = rng.choice([LIMIT, 300])
    check_parts(html, split_html(html, limit), limit)


def test_the_emulator_refuses_broken_html_as_telegram_does() -> None:
    for broken in ("<b>open", '<a href="x">link', "<b>cut</b> <a hr", "</b>"):
        with pytest.raises(EntityParseError):
            shown(broken)


# --- through the bot --------------------------------------------------------------------------


def big_library(count: int = 32) -> Library:
    """Threads with long titles, each credited to an author with a link."""
    threads = {}
    for n in range(count):
        thread = Thread(
            id=f"long-thread-{n:02d}",
            title=f"Thread {n:02d}: " + "Spinal & cranial CSF leak imaging 🧠 " * 3,
            author=Author(name=f"Author {n}", handle=f"@author_{n:02d}"),
            source=Source(url=f"https://twitter.com/author_{n:02d}/status/{10**17 + n}"),
            posts=[Post(text="A post.")],
        )
        threads[thread.id] = thread
    return Library(threads=threads, tracks={})


def use_library(h: Harness, library: Library) -> None:
    h.services.library_loader = lambda _engine: library
    h.services.reload_library()


def assert_whole_and_in_order(h: Harness, chat_id: int, sent_before: int, count: int) -> None:
    parts = h.messages(chat_id)[sent_before:]
    assert len(parts) > 1
    assert [c for c in h.emulator.calls_of("sendMessage") if not c.ok] == []
    text = "\n".join(p.content for p in parts)
    positions = [text.find(f"Thread {n:02d}: ") for n in range(count)]
    assert -1 not in positions and positions == sorted(positions)


async def test_about_with_many_long_titles_arrives_whole_in_several_messages(
    harness: Harness,
) -> None:
    use_library(harness, big_library())
    await harness.send(TRAINEE, "/about")
    assert_whole_and_in_order(harness, TRAINEE, 0, 32)
    text = "\n".join(p.content for p in harness.messages(TRAINEE))
    assert text.count("original") == 32  # every author's link, none cut off


async def test_threads_with_many_long_titles_arrives_whole_in_several_messages(
    harness: Harness,
) -> None:
    use_library(harness, big_library())
    await harness.send(ADMIN_ID, "/threads")
    assert_whole_and_in_order(harness, ADMIN_ID, 0, 32)
    assert "/preview" in harness.last_message(ADMIN_ID).content
