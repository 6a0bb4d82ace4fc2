"""Quiz polls with the drip, answers matched back to the trainee, and answers nobody expected."""

from __future__ import annotations

import datetime as dt
import logging
from typing import Any

import pytest
from sqlalchemy.engine import Engine
from sqlmodel import select
from telegram import PollAnswer, Update, User

from bot.quizzes import poll_explanation, send_quiz_poll
from bot.services.quiz import record_answer
from content.loader import bundled_library
from content.models import QuizQuestion
from storage.db import session_scope
from storage.models import Attempt, PollKind, PollRecord, ReviewCard, Subscription
from tests.harness import Harness
from tests.test_onboarding import onboard

TRAINEE = 501
CSF = "csf-leak-blood-patch"
DAY1 = dt.datetime(2026, 1, 5, 8, 0, tzinfo=dt.UTC)  # 08:00 in London in January


def polls(h: Harness, chat_id: int = TRAINEE) -> list[Any]:
    """The poll messages the bot sent to a chat, oldest first."""
    return [m for m in h.messages(chat_id) if m.poll]


async def answer(h: Harness, message: Any, option: int, user: int = TRAINEE) -> None:
    await h.answer_poll(user, message.poll["id"], [option])


def right_option(message: Any) -> int:
    """The first correct option of a poll the bot sent."""
    return int(message.poll["correct_option_ids"][0])


def wrong_option(message: Any) -> int:
    """The first option of a poll that is not correct."""
    correct = message.poll["correct_option_ids"]
    return next(i for i in range(len(message.poll["options"])) if i not in correct)


async def first_installment(h: Harness, *, pace: str = "4") -> None:
    """Onboard the trainee on the CSF track and deliver day 1 at 08:00."""
    await onboard(h)
    if pace != "4":
        await h.send(TRAINEE, "/settings")
        await h.press(TRAINEE, h.last_message(TRAINEE), "set:pace")
        await h.press(TRAINEE, h.last_message(TRAINEE), f"ob:pace:{pace}")
    h.clock.set(DAY1)
    assert await h.dispatch() == 1


def attempts(h: Harness) -> list[Attempt]:
    with session_scope(h.engine) as session:
        return list(session.exec(select(Attempt).order_by(Attempt.id)).all())


async def feed(h: Harness, update_id: int, poll_id: str, option_ids: list[int], user: int) -> None:
    """Hand a poll answer straight to the Application (for answers Telegram would not make)."""
    answer_ = PollAnswer(
        poll_id=poll_id,
        option_ids=option_ids,
        user=User(user, "Trainee", False),
        option_persistent_ids=[f"{poll_id}-{i}" for i in option_ids],
    )
    await h.app.process_update(Update(update_id, poll_answer=answer_))


async def test_questions_follow_their_post_as_non_anonymous_quiz_polls(harness: Harness) -> None:
    await first_installment(harness)
    messages = harness.messages(TRAINEE)
    day = messages[next(i for i, m in enumerate(messages) if "Day 1" in m.content) :]
    labels = ["poll" if m.poll else m.content.split(" ", 1)[0] for m in day[1:]]
    # q1 comes right after post 2, q2 right after post 4 (the end of the installment).
    assert labels == ["1/12", "2/12", "poll", "3/12", "4/12", "poll"]
    first = polls(harness)[0]
    assert first.reply_to_message_id == day[2].message_id
    poll = first.poll
    assert poll["type"] == "quiz"
    assert poll["is_anonymous"] is False
    assert poll["correct_option_ids"] == bundled_library().thread(CSF).quiz[0].correct
    assert poll["question"].startswith("Epidural blood patches have been around")
    assert "Post 2" in poll["explanation"]
    sent = harness.emulator.calls_of("sendPoll")[0].params
    assert sent["shuffle_options"] is True
    with session_scope(harness.engine) as session:
        records = session.exec(select(PollRecord).order_by(PollRecord.sent_at)).all()
    assert [(r.kind, r.question_id, r.user_id) for r in records] == [
        (PollKind.drip, "q1", TRAINEE),
        (PollKind.drip, "q2", TRAINEE),
    ]
    assert records[0].poll_id == poll["id"]


