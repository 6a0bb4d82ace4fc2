"""Quizzes in a trainee's private chat: poll answers, /quiz, /review, /progress, reminders.

Handler groups (PTB runs at most one handler per group, groups in ascending order):
- ACTIVITY_GROUP (-1): any message or button press of a trainee counts as activity and
  resets the idle-installment count; it never stops the update.
- POLL_ANSWER_GROUP (0, the default): this module's PollAnswerHandler. It records answers
  to polls of kind drip, retake and review and then stops the update (ApplicationHandlerStop:
  nobody else needs to look those up); for every other poll it returns without a word, and
  the group quiz module's own PollAnswerHandler in group 1 takes it. Nothing else in
  group 0 matches a poll answer.
- Commands and the thread-choice buttons sit in group 0 too, ahead of the trainee
  module's catch-all for unknown commands (bot.app registers this module first).
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
from html import escape
from typing import Any

from telegram import InlineKeyboardButton, InlineKeyboardMarkup, Message, ReplyParameters, Update
from telegram.constants import ChatType, ParseMode
from telegram.ext import (
    Application,
    ApplicationHandlerStop,
    CommandHandler,
    PollAnswerHandler,
    TypeHandler,
    filters,
)

from bot.callbacks import ButtonHandler, RetakeThread, decode, encode, pressed
from bot.charts import progress_chart_png
from bot.context import Context, Services, services
from bot.domain.reminders import reminder_at
from bot.domain.timeparse import zone
from bot.quizzes import (
    AnswerOutcome,
    build_progress,
    completed_threads,
    due_review_count,
    next_due_review,
    next_question,
    progress_html,
    record_answer,
    record_poll,
    reminder_html,
    retake_score,
    send_quiz_poll,
)
from bot.render import split_html
from bot.sending import Outcome, send_safely
from content.models import QuizQuestion, Thread
from storage import quiz as q
from storage.db import session_scope
from storage.models import PollKind, PollRecord
from storage.subscriptions import trainee_subscription

log = logging.getLogger(__name__)

PRIVATE = filters.ChatType.PRIVATE & filters.UpdateType.MESSAGE  # new messages, not edits
ACTIVITY_GROUP = -1
POLL_ANSWER_GROUP = 0  # the group quiz module's handler is in group 1
REMINDER_JOB = "quiz-reminders"
REMINDER_INTERVAL_SECONDS = 300.0
# A quiz older than this past its reminder time is left alone: the next installment is near.
REMINDER_WINDOW = dt.timedelta(hours=20)
NOT_SUBSCRIBED = "You are not subscribed yet. Send /start to begin."


def register(app: Application[Any, Any, Any, Any, Any, Any]) -> None:
    """Add this module's handlers and its reminder job to the application."""
    app.add_handler(TypeHandler(Update, note_activity), group=ACTIVITY_GROUP)
    app.add_handler(PollAnswerHandler(on_poll_answer), group=POLL_ANSWER_GROUP)
    app.add_handler(CommandHandler("quiz", quiz_command, filters=PRIVATE))
    app.add_handler(CommandHandler("review", review_command, filters=PRIVATE))
    app.add_handler(CommandHandler("progress", progress_command, filters=PRIVATE))
    app.add_handler(ButtonHandler(on_thread_choice, RetakeThread))
    if app.job_queue is not None:
        app.job_queue.run_repeating(
            quiz_reminder_job,
            interval=REMINDER_INTERVAL_SECONDS,
            first=REMINDER_INTERVAL_SECONDS,
            name=REMINDER_JOB,
            job_kwargs={"max_instances": 1, "coalesce": True},
        )


async def _reply(chat_id: int, context: Context, html: str, markup: Any = None) -> None:
    await context.bot.send_message(chat_id, html, parse_mode=ParseMode.HTML, reply_markup=markup)


# --- activity --------------------------------------------------------------------------------


