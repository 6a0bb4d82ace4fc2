"""/progress: threads, accuracy, streaks, reviews due and weak spots, with a chart."""

from __future__ import annotations

import datetime as dt
import io

from PIL import Image

from bot.charts import progress_chart_png
from bot.domain.scoring import (
    Accuracy,
    AnswerRow,
    DayActivity,
    accuracy_by_thread,
    daily_activity,
    is_correct,
    weakest_topics,
    weekly_accuracy,
)
from tests.harness import Harness
from tests.test_onboarding import onboard
from tests.test_quiz import (
    DAY1,
    TRAINEE,
    answer,
    first_installment,
    polls,
    right_option,
    wrong_option,
)

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def row(thread: str, correct: bool, day: int = 5, hour: int = 9) -> AnswerRow:
    return AnswerRow(thread, "q", correct, dt.datetime(2026, 1, day, hour, tzinfo=dt.UTC))


def test_an_answer_is_right_only_with_exactly_the_correct_options() -> None:
    assert is_correct([0], [0])
    assert is_correct([2, 0], [0, 2])
    assert not is_correct([0], [0, 2])
    assert not is_correct([0, 1], [0])
    assert not is_correct([], [0])


def test_weakest_topics_are_threads_and_tags_with_the_lowest_accuracy() -> None:
    rows = (
        [row("stroke", False)] * 3
        + [row("stroke", True)]
        + [row("spine", True)] * 4
        + [row("spine", False)]
        + [row("broca", False)] * 2  # too few answers to judge
    )
    by_thread = accuracy_by_thread(rows)
    tags = {
        "stroke": ["neuroradiology", "mri"],
        "spine": ["neuroradiology", "spine"],
        "broca": ["neuroradiology", "mri"],
    }
    titles = {"stroke": "Dating a stroke", "spine": "Spine ABC", "broca": "Broca"}
    weakest = weakest_topics(by_thread, tags, titles)
    # Broca's two answers are too few on their own, but they count towards its tags.
    assert [(t.kind, t.label, t.accuracy) for t in weakest] == [
        ("tag", "#mri", Accuracy(6, 1)),
        ("thread", "Dating a stroke", Accuracy(4, 1)),
        ("thread", "Spine ABC", Accuracy(5, 4)),
    ]
    # A tag every answered thread shares ("neuroradiology") tells nothing: it is left out.
    assert all(t.key != "neuroradiology" for t in weakest_topics(by_thread, tags, titles, limit=9))


def test_daily_activity_counts_answers_and_installments_by_local_day() -> None:
    rows = [row("t", True, 5, 23), row("t", False, 7, 9)]
    installments = [dt.datetime(2026, 1, 6, 8, tzinfo=dt.UTC)]
    days = daily_activity(rows, installments, "Asia/Tokyo", dt.date(2026, 1, 7), 3)
    assert days == [
        DayActivity(dt.date(2026, 1, 5), 0, 0, False),
        DayActivity(dt.date(2026, 1, 6), 1, 1, True),  # 23:00 UTC on the 5th is the 6th
        DayActivity(dt.date(2026, 1, 7), 1, 0, False),
    ]
    assert weekly_accuracy(days) == [(dt.date(2026, 1, 5), Accuracy(2, 1))]


def test_the_chart_is_a_png_of_a_sensible_size() -> None:
    start = dt.date(2026, 1, 1)
    activity = [
        DayActivity(start + dt.timedelta(days=i), i % 7, (i % 7) // 2, i % 3 != 0)
        for i in range(42)
    ]
    png = progress_chart_png(activity, "Your last 6 weeks")
    assert png.startswith(PNG_SIGNATURE)
    assert 5_000 < len(png) < 500_000
    with Image.open(io.BytesIO(png)) as image:
        assert image.size == (800, 480)


def test_an_empty_chart_still_renders() -> None:
    activity = [DayActivity(dt.date(2026, 1, 1) + dt.timedelta(days=i)) for i in range(14)]
    assert progress_chart_png(activity).startswith(PNG_SIGNATURE)


async def test_progress_shows_threads_accuracy_streak_reviews_and_a_chart(
    harness: Harness,
) -> None:
    await first_installment(harness)
    q1, q2 = polls(harness)
    await answer(harness, q1, right_option(q1))
    await answer(harness, q2, wrong_option(q2))
    harness.clock.set(DAY1 + dt.timedelta(days=1))
    await harness.dispatch()
    for poll in polls(harness)[2:]:
        await answer(harness, poll, right_option(poll))
    harness.advance(hours=2)
    await harness.send(TRAINEE, "/progress")
    text, chart = harness.messages(TRAINEE)[-2:]
    assert "Your progress" in text.content and "CSF leaks" in text.content
    assert "In progress: 1" in text.content and "post 8 of 12" in text.content
    # Every poll was answered: q1-q6, and the review of q2 (wrong on day 1) on day 2.
    assert len(polls(harness)) == 7
    assert "Accuracy: 86% (6 of 7 answers)" in text.content
    assert "Streak: 🔥 2 days" in text.content and "longest 2 days" in text.content
    assert "Reviews due today: 0" in text.content
    assert chart.photo
    png = harness.emulator.file_bytes(chart.photo[-1]["file_id"])
    assert png is not None and png.startswith(PNG_SIGNATURE)
    with Image.open(io.BytesIO(png)) as image:
        assert image.size == (800, 480)


async def test_progress_before_anything_arrived_has_no_chart(harness: Harness) -> None:
    await onboard(harness)
    await harness.send(TRAINEE, "/progress")
    last = harness.last_message(TRAINEE)
    assert "no answers yet" in last.content and not last.photo


async def test_progress_for_someone_not_subscribed(harness: Harness) -> None:
    await harness.send(TRAINEE, "/progress")
    last = harness.last_message(TRAINEE)
    assert "no answers yet" in last.content and not last.photo
