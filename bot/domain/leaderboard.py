"""Group quiz rules as plain functions: topics, question choice, pacing, scoring and ranking.

Scoring: a wrong or missing answer earns nothing; a correct one earns `BASE_POINTS` plus a
speed bonus that falls linearly from `SPEED_BONUS_MAX` (answered at once) to 0 (answered as
the poll closes):

    points = 10 + round(10 * (open_period - seconds) / open_period)

so a correct answer is worth 10 to 20 points. A player's time is the sum of their answer
times, a question they let pass counting as the whole open period. Standings order by score
(high first), then time (low first); players with the same score and the same time (to a
tenth of a second, as shown) share a place, and the next place is skipped (1, 1, 3).
"""

from __future__ import annotations

import datetime as dt
import random
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Literal, Protocol, TypeVar

from content.models import Library

BASE_POINTS = 10
SPEED_BONUS_MAX = 10
LEADERBOARD_SIZE = 10

MIN_OPEN_PERIOD = 5
MAX_OPEN_PERIOD = 600

# Pacing, chosen so questions never need more than 12 requests a minute in their group
# (Telegram allows 20): each question costs at most two (sendPoll, and stopPoll when everyone
# answered early), and two questions never start less than MIN_QUESTION_INTERVAL apart.
PAUSE_AFTER_QUESTION = dt.timedelta(seconds=3)  # time to read the answer and explanation
MIN_QUESTION_INTERVAL = dt.timedelta(seconds=10)
# A question being sent has this much extra time before it counts as asked and over, so a
# crash between sending and recording the poll never leads to the question being sent again.
SEND_GRACE = dt.timedelta(seconds=15)
# A session that missed its next step by more than this (the bot was down) ends instead of
# posting questions into a conversation that has moved on.
STALE_AFTER = dt.timedelta(minutes=10)
# Lobby edits (who joined) are batched so a rush of joins stays within the group limit.
LOBBY_EDIT_INTERVAL_SECONDS = 5.0

MIN_DEFAULT_QUESTIONS = 3


class InputError(ValueError):
    """The command's arguments could not be understood; the message says how to fix them."""


# --- scoring ---------------------------------------------------------------------------------


def is_correct(chosen: Iterable[int], correct: Iterable[int]) -> bool:
    """A quiz answer is right when exactly the correct options were chosen."""
    chosen_set = set(chosen)
    return bool(chosen_set) and chosen_set == set(correct)


def answer_seconds(sent_at: dt.datetime, answered_at: dt.datetime, open_period: int) -> float:
    """Seconds from the poll going out to the answer, within [0, open_period]."""
    seconds = (answered_at - sent_at).total_seconds()
    return round(min(max(seconds, 0.0), float(open_period)), 3)


def answer_points(correct: bool, seconds: float, open_period: int) -> int:
    """Points for one answer: 10 for a correct one plus up to 10 for speed (see the module)."""
    if not correct:
        return 0
    left = min(max(open_period - seconds, 0.0), float(open_period))
    return BASE_POINTS + round(SPEED_BONUS_MAX * left / open_period)


# --- ranking ---------------------------------------------------------------------------------


class Scored(Protocol):
    @property
    def user_id(self) -> int: ...
    @property
    def name(self) -> str: ...
    @property
    def score(self) -> int: ...
    @property
    def seconds(self) -> float: ...


S = TypeVar("S", bound=Scored)


def tie_key(entry: Scored) -> tuple[int, float]:
    """Entries with equal keys share a place: same score, same time to a tenth of a second."""
    return (-entry.score, round(entry.seconds, 1))


def rank_standings(
    entries: Iterable[S], limit: int | None = LEADERBOARD_SIZE
) -> list[tuple[int, S]]:
    """(place, entry) best first; ties share a place; with `limit`, places up to it (ties at the
    last place are all kept)."""
    ordered = sorted(entries, key=lambda e: (*tie_key(e), e.name.casefold(), e.user_id))
    ranked: list[tuple[int, S]] = []
    place = 0
    previous: tuple[int, float] | None = None
    for position, entry in enumerate(ordered, 1):
        key = tie_key(entry)
        if key != previous:
            place, previous = position, key
        if limit is not None and place > limit:
            break
        ranked.append((place, entry))
    return ranked


# --- pacing ----------------------------------------------------------------------------------


def question_deadline(sent_at: dt.datetime, open_period: int) -> dt.datetime:
    return sent_at + dt.timedelta(seconds=open_period)


def next_question_at(closed_at: dt.datetime, sent_at: dt.datetime | None) -> dt.datetime:
    """When the question after one that closed at `closed_at` (sent at `sent_at`) may go out."""
    after_pause = closed_at + PAUSE_AFTER_QUESTION
    if sent_at is None:
        return after_pause
    return max(after_pause, sent_at + MIN_QUESTION_INTERVAL)


