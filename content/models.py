"""Typed models for threads, quiz questions and tracks, with Telegram's limits."""

from __future__ import annotations

import datetime as dt
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

SCHEMA_VERSION = 1

# Telegram's limits, counted after entity parsing.
MESSAGE_TEXT_LIMIT = 4096
CAPTION_LIMIT = 1024
POLL_QUESTION_MAX = 300
POLL_OPTIONS_MIN = 1  # Bot API 10.0 lowered it from 2 (PTB 22.8: PollLimit.MIN_OPTION_NUMBER)
POLL_OPTIONS_MAX = 12
POLL_OPTION_MAX = 100
POLL_EXPLANATION_MAX = 200
POLL_EXPLANATION_MAX_LINE_BREAKS = 2
# Room left in every post message for the "5/12" marker and the link to the original.
RENDER_RESERVE = 64
POST_TEXT_MAX = MESSAGE_TEXT_LIMIT - RENDER_RESERVE
POST_CAPTION_MAX = CAPTION_LIMIT - RENDER_RESERVE
# A post's extra images become "Image N" links when Telegram refuses the first one; ten (an
# album's worth) keeps that fallback text within the message limit.
POST_MEDIA_MAX = 10

# Fields shown inside the bot's messages (an installment's header, the end of a thread,
# /about, /threads, /preview, /progress, a group quiz lobby and its standings, buttons).
# Each message holds a few of them plus fixed words, so these bounds keep the longest valid
# values of every field far inside MESSAGE_TEXT_LIMIT; tests/test_telegram_limits.py renders
# them through every message that shows them. Counted as Telegram counts (`tg_len`).
TITLE_MAX = 200  # a thread's or a track's title
TRACK_DESCRIPTION_MAX = 300  # the track menu lists every track with its description
AUTHOR_NAME_MAX = 100
AUTHOR_HANDLE_MAX = 64
TAG_MAX = 40
REFERENCE_TITLE_MAX = 300
REFERENCE_CITATION_MAX = 1000
# Links are not counted in a message's length; this bound is ours: longer than any real link.
URL_MAX = 2048
# Ids travel in buttons: Telegram allows 64 bytes of callback data, and the longest prefix
# put before an id is "ob:track:" (9 bytes); ids are ASCII slugs, so characters are bytes.
ID_MAX = 48
QUESTION_ID_MAX = 48

# What an importer writes when an export names no author; publishing refuses it unconfirmed.
UNKNOWN_AUTHOR = "Unknown author"


def tg_len(text: str) -> int:
    """Count like Telegram does: UTF-16 code units, so emoji outside the BMP count twice."""
    if text.isascii():
        return len(text)
    # surrogatepass: a lone surrogate (from a JSON escape) counts as the one unit it is.
    return len(text.encode("utf-16-le", "surrogatepass")) // 2


SourceKind = Literal["tweetorial", "article", "notes"]
ThreadStatus = Literal["complete", "partial"]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Author(_Strict):
    name: str
    handle: str | None = None


class Source(_Strict):
    url: str | None = None
    kind: SourceKind = "tweetorial"
    imported_from: str | None = None
    published: dt.date | None = None
    # How many posts the original announced ("12 tweets", "1/12"); more than the thread has
    # means only the opening is known.
    announced_posts: int | None = Field(default=None, ge=1)


class Post(_Strict):
    text: str
    media: list[str] = Field(default_factory=list)
    # Whether the original post had images or video: True (their URLs in `media` when known),
    # False (none), None (not known). True with an empty `media` makes the bot say so and
    # point to the original.
    has_media: bool | None = None
    url: str | None = None

    @model_validator(mode="after")
    def _media_agrees(self) -> Post:
        if self.media and self.has_media is False:
            raise ValueError("has_media is false but media lists URLs; remove one of them")
        return self


class QuizQuestion(_Strict):
    id: str
    question: str
    options: list[str]
    correct: list[int]
    explanation: str = ""
    after_post: int | None = None  # 1-based; None means the end of the thread
    source_post: int | None = None  # 1-based
    image: str | None = None

    @field_validator("correct")
    @classmethod
    def _correct_in_order(cls, value: list[int]) -> list[int]:
        """Keep the correct options in order: they are a set, and every form writes them alike."""
        return sorted(value)


class Reference(_Strict):
    title: str
    url: str | None = None
    citation: str | None = None


class Thread(_Strict):
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)

    schema_version: int = Field(default=SCHEMA_VERSION, alias="schema")
    id: str
    title: str
    author: Author
    source: Source
    tags: list[str] = Field(default_factory=list)
    status: ThreadStatus = "complete"
    posts: list[Post]
    quiz: list[QuizQuestion] = Field(default_factory=list)
    references: list[Reference] = Field(default_factory=list)

    def questions_after(self, post_number: int) -> list[QuizQuestion]:
        """Return the questions that follow post `post_number` (1-based)."""
        last = len(self.posts)
        return [q for q in self.quiz if (q.after_post or last) == post_number]


class Track(_Strict):
    id: str
    title: str
    description: str = ""
    threads: list[str]


class Library(BaseModel):
    """Every thread and track, by id, in a stable order."""

    model_config = ConfigDict(frozen=True)

    threads: dict[str, Thread]
    tracks: dict[str, Track]

    def thread(self, thread_id: str) -> Thread:
        return self.threads[thread_id]

    def track(self, track_id: str) -> Track:
        return self.tracks[track_id]