async def test_right_and_wrong_answers_are_recorded_with_the_time_taken(harness: Harness) -> None:
    await first_installment(harness)
    q1, q2 = polls(harness)
    right, wrong = right_option(q1), wrong_option(q2)
    harness.advance(minutes=3)
    await answer(harness, q1, right)
    harness.advance(minutes=1)
    await answer(harness, q2, wrong)
    recorded = attempts(harness)
    assert [(a.question_id, a.correct, a.option_ids) for a in recorded] == [
        ("q1", True, [right]),
        ("q2", False, [wrong]),
    ]
    assert [a.seconds_taken for a in recorded] == [180.0, 240.0]
    assert all(a.kind == PollKind.drip and a.user_id == TRAINEE for a in recorded)
    with session_scope(harness.engine) as session:
        cards = {c.question_id: c for c in session.exec(select(ReviewCard)).all()}
        answered = session.exec(select(PollRecord.answered_at)).all()
    # Right comes back in about two days, wrong tomorrow.
    assert (cards["q1"].due_at - harness.now).days in (1, 2)
    assert cards["q2"].due_at.date() == (harness.now + dt.timedelta(days=1)).date()
    assert all(a is not None for a in answered)


async def test_unknown_late_and_repeated_answers_cause_no_error(
    harness: Harness, caplog: pytest.LogCaptureFixture
) -> None:
    await first_installment(harness)
    q1, q2 = polls(harness)
    await answer(harness, q1, 0)
    with caplog.at_level(logging.ERROR):
        # Repeated: the same answer delivered twice.
        await feed(harness, 9_000_001, q1.poll["id"], [0], TRAINEE)
        await feed(harness, 9_000_002, q1.poll["id"], [1], TRAINEE)
        # Unknown: a poll the bot never recorded (another bot instance, or forgotten data).
        await feed(harness, 9_000_003, "no-such-poll", [0], TRAINEE)
        # Someone else's answer to the trainee's poll, and a retracted vote.
        await feed(harness, 9_000_004, q2.poll["id"], [0], 999)
        await feed(harness, 9_000_005, q2.poll["id"], [], TRAINEE)
        # Late: a week later, after the trainee paused the drip, the answer still counts.
        harness.advance(days=7)
        await harness.send(TRAINEE, "/pause")
        await answer(harness, q2, 0)
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert [(a.question_id, a.option_ids) for a in attempts(harness)] == [("q1", [0]), ("q2", [0])]
    assert not any("went wrong" in t for t in harness.texts(TRAINEE))


async def test_group_and_preview_polls_are_left_to_their_own_modules(harness: Harness) -> None:
    await first_installment(harness)
    q1 = polls(harness)[0]
    with session_scope(harness.engine) as session:
        record = session.get(PollRecord, q1.poll["id"])
        assert record is not None
        record.kind = PollKind.group
        session.add(record)
    await answer(harness, q1, 0)
    assert attempts(harness) == []
    with session_scope(harness.engine) as session:
        assert session.exec(select(ReviewCard)).all() == []


async def test_an_answer_counts_as_activity(harness: Harness) -> None:
    await first_installment(harness)
    with session_scope(harness.engine) as session:
        sub = session.exec(select(Subscription)).one()
        assert sub.idle_installments == 1
    await answer(harness, polls(harness)[0], 0)
    with session_scope(harness.engine) as session:
        sub = session.exec(select(Subscription)).one()
        assert (sub.idle_installments, sub.last_activity_at) == (0, harness.now)


IMAGE = "https://example.org/figures/blood-patch.png"
QUESTION = QuizQuestion(
    id="qi",
    question="Which level does the contrast outline?",
    options=["L1-L2", "L3-L4"],
    correct=[1],
    explanation="The leak sits at L3-L4.",
    source_post=7,
    image=IMAGE,
)


