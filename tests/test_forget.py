"""/forget deletes everything stored about a person: every table, every column.

The check reads every table the models define (SQLModel.metadata), so a table added later is
covered without touching this test.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import select
from sqlalchemy.engine import Engine
from sqlmodel import SQLModel

from storage.db import session_scope
from storage.models import GroupPlayer, GroupSession, Subscription
from tests.harness import ADMIN_ID, Harness
from tests.test_admin_import import GOOD_YAML
from tests.test_group_quiz import polls, right, wrong
from tests.test_onboarding import onboard
from tests.test_quiz import DAY1

FORGOTTEN = 918273645  # digits that appear nowhere else
FIRST, LAST = "Zeldarine", "Quixotrope"
OTHER = 1001
GROUP = -1001000000077


def mentions(engine: Engine) -> list[tuple[str, str]]:
    """(table, column) of every stored value holding the person's id or names."""
    needles = (str(FORGOTTEN), FIRST.lower(), LAST.lower())
    found = []
    with engine.connect() as connection:
        for table in SQLModel.metadata.sorted_tables:
            for row in connection.execute(select(table)).mappings():
                for column, value in row.items():
                    text = str(value).lower()
                    if value == FORGOTTEN or any(needle in text for needle in needles):
                        found.append((table.name, column))
    return sorted(set(found))


async def in_group(h: Harness, user: int, text: str) -> Any:
    await h.send(user, text, chat_id=GROUP)
    return h.last_message(GROUP)


async def play_one_question(h: Harness, starter: int, joiner: int) -> None:
    """`starter` opens a quiz, `joiner` joins, the starter starts, both answer the first
    question."""
    lobby = await in_group(h, starter, "/groupquiz csf-leak-blood-patch")
    buttons = {data.split(":")[1]: data for data in lobby.callback_data}
    await h.press(joiner, lobby, buttons["join"])
    await h.press(starter, lobby, buttons["start"])
    poll = polls(h, GROUP)[-1]
    h.advance(seconds=2)
    await h.answer_poll(starter, poll.poll["id"], right(poll))
    await h.answer_poll(joiner, poll.poll["id"], wrong(poll))


async def test_forget_leaves_no_trace_in_any_table(pg_harness: Harness) -> None:
    h = pg_harness
    h.emulator.add_user(FORGOTTEN, FIRST, last_name=LAST)
    h.emulator.add_user(OTHER, "Bob")
    h.emulator.add_chat(GROUP, "supergroup", "Residents")

    # An admin makes them an admin; they import and publish a thread and schedule it.
    await h.send(ADMIN_ID, f"/admin add {FORGOTTEN}")
    await h.send(ADMIN_ID, "/admin add 777")
    h.emulator.send_document(FORGOTTEN, "lp.yaml", GOOD_YAML.encode(), "text/plain")
    await h.settle()
    report = h.last_message(FORGOTTEN)
    await h.press(FORGOTTEN, report, next(d for d in report.callback_data if "ok" in d))
    h.emulator.send_document(
        FORGOTTEN, "lp2.yaml", GOOD_YAML.replace("lp-basics", "lp-more").encode(), "text/plain"
    )
    await h.settle()
    await h.send(FORGOTTEN, f"/schedule lp-basics {GROUP} 2026-02-01 08:00")
    await h.send(FORGOTTEN, f"/admin add {OTHER}")

    # A trainee: drip quizzes, then a review the next day.
    await onboard(h, FORGOTTEN)
    h.clock.set(DAY1)
    await h.dispatch()
    for poll in [m for m in h.messages(FORGOTTEN) if m.poll]:
        await h.answer_poll(FORGOTTEN, poll.poll["id"], [1])
    h.clock.set(DAY1 + dt.timedelta(days=1))
    await h.dispatch()
    review = [m for m in h.messages(FORGOTTEN) if m.poll][-1]
    await h.answer_poll(FORGOTTEN, review.poll["id"], [0])

    # A group quiz they started and stopped, and one someone else started, where they played.
    await play_one_question(h, FORGOTTEN, OTHER)
    await in_group(h, FORGOTTEN, "/stopquiz")
    await play_one_question(h, OTHER, FORGOTTEN)
    await in_group(h, OTHER, "/stopquiz")

    before = {table for table, _column in mentions(h.engine)}
    assert before >= {
        "subscription",
        "pollrecord",
        "attempt",
        "reviewcard",
        "admin",
        "importedthread",
        "groupsession",
        "groupplayer",
        "groupanswer",
    }

    await h.send(FORGOTTEN, "/forget")
    warning = h.last_message(FORGOTTEN)
    assert "group quiz scores" in warning.content and "without your name" in warning.content
    await h.press(FORGOTTEN, warning, "forget:yes")
    assert "everything stored about you is deleted" in h.last_message(FORGOTTEN).content

    assert mentions(h.engine) == []
    # What belongs to others stays: Bob's places in both quizzes, both sessions, the schedule,
    # the published thread, and the admins they granted.
    with session_scope(h.engine) as session:
        sessions = session.execute(select(GroupSession).order_by(GroupSession.id)).scalars().all()
        assert [s.started_by for s in sessions] == [0, OTHER]
        assert [s.stopped_by for s in sessions] == [None, OTHER]
        players = session.execute(select(GroupPlayer.user_id)).scalars().all()
        assert sorted(players) == [OTHER, OTHER]
        schedules = session.execute(select(Subscription).where(Subscription.kind == "group"))
        assert [s.created_by for s in schedules.scalars()] == [None]
    assert "lp-basics" in h.services.reload_library().threads
    await h.send(ADMIN_ID, "/admin list")
    listing = h.last_message(ADMIN_ID).content
    assert "777" in listing and str(OTHER) in listing and str(FORGOTTEN) not in listing
