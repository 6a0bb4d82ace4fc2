"""/quiz retakes the questions of threads already delivered; finishing is celebrated."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlmodel import select

from storage.db import session_scope
from storage.models import Attempt, PollKind, PollRecord
from tests.harness import Harness
from tests.test_onboarding import onboard
from tests.test_quiz import DAY1, TRAINEE, answer, first_installment

CSF = "csf-leak-blood-patch"


async def answer_as(h: Harness, message: Any, *, right: bool) -> None:
    """Answer a poll right (exactly the correct options) or wrong (one wrong option)."""
    correct = message.poll["correct_option_ids"]
    if right:
        await h.answer_poll(TRAINEE, message.poll["id"], correct)
    else:
        wrong = next(i for i in range(len(message.poll["options"])) if i not in correct)
        await answer(h, message, wrong)


IATROGENIC = "iatrogenic-csf-leak-intracranial-hypotension"


async def test_quiz_waits_until_a_whole_thread_has_arrived(harness: Harness) -> None:
    await onboard(harness)
    await harness.send(TRAINEE, "/quiz")
    assert "not finished a thread yet" in harness.last_message(TRAINEE).content
    harness.clock.set(DAY1)
    await harness.dispatch()  # posts 1-4 of 12
    await harness.send(TRAINEE, f"/quiz {CSF}")
    assert "has not reached you in full yet" in harness.last_message(TRAINEE).content
    await harness.send(TRAINEE, "/quiz tumours")
    assert "I don't know a thread called" in harness.last_message(TRAINEE).content
    with session_scope(harness.engine) as session:
        kinds = set(session.exec(select(PollRecord.kind)))
    assert kinds == {PollKind.drip}


async def test_quiz_retakes_a_finished_thread_one_question_at_a_time(harness: Harness) -> None:
    await first_installment(harness, pace="0")  # the whole first thread at once
    await harness.send(TRAINEE, "/quiz")
    assert "Quiz: CSF leaks" in harness.messages(TRAINEE)[-2].content
    asked = 0
    while (current := harness.last_message(TRAINEE)).poll:
        asked += 1
        harness.advance(seconds=20)
        await answer_as(harness, current, right=bool(asked % 2))
    assert asked == 14
    score = harness.last_message(TRAINEE).content
    assert "7 of 14 right (50%)" in score
    with session_scope(harness.engine) as session:
        retakes = session.exec(select(Attempt).where(Attempt.kind == PollKind.retake)).all()
    assert len(retakes) == 14
    assert all(a.seconds_taken == 20 for a in retakes)
    # A second retake is scored on its own.
    await harness.send(TRAINEE, f"/quiz {CSF}")
    while (current := harness.last_message(TRAINEE)).poll:
        await answer_as(harness, current, right=True)
    assert "14 of 14 right (100%)" in harness.last_message(TRAINEE).content


async def test_finishing_a_thread_then_the_track_is_celebrated(harness: Harness) -> None:
    await first_installment(harness, pace="0")
    end = next(
        m.content for m in reversed(harness.messages(TRAINEE)) if "You finished" in m.content
    )
    assert "Next up" in end and "Iatrogenic" in end
    harness.clock.set(DAY1 + dt.timedelta(days=1))
    await harness.dispatch()
    end = next(
        m.content for m in reversed(harness.messages(TRAINEE)) if "You finished" in m.content
    )
    assert "🎉 That was the last thread of CSF leaks" in end and "Well done" in end
    # Both threads are finished: /quiz offers a choice.
    await harness.send(TRAINEE, "/quiz")
    choice = harness.last_message(TRAINEE)
    assert choice.callback_data == [f"quiz:{CSF}", f"quiz:{IATROGENIC}"]
    await harness.press(TRAINEE, choice, f"quiz:{IATROGENIC}")
    first = harness.last_message(TRAINEE)
    with session_scope(harness.engine) as session:
        record = session.get(PollRecord, first.poll["id"])
    assert record is not None
    assert (record.kind, record.thread_id, record.question_id) == (
        PollKind.retake,
        IATROGENIC,
        "q1",
    )
