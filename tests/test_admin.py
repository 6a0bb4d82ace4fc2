"""Admin access: who may use the admin commands, the admin menu, /threads and /preview."""

from __future__ import annotations

import datetime as dt
import itertools
from typing import Any

import pytest
from sqlalchemy import select as sa_select
from sqlmodel import SQLModel, select

from bot.commands import ADMIN_COMMANDS
from bot.handlers.admin import NOT_AVAILABLE
from storage.db import session_scope
from storage.models import (
    Admin,
    PlanKind,
    PollRecord,
    Subscription,
    SubscriptionKind,
    SubscriptionStatus,
)
from tests.harness import ADMIN_ID, Harness

STRANGER = 777
TRAINEE = 501
GROUP = -100500


def add_trainee(
    h: Harness, chat_id: int, status: SubscriptionStatus = SubscriptionStatus.active
) -> int:
    with session_scope(h.engine) as session:
        sub = Subscription(
            kind=SubscriptionKind.trainee,
            chat_id=chat_id,
            user_id=chat_id,
            name=f"Trainee {chat_id}",
            status=status,
            plan_kind=PlanKind.track,
            plan_id="csf-leaks",
            next_due_at=h.now + dt.timedelta(days=1),
        )
        session.add(sub)
        session.flush()
        assert sub.id is not None
        return sub.id


def add_group_schedule(h: Harness, chat_id: int = GROUP) -> int:
    with session_scope(h.engine) as session:
        sub = Subscription(
            kind=SubscriptionKind.group,
            chat_id=chat_id,
            name="Journal club",
            status=SubscriptionStatus.active,
            plan_kind=PlanKind.thread,
            plan_id="brocas-area",
            next_due_at=h.now + dt.timedelta(days=1),
            created_by=ADMIN_ID,
        )
        session.add(sub)
        session.flush()
        assert sub.id is not None
        return sub.id


def database_snapshot(h: Harness) -> dict[str, list[Any]]:
    """Every row of every table, to show that nothing changed."""
    with h.engine.connect() as connection:
        return {
            table.name: sorted(
                (tuple(str(v) for v in row) for row in connection.execute(sa_select(table))),
            )
            for table in SQLModel.metadata.sorted_tables
        }


# Each admin command, typed with arguments that would change something if it were allowed.
ADMIN_ATTEMPTS = [
    "/admin add 778",
    "/admin remove 4242",
    "/admin list",
    "/threads",
    "/preview csf-leak-blood-patch",
    f"/schedule brocas-area {GROUP} 2026-02-01 08:00 Europe/London 2",
    "/schedules",
    "/unschedule 1",
    "/import",
    "/stats",
    "/broadcast Exams are cancelled",
]


def test_every_admin_command_is_covered_by_the_refusal_test() -> None:
    typed = {attempt.split()[0][1:] for attempt in ADMIN_ATTEMPTS}
    assert typed == {c.name for c in ADMIN_COMMANDS}


@pytest.mark.parametrize("typed", ADMIN_ATTEMPTS)
async def test_a_non_admin_is_told_an_admin_command_is_not_available_and_nothing_changes(
    harness: Harness, typed: str
) -> None:
    add_trainee(harness, TRAINEE)
    harness.emulator.add_chat(GROUP, "supergroup", "Journal club")
    add_group_schedule(harness)
    harness.emulator.add_user(STRANGER, "Stranger")
    before = database_snapshot(harness)
    calls_before = len(harness.emulator.calls)

    await harness.send(STRANGER, typed)

    assert harness.texts(STRANGER) == [NOT_AVAILABLE]
    assert database_snapshot(harness) == before
    # The only thing the bot did was answer the stranger: no broadcast, no preview, no check.
    made = [c.method for c in harness.emulator.calls[calls_before:]]
    assert [m for m in made if m != "getUpdates"] == ["sendMessage"]
    assert harness.messages(TRAINEE) == []


async def test_a_non_admin_sending_a_file_or_pressing_publish_changes_nothing(
    harness: Harness,
) -> None:
    harness.emulator.add_user(STRANGER, "Stranger")
    before = database_snapshot(harness)
    harness.emulator.send_document(
        STRANGER, "thread.yaml", b"id: x\n", "application/x-yaml", caption="/import"
    )
    await harness.settle()
    assert "can't do anything with files" in harness.last_message(STRANGER).content
    assert database_snapshot(harness) == before


async def test_an_admin_in_a_group_is_asked_to_use_a_private_chat(harness: Harness) -> None:
    harness.emulator.add_chat(GROUP, "supergroup", "Journal club")
    await harness.send(ADMIN_ID, "/stats", chat_id=GROUP)
    assert "private chat" in harness.last_message(GROUP).content


