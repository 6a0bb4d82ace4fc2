"""Send quiz questions as Telegram quiz polls and remember them, since answers carry no chat."""

from __future__ import annotations

import datetime as dt

from sqlmodel import Session
from telegram import Bot, Message, ReplyParameters

from content.models import QuizQuestion, Thread
from storage.models import PollKind, PollRecord


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
    """Send one question as a quiz poll; Telegram shuffles the options."""
    return await bot.send_poll(
        chat_id=chat_id,
        question=question.question,
        options=question.options,
        type="quiz",
        is_anonymous=is_anonymous,
        correct_option_ids=question.correct,  # type: ignore[arg-type]
        allows_multiple_answers=len(question.correct) > 1,
        explanation=question.explanation or None,
        shuffle_options=True,
        open_period=open_period,
        is_closed=is_closed,
        reply_parameters=(
            ReplyParameters(reply_to, allow_sending_without_reply=True) if reply_to else None
        ),
    )


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
    """Store poll id -> (chat, question) so the answer can be matched later."""
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
