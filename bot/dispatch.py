"""The delivery engine: one repeating job claims due drips from the database and sends them.

The database is the schedule. Each installment is written to the outbox (`Delivery`) before
anything is sent; each message is marked sent right after Telegram accepts it. A crash
between those two moments is the one window: the message is sent again after the restart
(at-least-once), because skipping it could lose a post for good.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
from dataclasses import dataclass

from sqlmodel import Session
from telegram import Bot, Message, ReplyParameters
from telegram.constants import ParseMode
from telegram.ext import Application

from bot.context import Context, Services
from bot.domain.drip import END_ITEM, Position, next_thread, plan_installment, plan_thread_ids
from bot.domain.schedule import next_delivery_at
from bot.domain.timeparse import zone
from bot.quizzes import record_poll, send_quiz_poll
from bot.render import header_text, render_post, text_with_media_links, thread_end_text
from bot.sending import ChatPacer, Outcome, SendResult, send_safely
from content.models import Library, Thread
from storage import drip as q
from storage.db import session_scope
from storage.models import (
    DeliveryStatus,
    PollKind,
    Subscription,
    SubscriptionKind,
    SubscriptionStatus,
)

log = logging.getLogger(__name__)

RETRY_LATER = dt.timedelta(minutes=1)


@dataclass(frozen=True)
class _Item:
    delivery_id: int
    thread_id: str
    item: str
    installment: int


@dataclass(frozen=True)
class _Target:
    subscription_id: int
    chat_id: int
    kind: str
    user_id: int | None
    plan_title: str | None


async def dispatch_job(context: Context) -> None:
    """JobQueue entry point: deliver everything that is due."""
    await dispatch_due(context.application)  # type: ignore[arg-type]


async def dispatch_due(app: Application, now: dt.datetime | None = None) -> int:  # type: ignore[type-arg]
    """Claim due subscriptions batch by batch and deliver them; return how many were handled."""
    svc: Services = app.bot_data.services
    settings = svc.settings
    lease = dt.timedelta(seconds=settings.dispatch_lease_seconds)
    limit = asyncio.Semaphore(settings.dispatch_concurrency)
    handled = 0

    async def one(subscription_id: int) -> None:
        async with limit:
            try:
                await deliver_subscription(app.bot, svc, subscription_id)
            except Exception:  # one trainee's failure must not stop everyone else's drip
                log.exception("delivering subscription %s failed", subscription_id)

    while True:
        claim_at = now or svc.now()
        with session_scope(svc.engine) as session:
            ids = q.claim_due(session, claim_at, settings.dispatch_batch_size, lease)
        if not ids:
            return handled
        await asyncio.gather(*(one(i) for i in ids))
        handled += len(ids)
        if len(ids) < settings.dispatch_batch_size:
            return handled


async def deliver_subscription(bot: Bot, svc: Services, subscription_id: int) -> None:
    """Send the pending installment of one subscription, planning it first if needed."""
    library = svc.library()
    with session_scope(svc.engine) as session:
        sub = session.get(Subscription, subscription_id)
        if sub is None or sub.status != SubscriptionStatus.active:
            return
        items = [
            _Item(d.id, d.thread_id, d.item, d.installment)
            for d in q.pending_deliveries(session, sub.id)
        ]  # type: ignore[arg-type]
        if not items:
            items = _plan_next(session, sub, library)
            if not items:
                return
        target = _Target(sub.id, sub.chat_id, sub.kind, sub.user_id, _plan_title(library, sub))  # type: ignore[arg-type]
        reply_to = q.last_sent_message_id(session, sub.id, items[0].installment)  # type: ignore[arg-type]

    for item in items:
        result = await _send_item(bot, svc, library, target, item, reply_to)
        now = svc.now()
        with session_scope(svc.engine) as session:
            sub = session.get(Subscription, subscription_id)
            if sub is None:
                return
            if result.chat_id is not None and result.chat_id != sub.chat_id:
                sub.chat_id = result.chat_id  # the group became a supergroup
                target = _Target(sub.id, sub.chat_id, sub.kind, sub.user_id, target.plan_title)  # type: ignore[arg-type]
            if result.outcome == Outcome.blocked:
                log.info("subscription %s: chat %s blocked the bot", sub.id, sub.chat_id)
                sub.status = SubscriptionStatus.blocked
                sub.next_due_at = sub.lease_until = None
                session.add(sub)
                return
            if result.outcome == Outcome.retry_later:
                sub.next_due_at, sub.lease_until = now + RETRY_LATER, None
                session.add(sub)
                return
            message = result.value
            status = (
                DeliveryStatus.sent if result.outcome == Outcome.sent else DeliveryStatus.failed
            )
            q.mark_delivery(
                session,
                item.delivery_id,
                status,
                now,
                message_id=message.message_id if isinstance(message, Message) else None,
                error=result.error,
            )
            if isinstance(message, Message):
                reply_to = message.message_id
                _record_quiz(session, library, target, item, message, now)
            if result.outcome == Outcome.failed:
                log.warning("subscription %s: %s refused: %s", sub.id, item.item, result.error)
            q.extend_lease(
                session, sub.id, now + dt.timedelta(seconds=svc.settings.dispatch_lease_seconds)
            )  # type: ignore[arg-type]

    with session_scope(svc.engine) as session:
        sub = session.get(Subscription, subscription_id)
        if sub is not None:
            _schedule_next(sub, library, svc.now())
            session.add(sub)


def _plan_next(session: Session, sub: Subscription, library: Library) -> list[_Item]:
    thread_ids = plan_thread_ids(library, sub.plan_kind, sub.plan_id)
    position = Position(sub.thread_index, sub.next_post)
    installment = plan_installment(
        library, thread_ids, position, sub.pace, sub.installments_sent + 1
    )
    if installment is None:
        sub.status = SubscriptionStatus.finished
        sub.next_due_at = sub.lease_until = None
        session.add(sub)
        return []
    q.add_deliveries(session, sub.id, installment.thread_id, installment.items, installment.number)  # type: ignore[arg-type]
    sub.thread_index, sub.next_post = installment.next.thread_index, installment.next.next_post
    sub.installments_sent = installment.number
    session.add(sub)
    session.flush()
    return [
        _Item(d.id, d.thread_id, d.item, d.installment)  # type: ignore[arg-type]
        for d in q.pending_deliveries(session, sub.id)  # type: ignore[arg-type]
    ]


def _schedule_next(sub: Subscription, library: Library, now: dt.datetime) -> None:
    """After an installment: the next one at the next local delivery time, never a backlog."""
    sub.lease_until = None
    if sub.status != SubscriptionStatus.active:
        return
    thread_ids = plan_thread_ids(library, sub.plan_kind, sub.plan_id)
    if next_thread(library, thread_ids, Position(sub.thread_index, sub.next_post)) is None:
        sub.status = SubscriptionStatus.finished
        sub.next_due_at = None
        return
    sub.next_due_at = next_delivery_at(sub.timezone, sub.delivery_time, now)


def _plan_title(library: Library, sub: Subscription) -> str | None:
    if sub.plan_kind == "track" and sub.plan_id in library.tracks:
        return library.tracks[sub.plan_id].title
    return None


async def _send_item(
    bot: Bot,
    svc: Services,
    library: Library,
    target: _Target,
    item: _Item,
    reply_to: int | None,
) -> SendResult[Message]:
    thread = library.threads.get(item.thread_id)
    if thread is None:
        return SendResult(
            Outcome.failed, error=f"thread {item.thread_id} is no longer in the library"
        )
    reply = ReplyParameters(reply_to, allow_sending_without_reply=True) if reply_to else None
    pacer = svc.pacer

    async def text(chat_id: int, html: str, with_reply: bool = True) -> Message:
        return await bot.send_message(
            chat_id,
            html,
            parse_mode=ParseMode.HTML,
            reply_parameters=reply if with_reply else None,
            link_preview_options=None,
        )

    kind, _, key = item.item.partition(":")
    if item.item.startswith("h"):
        first = int(item.item[1:])
        last = _installment_last_post(thread, first, svc, target)
        html = header_text(item.installment, thread, first, last)
        return await send_safely(
            lambda c: text(c, html, with_reply=False), target.chat_id, pacer=pacer
        )
    if item.item.startswith("p"):
        return await _send_post(bot, thread, int(item.item[1:]), target.chat_id, reply, pacer)
    if kind == "q":
        question = next((x for x in thread.quiz if x.id == key), None)
        if question is None:
            return SendResult(Outcome.failed, error=f"question {key} is no longer in {thread.id}")
        anonymous = target.kind == SubscriptionKind.channel
        return await send_safely(
            lambda c: send_quiz_poll(bot, c, question, is_anonymous=anonymous, reply_to=reply_to),
            target.chat_id,
            pacer=pacer,
        )
    if item.item == END_ITEM:
        html = _end_text(library, thread, target, svc)
        return await send_safely(lambda c: text(c, html), target.chat_id, pacer=pacer)
    return SendResult(Outcome.failed, error=f"unknown delivery item {item.item!r}")


async def _send_post(
    bot: Bot,
    thread: Thread,
    number: int,
    chat_id: int,
    reply: ReplyParameters | None,
    pacer: ChatPacer | None,
) -> SendResult[Message]:
    rendered = render_post(thread, number)

    async def as_text(c: int, html: str) -> Message:
        return await bot.send_message(c, html, parse_mode=ParseMode.HTML, reply_parameters=reply)

    if rendered.photo is None:
        return await send_safely(
            lambda c: as_text(c, text_with_media_links(rendered)), chat_id, pacer=pacer
        )
    photo = rendered.photo

    async def as_photo(c: int) -> Message:
        return await bot.send_photo(
            c, photo, caption=rendered.text, parse_mode=ParseMode.HTML, reply_parameters=reply
        )

    result = await send_safely(as_photo, chat_id, pacer=pacer)
    if result.outcome == Outcome.failed:
        # Telegram refused the image (gone, too big, wrong type): the words still go out.
        log.info(
            "image of %s post %s refused (%s); sending text with a link",
            thread.id,
            number,
            result.error,
        )
        return await send_safely(
            lambda c: as_text(c, text_with_media_links(rendered)),
            result.chat_id or chat_id,
            pacer=pacer,
        )
    return result


def _installment_last_post(thread: Thread, first: int, svc: Services, target: _Target) -> int:
    with session_scope(svc.engine) as session:
        sub = session.get(Subscription, target.subscription_id)
        pace = sub.pace if sub else 0
    return len(thread.posts) if pace <= 0 else min(first + pace - 1, len(thread.posts))


def _end_text(library: Library, thread: Thread, target: _Target, svc: Services) -> str:
    with session_scope(svc.engine) as session:
        sub = session.get(Subscription, target.subscription_id)
        if sub is None:
            return thread_end_text(thread, None, None, target.plan_title)
        thread_ids = plan_thread_ids(library, sub.plan_kind, sub.plan_id)
        upcoming = next_thread(library, thread_ids, Position(sub.thread_index, sub.next_post))
        when = None
        if upcoming is not None:
            instant = next_delivery_at(sub.timezone, sub.delivery_time, svc.now())
            when = instant.astimezone(zone(sub.timezone))
    return thread_end_text(thread, upcoming, when, target.plan_title)


def _record_quiz(
    session: Session,
    library: Library,
    target: _Target,
    item: _Item,
    message: Message,
    now: dt.datetime,
) -> None:
    if not item.item.startswith("q:") or message.poll is None:
        return
    thread = library.threads[item.thread_id]
    question = next(x for x in thread.quiz if x.id == item.item[2:])
    kind = PollKind.channel if target.kind == SubscriptionKind.channel else PollKind.drip
    record_poll(
        session,
        message,
        thread,
        question,
        kind,
        now,
        user_id=target.user_id,
        subscription_id=target.subscription_id,
    )
