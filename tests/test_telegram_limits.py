"""Every field that ends up in a message has a limit, and the longest valid values fit in
every message that shows them, as Telegram counts (UTF-16 units after entity parsing)."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlmodel import select

from bot.domain.admin import library_lines, track_lines
from bot.domain.leaderboard import Topic
from bot.domain.scoring import Accuracy, ThreadProgress
from bot.domain.scoring import Topic as WeakTopic
from bot.domain.streaks import Streak
from bot.emulator.formatting import format_text, utf16_len
from bot.handlers.group import _topic_hint, lobby_text, standings_text
from bot.handlers.trainee import _question
from bot.quizzes import poll_explanation
from bot.render import (
    author_credit,
    header_text,
    render_post,
    text_with_media_links,
    thread_end_text,
)
from bot.services.quiz import ProgressReport
from bot.views import progress_html
from content.loader import dump_thread_yaml
from content.models import (
    AUTHOR_HANDLE_MAX,
    AUTHOR_NAME_MAX,
    CAPTION_LIMIT,
    ID_MAX,
    MESSAGE_TEXT_LIMIT,
    POLL_EXPLANATION_MAX,
    POLL_OPTION_MAX,
    POLL_OPTIONS_MAX,
    POLL_QUESTION_MAX,
    POST_CAPTION_MAX,
    POST_MEDIA_MAX,
    POST_TEXT_MAX,
    QUESTION_ID_MAX,
    REFERENCE_CITATION_MAX,
    REFERENCE_TITLE_MAX,
    TAG_MAX,
    TITLE_MAX,
    TRACK_DESCRIPTION_MAX,
    URL_MAX,
    Author,
    Library,
    Post,
    QuizQuestion,
    Reference,
    Source,
    Thread,
    Track,
    tg_len,
)
from content.validate import validate_thread
from storage.db import session_scope
from storage.models import GroupPlayer, GroupSession, ImportedThread, Subscription
from tests.harness import ADMIN_ID, Harness

# Characters that are costly to send: HTML specials grow when escaped, emoji count twice.
PATTERN = "Ab &<>\"' 😀 é "


def longest(limit: int, pattern: str = PATTERN) -> str:
    """Text of exactly `limit` UTF-16 units, with no blank at either end."""
    out = ""
    while True:
        for char in pattern:
            if tg_len(out + char) > limit:
                out = out.rstrip()
                return out + "x" * (limit - tg_len(out))
            out += char


def url(limit: int = URL_MAX) -> str:
    base = "https://example.org/"
    return base + "a" * (limit - len(base))


def max_thread(thread_id: str = "a" * ID_MAX) -> Thread:
    """A thread whose every field is as long as validation allows."""
    questions = [
        QuizQuestion(
            id=f"{n}" + "q" * (QUESTION_ID_MAX - len(str(n))),
            question=longest(POLL_QUESTION_MAX),
            options=[longest(POLL_OPTION_MAX - 2) + f"{j:02d}" for j in range(POLL_OPTIONS_MAX)],
            correct=[n % POLL_OPTIONS_MAX],
            explanation=longest(POLL_EXPLANATION_MAX - 4).replace(" ", "\n", 2),
            after_post=None if n == 2 else n + 1,
            source_post=n + 1,
            image=url(),
        )
        for n in range(3)
    ]
    return Thread(
        id=thread_id,
        title=longest(TITLE_MAX),
        author=Author(name=longest(AUTHOR_NAME_MAX), handle="@" + "h" * (AUTHOR_HANDLE_MAX - 1)),
        source=Source(url=url(), published=dt.date(2024, 10, 11)),
        tags=[longest(TAG_MAX - 1, "t😀") + str(i) for i in range(3)],
        posts=[
            Post(text=longest(POST_TEXT_MAX), url=url()),
            Post(
                text=longest(POST_CAPTION_MAX),
                media=[url(URL_MAX - 1) + str(i) for i in range(POST_MEDIA_MAX)],
                url=url(),
            ),
            Post(text=longest(POST_TEXT_MAX)),
        ],
        quiz=questions,
        references=[
            Reference(
                title=longest(REFERENCE_TITLE_MAX),
                url=url(),
                citation=longest(REFERENCE_CITATION_MAX),
            )
        ],
    )


def max_track(track_id: str = "t" * ID_MAX, threads: tuple[str, ...] = ()) -> Track:
    return Track(
        id=track_id,
        title=longest(TITLE_MAX),
        description=longest(TRACK_DESCRIPTION_MAX),
        threads=list(threads) or ["a" * ID_MAX],
    )


def sent_length(html: str) -> int:
    """What Telegram counts: the text after entity parsing (and refuses to parse if broken)."""
    return utf16_len(format_text(html, "HTML").text)


# --------------------------------------------------------------------------------------------
# The limits


def test_the_longest_valid_values_are_valid() -> None:
    assert validate_thread(max_thread()) == []


def test_a_title_of_4500_characters_is_refused() -> None:
    thread = max_thread().model_copy(update={"title": "T" * 4500})

    assert validate_thread(thread) == [
        "title: the title is 4500 characters; the limit is 200 so it fits every message that "
        "shows it; shorten it"
    ]


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"title": "😀" * 101}, "title: the title is 202 characters; the limit is 200"),
        (
            {"author": Author(name="n" * (AUTHOR_NAME_MAX + 1))},
            "author.name: the author's name is 101 characters; the limit is 100",
        ),
        (
            {"author": Author(name="n", handle="@" + "h" * AUTHOR_HANDLE_MAX)},
            "author.handle: the handle is 65 characters; the limit is 64",
        ),
        (
            {"author": Author(name="n", handle="@jane doe")},
            "author.handle: the handle `@jane doe` must be one word such as `@janedoe`",
        ),
        (
            {"tags": ["t" * (TAG_MAX + 1)]},
            "tags[0]: tag `tttttttttttttttttttt...` is 41 characters",
        ),
        (
            {"source": Source(url=url(URL_MAX + 1))},
            "source.url: this URL is 2049 characters; the limit is 2048",
        ),
        (
            {"references": [Reference(title="r" * (REFERENCE_TITLE_MAX + 1))]},
            "references[0].title: the reference title is 301 characters; the limit is 300",
        ),
        (
            {"references": [Reference(title="r", citation="c" * (REFERENCE_CITATION_MAX + 1))]},
            "references[0].citation: the citation is 1001 characters; the limit is 1000",
        ),
        (
            {"id": "a" * (ID_MAX + 1)},
            "id: thread id `" + "a" * 49 + "` must be lowercase letters and digits joined by "
            "single hyphens, at most 48 characters (ids travel in Telegram's buttons)",
        ),
        (
            {"posts": [Post(text="p", media=[url(100)] * (POST_MEDIA_MAX + 1))]},
            "posts[0].media: the post has 11 images; the limit is 10",
        ),
    ],
)
def test_every_field_shown_in_a_message_has_its_limit(
    change: dict[str, object], message: str
) -> None:
    thread = max_thread("csf").model_copy(update={"quiz": [], **change})

    found = validate_thread(thread)

    assert len(found) == 1 and found[0].startswith(message), found


def test_a_question_id_that_would_not_fit_is_refused() -> None:
    question = QuizQuestion(
        id="q" * (QUESTION_ID_MAX + 1), question="?", options=["a"], correct=[0]
    )
    thread = max_thread("csf").model_copy(update={"quiz": [question]})

    assert validate_thread(thread) == [
        f"quiz[0].id: question id `{question.id}` must be up to 48 letters, digits, `-`, `_` or "
        "`.` without spaces, such as `q1`"
    ]


def test_a_track_title_and_description_have_their_limits() -> None:
    from content.validate import _track_rules

    track = max_track().model_copy(
        update={"title": "t" * (TITLE_MAX + 1), "description": "d" * (TRACK_DESCRIPTION_MAX + 1)}
    )

    assert [loc for loc, _ in _track_rules(track)] == [("title",), ("description",)]
    assert _track_rules(max_track()) == []


# --------------------------------------------------------------------------------------------
# Through every rendering function


def test_the_longest_thread_fits_every_message_about_it() -> None:
    thread = max_thread()
    track = max_track(threads=(thread.id,))
    lengths: dict[str, int] = {}

    lengths["header"] = sent_length(header_text(9999, thread, 1, len(thread.posts)))
    for number in range(1, len(thread.posts) + 1):
        rendered = render_post(thread, number)
        if rendered.photo:
            assert sent_length(rendered.text) <= CAPTION_LIMIT
        lengths[f"post {number}"] = sent_length(text_with_media_links(rendered))
    when = dt.datetime(2026, 9, 30, 23, 59)
    lengths["end"] = sent_length(thread_end_text(thread, thread, when, track.title))
    lengths["end of track"] = sent_length(thread_end_text(thread, None, None, track.title))
    # /threads sends these plain lines escaped, so Telegram counts them as they are.
    library = Library(threads={thread.id: thread}, tracks={track.id: track})
    lengths["/threads line"] = tg_len("• " + library_lines(library)[0])
    lengths["/threads track line"] = tg_len("• " + track_lines(library)[0])
    six_tracks = Library(
        threads={thread.id: thread},
        tracks={f"t{i}": max_track(f"t{i}", (thread.id,)) for i in range(6)},
    )
    lengths["track menu"] = sent_length(_question("track", six_tracks, Subscription())[0])
    progress = ProgressReport(
        threads=[
            ThreadProgress(thread.id, thread.title, 3, 3, Accuracy(3, 2)),
            ThreadProgress("b" * ID_MAX, thread.title, 3, 1, Accuracy(3, 1)),
        ],
        overall=Accuracy(6, 3),
        streak=Streak(current=99, longest=999, active_today=False),
        reviews_due=99,
        weakest=[WeakTopic("tag", tag, f"#{tag}", Accuracy(3, 1)) for tag in thread.tags]
        + [WeakTopic("thread", thread.id, thread.title, Accuracy(3, 1))],
        activity=[],
        track_title=track.title,
    )
    lengths["/progress"] = sent_length(progress_html(progress))
    lengths.update(_group_quiz_messages(thread))

    too_long = {name: n for name, n in lengths.items() if n > MESSAGE_TEXT_LIMIT}
    assert too_long == {}
    for question in thread.quiz:
        explanation = poll_explanation(question) or ""
        assert tg_len(explanation) <= POLL_EXPLANATION_MAX
        assert explanation.count("\n") <= 2


def _group_quiz_messages(thread: Thread) -> dict[str, int]:
    now = dt.datetime(2026, 1, 5, 6, 0, tzinfo=dt.UTC)
    session = GroupSession(
        chat_id=-1,
        started_by=1,
        plan_id=thread.id,
        title=thread.title,
        starter_name="S" * 64,
        questions=[[thread.id, q.id] for q in thread.quiz],
        question_index=len(thread.quiz),
        lobby_deadline=now + dt.timedelta(seconds=120),
    )
    names = ["N" * 64 for _ in range(10)]
    players = [GroupPlayer(session_id=1, user_id=i, name=n, score=999) for i, n in enumerate(names)]
    topic = Topic("thread", thread.id, thread.title, (thread.id,), 3, True)
    return {
        "group lobby": sent_length(lobby_text(session, names, now, picked=True)),
        "group standings": sent_length(standings_text(session, players, "stopped", "S" * 64)),
        "group topic hint": sent_length(_topic_hint("x" * 60, [topic] * 12)),
    }


# --------------------------------------------------------------------------------------------
# Through the real Application and the emulator


def _publish(h: Harness, thread: Thread) -> None:
    with session_scope(h.engine) as session:
        session.add(
            ImportedThread(
                thread_id=thread.id,
                yaml_text=dump_thread_yaml(thread),
                status="published",
                imported_by=ADMIN_ID,
            )
        )
    h.services.reload_library()
    assert thread.id in h.services.library().threads


async def test_preview_of_the_longest_thread_is_sent_whole(harness: Harness) -> None:
    thread = max_thread()
    _publish(harness, thread)

    await harness.send(ADMIN_ID, f"/preview {thread.id}")

    messages = harness.messages(ADMIN_ID)
    texts = [m.content or m.caption or "" for m in messages]
    assert not any("stopped" in t for t in texts), texts[-1]
    intro, header, *rest = messages
    assert thread.title in intro.content and thread.title in header.content
    assert len([m for m in rest if m.poll]) == len(thread.quiz)
    assert "You finished" in rest[-1].content and thread.title in rest[-1].content
    with session_scope(harness.engine) as session:
        assert session.exec(select(ImportedThread)).one().thread_id == thread.id


async def test_about_and_threads_credit_the_longest_thread(harness: Harness) -> None:
    thread = max_thread()
    _publish(harness, thread)

    await harness.send(ADMIN_ID, "/about")
    await harness.send(ADMIN_ID, "/threads")

    texts = harness.texts(ADMIN_ID)
    about = next(t for t in texts if t.startswith("About tweetdrip"))
    assert f"{thread.title} – By {author_credit(thread)}" in about
    assert any(f"{thread.id} · {thread.title}" in t for t in texts)
