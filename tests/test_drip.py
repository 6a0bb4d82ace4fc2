"""The daily drip through the real Application and the emulator: timing, order, faults."""

from __future__ import annotations

import asyncio
import datetime as dt
import itertools
import re

import pytest
from sqlalchemy.engine import Engine
from sqlmodel import select

from bot import sending
from bot.dispatch import deliver_subscription
from bot.emulator import TelegramEmulator
from storage.db import session_scope
from storage.drip import claim_due
from storage.models import (
    Delivery,
    DeliveryStatus,
    ReviewCard,
    Subscription,
    SubscriptionStatus,
)
from tests.harness import Harness, start_harness
from tests.test_onboarding import onboard, subscription

LONDON, NEW_YORK = 601, 602
HEADER = re.compile(r"Day (\d+) · (.+) · posts? (\d+)(?:-(\d+))? of (\d+)")


def headers(h: Harness, chat_id: int) -> list[str]:
    return [m.content for m in h.messages(chat_id) if HEADER.search(m.content or "")]


def installment(h: Harness, chat_id: int) -> list:
    """The messages of the last installment: from its header on."""
    messages = h.messages(chat_id)
    start = max(i for i, m in enumerate(messages) if HEADER.search(m.content or ""))
    return messages[start:]


async def test_first_installment_reads_as_a_thread_with_images_and_links(harness: Harness) -> None:
    await onboard(harness)
    harness.clock.set(dt.datetime(2026, 1, 5, 8, 0, tzinfo=dt.UTC))
    assert await harness.dispatch() == 1
    messages = installment(harness, 501)
    assert HEADER.search(messages[0].content).groups()[:1] == ("1",)
    assert "posts 1-4 of 12" in messages[0].content
    posts = [m for m in messages if m.photo]
    assert len(posts) == 4
    assert posts[0].caption.startswith("1/12 ”Now your mouth will drop")
    assert "View the original post" in posts[0].caption
    # every message after the header replies to the one before it
    for previous, current in itertools.pairwise(messages):
        assert current.reply_to_message_id == previous.message_id
    with session_scope(harness.engine) as session:
        sub = session.exec(select(Subscription)).one()
        assert (sub.thread_index, sub.next_post, sub.installments_sent) == (0, 4, 1)
        assert sub.next_due_at == dt.datetime(2026, 1, 6, 8, 0, tzinfo=dt.UTC)


async def test_nothing_is_sent_before_the_local_delivery_time(harness: Harness) -> None:
    await onboard(harness, time="09:00", zone="Europe/Berlin")  # 08:00 UTC in January
    harness.clock.set(dt.datetime(2026, 1, 5, 7, 59, tzinfo=dt.UTC))
    assert await harness.dispatch() == 0
    harness.advance(minutes=1)
    assert await harness.dispatch() == 1


async def test_a_week_in_two_time_zones_across_a_dst_change(
    emulator: TelegramEmulator, sqlite_engine: Engine
) -> None:
    # These trainees read but never answer: keep the idle self-pause out of the way.
    async with start_harness(emulator, sqlite_engine, idle_installments_before_pause=50) as h:
        await _a_week_in_two_time_zones(h)


async def _a_week_in_two_time_zones(harness: Harness) -> None:
    harness.clock.set(dt.datetime(2026, 3, 4, 20, 0, tzinfo=dt.UTC))
    await onboard(harness, LONDON, time="07:30", zone="Europe/London")
    await onboard(harness, NEW_YORK, time="08:00", zone="America/New_York")
    arrivals: dict[int, list[dt.datetime]] = {LONDON: [], NEW_YORK: []}
    end = harness.now + dt.timedelta(days=7)
    while harness.now < end:
        seen = {chat: len(headers(harness, chat)) for chat in arrivals}
        await harness.dispatch()
        for chat in arrivals:
            if len(headers(harness, chat)) > seen[chat]:
                arrivals[chat].append(harness.now)
        harness.advance(minutes=15)
    london = [t.astimezone(dt.UTC).strftime("%d %H:%M") for t in arrivals[LONDON]]
    new_york = [t.astimezone(dt.UTC).strftime("%d %H:%M") for t in arrivals[NEW_YORK]]
    assert london == [f"{d:02d} 07:30" for d in range(5, 11)]
    # New York moves to daylight time on Sunday 8 March: 08:00 local is 13:00, then 12:00 UTC.
    assert new_york == ["05 13:00", "06 13:00", "07 13:00", "08 12:00", "09 12:00", "10 12:00"]
    # The CSF track is 12 + 10 posts: six installments at 4 a day, then it is finished.
    days = [HEADER.search(h).group(1) for h in headers(harness, LONDON)]
    assert days == ["1", "2", "3", "4", "5", "6"]
    assert "That was the last thread of CSF leaks" in harness.last_message(LONDON).content
    assert subscription(harness, LONDON).status == SubscriptionStatus.finished


