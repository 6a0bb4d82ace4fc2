"""Queries of live group quiz sessions: lobby, players, questions, answers and standings.

Every step a session takes (start, ask question k, close it, end) is a compare-and-set
UPDATE on the session row that succeeds at most once, so two timers, a timer and an answer,
or two bot processes can never take the same step twice.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import and_, func, update
from sqlalchemy import select as sa_select
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from storage.models import (
    GroupAnswer,
    GroupPlayer,
    GroupSession,
    GroupSessionStatus,
    PlanKind,
    PollKind,
    PollRecord,
)
from storage.text import NAME_LIMIT, clean_text

ACTIVE = (GroupSessionStatus.lobby, GroupSessionStatus.running)


class SessionExists(Exception):
    """The group already has a session in the lobby or running."""


@dataclass(frozen=True)
class PlayerTotals:
    """A player's sums over a group's finished sessions."""

    user_id: int
    name: str
    score: int
    correct: int
    answered: int
    seconds: float
    sessions: int


def _changed(result: object) -> bool:
    return int(getattr(result, "rowcount", 0) or 0) == 1


# --- sessions --------------------------------------------------------------------------------


def active_session(session: Session, chat_id: int) -> GroupSession | None:
    return session.exec(
        select(GroupSession).where(
            GroupSession.chat_id == chat_id, col(GroupSession.status).in_(ACTIVE)
        )
    ).first()


def active_session_ids(session: Session) -> list[int]:
    """Sessions in the lobby or running, oldest first (what a restart must pick up)."""
    ids = session.exec(
        select(GroupSession.id)
        .where(col(GroupSession.status).in_(ACTIVE))
        .order_by(col(GroupSession.id))
    ).all()
    return [i for i in ids if i is not None]


def recent_plan_ids(session: Session, chat_id: int, limit: int = 20) -> list[str]:
    """Topics of the group's past sessions, most recent first."""
    rows = session.exec(
        select(GroupSession.plan_id)
        .where(GroupSession.chat_id == chat_id)
        .order_by(col(GroupSession.id).desc())
        .limit(limit)
    ).all()
    return list(rows)


def create_session(
    session: Session,
    *,
    chat_id: int,
    started_by: int,
    starter_name: str,
    plan_kind: PlanKind,
    plan_id: str,
    title: str,
    questions: Sequence[tuple[str, str]],
    open_period: int,
    min_players: int,
    lobby_deadline: dt.datetime,
    now: dt.datetime,
) -> GroupSession:
    """Open a lobby with the starter as its first player; SessionExists if one is active."""
    starter_name = clean_text(starter_name, NAME_LIMIT)
    group_session = GroupSession(
        chat_id=chat_id,
        active_chat_id=chat_id,
        started_by=started_by,
        starter_name=starter_name,
        plan_kind=plan_kind,
        plan_id=plan_id,
        title=title,
        questions=[[thread_id, question_id] for thread_id, question_id in questions],
        open_period=open_period,
        min_players=min_players,
        lobby_deadline=lobby_deadline,
        created_at=now,
    )
    session.add(group_session)
    try:
        session.flush()
    except IntegrityError:
        raise SessionExists from None
    assert group_session.id is not None
    session.add(
        GroupPlayer(
            session_id=group_session.id, user_id=started_by, name=starter_name, joined_at=now
        )
    )
    return group_session


def set_lobby_message(session: Session, session_id: int, message_id: int) -> None:
    session.execute(
        update(GroupSession)
        .where(col(GroupSession.id) == session_id)
        .values(lobby_message_id=message_id)
    )


def move_chat(session: Session, session_id: int, new_chat_id: int) -> None:
    """The group became a supergroup with a new id."""
    session.execute(
        update(GroupSession)
        .where(col(GroupSession.id) == session_id)
        .values(chat_id=new_chat_id, active_chat_id=new_chat_id)
    )


def start_session(session: Session, session_id: int, now: dt.datetime) -> bool:
    """Lobby -> running, first question due now."""
    return _changed(
        session.execute(
            update(GroupSession)
            .where(
                col(GroupSession.id) == session_id,
                col(GroupSession.status) == GroupSessionStatus.lobby,
            )
            .values(
                status=GroupSessionStatus.running,
                question_index=0,
                question_open=False,
                next_question_at=now,
            )
        )
    )


def end_session(
    session: Session,
    session_id: int,
    now: dt.datetime,
    reason: str,
    *,
    stopped_by: int | None = None,
) -> bool:
    """Lobby or running -> finished (once); frees the group for the next session."""
    return _changed(
        session.execute(
            update(GroupSession)
            .where(col(GroupSession.id) == session_id, col(GroupSession.status).in_(ACTIVE))
            .values(
                status=GroupSessionStatus.finished,
                active_chat_id=None,
                finished_at=now,
                ended_reason=reason,
                stopped_by=stopped_by,
                question_open=False,
            )
        )
    )