async def test_a_question_image_goes_with_the_poll(harness: Harness) -> None:
    harness.emulator.add_user(TRAINEE)
    message = await send_quiz_poll(harness.app.bot, TRAINEE, QUESTION)
    sent = harness.emulator.calls_of("sendPoll")[-1].params
    assert sent["media"]["type"] == "photo" and sent["media"]["media"] == IMAGE
    assert message.poll is not None and message.poll.explanation == (
        "The leak sits at L3-L4.\nSee post 7 of the thread."
    )


async def test_a_refused_poll_image_is_sent_just_before_the_poll(harness: Harness) -> None:
    harness.emulator.add_user(TRAINEE)
    harness.emulator.faults.add(
        method="sendPoll",
        kind="bad_request",
        times=1,
        description="Bad Request: wrong file identifier/HTTP URL specified",
    )
    message = await send_quiz_poll(harness.app.bot, TRAINEE, QUESTION)
    photo, poll = harness.messages(TRAINEE)[-2:]
    assert photo.photo and poll.poll and poll.message_id == message.message_id
    assert poll.reply_to_message_id == photo.message_id
    assert "media" not in harness.emulator.calls_of("sendPoll")[-1].params


def test_explanations_point_at_the_source_post_when_they_do_not_already() -> None:
    assert poll_explanation(QUESTION.model_copy(update={"explanation": "Post 7: L3-L4."})) == (
        "Post 7: L3-L4."
    )
    assert poll_explanation(QUESTION.model_copy(update={"explanation": ""})) == (
        "See post 7 of the thread."
    )
    long = "x" * 195
    assert poll_explanation(QUESTION.model_copy(update={"explanation": long})) == long
    assert (
        poll_explanation(QUESTION.model_copy(update={"explanation": "", "source_post": None}))
        is None
    )


async def test_answers_are_recorded_on_every_database(pg_harness: Harness) -> None:
    await first_installment(pg_harness)
    q1, q2 = polls(pg_harness)
    await answer(pg_harness, q1, right_option(q1))
    await answer(pg_harness, q2, wrong_option(q2))
    await feed(pg_harness, 9_000_001, q2.poll["id"], [0], TRAINEE)  # a repeated delivery
    assert [(a.question_id, a.correct) for a in attempts(pg_harness)] == [
        ("q1", True),
        ("q2", False),
    ]


def test_each_member_answers_a_drip_poll_in_a_group_once(engine: Engine) -> None:
    """A drip scheduled into a group: one poll, every member's first answer counts."""
    with session_scope(engine) as session:
        session.add(
            PollRecord(
                poll_id="group-poll",
                kind=PollKind.drip,
                chat_id=-100123,
                message_id=9,
                thread_id="csf-leak-blood-patch",
                question_id="q1",
                correct_option_ids=[0],
                sent_at=DAY1,
            )
        )
    outcomes = []
    for user, option in [(11, 0), (12, 1), (11, 1)]:
        with session_scope(engine) as session:
            outcomes.append(
                record_answer(
                    session.connection(), "group-poll", user, [option], DAY1, retention=0.9
                )
            )
    assert [(o.user_id, o.correct) if o else None for o in outcomes] == [
        (11, True),
        (12, False),
        None,
    ]
    with session_scope(engine) as session:
        cards = session.exec(select(ReviewCard.user_id).order_by(ReviewCard.user_id)).all()
    assert cards == [11, 12]


async def test_a_question_is_shown_as_its_author_wrote_it_not_read_as_html(
    harness: Harness,
) -> None:
    harness.emulator.add_user(TRAINEE)
    question = QuizQuestion(
        id="qh",
        question="Opening pressure <6 cm H2O & orthostatic headache: what is it?",
        options=["<b>SIH</b>", "IIH & co"],
        correct=[0],
        explanation="Low pressure (<6) & a positional headache.",
    )
    message = await send_quiz_poll(harness.app.bot, TRAINEE, question)
    assert message.poll is not None
    assert message.poll.question == question.question
    assert sorted(o.text for o in message.poll.options) == sorted(question.options)
    assert message.poll.explanation == question.explanation
