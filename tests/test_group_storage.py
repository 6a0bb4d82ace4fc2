"""Group quiz storage on SQLite and PostgreSQL: one session per group, every step once,
one answer per player and question, and all-time sums over finished sessions."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy.engine import Engine

from storage import groups as q
from storage.db import session_scope
from storage.models import GroupSession, PlanKind, PollKind, PollRecord

T0 = dt.datetime(2026, 1, 5, 9, 0, tzinfo=dt.UTC)
CHAT = -100500


def new_session(engine: Engine, chat_id: int = CHAT, starter: int = 1) -> int:
    with session_scope(engine) as session:
        created = q.create_session(
            session,
            chat_id=chat_id,
            started_by=starter,
            starter_name="Ann",
            plan_kind=PlanKind.thread,
            plan_id="csf-leak-blood-patch",
            title="CSF leaks",
            questions=[("csf-leak-blood-patch", "q1"), ("csf-leak-blood-patch", "q2")],
            open_period=30,
            min_players=2,
            lobby_deadline=T0 + dt.timedelta(minutes=2),
            now=T0,
        )
        assert created.id is not None
        return created.id


def ask(engine: Engine, sid: int, index: int, poll_id: str) -> None:
    with session_scope(engine) as session:
        assert q.claim_question(session, sid, index, T0, T0 + dt.timedelta(seconds=45))
        assert q.record_question_poll(
            session, sid, index, poll_id, T0, T0 + dt.timedelta(seconds=30)
        )
        session.add(
            PollRecord(
                poll_id=poll_id,
                kind=PollKind.group,
                chat_id=CHAT,
                message_id=index + 10,
                session_id=sid,
                thread_id="csf-leak-blood-patch",
                question_id=f"q{index + 1}",
                correct_option_ids=[0],
                sent_at=T0,
            )
        )


def answer(engine: Engine, poll_id: str, user_id: int, points: int, seconds: float) -> bool:
    with session_scope(engine) as session:
        found = q.open_question_for_poll(session, poll_id)
        if found is None:
            return False
        assert found[1] == [0]
        return q.add_answer(
            session,
            found[0],
            user_id=user_id,
            name=f"user {user_id}",
            poll_id=poll_id,
            option_ids=[0],
            correct=points > 0,
            seconds=seconds,
            points=points,
            now=T0,
        )


def test_a_group_has_one_active_session_and_gets_another_once_it_ends(engine: Engine) -> None:
    sid = new_session(engine)
    with pytest.raises(q.SessionExists):
        new_session(engine, starter=2)
    new_session(engine, chat_id=CHAT - 1)  # another group is independent
    with session_scope(engine) as session:
        assert q.end_session(session, sid, T0, "stopped", stopped_by=1)
        assert not q.end_session(session, sid, T0, "stopped")
    new_session(engine)


def test_every_step_of_a_session_happens_once(engine: Engine) -> None:
    sid = new_session(engine)
    with session_scope(engine) as session:
        q.add_player(session, sid, 2, "Ben", T0)
        assert q.start_session(session, sid, T0)
        assert not q.start_session(session, sid, T0)
        assert q.claim_question(session, sid, 0, T0, T0 + dt.timedelta(seconds=45))
        assert not q.claim_question(session, sid, 0, T0, T0 + dt.timedelta(seconds=45))
        assert q.record_question_poll(session, sid, 0, "p1", T0, T0 + dt.timedelta(seconds=30))
        assert not q.record_question_poll(session, sid, 0, "p2", T0, T0)
        assert q.close_question(session, sid, 0, T0, missed_seconds=30.0)
        assert not q.close_question(session, sid, 0, T0, missed_seconds=30.0)
        # Closing charged both silent players the whole period, once.
        assert sorted(p.seconds for p in q.players(session, sid)) == [30.0, 30.0]
        assert q.claim_question(session, sid, 1, T0, T0)
        row = session.get(GroupSession, sid)
        assert row is not None and row.question_index == 2 and row.question_open


def test_a_player_answers_each_question_once_and_only_while_it_is_open(engine: Engine) -> None:
    sid = new_session(engine)
    with session_scope(engine) as session:
        q.add_player(session, sid, 2, "Ben", T0)
        q.start_session(session, sid, T0)
    ask(engine, sid, 0, "p1")
    assert answer(engine, "p1", 1, 18, 5.0)
    assert not answer(engine, "p1", 1, 20, 1.0)
    with session_scope(engine) as session:
        assert not q.everyone_answered(session, sid, 0)
    assert answer(engine, "p1", 3, 0, 7.0)  # a late joiner who answers joins
    with session_scope(engine) as session:
        assert not q.everyone_answered(session, sid, 0)  # Ben has not answered
    assert answer(engine, "p1", 2, 0, 9.0)
    with session_scope(engine) as session:
        assert q.everyone_answered(session, sid, 0)
        assert q.close_question(session, sid, 0, T0, missed_seconds=30.0)
    assert not answer(engine, "p1", 2, 10, 1.0)  # closed
    with session_scope(engine) as session:
        scores = {p.user_id: (p.score, p.answered, p.seconds) for p in q.players(session, sid)}
    assert scores == {1: (18, 1, 5.0), 2: (0, 1, 9.0), 3: (0, 1, 7.0)}


def test_all_time_totals_sum_finished_sessions_only(engine: Engine) -> None:
    for points in (18, 12):
        sid = new_session(engine)
        with session_scope(engine) as session:
            q.add_player(session, sid, 2, "Ben", T0)
            q.start_session(session, sid, T0)
        ask(engine, sid, 0, f"p{points}")
        answer(engine, f"p{points}", 1, points, 3.0)
        answer(engine, f"p{points}", 2, 0, 4.0)
        with session_scope(engine) as session:
            q.end_session(session, sid, T0, "completed")
    new_session(engine)  # in the lobby: does not count
    with session_scope(engine) as session:
        totals, sessions = q.all_time_totals(session, CHAT)
        other, none = q.all_time_totals(session, CHAT - 7)
    assert sessions == 2 and (other, none) == ([], 0)
    by_user = {t.user_id: (t.name, t.score, t.correct, t.sessions, t.seconds) for t in totals}
    assert by_user == {1: ("Ann", 30, 2, 2, 6.0), 2: ("Ben", 0, 0, 2, 8.0)}
