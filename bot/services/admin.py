"""Admins, statistics, the progress export and announcements."""

from __future__ import annotations

import csv
import datetime as dt
from collections.abc import Collection, Iterable
from dataclasses import dataclass
from enum import StrEnum
from typing import TextIO

from sqlmodel import Session

from bot.domain import lifecycle
from bot.services.subscriptions import apply, drip_of
from content.models import Library
from storage import admin as store
from storage.admin import AdminStats, ProgressRow
from storage.subscriptions import trainee_subscription

# --- who is an admin ----------------------------------------------------------------------------


def is_admin(session: Session, user_id: int, configured: Collection[int]) -> bool:
    """ADMIN_IDS from the settings (`configured`), or granted with /admin add."""
    return user_id in configured or store.is_granted_admin(session, user_id)


@dataclass(frozen=True)
class AdminEntry:
    user_id: int
    configured: bool  # in ADMIN_IDS, which only the bot's configuration can change
    granted_by: int | None = None
    granted_at: dt.datetime | None = None


def admins(session: Session, configured: Collection[int]) -> list[AdminEntry]:
    """ADMIN_IDS first, then the admins granted in chat, oldest first."""
    entries = [AdminEntry(user_id, configured=True) for user_id in configured]
    entries += [
        AdminEntry(
            row.user_id, configured=False, granted_by=row.granted_by, granted_at=row.granted_at
        )
        for row in store.granted_admins(session)
        if row.user_id not in configured
    ]
    return entries


class Grant(StrEnum):
    added = "added"
    removed = "removed"
    unchanged = "unchanged"  # already an admin (add), or not one (remove)
    configured = "configured"  # in ADMIN_IDS: not removable from chat


def grant(
    session: Session, user_id: int, granted_by: int, configured: Collection[int], now: dt.datetime
) -> Grant:
    """/admin add: make `user_id` an admin."""
    if user_id in configured or not store.grant_admin(session, user_id, granted_by, now):
        return Grant.unchanged
    return Grant.added


def revoke(session: Session, user_id: int, configured: Collection[int]) -> Grant:
    """/admin remove: take a granted admin right away (ADMIN_IDS stay)."""
    if user_id in configured:
        return Grant.configured
    return Grant.removed if store.revoke_admin(session, user_id) else Grant.unchanged


# --- statistics and the progress export ---------------------------------------------------------


def stats(session: Session, library: Library, now: dt.datetime) -> AdminStats:
    """Subscribers, deliveries, completions and accuracy per question."""
    return store.collect_stats(session, library, now)


PROGRESS_COLUMNS = [
    "user_id",
    "name",
    "thread",
    "posts_delivered",
    "questions_answered",
    "accuracy",
    "last_activity",
]


def _spreadsheet_safe(text: str) -> str:
    """A name starting with = + - @ would run as a formula in a spreadsheet; defuse it."""
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text


def write_progress_csv(rows: Iterable[ProgressRow], out: TextIO) -> int:
    """Write the progress export; return the number of rows written."""
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(PROGRESS_COLUMNS)
    count = 0
    for row in rows:
        accuracy = row.accuracy
        writer.writerow(
            [
                row.user_id,
                _spreadsheet_safe(row.name),
                row.thread_id,
                row.posts_delivered,
                row.questions_answered,
                "" if accuracy is None else f"{accuracy:.3f}",
                row.last_activity.astimezone(dt.UTC).isoformat(timespec="seconds")
                if row.last_activity
                else "",
            ]
        )
        count += 1
    return count


def progress_rows(session: Session, library: Library) -> list[ProgressRow]:
    """One row per trainee per thread they received or answered (for `write_progress_csv`)."""
    return store.progress_rows(session, library)


# --- announcements ------------------------------------------------------------------------------


def broadcast_chats(session: Session) -> list[int]:
    """Private chats of every active trainee, in a stable order."""
    return store.active_trainee_chats(session)


def mark_blocked(session: Session, chat_id: int, now: dt.datetime) -> bool:
    """The trainee blocked the bot: stop their drip until they come back with /start."""
    sub = trainee_subscription(session, chat_id)
    if sub is None:
        return False
    transition = lifecycle.block(drip_of(sub))
    apply(sub, transition, now)
    sub.lease_until = None
    session.add(sub)
    return transition.done