async def test_after_downtime_one_installment_not_a_backlog(harness: Harness) -> None:
    await onboard(harness)
    harness.clock.set(dt.datetime(2026, 1, 10, 12, 0, tzinfo=dt.UTC))  # five days later
    await harness.dispatch()
    await harness.dispatch()
    assert len(headers(harness, 501)) == 1
    assert subscription(harness).next_due_at == dt.datetime(2026, 1, 11, 8, 0, tzinfo=dt.UTC)


async def test_next_delivers_now_and_keeps_the_daily_time(harness: Harness) -> None:
    await onboard(harness)
    await harness.send(501, "/next")
    assert len(headers(harness, 501)) == 1
    assert subscription(harness).next_due_at == dt.datetime(2026, 1, 5, 8, 0, tzinfo=dt.UTC)


async def test_next_delivers_the_callers_installment_only(harness: Harness) -> None:
    """A person's command sends that person's installment, not the whole due fan-out."""
    others = (502, 503)
    for user in (501, *others):
        await onboard(harness, user)
    harness.clock.set(dt.datetime(2026, 1, 5, 8, 30, tzinfo=dt.UTC))  # everyone is due
    before = {user: len(harness.messages(user)) for user in others}
    await harness.send(501, "/next")
    assert len(headers(harness, 501)) == 1
    assert {user: harness.messages(user)[before[user] :] for user in others} == {502: [], 503: []}
    with session_scope(harness.engine) as session:
        assert session.exec(select(Delivery.subscription_id).distinct()).all() == [
            subscription(harness, 501).id
        ]
    assert await harness.dispatch() == 2  # theirs come with the dispatcher, as due
    assert all(len(headers(harness, user)) == 1 for user in others)


async def test_paused_trainees_receive_nothing(harness: Harness) -> None:
    await onboard(harness)
    await harness.send(501, "/pause")
    harness.clock.set(dt.datetime(2026, 1, 6, 9, 0, tzinfo=dt.UTC))
    assert await harness.dispatch() == 0
    assert headers(harness, 501) == []


async def test_a_trainee_who_blocked_the_bot_is_marked_blocked(harness: Harness) -> None:
    await onboard(harness)
    harness.emulator.block(501)
    harness.clock.set(dt.datetime(2026, 1, 5, 8, 0, tzinfo=dt.UTC))
    await harness.dispatch()
    assert subscription(harness).status == SubscriptionStatus.blocked
    harness.advance(days=1)
    assert await harness.dispatch() == 0


async def test_a_429_storm_delays_but_delivers_every_post_once_in_order(
    pg_harness: Harness,
) -> None:
    await onboard(pg_harness)
    pg_harness.emulator.faults.add(method="sendPhoto", kind="flood", times=3, retry_after=1)
    pg_harness.emulator.faults.add(method="sendMessage", kind="flood", times=2, retry_after=1)
    pg_harness.clock.set(dt.datetime(2026, 1, 5, 8, 0, tzinfo=dt.UTC))
    await pg_harness.dispatch()
    captions = [m.caption for m in installment(pg_harness, 501) if m.photo]
    assert [c.split(" ", 1)[0] for c in captions] == ["1/12", "2/12", "3/12", "4/12"]
    with session_scope(pg_harness.engine) as session:
        statuses = {d.status for d in session.exec(select(Delivery)).all()}
    assert statuses == {DeliveryStatus.sent}


async def test_refused_image_still_sends_the_words_with_a_link(harness: Harness) -> None:
    await onboard(harness)
    harness.emulator.faults.add(method="sendPhoto", kind="bad_media", times=1)
    harness.clock.set(dt.datetime(2026, 1, 5, 8, 0, tzinfo=dt.UTC))
    await harness.dispatch()
    messages = installment(harness, 501)
    first_post = messages[1]
    assert first_post.photo is None and first_post.text.startswith("1/12")
    assert "Image 1" in first_post.text
    assert sum(1 for m in messages if m.photo) == 3