# --- questions -------------------------------------------------------------------------------


def claim_question(
    session: Session, session_id: int, index: int, now: dt.datetime, deadline: dt.datetime
) -> bool:
    """Mark question `index` as being asked, before its poll is sent (at most once)."""
    return _changed(
        session.execute(
            update(GroupSession)
            .where(
                col(GroupSession.id) == session_id,
                col(GroupSession.status) == GroupSessionStatus.running,
                col(GroupSession.question_index) == index,
                col(GroupSession.question_open).is_(False),
            )
            .values(
                question_index=index + 1,
                question_open=True,
                current_poll_id=None,
                question_sent_at=now,
                question_deadline=deadline,
                next_question_at=None,
            )
        )
    )


def record_question_poll(
    session: Session,
    session_id: int,
    index: int,
    poll_id: str,
    sent_at: dt.datetime,
    deadline: dt.datetime,
) -> bool:
    """Remember which poll asks question `index`; False if the question was closed meanwhile."""
    return _changed(
        session.execute(
            update(GroupSession)
            .where(
                col(GroupSession.id) == session_id,
                col(GroupSession.status) == GroupSessionStatus.running,
                col(GroupSession.question_index) == index + 1,
                col(GroupSession.question_open).is_(True),
                col(GroupSession.current_poll_id).is_(None),
            )
            .values(current_poll_id=poll_id, question_sent_at=sent_at, question_deadline=deadline)
        )
    )


def close_question(
    session: Session,
    session_id: int,
    index: int,
    next_at: dt.datetime,
    *,
    missed_seconds: float,
) -> bool:
    """Close question `index` (once): players who did not answer are charged `missed_seconds`."""
    closed = _changed(
        session.execute(
            update(GroupSession)
            .where(
                col(GroupSession.id) == session_id,
                col(GroupSession.status) == GroupSessionStatus.running,
                col(GroupSession.question_index) == index + 1,
                col(GroupSession.question_open).is_(True),
            )
            .values(question_open=False, next_question_at=next_at)
        )
    )
    if closed:
        answered = select(GroupAnswer.user_id).where(
            GroupAnswer.session_id == session_id, GroupAnswer.question_index == index
        )
        session.execute(
            update(GroupPlayer)
            .where(
                col(GroupPlayer.session_id) == session_id,
                col(GroupPlayer.user_id).not_in(answered),
            )
            .values(seconds=col(GroupPlayer.seconds) + missed_seconds)
        )
        session.execute(
            update(PollRecord)
            .where(col(PollRecord.session_id) == session_id, col(PollRecord.closed).is_(False))
            .values(closed=True)
        )
    return closed


# --- players and answers ---------------------------------------------------------------------


def players(session: Session, session_id: int) -> list[GroupPlayer]:
    return list(
        session.exec(
            select(GroupPlayer)
            .where(GroupPlayer.session_id == session_id)
            .order_by(col(GroupPlayer.joined_at), col(GroupPlayer.id))
        ).all()
    )


def player_count(session: Session, session_id: int) -> int:
    return int(
        session.exec(
            select(func.count())
            .select_from(GroupPlayer)
            .where(GroupPlayer.session_id == session_id)
        ).one()
    )


def add_player(
    session: Session, session_id: int, user_id: int, name: str, now: dt.datetime
) -> bool:
    """Join a session; False if the user had joined already."""
    name = clean_text(name, NAME_LIMIT)
    existing = session.exec(
        select(GroupPlayer).where(
            GroupPlayer.session_id == session_id, GroupPlayer.user_id == user_id
        )
    ).first()
    if existing is not None:
        return False
    session.add(GroupPlayer(session_id=session_id, user_id=user_id, name=name, joined_at=now))
    session.flush()
    return True


def remove_player(session: Session, session_id: int, user_id: int) -> bool:
    player = session.exec(
        select(GroupPlayer).where(
            GroupPlayer.session_id == session_id, GroupPlayer.user_id == user_id
        )
    ).first()
    if player is None:
        return False
    session.delete(player)
    session.flush()
    return True


def open_question_for_poll(session: Session, poll_id: str) -> tuple[GroupSession, list[int]] | None:
    """The running session whose open question this group poll asks (locked for the answer,
    so closing the question waits for it), with the poll's correct options; one query."""
    row = session.exec(
        select(GroupSession, PollRecord.correct_option_ids)
        .join(PollRecord, col(PollRecord.session_id) == col(GroupSession.id))
        .where(
            col(PollRecord.poll_id) == poll_id,
            col(PollRecord.kind) == PollKind.group,
            col(GroupSession.current_poll_id) == poll_id,
            col(GroupSession.status) == GroupSessionStatus.running,
            col(GroupSession.question_open).is_(True),
        )
        .with_for_update(of=GroupSession)
    ).first()
    if row is None:
        return None
    group_session, correct = row
    return group_session, list(correct or [])