async def note_activity(update: Update, context: Context) -> None:
    """A trainee's message or button press in the private chat: they are still here."""
    chat = update.effective_chat
    if chat is None or chat.type != ChatType.PRIVATE:
        return
    if update.message is None and update.callback_query is None:
        return
    if update.callback_query is not None and decode(update.callback_query.data) is None:
        return  # not a press of one of our buttons
    svc = services(context)
    with session_scope(svc.engine) as session:
        q.note_activity(session.connection(), chat.id, svc.now())


# --- poll answers ----------------------------------------------------------------------------


async def on_poll_answer(update: Update, context: Context) -> None:
    """Record an answer to a trainee's quiz poll, then ask the next question if one follows."""
    answer = update.poll_answer
    if answer is None or answer.user is None:  # answered on behalf of a chat: not a trainee
        return
    svc = services(context)
    # A bare transaction rather than an ORM session: this is the hot path (see docs/quizzes.md).
    with svc.engine.begin() as conn:
        outcome = record_answer(
            conn,
            answer.poll_id,
            answer.user.id,
            list(answer.option_ids),
            svc.now(),
            retention=svc.settings.review_retention,
        )
    if outcome is None:
        return  # not a trainee's poll (a group quiz's, say): later handler groups decide
    if outcome.on_demand and outcome.kind == PollKind.retake:
        await _continue_retake(context, outcome)
    elif outcome.on_demand and outcome.kind == PollKind.review:
        await _continue_review(context, outcome.chat_id, outcome.user_id)
    # The answer was ours: no other module needs to look it up.
    raise ApplicationHandlerStop


async def _ask(
    context: Context,
    chat_id: int,
    user_id: int,
    thread: Thread,
    question: QuizQuestion,
    kind: PollKind,
) -> bool:
    """Send one question on demand and remember its poll; False if it could not be sent."""
    svc = services(context)
    bot = context.bot
    result = await send_safely(lambda c: send_quiz_poll(bot, c, question), chat_id, pacer=svc.pacer)
    message = result.value
    if result.outcome != Outcome.sent or not isinstance(message, Message):
        log.info("could not ask %s/%s in %s: %s", thread.id, question.id, chat_id, result.error)
        return False
    with session_scope(svc.engine) as session:
        record_poll(session, message, thread, question, kind, svc.now(), user_id=user_id)
    return True


# --- /quiz -----------------------------------------------------------------------------------


async def quiz_command(update: Update, context: Context) -> None:
    """`/quiz` offers the finished threads; `/quiz <thread>` retakes that thread's questions."""
    svc = services(context)
    chat, user = update.effective_chat, update.effective_user
    assert chat is not None and user is not None
    library = svc.library()
    wanted = " ".join(context.args or []).strip().lower()
    with session_scope(svc.engine) as session:
        sub = trainee_subscription(session, chat.id)
        done = completed_threads(session, library, sub) if sub is not None else []
    if sub is None:
        await _reply(chat.id, context, NOT_SUBSCRIBED)
        return
    if wanted:
        thread = _match_thread(wanted, list(library.threads.values()))
        if thread is None:
            await _reply(
                chat.id,
                context,
                f"I don't know a thread called “{escape(wanted[:60])}”. " + _finished_list(done),
            )
        elif thread not in done:
            await _reply(
                chat.id,
                context,
                f"<b>{escape(thread.title)}</b> has not reached you in full yet: its quiz "
                "opens once you have read the whole thread. " + _finished_list(done),
            )
        elif not thread.quiz:
            await _reply(chat.id, context, f"<b>{escape(thread.title)}</b> has no questions.")
        else:
            await _start_retake(context, chat.id, user.id, thread)
        return
    if not done:
        await _reply(
            chat.id,
            context,
            "You have not finished a thread yet. Its quiz opens here once the whole thread "
            "has reached you; meanwhile the questions come with your installments.",
        )
    elif len(done) == 1:
        await _start_retake(context, chat.id, user.id, done[0])
    else:
        rows = [
            [
                InlineKeyboardButton(
                    f"{t.title} ({len(t.quiz)})", callback_data=encode(RetakeThread(t.id))
                )
            ]
            for t in done
        ]
        await _reply(
            chat.id,
            context,
            "<b>Which thread would you like to be quizzed on?</b>",
            InlineKeyboardMarkup(rows),
        )


