"""Quiz polls: send them, remember them (answers carry no chat), score the answers, review.

Everything here that touches the database takes an open session and does no awaiting;
the async functions open short sessions between their awaits.
"""

from __future__ import annotations

import datetime as dt
import logging
import re
from dataclasses import dataclass
from html import escape

from sqlalchemy.engine import Connection
from sqlmodel import Session
from telegram import Bot, InputMediaPhoto, Message, ReplyParameters
from telegram.error import BadRequest

from bot.domain.drip import plan_thread_ids
from bot.domain.reminders import should_pause
from bot.domain.review import local_day_start, review_answer, review_horizon, reviews_to_add
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
from content.models import POLL_EXPLANATION_MAX, Library, QuizQuestion, Thread, tg_len
from storage import drip as outbox
from storage import quiz as q
from storage.models import (
    PollKind,
    PollRecord,
    ReviewCard,
    Subscription,
    SubscriptionKind,
    SubscriptionStatus,
)

log = logging.getLogger(__name__)

CHART_WEEKS = 6
# Words in Telegram's refusals that point at the image rather than at the poll itself.
_MEDIA_ERROR = re.compile(
    r"file|url|media|photo|image|picture|web ?page|dimension|content", re.IGNORECASE
)


# --- sending ---------------------------------------------------------------------------------


def poll_explanation(question: QuizQuestion) -> str | None:
    """The explanation, ending with a pointer to the post it comes from when it has none."""
    text = question.explanation.strip()
    post = question.source_post
    if post and not re.search(rf"\bposts? {post}\b", text, re.IGNORECASE):
        pointer = f"See post {post} of the thread."
        candidate = f"{text}\n{pointer}" if text else pointer
        if tg_len(candidate) <= POLL_EXPLANATION_MAX and candidate.count("\n") <= 2:
            text = candidate
    return text or None


async def send_quiz_poll(
    bot: Bot,
    chat_id: int,
    question: QuizQuestion,
    *,
    is_anonymous: bool = False,
    reply_to: int | None = None,
    open_period: int | None = None,
    is_closed: bool | None = None,
) -> Message:
    """Send one question as a quiz poll; Telegram shuffles the options.

    A question with an image sends it as the poll's media (Bot API 10.0); if Telegram
    refuses the image that way, the image goes just before the poll instead, and if it
    refuses the image outright the poll still goes out on its own.
    """

    async def poll(reply: int | None, media: InputMediaPhoto | None) -> Message:
        return await bot.send_poll(
            chat_id=chat_id,
            question=question.question,
            options=question.options,
            type="quiz",
            is_anonymous=is_anonymous,
            correct_option_ids=question.correct,  # type: ignore[arg-type]  # ids 0-11
            allows_multiple_answers=len(question.correct) > 1,
            explanation=poll_explanation(question),
            shuffle_options=True,
            open_period=open_period,
            is_closed=is_closed,
            reply_parameters=(
                ReplyParameters(reply, allow_sending_without_reply=True) if reply else None
            ),
            media=media,
        )

    if question.image is None:
        return await poll(reply_to, None)
    try:
        return await poll(reply_to, InputMediaPhoto(question.image))
    except BadRequest as exc:
        if not _MEDIA_ERROR.search(exc.message):
            raise
        log.info("poll media refused (%s); sending the image before the poll", exc.message)
    try:
        photo = await bot.send_photo(
            chat_id,
            question.image,
            reply_parameters=(
                ReplyParameters(reply_to, allow_sending_without_reply=True) if reply_to else None
            ),
        )
        reply_to = photo.message_id
    except BadRequest as exc:
        log.info("question image refused (%s); sending the poll without it", exc.message)
    return await poll(reply_to, None)


def record_poll(
    session: Session,
    message: Message,
    thread: Thread,
    question: QuizQuestion,
    kind: PollKind,
    now: dt.datetime,
    *,
    user_id: int | None = None,
    subscription_id: int | None = None,
    session_id: int | None = None,
) -> PollRecord | None:
    """Store poll id -> (chat, question) so the answer can be matched later.

    Polls of an installment carry the subscription id; polls asked on demand (/quiz,
    /review) do not, which is how reminders and follow-up questions tell them apart.
    """
    if message.poll is None:
        return None
    record = PollRecord(
        poll_id=message.poll.id,
        kind=kind,
        chat_id=message.chat_id,
        message_id=message.message_id,
        user_id=user_id,
        subscription_id=subscription_id,
        session_id=session_id,
        thread_id=thread.id,
        question_id=question.id,
        correct_option_ids=list(question.correct),
        sent_at=now,
    )
    session.add(record)
    return record


# --- answers ---------------------------------------------------------------------------------


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


# --- asking on demand ------------------------------------------------------------------------


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


# --- reviews with the installment ------------------------------------------------------------


