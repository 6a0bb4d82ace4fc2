"""Schedules: threads and tracks published into groups and channels as a drip."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlmodel import Session

from bot.domain import lifecycle
from bot.domain.admin import PublishTarget, ScheduleRequest
from bot.domain.timeparse import zone
from content.models import Library
from storage import admin as store
from storage.models import PlanKind, SubscriptionKind, SubscriptionStatus


class ScheduleConflict(Exception):
    """The same plan is already running in that chat."""


def add_schedule(
    session: Session,
    request: ScheduleRequest,
    target: PublishTarget,
    created_by: int | None,
    now: dt.datetime,
) -> int:
    """Save a checked schedule; return its id. Raises ScheduleConflict for a duplicate."""
    plan_kind = PlanKind(request.plan_kind)
    running = store.find_running_schedule(session, target.chat_id, plan_kind, request.plan_id)
    if running is not None:
        raise ScheduleConflict(
            f"{request.plan_id} is already scheduled into {target.title or target.chat_id} "
            f"(#{running.id}); "
            f"remove #{running.id} first to start it again."
        )
    first = lifecycle.start_schedule(request.start_at)
    sub = store.create_schedule(
        session,
        kind=SubscriptionKind(target.kind),
        chat_id=target.chat_id,
        chat_title=target.title,
        plan_kind=plan_kind,
        plan_id=request.plan_id,
        timezone=request.timezone,
        delivery_time=request.delivery_time,
        pace=request.pace,
        status=SubscriptionStatus(first.status),
        next_due_at=first.next_due_at,
        start_at=request.start_at,
        created_by=created_by,
        now=now,
    )
    assert sub.id is not None
    return sub.id


@dataclass(frozen=True)
class Schedule:
    """A schedule as the admin sees it."""

    id: int
    plan_kind: str
    plan_id: str
    plan_title: str | None  # None when the plan left the library
    chat_id: int
    chat_name: str
    kind: str  # group or channel
    pace: int
    delivery_time: str
    timezone: str
    status: str
    next_local: dt.datetime | None  # the next send in the schedule's time zone, when active


def schedules(session: Session, library: Library) -> list[Schedule]:
    """Every schedule, oldest first."""
    found = []
    for sub in store.schedules(session):
        plan_id = sub.plan_id or ""
        if sub.plan_kind == PlanKind.track:
            title = library.tracks[plan_id].title if plan_id in library.tracks else None
        else:
            title = library.threads[plan_id].title if plan_id in library.threads else None
        active = sub.next_due_at is not None and sub.status == SubscriptionStatus.active
        assert sub.id is not None
        found.append(
            Schedule(
                id=sub.id,
                plan_kind=str(sub.plan_kind),
                plan_id=plan_id,
                plan_title=title,
                chat_id=sub.chat_id,
                chat_name=sub.name,
                kind=str(sub.kind),
                pace=sub.pace,
                delivery_time=sub.delivery_time,
                timezone=sub.timezone,
                status=str(sub.status),
                next_local=(
                    sub.next_due_at.astimezone(zone(sub.timezone))
                    if active and sub.next_due_at is not None
                    else None
                ),
            )
        )
    return found


@dataclass(frozen=True)
class Removed:
    id: int
    plan_id: str
    chat: str  # the chat's name, or its id


def remove_schedule(session: Session, schedule_id: int) -> Removed | None:
    """Remove a schedule and its outbox; None when there was none."""
    removed = store.delete_schedule(session, schedule_id)
    if removed is None:
        return None
    return Removed(schedule_id, str(removed.plan_id), removed.name or str(removed.chat_id))
