"""Quizzes in a trainee's private chat: answers, retakes (/quiz), reviews (/review),
progress (/progress) and reminders of unanswered quizzes.

Sending a poll and remembering it (poll answers carry no chat) is the delivery side's
(bot/quizzes.py); what an answer changes, and what to ask next, is decided here.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy.engine import Connection
from sqlmodel import Session

from bot.domain.drip import plan_thread_ids
from bot.domain.reminders import reminder_at
from bot.domain.review import local_day_start, review_answer, review_horizon
from bot.domain.scoring import (
    Accuracy,
    AnswerRow,
    DayActivity,
    ThreadProgress,
    Topic,
    accuracy,
    accuracy_by_thread,
    daily_activity,
    is_correct,
    seconds_between,
    weakest_topics,
)
from bot.domain.streaks import Streak, streak
from bot.domain.timeparse import zone
from content.models import Library, QuizQuestion, Thread
from storage import quiz as q
from storage.models import PollKind, PollRecord, ReviewCard, Subscription
from storage.subscriptions import trainee_subscription

CHART_WEEKS = 6
# A quiz older than this past its reminder time is left alone: the next installment is near.
REMINDER_WINDOW = dt.timedelta(hours=20)

# --- answers ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class AnswerOutcome:
    """What one recorded answer changed."""

    kind: PollKind
    chat_id: int
    user_id: int
    thread_id: str
    question_id: str
    correct: bool
    seconds: float
    due_at: dt.datetime
    on_demand: bool  # asked by /quiz or /review rather than with an installment


def record_answer(
    conn: Connection,
    poll_id: str,
    user_id: int,
    option_ids: list[int],
    now: dt.datetime,
    *,
    retention: float,
    fuzz: bool = True,
) -> AnswerOutcome | None:
    """Record a trainee's answer and update the question's review card, in `conn`'s transaction.

    Returns None, changing nothing, for polls this module does not own (group sessions,
    previews), unknown polls, someone else's poll, retracted votes and repeated answers.
    """
    if not option_ids:  # a retracted vote
        return None
    poll = q.claim_poll_answer(conn, poll_id, user_id, now)
    if poll is None:
        return None
    correct = is_correct(option_ids, poll.correct_option_ids)
    seconds = seconds_between(poll.sent_at, now)
    q.add_attempt(
        conn,
        user_id=user_id,
        poll_id=poll_id,
        kind=poll.kind,
        thread_id=poll.thread_id,
        question_id=poll.question_id,
        option_ids=list(option_ids),
        correct=correct,
        seconds_taken=seconds,
        answered_at=now,
    )
    state = q.card_state(conn, user_id, poll.thread_id, poll.question_id)
    if state is None:
        state = (q.create_card(conn, user_id, poll.thread_id, poll.question_id, now), {})
    card_id, stored = state
    duration_ms = int(seconds * 1000)
    result = review_answer(
        stored or None,
        card_id,
        correct,
        now,
        retention=retention,
        duration_ms=duration_ms,
        fuzz=fuzz,
    )
    q.save_card(conn, card_id, result.card, result.due_at, now)
    q.add_review_log(conn, card_id, result.rating, now, duration_ms)
    q.note_activity(conn, user_id, now)  # a private chat's id is its user's id
    return AnswerOutcome(
        kind=PollKind(poll.kind),
        chat_id=poll.chat_id,
        user_id=user_id,
        thread_id=poll.thread_id,
        question_id=poll.question_id,
        correct=correct,
        seconds=seconds,
        due_at=result.due_at,
        on_demand=poll.subscription_id is None,
    )


# --- asking on demand ---------------------------------------------------------------------------


def next_question(thread: Thread, after_question_id: str | None) -> QuizQuestion | None:
    """The question that follows `after_question_id` in the thread (the first for None)."""
    if after_question_id is None:
        return thread.quiz[0] if thread.quiz else None
    ids = [x.id for x in thread.quiz]
    if after_question_id not in ids:
        return None
    index = ids.index(after_question_id) + 1
    return thread.quiz[index] if index < len(thread.quiz) else None


def find_question(library: Library, thread_id: str, question_id: str) -> QuizQuestion | None:
    thread = library.threads.get(thread_id)
    if thread is None:
        return None
    return next((x for x in thread.quiz if x.id == question_id), None)


def retake_score(session: Session, user_id: int, thread: Thread) -> Accuracy:
    """Right answers in the latest retake of `thread`."""
    if not thread.quiz:
        return Accuracy()
    answers = q.latest_retake_answers(session, user_id, thread.id, thread.quiz[0].id)
    return Accuracy(len(answers), sum(answers))


def completed_threads(session: Session, library: Library, sub: Subscription) -> list[Thread]:
    """Threads of the library this trainee has received in full, in plan order first."""
    posts = {t.id: len(t.posts) for t in library.threads.values()}
    done = q.completed_thread_ids(session, sub.id, posts) if sub.id else set()
    ordered = plan_thread_ids(library, sub.plan_kind, sub.plan_id)
    ordered += [t for t in library.threads if t not in ordered]
    return [library.threads[t] for t in ordered if t in done and library.threads[t].quiz]


@dataclass(frozen=True)
class Retakes:
    subscribed: bool
    threads: list[Thread]  # finished threads with a quiz, plan order first


def retakes(session: Session, library: Library, chat_id: int) -> Retakes:
    """The threads a trainee may retake the quiz of (/quiz)."""
    sub = trainee_subscription(session, chat_id)
    if sub is None:
        return Retakes(subscribed=False, threads=[])
    return Retakes(subscribed=True, threads=completed_threads(session, library, sub))


def next_due_review(
    session: Session, library: Library, user_id: int, timezone: str, now: dt.datetime
) -> tuple[ReviewCard, Thread, QuizQuestion] | None:
    """The most overdue card due today whose question is not already waiting unanswered."""
    horizon = review_horizon(now, timezone)
    waiting = q.cards_with_open_polls(session, user_id, local_day_start(now, timezone))
    skipped: set[int] = set(waiting)
    while True:
        cards = q.due_cards(session, user_id, horizon, 20, exclude=skipped)
        if not cards:
            return None
        for card in cards:
            question = find_question(library, card.thread_id, card.question_id)
            if question is not None:
                return card, library.threads[card.thread_id], question
            skipped.add(card.id)  # type: ignore[arg-type]  # the question left the library


def due_review_count(session: Session, user_id: int, timezone: str, now: dt.datetime) -> int:
    return q.count_due_cards(session, user_id, review_horizon(now, timezone))


@dataclass(frozen=True)
class Reviews:
    """The reviews of a trainee today (/review)."""

    timezone: str
    due: int  # cards due today
    question: tuple[Thread, QuizQuestion] | None  # the next one to ask, if any
    upcoming: dt.datetime | None = None  # when nothing is due today: the next due card


def reviews(
    session: Session,
    library: Library,
    chat_id: int,
    user_id: int,
    default_timezone: str,
    now: dt.datetime,
    *,
    count: bool = True,
) -> Reviews:
    """How many reviews are due today and which to ask next (`count=False`: only which)."""
    sub = trainee_subscription(session, chat_id)
    timezone = sub.timezone if sub is not None else default_timezone
    due = due_review_count(session, user_id, timezone, now) if count else 0
    found = next_due_review(session, library, user_id, timezone, now)
    upcoming = q.next_due_at(session, user_id) if count and not due else None
    question = (found[1], found[2]) if found is not None else None
    return Reviews(timezone, due, question, upcoming)


# --- progress -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class ProgressReport:
    threads: list[ThreadProgress]
    overall: Accuracy
    streak: Streak
    reviews_due: int
    weakest: list[Topic]
    activity: list[DayActivity]
    track_title: str | None


def build_progress(
    session: Session,
    library: Library,
    sub: Subscription | None,
    user_id: int,
    now: dt.datetime,
    *,
    weeks: int = CHART_WEEKS,
) -> ProgressReport:
    """Everything /progress shows, computed from the stored answers and deliveries."""
    timezone = sub.timezone if sub is not None else "UTC"
    rows = [AnswerRow(*row) for row in q.answer_rows(session, user_id)]
    delivered = list(q.delivery_instants(session, sub.id)) if sub and sub.id else []
    read = q.posts_read(session, sub.id) if sub and sub.id else {}
    by_thread = accuracy_by_thread(rows)
    plan = plan_thread_ids(library, sub.plan_kind, sub.plan_id) if sub else []
    shown = plan + [t for t in (*read, *by_thread) if t not in plan and t in library.threads]
    threads = []
    for thread_id in dict.fromkeys(shown):
        thread = library.threads.get(thread_id)
        if thread is None:
            continue
        threads.append(
            ThreadProgress(
                thread_id,
                thread.title,
                len(thread.posts),
                min(read.get(thread_id, 0), len(thread.posts)),
                by_thread.get(thread_id, Accuracy()),
            )
        )
    tags = {t.id: t.tags for t in library.threads.values()}
    titles = {t.id: t.title for t in library.threads.values()}
    today = now.astimezone(zone(timezone)).date()
    track = (
        library.tracks[sub.plan_id].title
        if sub is not None and sub.plan_kind == "track" and sub.plan_id in library.tracks
        else None
    )
    return ProgressReport(
        threads=threads,
        overall=accuracy(rows),
        streak=streak([*delivered, *(r.answered_at for r in rows)], timezone, now),
        reviews_due=due_review_count(session, user_id, timezone, now),
        weakest=weakest_topics(by_thread, tags, titles),
        activity=daily_activity(rows, delivered, timezone, today, weeks * 7),
        track_title=track,
    )


def progress(
    session: Session, library: Library, chat_id: int, user_id: int, now: dt.datetime
) -> ProgressReport:
    """/progress of the trainee in `chat_id`."""
    return build_progress(session, library, trainee_subscription(session, chat_id), user_id, now)


# --- reminders of unanswered quizzes ------------------------------------------------------------


@dataclass(frozen=True)
class Reminder:
    chat_id: int
    poll_ids: list[str]
    reply_to: int  # the first unanswered quiz's message


def reminders_due(session: Session, now: dt.datetime, delay: dt.timedelta) -> list[Reminder]:
    """One reminder per trainee whose installment quiz has waited `delay` unanswered.

    Each poll is reminded about at most once; a reminder that would fall in the trainee's
    night waits for the morning.
    """
    rows = q.reminder_candidates(session, now - delay - REMINDER_WINDOW, now - delay)
    due: dict[int, list[PollRecord]] = {}
    for record, timezone in rows:
        if reminder_at(record.sent_at, delay, timezone) <= now:
            due.setdefault(record.chat_id, []).append(record)
    return [
        Reminder(chat_id, [r.poll_id for r in records], records[0].message_id)
        for chat_id, records in due.items()
    ]


def mark_reminded(session: Session, poll_ids: Sequence[str], now: dt.datetime) -> None:
    q.mark_reminded(session, poll_ids, now)