def add_due_reviews(
    session: Session,
    library: Library,
    sub: Subscription,
    installment: int,
    now: dt.datetime,
    max_per_day: int,
) -> int:
    """Append today's due reviews to an installment in the outbox; return how many.

    Each is keyed by card and local day, so a review goes out at most once a day, and the
    day's total stays within `max_per_day` even when /next brings a second installment.
    """
    if sub.kind != SubscriptionKind.trainee or sub.user_id is None or sub.id is None:
        return 0
    horizon = review_horizon(now, sub.timezone)
    if not q.any_card_due(session, sub.user_id, horizon):
        return 0  # most installments: one query, not three
    day = now.astimezone(zone(sub.timezone)).date()
    already = q.review_items_on(session, sub.id, day)
    if already >= max_per_day:
        return 0
    waiting = q.cards_with_open_polls(session, sub.user_id, local_day_start(now, sub.timezone))
    limit = max_per_day - already + len(waiting) + 10
    candidates = [
        card
        for card in q.due_cards(session, sub.user_id, horizon, limit)
        if card.id not in waiting and find_question(library, card.thread_id, card.question_id)
    ]
    chosen = candidates[: reviews_to_add(len(candidates), already, max_per_day)]
    if not chosen:
        return 0
    outbox.add_deliveries(
        session, sub.id, chosen[0].thread_id, [q.review_header_item(installment)], installment
    )
    for card in chosen:
        assert card.id is not None
        outbox.add_deliveries(
            session, sub.id, card.thread_id, [q.review_item(card.id, day)], installment
        )
    return len(chosen)


def review_question(
    session: Session, library: Library, item: str
) -> tuple[QuizQuestion | None, str | None]:
    """The question behind a `r:<card id>:<day>` outbox item, or why there is none."""
    card_id = q.parse_review_item(item)
    card = session.get(ReviewCard, card_id) if card_id is not None else None
    if card is None:
        return None, f"review card of {item} is gone"
    question = find_question(library, card.thread_id, card.question_id)
    if question is None:
        return None, f"question {card.question_id} is no longer in {card.thread_id}"
    return question, None


def review_header_html(session: Session, subscription_id: int, installment: int) -> str:
    count = sum(
        1
        for d in outbox.pending_deliveries(session, subscription_id)
        if d.installment == installment and d.item.startswith("r:")
    )
    noun = "review" if count == 1 else "reviews"
    return (
        f"🔁 <b>{count} {noun} due</b> · questions you answered before, "
        "back just before you would forget them."
    )


# --- idle trainees and reminders -------------------------------------------------------------


def pause_if_idle(sub: Subscription, threshold: int) -> bool:
    """Pause a trainee's drip after `threshold` installments in a row without activity."""
    if sub.kind != SubscriptionKind.trainee or not should_pause(sub.idle_installments, threshold):
        return False
    sub.status = SubscriptionStatus.paused
    sub.next_due_at = sub.lease_until = None
    return True


def idle_pause_html(installments: int) -> str:
    return (
        f"💤 <b>I've paused your daily drip.</b> The last {installments} installments went by "
        "without a quiz answer or a command from you, so I'll stop filling your chat.\n\n"
        "Nothing is lost. Send /resume to pick up where you left off, or /next to get the "
        "next installment right now."
    )


def reminder_html(count: int) -> str:
    what = "a quiz question" if count == 1 else f"{count} quiz questions"
    return (
        f"⏰ You have {what} from your installment waiting. Scroll up and tap an answer: it "
        "takes a few seconds and decides when the question comes back for review.\n"
        "<i>Reminders can be turned off in /settings.</i>"
    )


# --- progress --------------------------------------------------------------------------------


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


def _days(n: int) -> str:
    return f"{n} day" if n == 1 else f"{n} days"


def progress_html(report: ProgressReport) -> str:
    """The /progress text (HTML)."""
    lines = ["📈 <b>Your progress</b>"]
    if report.track_title:
        lines[0] += f" · {escape(report.track_title)}"
    completed = [t for t in report.threads if t.completed]
    reading = [t for t in report.threads if 0 < t.posts_read < t.posts_total]
    lines.append("")
    lines.append(f"<b>Threads completed:</b> {len(completed)}")
    for t in completed:
        right = f" · {t.accuracy.percent} right" if t.accuracy.answered else ""
        lines.append(f"✅ {escape(t.title)}{right}")
    if reading:
        lines.append(f"<b>In progress:</b> {len(reading)}")
        for t in reading:
            right = f" · {t.accuracy.percent} right" if t.accuracy.answered else ""
            lines.append(f"📖 {escape(t.title)} · post {t.posts_read} of {t.posts_total}{right}")
    lines.append("")
    overall = report.overall
    if overall.answered:
        lines.append(
            f"<b>Accuracy:</b> {overall.percent} ({overall.correct} of {overall.answered} answers)"
        )
    else:
        lines.append("<b>Accuracy:</b> no answers yet. Quizzes come with your installments.")
    s = report.streak
    flame = "🔥 " if s.current else ""
    today = "" if s.active_today or not s.current else " (keep it going today!)"
    lines.append(f"<b>Streak:</b> {flame}{_days(s.current)}{today} · longest {_days(s.longest)}")
    due = report.reviews_due
    lines.append(f"<b>Reviews due today:</b> {due}" + (" · send /review" if due else ""))
    if report.weakest:
        lines.append("")
        lines.append("<b>Weakest topics:</b>")
        for topic in report.weakest:
            acc = topic.accuracy
            lines.append(f"• {escape(topic.label)}: {acc.percent} ({acc.correct}/{acc.answered})")
        lines.append("/quiz retakes the questions of a thread you have finished.")
    return "\n".join(lines)