def is_stale(due_at: dt.datetime | None, now: dt.datetime) -> bool:
    """The step due at `due_at` was missed for so long that the session should end."""
    return due_at is not None and now - due_at > STALE_AFTER


def countdown_text(seconds: float) -> str:
    """`in 2 min`, `in 1 min 30 s`, `in 45 s`, `now`."""
    whole = max(0, round(seconds))
    if whole == 0:
        return "now"
    minutes, rest = divmod(whole, 60)
    if not minutes:
        return f"in {rest} s"
    return f"in {minutes} min {rest} s" if rest else f"in {minutes} min"


# --- topics and questions --------------------------------------------------------------------


@dataclass(frozen=True)
class Topic:
    """A thread or a track that has quiz questions."""

    kind: Literal["thread", "track"]
    id: str
    title: str
    thread_ids: tuple[str, ...]
    question_count: int
    complete: bool  # every thread is complete (not an opening only)


def playable_topics(library: Library) -> list[Topic]:
    """Tracks, then threads, that have at least one quiz question."""
    topics: list[Topic] = []
    for track in library.tracks.values():
        threads = [library.threads[t] for t in track.threads if t in library.threads]
        count = sum(len(t.quiz) for t in threads)
        if count:
            topics.append(
                Topic(
                    "track",
                    track.id,
                    track.title,
                    tuple(t.id for t in threads),
                    count,
                    all(t.status == "complete" for t in threads),
                )
            )
    for thread in library.threads.values():
        if thread.quiz:
            topics.append(
                Topic(
                    "thread",
                    thread.id,
                    thread.title,
                    (thread.id,),
                    len(thread.quiz),
                    thread.status == "complete",
                )
            )
    return topics


def find_topics(library: Library, text: str) -> list[Topic]:
    """The topic named by `text`: an exact id wins; otherwise every id or title containing it."""
    wanted = text.strip().casefold()
    topics = playable_topics(library)
    exact = [t for t in topics if t.id.casefold() == wanted]
    if exact:
        return exact[:1]
    return [t for t in topics if wanted in t.id.casefold() or wanted in t.title.casefold()]


def default_topic(
    library: Library, recent_ids: Sequence[str], rng: random.Random | None = None
) -> Topic | None:
    """A complete thread with questions, preferring the ones this group played least recently.

    `recent_ids` are the topics of the group's past sessions, most recent first.
    """
    rng = rng or random.Random()
    threads = [t for t in playable_topics(library) if t.kind == "thread"]
    candidates = [
        t for t in threads if t.complete and t.question_count >= MIN_DEFAULT_QUESTIONS
    ] or threads
    if not candidates:
        return None

    def staleness(topic: Topic) -> int:
        # Never played ranks first; otherwise the longer ago, the better.
        return -recent_ids.index(topic.id) if topic.id in recent_ids else -len(recent_ids) - 1

    best = min(staleness(t) for t in candidates)
    return rng.choice([t for t in candidates if staleness(t) == best])


def topic_questions(library: Library, topic: Topic) -> list[tuple[str, str]]:
    """Every (thread id, question id) of the topic, in reading order."""
    return [
        (thread_id, question.id)
        for thread_id in topic.thread_ids
        if thread_id in library.threads
        for question in library.threads[thread_id].quiz
    ]


def pick_questions(
    keys: Sequence[tuple[str, str]], limit: int, rng: random.Random | None = None
) -> list[tuple[str, str]]:
    """At most `limit` questions: all of them, or a random choice kept in reading order."""
    if len(keys) <= limit:
        return list(keys)
    rng = rng or random.Random()
    chosen = sorted(rng.sample(range(len(keys)), limit))
    return [keys[i] for i in chosen]


def parse_groupquiz_args(args: Sequence[str]) -> tuple[str | None, int | None]:
    """`/groupquiz [thread or track] [seconds]` in either order -> (topic text, open period)."""
    words: list[str] = []
    seconds: int | None = None
    for arg in args:
        token = arg.strip().lower().removesuffix("s")
        if token.isdigit():
            if seconds is not None:
                raise InputError("Give the seconds per question once, e.g. /groupquiz csf-leaks 20")
            seconds = int(token)
            if not MIN_OPEN_PERIOD <= seconds <= MAX_OPEN_PERIOD:
                raise InputError(
                    f"Seconds per question must be between {MIN_OPEN_PERIOD} and "
                    f"{MAX_OPEN_PERIOD}, e.g. /groupquiz csf-leaks 20"
                )
        elif arg.strip():
            words.append(arg.strip())
    return (" ".join(words) or None), seconds