def add_answer(
    session: Session,
    group_session: GroupSession,
    *,
    user_id: int,
    name: str,
    poll_id: str,
    option_ids: Sequence[int],
    correct: bool,
    seconds: float,
    points: int,
    now: dt.datetime,
) -> bool:
    """Record a player's answer to the open question (joining late if need be); False if
    they had answered it already."""
    assert group_session.id is not None
    index = group_session.question_index - 1
    found = session.exec(
        select(GroupPlayer, GroupAnswer.id)
        .outerjoin(
            GroupAnswer,
            and_(
                col(GroupAnswer.session_id) == col(GroupPlayer.session_id),
                col(GroupAnswer.user_id) == col(GroupPlayer.user_id),
                col(GroupAnswer.question_index) == index,
            ),
        )
        .where(col(GroupPlayer.session_id) == group_session.id, col(GroupPlayer.user_id) == user_id)
    ).first()
    if found is not None and found[1] is not None:
        return False
    player = (
        found[0]
        if found is not None
        else GroupPlayer(
            session_id=group_session.id,
            user_id=user_id,
            name=clean_text(name, NAME_LIMIT),
            joined_at=now,
        )
    )
    player.score += points
    player.correct += int(correct)
    player.answered += 1
    player.seconds += seconds
    session.add(player)
    session.add(
        GroupAnswer(
            session_id=group_session.id,
            question_index=index,
            user_id=user_id,
            poll_id=poll_id,
            option_ids=list(option_ids),
            correct=correct,
            seconds=seconds,
            points=points,
            answered_at=now,
        )
    )
    session.flush()
    return True


def everyone_answered(session: Session, session_id: int, index: int) -> bool:
    """Every player of the session has answered question `index`."""
    answered = (
        select(func.count())
        .select_from(GroupAnswer)
        .where(col(GroupAnswer.session_id) == session_id, col(GroupAnswer.question_index) == index)
        .scalar_subquery()
    )
    joined = (
        select(func.count())
        .select_from(GroupPlayer)
        .where(col(GroupPlayer.session_id) == session_id)
        .scalar_subquery()
    )
    answers_count, players_count = session.exec(select(answered, joined)).one()
    return int(players_count) > 0 and int(answers_count) >= int(players_count)


def answers(session: Session, session_id: int) -> list[GroupAnswer]:
    return list(
        session.exec(
            select(GroupAnswer)
            .where(GroupAnswer.session_id == session_id)
            .order_by(col(GroupAnswer.question_index), col(GroupAnswer.id))
        ).all()
    )


# --- standings -------------------------------------------------------------------------------


def all_time_totals(session: Session, chat_id: int) -> tuple[list[PlayerTotals], int]:
    """Each player's sums over the group's finished sessions, and how many sessions count.

    Sessions cancelled in the lobby never asked a question and do not count.
    """
    finished = (
        select(GroupSession.id)
        .where(
            GroupSession.chat_id == chat_id,
            GroupSession.status == GroupSessionStatus.finished,
            GroupSession.question_index > 0,
        )
        .subquery()
    )
    rows = session.execute(
        sa_select(
            col(GroupPlayer.user_id),
            func.sum(col(GroupPlayer.score)),
            func.sum(col(GroupPlayer.correct)),
            func.sum(col(GroupPlayer.answered)),
            func.sum(col(GroupPlayer.seconds)),
            func.count(),
            func.max(col(GroupPlayer.session_id)),
        )
        .where(col(GroupPlayer.session_id).in_(select(finished.c.id)))
        .group_by(col(GroupPlayer.user_id))
    ).all()
    latest = {user_id: last_session for user_id, *_rest, last_session in rows}
    names: dict[int, str] = {}
    if latest:
        for user_id, name, session_id in session.exec(
            select(GroupPlayer.user_id, GroupPlayer.name, GroupPlayer.session_id).where(
                col(GroupPlayer.session_id).in_(set(latest.values())),
                col(GroupPlayer.user_id).in_(list(latest)),
            )
        ).all():
            if latest[user_id] == session_id:
                names[user_id] = name  # the name they had in their latest session
    totals = [
        PlayerTotals(
            user_id=user_id,
            name=names.get(user_id, str(user_id)),
            score=int(score or 0),
            correct=int(correct or 0),
            answered=int(answered or 0),
            seconds=float(seconds or 0.0),
            sessions=int(count),
        )
        for user_id, score, correct, answered, seconds, count, _last in rows
    ]
    sessions = session.exec(select(func.count()).select_from(finished)).one()
    return totals, int(sessions)
