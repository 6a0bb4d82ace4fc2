"""Quiz polls: send them, remember them (answers carry no chat), reviews with an installment.

Everything here that touches the database takes an open session and does no awaiting.
What an answer changes is bot/services/quiz.py's.
"""

from __future__ import annotations

import datetime as dt
import logging
import re

from sqlmodel import Session
from telegram import Bot, InputMediaPhoto, InputPollOption, Message, ReplyParameters
from telegram.error import BadRequest

from bot.domain.reminders import should_pause
from bot.domain.review import local_day_start, review_horizon, reviews_to_add
from bot.domain.timeparse import zone
from bot.services.quiz import find_question
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

    # Questions, options and explanations are the author's plain text, not HTML: no parse
    # mode, whatever the bot's default.
    options = [InputPollOption(text, text_parse_mode=None) for text in question.options]

    async def poll(reply: int | None, media: InputMediaPhoto | None) -> Message:
        return await bot.send_poll(
            chat_id=chat_id,
            question=question.question,
            question_parse_mode=None,
            options=options,
            type="quiz",
            is_anonymous=is_anonymous,
            correct_option_ids=question.correct,  # type: ignore[arg-type]  # ids 0-11
            allows_multiple_answers=len(question.correct) > 1,
            explanation=poll_explanation(question),
            explanation_parse_mode=None,
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