async def test_a_post_telegram_refuses_does_not_stop_the_others(harness: Harness) -> None:
    await onboard(harness)
    harness.emulator.faults.add(method="sendPhoto", kind="bad_request", times=1)
    harness.emulator.faults.add(
        method="sendMessage",
        kind="bad_request",
        times=2,
        description="Bad Request: message is too long",
    )
    harness.clock.set(dt.datetime(2026, 1, 5, 8, 0, tzinfo=dt.UTC))
    await harness.dispatch()
    with session_scope(harness.engine) as session:
        deliveries = session.exec(select(Delivery).order_by(Delivery.seq)).all()
    # The header and post 1 (image, then its text fallback) are refused; the rest goes out.
    failed = [d for d in deliveries if d.status == DeliveryStatus.failed]
    assert [d.item for d in failed] == ["h1", "p1"]
    assert failed[1].error == "Message is too long"
    assert sum(1 for d in deliveries if d.status == DeliveryStatus.sent) == len(deliveries) - 2
    assert subscription(harness).next_post == 4


@pytest.mark.parametrize("telegram_delivered", [False, True])
async def test_a_timeout_is_retried(
    harness: Harness, monkeypatch: pytest.MonkeyPatch, telegram_delivered: bool
) -> None:
    monkeypatch.setattr(sending, "RETRY_BASE_DELAY", 0.01)
    await onboard(harness)
    harness.app.bot._request[1]._client.timeout.read = 0.3  # type: ignore[attr-defined]
    harness.emulator.faults.add(
        method="sendPhoto", kind="timeout", times=1, delay=0.6, apply=telegram_delivered
    )
    harness.clock.set(dt.datetime(2026, 1, 5, 8, 0, tzinfo=dt.UTC))
    await harness.dispatch()
    captions = [m.caption.split(" ", 1)[0] for m in installment(harness, 501) if m.photo]
    if telegram_delivered:
        # The documented window: Telegram took the post but we never heard back, so it is
        # sent again rather than risk losing it.
        assert captions == ["1/12", "1/12", "2/12", "3/12", "4/12"]
    else:
        assert captions == ["1/12", "2/12", "3/12", "4/12"]


async def test_sends_beyond_the_open_connections_wait_for_one_instead_of_failing(
    emulator: TelegramEmulator, sqlite_engine: Engine
) -> None:
    # One connection, and Telegram takes 1.5 s to answer the first message: the second send
    # waits for the connection (PTB's own default gives up after 1 s with "Pool timeout").
    async with start_harness(emulator, sqlite_engine, telegram_connections=1) as harness:
        emulator.add_users([701, 702])
        emulator.faults.add(method="sendMessage", kind="timeout", times=1, delay=1.5, apply=True)
        bot = harness.app.bot
        first, second = await asyncio.gather(
            bot.send_message(701, "first"), bot.send_message(702, "second")
        )
    assert (first.text, second.text) == ("first", "second")
    assert [m.content for m in harness.messages(702)] == ["second"]


async def test_a_restart_resumes_an_installment_without_resending(harness: Harness) -> None:
    await onboard(harness)
    harness.clock.set(dt.datetime(2026, 1, 5, 8, 0, tzinfo=dt.UTC))
    await harness.dispatch()
    # Simulate a crash after the outbox was written and two messages were recorded as sent.
    with session_scope(harness.engine) as session:
        deliveries = session.exec(select(Delivery).order_by(Delivery.seq)).all()
        for d in deliveries[2:]:
            d.status, d.message_id, d.sent_at = DeliveryStatus.pending, None, None
            session.add(d)
        sub = session.exec(select(Subscription)).one()
        sub.next_due_at, sub.lease_until = harness.now, None
        session.add(sub)
    before = len(harness.messages(501))
    await harness.dispatch()
    resent = harness.messages(501)[before:]
    assert len(resent) == len(deliveries) - 2
    assert resent[0].reply_to_message_id == deliveries[1].message_id
    assert len(headers(harness, 501)) == 1


async def test_a_claim_that_lost_its_lease_sends_nothing(harness: Harness) -> None:
    await onboard(harness)
    harness.clock.set(dt.datetime(2026, 1, 5, 8, 0, tzinfo=dt.UTC))
    lease = dt.timedelta(seconds=harness.services.settings.dispatch_lease_seconds)
    with session_scope(harness.engine) as session:
        (sub_id,) = claim_due(session, harness.now, 10, lease, owner="stalled")
    harness.advance(seconds=lease.total_seconds() + 1)  # the stalled claim outlives its lease
    with session_scope(harness.engine) as session:
        assert claim_due(session, harness.now, 10, lease, owner="fresh") == [sub_id]
    await deliver_subscription(harness.app.bot, harness.services, sub_id, owner="stalled")
    assert headers(harness, 501) == []
    await deliver_subscription(harness.app.bot, harness.services, sub_id, owner="fresh")
    assert len(headers(harness, 501)) == 1


