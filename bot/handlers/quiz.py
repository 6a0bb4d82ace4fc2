"""Quizzes in a trainee's private chat: poll answers, /quiz, /review, /progress, reminders.

Each handler reads the update, calls a service of bot/services/quiz.py through the database
runner, and renders the reply. Registered in bot/app.py (which says why in that order).
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
from html import escape
from typing import Any

from sqlalchemy.exc import SQLAlchemyError
from telegram import InlineKeyboardButton, InlineKeyboardMarkup, Message, ReplyParameters, Update
from telegram.constants import ChatType
from telegram.ext import Application, ApplicationHandlerStop

from bot.callbacks import RetakeThread, decode, encode, pressed
from bot.charts import progress_chart_png
from bot.context import Context, Services, services
from bot.domain.timeparse import zone
from bot.outage import database_unavailable
from bot.quizzes import record_poll, send_quiz_poll
from bot.render import split_html
from bot.sending import Outcome, send_safely
from bot.services import quiz
from bot.services import subscriptions as subs
from bot.services.quiz import AnswerOutcome, next_question
from bot.views import progress_html, reminder_html
from content.models import QuizQuestion, Thread
from storage.models import PollKind
from storage.runner import DatabaseBusy

log = logging.getLogger(__name__)

NOT_SUBSCRIBED = "You are not subscribed yet. Send /start to begin."


async def _reply(chat_id: int, context: Context, html: str, markup: Any = None) -> None:
    await context.bot.send_message(chat_id, html, reply_markup=markup)


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
    # Noted beside the command, not before it: a busy database delays the command only once.
    svc.spawn(_note_activity(svc, chat.id))


async def _note_activity(svc: Services, chat_id: int) -> None:
    try:
        await svc.db.run(subs.note_activity, chat_id, svc.now())
    except DatabaseBusy:
        log.info("activity of chat %s not noted: the database stayed busy", chat_id)
    except SQLAlchemyError as exc:  # nobody awaits this task: say it here
        if database_unavailable(exc):
            svc.outages.failed(exc, "noting a trainee's activity")
        else:
            log.error("activity of chat %s not noted", chat_id, exc_info=exc)


# --- poll answers ----------------------------------------------------------------------------


async def on_poll_answer(update: Update, context: Context) -> None:
    """Record an answer to a trainee's quiz poll, then ask the next question if one follows."""
    answer = update.poll_answer
    if answer is None or answer.user is None:  # answered on behalf of a chat: not a trainee
        return
    svc = services(context)
    # The hot path: a bare transaction, no ORM session (see docs/quizzes.md).
    outcome = await svc.db.run_in_connection(
        quiz.record_answer,
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
    await svc.db.run(record_poll, message, thread, question, kind, svc.now(), user_id=user_id)
    return True


# --- /quiz -----------------------------------------------------------------------------------


async def quiz_command(update: Update, context: Context) -> None:
    """`/quiz` offers the finished threads; `/quiz <thread>` retakes that thread's questions."""
    svc = services(context)
    chat, user = update.effective_chat, update.effective_user
    assert chat is not None and user is not None
    library = svc.library()
    wanted = " ".join(context.args or []).strip().lower()
    retakes = await svc.db.run(quiz.retakes, library, chat.id)
    done = retakes.threads
    if not retakes.subscribed:
        await _reply(chat.id, context, NOT_SUBSCRIBED)
    elif wanted:
        await _retake_named(context, chat.id, user.id, wanted, done)
    elif not done:
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


async def _retake_named(
    context: Context, chat_id: int, user_id: int, wanted: str, done: list[Thread]
) -> None:
    thread = _match_thread(wanted, list(services(context).library().threads.values()))
    if thread is None:
        await _reply(
            chat_id,
            context,
            f"I don't know a thread called “{escape(wanted[:60])}”. " + _finished_list(done),
        )
    elif thread not in done:
        await _reply(
            chat_id,
            context,
            f"<b>{escape(thread.title)}</b> has not reached you in full yet: its quiz "
            "opens once you have read the whole thread. " + _finished_list(done),
        )
    elif not thread.quiz:
        await _reply(chat_id, context, f"<b>{escape(thread.title)}</b> has no questions.")
    else:
        await _start_retake(context, chat_id, user_id, thread)


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
    retakes = await svc.db.run(quiz.retakes, svc.library(), chat.id)
    thread = next((t for t in retakes.threads if t.id == thread_id), None)
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
    score = await svc.db.run(quiz.retake_score, outcome.user_id, thread)
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
    default = svc.settings.default_timezone
    due = await svc.db.run(quiz.reviews, svc.library(), chat.id, user.id, default, svc.now())
    if due.question is None:
        if due.due:
            text = (
                "Today's reviews are already waiting in the chat above, with your installment: "
                "scroll up and answer them."
            )
        elif due.upcoming is None:
            text = (
                "Nothing to review yet. Every question you answer becomes a review card, "
                "and comes back when you are about to forget it."
            )
        else:
            local = due.upcoming.astimezone(zone(due.timezone))
            text = f"🎉 No reviews due today. The next one is due on {local:%a %d %b}."
        await _reply(chat.id, context, text)
        return
    noun = "review" if due.due == 1 else "reviews"
    await _reply(
        chat.id,
        context,
        f"🔁 <b>{due.due} {noun} due today.</b> One at a time; the next comes when you answer.",
    )
    thread, question = due.question
    await _ask(context, chat.id, user.id, thread, question, PollKind.review)


async def _continue_review(context: Context, chat_id: int, user_id: int) -> None:
    svc = services(context)
    default = svc.settings.default_timezone
    due = await svc.db.run(
        quiz.reviews, svc.library(), chat_id, user_id, default, svc.now(), count=False
    )
    if due.question is None:
        await _reply(chat_id, context, "✅ That's all your reviews for today. See you tomorrow!")
        return
    thread, question = due.question
    await _ask(context, chat_id, user_id, thread, question, PollKind.review)


# --- /progress -------------------------------------------------------------------------------


async def progress_command(update: Update, context: Context) -> None:
    """Threads, accuracy, streaks, reviews due and weak spots, with a chart."""
    svc = services(context)
    chat, user = update.effective_chat, update.effective_user
    assert chat is not None and user is not None
    report = await svc.db.run(quiz.progress, svc.library(), chat.id, user.id, svc.now())
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
    reminders = await svc.db.run(quiz.reminders_due, now, dt.timedelta(hours=hours))
    sent = 0
    for reminder in reminders:
        html = reminder_html(len(reminder.poll_ids))

        async def remind(c: int, html: str = html, reply: int = reminder.reply_to) -> Message:
            return await app.bot.send_message(
                c, html, reply_parameters=ReplyParameters(reply, allow_sending_without_reply=True)
            )

        result = await send_safely(remind, reminder.chat_id, pacer=svc.pacer)
        if result.outcome == Outcome.retry_later:
            continue  # the next run tries again
        await svc.db.run(quiz.mark_reminded, reminder.poll_ids, svc.now())
        sent += result.outcome == Outcome.sent
    return sent