def _match_thread(wanted: str, threads: list[Thread]) -> Thread | None:
    """A thread by id, or by a word or two of its id or title."""
    for thread in threads:
        if thread.id == wanted:
            return thread
    hits = [t for t in threads if wanted in t.id or wanted in t.title.lower()]
    return hits[0] if len(hits) == 1 else None


def _finished_list(done: list[Thread]) -> str:
    if not done:
        return "You have not finished a thread yet."
    names = ", ".join(f"<code>{escape(t.id)}</code>" for t in done)
    return f"Threads you can retake: {names}."


async def on_thread_choice(update: Update, context: Context) -> None:
    """The button of a finished thread: start its retake."""
    query = update.callback_query
    assert query is not None
    thread_id = pressed(update, RetakeThread).thread_id
    await query.answer()
    chat, user = update.effective_chat, update.effective_user
    assert chat is not None and user is not None
    if chat.type != ChatType.PRIVATE:
        return  # retakes live in the trainee's private chat
    svc = services(context)
    library = svc.library()
    with session_scope(svc.engine) as session:
        sub = trainee_subscription(session, chat.id)
        done = completed_threads(session, library, sub) if sub is not None else []
    thread = next((t for t in done if t.id == thread_id), None)
    if thread is None:
        await _reply(chat.id, context, "That thread is not available for a quiz any more.")
        return
    await _start_retake(context, chat.id, user.id, thread)


async def _start_retake(context: Context, chat_id: int, user_id: int, thread: Thread) -> None:
    count = len(thread.quiz)
    await _reply(
        chat_id,
        context,
        f"🔁 <b>Quiz: {escape(thread.title)}</b> · {count} question"
        f"{'' if count == 1 else 's'}, one at a time. The next one comes when you answer.",
    )
    first = next_question(thread, None)
    if first is not None:
        await _ask(context, chat_id, user_id, thread, first, PollKind.retake)


async def _continue_retake(context: Context, outcome: AnswerOutcome) -> None:
    svc = services(context)
    thread = svc.library().threads.get(outcome.thread_id)
    if thread is None:
        return
    following = next_question(thread, outcome.question_id)
    if following is not None:
        await _ask(context, outcome.chat_id, outcome.user_id, thread, following, PollKind.retake)
        return
    with session_scope(svc.engine) as session:
        score = retake_score(session, outcome.user_id, thread)
    await _reply(
        outcome.chat_id,
        context,
        f"🏁 <b>{escape(thread.title)}</b>: {score.correct} of {score.answered} right "
        f"({score.percent}).\nWhat you missed comes back with /review; /progress shows "
        "the big picture.",
    )


# --- /review ---------------------------------------------------------------------------------


async def review_command(update: Update, context: Context) -> None:
    """Ask the review questions due today, one at a time."""
    svc = services(context)
    chat, user = update.effective_chat, update.effective_user
    assert chat is not None and user is not None
    library = svc.library()
    now = svc.now()
    with session_scope(svc.engine) as session:
        sub = trainee_subscription(session, chat.id)
        timezone = sub.timezone if sub is not None else svc.settings.default_timezone
        due = due_review_count(session, user.id, timezone, now)
        found = next_due_review(session, library, user.id, timezone, now)
        upcoming = q.next_due_at(session, user.id) if not due else None
    if found is None:
        if due:
            text = (
                "Today's reviews are already waiting in the chat above, with your installment: "
                "scroll up and answer them."
            )
        elif upcoming is None:
            text = (
                "Nothing to review yet. Every question you answer becomes a review card, "
                "and comes back when you are about to forget it."
            )
        else:
            local = upcoming.astimezone(zone(timezone))
            text = f"🎉 No reviews due today. The next one is due on {local:%a %d %b}."
        await _reply(chat.id, context, text)
        return
    noun = "review" if due == 1 else "reviews"
    await _reply(
        chat.id,
        context,
        f"🔁 <b>{due} {noun} due today.</b> One at a time; the next comes when you answer.",
    )
    _card, thread, question = found
    await _ask(context, chat.id, user.id, thread, question, PollKind.review)