async def test_trainees_in_every_state_due_together_each_get_their_own(pg_harness: Harness) -> None:
    """Due at one moment, their steps share the engine's group commit; each trainee still
    gets exactly what its own state calls for."""
    fresh, idle, resumed, reviewing, done = 701, 702, 703, 704, 705
    for user in (fresh, idle, resumed, reviewing, done):
        await onboard(pg_harness, user)
    onboarding = {user: len(pg_harness.messages(user)) for user in (fresh, resumed, reviewing)}
    pg_harness.clock.set(dt.datetime(2026, 1, 5, 8, 0, tzinfo=dt.UTC))
    assert await pg_harness.dispatch() == 5
    with session_scope(pg_harness.engine) as session:
        subs = {s.chat_id: s for s in session.exec(select(Subscription))}
        subs[idle].idle_installments = pg_harness.services.settings.idle_installments_before_pause
        subs[done].thread_index = 99  # past the end of the track
        session.add_all([subs[idle], subs[done]])
        # A crash left the last two messages of yesterday's installment unsent.
        unsent = session.exec(
            select(Delivery)
            .where(Delivery.subscription_id == subs[resumed].id)
            .order_by(Delivery.seq.desc())  # type: ignore[union-attr]
            .limit(2)
        ).all()
        for delivery in unsent:
            delivery.status, delivery.message_id, delivery.sent_at = (
                DeliveryStatus.pending,
                None,
                None,
            )
            session.add(delivery)
        session.add(
            ReviewCard(
                user_id=reviewing,
                thread_id="csf-leak-blood-patch",
                question_id="q1",
                card={},
                due_at=dt.datetime(2026, 1, 5, 12, 0, tzinfo=dt.UTC),
            )
        )
    before = {user: len(pg_harness.messages(user)) for user in subs}

    pg_harness.clock.set(dt.datetime(2026, 1, 6, 8, 0, tzinfo=dt.UTC))
    assert await pg_harness.dispatch() == 5

    def today(user: int) -> list:
        return pg_harness.messages(user)[before[user] :]

    assert "Day 2" in today(fresh)[0].content and "posts 5-8" in today(fresh)[0].content
    (pause_notice,) = today(idle)
    assert pause_notice.content.startswith("💤")
    assert len(today(resumed)) == 2 and not headers(pg_harness, resumed)[1:]
    assert "Day 2" in today(reviewing)[0].content
    assert any("review due" in (m.content or "") for m in today(reviewing))
    assert today(done) == []
    with session_scope(pg_harness.engine) as session:
        subs = {s.chat_id: s for s in session.exec(select(Subscription))}
        assert subs[idle].status == SubscriptionStatus.paused
        assert subs[done].status == SubscriptionStatus.finished
        for user in (fresh, resumed, reviewing):
            assert subs[user].next_due_at == dt.datetime(2026, 1, 7, 8, 0, tzinfo=dt.UTC)
            sent = session.exec(
                select(Delivery).where(Delivery.subscription_id == subs[user].id)
            ).all()
            # every outbox item went out, once (the resumed trainee's two unsent ones, which
            # the simulated crash had sent already, twice), none left pending
            assert {d.status for d in sent} == {DeliveryStatus.sent}
            again = len(unsent) if user == resumed else 0
            assert len(pg_harness.messages(user)) - onboarding[user] == len(sent) + again


async def test_one_trainees_broken_record_does_not_stop_the_others(
    pg_harness: Harness, caplog: pytest.LogCaptureFixture
) -> None:
    """A write that fails (here a time zone no longer known) fails alone: the group it shared
    is written again step by step, and everyone else's day goes on."""
    broken, fine = 711, (712, 713)
    for user in (broken, *fine):
        await onboard(pg_harness, user)
    with session_scope(pg_harness.engine) as session:
        sub = session.exec(select(Subscription).where(Subscription.chat_id == broken)).one()
        sub.timezone = "Atlantis/Lost_City"
        session.add(sub)
    before = {user: len(pg_harness.messages(user)) for user in (broken, *fine)}

    pg_harness.clock.set(dt.datetime(2026, 1, 5, 8, 0, tzinfo=dt.UTC))
    assert await pg_harness.dispatch() == 3

    for user in fine:
        new = pg_harness.messages(user)[before[user] :]
        assert "Day 1" in new[0].content
    with session_scope(pg_harness.engine) as session:
        subs = {s.chat_id: s for s in session.exec(select(Subscription))}
        for user in fine:
            assert subs[user].next_due_at == dt.datetime(2026, 1, 6, 8, 0, tzinfo=dt.UTC)
            sent = session.exec(
                select(Delivery).where(Delivery.subscription_id == subs[user].id)
            ).all()
            assert sent and {d.status for d in sent} == {DeliveryStatus.sent}
    assert f"delivering subscription {subs[broken].id} failed" in caplog.text