async def test_admins_see_the_admin_commands_in_their_menu_and_trainees_do_not(
    harness: Harness,
) -> None:
    admin_menu = harness.emulator.commands({"type": "chat", "chat_id": ADMIN_ID})
    assert {"threads", "schedule", "broadcast"} <= {c["command"] for c in admin_menu}
    everyone = harness.emulator.commands({"type": "all_private_chats"})
    assert "broadcast" not in {c["command"] for c in everyone}


async def test_an_admin_grants_and_removes_an_admin_and_the_menu_follows(
    harness: Harness,
) -> None:
    harness.emulator.add_user(STRANGER, "Stranger")
    await harness.send(ADMIN_ID, f"/admin add {STRANGER}")
    assert f"{STRANGER} is now an admin" in harness.last_message(ADMIN_ID).content
    with session_scope(harness.engine) as session:
        row = session.get(Admin, STRANGER)
        assert row is not None and row.granted_by == ADMIN_ID
    menu = harness.emulator.commands({"type": "chat", "chat_id": STRANGER})
    assert "stats" in {c["command"] for c in menu}

    await harness.send(STRANGER, "/threads")
    assert "Library" in harness.last_message(STRANGER).content

    await harness.send(ADMIN_ID, "/admin list")
    listing = harness.last_message(ADMIN_ID).content
    assert f"{ADMIN_ID} (ADMIN_IDS)" in listing and f"{STRANGER} (granted by {ADMIN_ID}" in listing

    await harness.send(ADMIN_ID, f"/admin remove {STRANGER}")
    assert "no longer an admin" in harness.last_message(ADMIN_ID).content
    assert harness.emulator.commands({"type": "chat", "chat_id": STRANGER}) == []
    await harness.send(STRANGER, "/threads")
    assert harness.last_message(STRANGER).content == NOT_AVAILABLE


async def test_an_admin_ids_admin_cannot_be_removed_from_chat(harness: Harness) -> None:
    await harness.send(ADMIN_ID, f"/admin remove {ADMIN_ID}")
    reply = harness.last_message(ADMIN_ID).content
    assert "ADMIN_IDS" in reply and "can't be removed from chat" in reply


@pytest.mark.parametrize(
    ("typed", "hint"),
    [
        ("/admin add someone", "not a Telegram user id"),
        ("/admin add -5", "not a Telegram user id"),
        ("/admin promote 5", "Usage"),
        ("/admin remove 999", "999 is not an admin"),
        (f"/admin add {ADMIN_ID}", "already an admin"),
    ],
)
async def test_admin_subcommands_explain_mistakes(harness: Harness, typed: str, hint: str) -> None:
    await harness.send(ADMIN_ID, typed)
    assert hint in harness.last_message(ADMIN_ID).content


async def test_threads_lists_each_thread_with_posts_questions_and_status(
    harness: Harness,
) -> None:
    await harness.send(ADMIN_ID, "/threads")
    listing = "\n".join(harness.texts(ADMIN_ID))
    assert (
        "csf-leak-blood-patch · CSF leaks & targeted epidural blood patches · 12 posts · "
        "14 questions · complete" in listing
    )
    assert "brocas-area" in listing and "partial" in listing
    assert "neuroradiology" in listing  # the tracks follow


async def test_preview_sends_the_thread_as_trainees_see_it_with_closed_polls(
    harness: Harness,
) -> None:
    await harness.send(ADMIN_ID, "/preview csf-leak-blood-patch")
    messages = harness.messages(ADMIN_ID)
    intro, header, *rest = messages
    assert "Preview" in intro.content
    assert "Day 1" in header.content and "posts 1-12 of 12" in header.content
    posts = [m for m in rest if m.photo]
    assert len(posts) == 12
    assert posts[0].caption.startswith("1/12 ”Now your mouth will drop")
    polls = [m for m in rest if m.poll]
    assert len(polls) == 14
    assert all(m.poll["is_closed"] for m in polls)
    assert "You finished" in rest[-1].content
    # It reads as a thread, like an installment.
    for previous, current in itertools.pairwise(rest):
        assert current.reply_to_message_id == previous.message_id
    with session_scope(harness.engine) as session:
        assert session.exec(select(PollRecord)).first() is None


@pytest.mark.parametrize(
    ("typed", "hint"),
    [
        ("/preview", "Usage"),
        ("/preview csf-leak-blod-patch", "Did you mean csf-leak-blood-patch?"),
        ("/preview csf-leaks", "is a track"),
    ],
)
async def test_preview_explains_a_missing_or_unknown_thread(
    harness: Harness, typed: str, hint: str
) -> None:
    await harness.send(ADMIN_ID, typed)
    assert hint in harness.last_message(ADMIN_ID).content