async def _continue_review(context: Context, chat_id: int, user_id: int) -> None:
    svc = services(context)
    library = svc.library()
    now = svc.now()
    with session_scope(svc.engine) as session:
        sub = trainee_subscription(session, chat_id)
        timezone = sub.timezone if sub is not None else svc.settings.default_timezone
        found = next_due_review(session, library, user_id, timezone, now)
    if found is None:
        await _reply(chat_id, context, "✅ That's all your reviews for today. See you tomorrow!")
        return
    _card, thread, question = found
    await _ask(context, chat_id, user_id, thread, question, PollKind.review)


# --- /progress -------------------------------------------------------------------------------


async def progress_command(update: Update, context: Context) -> None:
    """Threads, accuracy, streaks, reviews due and weak spots, with a chart."""
    svc = services(context)
    chat, user = update.effective_chat, update.effective_user
    assert chat is not None and user is not None
    library = svc.library()
    now = svc.now()
    with session_scope(svc.engine) as session:
        sub = trainee_subscription(session, chat.id)
        report = build_progress(session, library, sub, user.id, now)
    for part in split_html(progress_html(report)):
        await _reply(chat.id, context, part)
    if not any(d.answered or d.installment for d in report.activity):
        return
    weeks = len(report.activity) // 7
    png = await asyncio.to_thread(progress_chart_png, report.activity, f"Your last {weeks} weeks")
    await context.bot.send_photo(
        chat.id,
        png,
        caption=f"Answers per day (right and wrong), installment days and accuracy over "
        f"{weeks} weeks.",
    )


# --- reminders -------------------------------------------------------------------------------


async def quiz_reminder_job(context: Context) -> None:
    """JobQueue entry point: remind trainees of quizzes left unanswered."""
    await send_quiz_reminders(context.application)


async def send_quiz_reminders(
    app: Application[Any, Any, Any, Any, Any, Any], now: dt.datetime | None = None
) -> int:
    """Send one reminder per trainee whose installment quiz waits unanswered; return how many.

    Each poll is reminded about at most once; a reminder that would fall in the trainee's
    night waits for the morning.
    """
    svc: Services = app.bot_data.services
    hours = svc.settings.quiz_reminder_hours
    if hours <= 0:
        return 0
    now = now or svc.now()
    delay = dt.timedelta(hours=hours)
    with session_scope(svc.engine) as session:
        rows = q.reminder_candidates(session, now - delay - REMINDER_WINDOW, now - delay)
        due: dict[int, list[PollRecord]] = {}
        for record, timezone in rows:
            if reminder_at(record.sent_at, delay, timezone) <= now:
                due.setdefault(record.chat_id, []).append(record)
        plans = [
            (chat_id, [r.poll_id for r in records], records[0].message_id)
            for chat_id, records in due.items()
        ]
    sent = 0
    for chat_id, poll_ids, first_message in plans:
        html = reminder_html(len(poll_ids))

        async def remind(c: int, html: str = html, reply: int = first_message) -> Message:
            return await app.bot.send_message(
                c,
                html,
                parse_mode=ParseMode.HTML,
                reply_parameters=ReplyParameters(reply, allow_sending_without_reply=True),
            )

        result = await send_safely(remind, chat_id, pacer=svc.pacer)
        if result.outcome == Outcome.retry_later:
            continue  # the next run tries again
        with session_scope(svc.engine) as session:
            q.mark_reminded(session, poll_ids, svc.now())
        sent += result.outcome == Outcome.sent
    return sent
