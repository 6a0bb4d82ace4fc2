"""One reminder for an unanswered quiz; a drip nobody reacts to pauses itself."""

from __future__ import annotations

import datetime as dt

from sqlalchemy.engine import Engine

from bot.app import REMINDER_JOB
from bot.domain.reminders import reminder_at
from bot.emulator import TelegramEmulator
from bot.handlers.quiz import send_quiz_reminders
from storage.models import SubscriptionStatus
from tests.harness import Harness, start_harness
from tests.test_onboarding import onboard, subscription
from tests.test_quiz import DAY1, TRAINEE, answer, first_installment, polls


def reminders(h: Harness) -> list[str]:
    return [t for t in h.texts(TRAINEE) if t.startswith("⏰")]


async def remind_at(h: Harness, instant: dt.datetime) -> int:
    h.clock.set(instant)
    return await send_quiz_reminders(h.app)


async def test_an_unanswered_quiz_gets_one_reminder_after_four_hours(harness: Harness) -> None:
    await first_installment(harness)
    first_poll = polls(harness)[0]
    assert await remind_at(harness, DAY1 + dt.timedelta(hours=3, minutes=59)) == 0
    assert await remind_at(harness, DAY1 + dt.timedelta(hours=4)) == 1
    (text,) = reminders(harness)
    assert "2 quiz questions" in text and "/settings" in text
    assert harness.last_message(TRAINEE).reply_to_message_id == first_poll.message_id
    assert await remind_at(harness, DAY1 + dt.timedelta(hours=5)) == 0
    assert await remind_at(harness, DAY1 + dt.timedelta(hours=9)) == 0
    assert len(reminders(harness)) == 1


async def test_answered_quizzes_are_not_reminded(harness: Harness) -> None:
    await first_installment(harness)
    q1, q2 = polls(harness)
    await answer(harness, q1, 0)
    assert await remind_at(harness, DAY1 + dt.timedelta(hours=4)) == 1
    assert "a quiz question from" in reminders(harness)[0]
    await answer(harness, q2, 0)
    harness.clock.set(DAY1 + dt.timedelta(days=1))
    await harness.dispatch()
    for poll in polls(harness)[2:]:
        await answer(harness, poll, 0)
    assert await remind_at(harness, DAY1 + dt.timedelta(days=1, hours=4)) == 0


async def test_reminders_can_be_turned_off_in_settings(harness: Harness) -> None:
    await first_installment(harness)
    await harness.send(TRAINEE, "/settings")
    await harness.press(TRAINEE, harness.last_message(TRAINEE), "set:reminders")
    await harness.press(TRAINEE, harness.last_message(TRAINEE), "ob:reminders:off")
    assert await remind_at(harness, DAY1 + dt.timedelta(hours=4)) == 0
    assert reminders(harness) == []


async def test_the_reminder_delay_comes_from_the_settings(
    emulator: TelegramEmulator, sqlite_engine: Engine
) -> None:
    async with start_harness(emulator, sqlite_engine, quiz_reminder_hours=1) as h:
        await first_installment(h)
        assert await remind_at(h, DAY1 + dt.timedelta(hours=1)) == 1
        assert h.app.job_queue is not None
        assert [j.name for j in h.app.job_queue.get_jobs_by_name(REMINDER_JOB)] == [REMINDER_JOB]


async def test_a_reminder_that_would_fall_at_night_waits_for_the_morning(harness: Harness) -> None:
    await onboard(harness, time="21:00", zone="Europe/London")
    harness.clock.set(DAY1.replace(hour=21))
    await harness.dispatch()
    assert await remind_at(harness, DAY1.replace(hour=21) + dt.timedelta(hours=4)) == 0
    assert await remind_at(harness, dt.datetime(2026, 1, 6, 6, 59, tzinfo=dt.UTC)) == 0
    assert await remind_at(harness, dt.datetime(2026, 1, 6, 7, 0, tzinfo=dt.UTC)) == 1


def test_quiet_hours_follow_the_trainees_zone() -> None:
    four = dt.timedelta(hours=4)
    sent = dt.datetime(2026, 1, 5, 14, 0, tzinfo=dt.UTC)
    # 18:00 in London: fine. 23:00 in Kolkata (UTC+5:30) would be 23:30: wait until 07:00.
    assert reminder_at(sent, four, "Europe/London") == sent + four
    assert reminder_at(sent, four, "Asia/Kolkata") == dt.datetime(2026, 1, 6, 1, 30, tzinfo=dt.UTC)
    # 06:30 in New York: wait half an hour.
    early = dt.datetime(2026, 1, 5, 7, 30, tzinfo=dt.UTC)
    assert reminder_at(early, four, "America/New_York") == dt.datetime(
        2026, 1, 5, 12, 0, tzinfo=dt.UTC
    )


async def deliver_days(h: Harness, days: int) -> None:
    for n in range(days):
        h.clock.set(DAY1 + dt.timedelta(days=n))
        await h.dispatch()


async def test_three_ignored_installments_pause_the_drip(harness: Harness) -> None:
    await onboard(harness)
    await deliver_days(harness, 3)
    assert subscription(harness).idle_installments == 3
    harness.clock.set(DAY1 + dt.timedelta(days=3))
    await harness.dispatch()
    last = harness.last_message(TRAINEE).content
    assert "paused your daily drip" in last and "/resume" in last
    sub = subscription(harness)
    assert (sub.status, sub.next_due_at) == (SubscriptionStatus.paused, None)
    assert sum("Day " in t for t in harness.texts(TRAINEE)) == 3
    # The pause is said once; /resume starts again from zero.
    harness.advance(days=1)
    assert await harness.dispatch() == 0
    await harness.send(TRAINEE, "/resume")
    sub = subscription(harness)
    assert (sub.status, sub.idle_installments) == (SubscriptionStatus.active, 0)


async def test_any_answer_or_command_keeps_the_drip_going(harness: Harness) -> None:
    await onboard(harness)
    await deliver_days(harness, 2)
    await answer(harness, polls(harness)[-1], 0)  # day 2: an answer
    for n in (2, 3, 4):
        harness.clock.set(DAY1 + dt.timedelta(days=n))
        await harness.dispatch()
        if n == 3:
            await harness.send(TRAINEE, "/progress")  # day 4: a command
    assert subscription(harness).status == SubscriptionStatus.active
    assert sum("Day " in t for t in harness.texts(TRAINEE)) == 5
