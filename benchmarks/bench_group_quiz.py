"""Benchmarks of live group quizzes (bot/handlers/group.py) against the Bot API emulator.

Run:  .venv/bin/python benchmarks/bench_group_quiz.py [--groups 100] [--players 5]
      TEST_DATABASE_URL=postgresql://postgres@127.0.0.1:5432/test  adds PostgreSQL runs.

1. answers: G groups play at once, P players each, 5 questions; every player answers every
   question at the same moment (G x P poll answers queued together), which also closes each
   question early (stopPoll). Figures: answers handled per second (median over the
   questions), and the time one tick round takes to send the next question to all groups.
   Goals: >= 100 answers/s; a round of ticks for 100 groups < 2 s.
2. pacing: one group whose three players answer every question within a second, ticked
   every virtual second; the busiest 60 s of requests to the group. Goal: <= 20 (Telegram's
   limit for a group).
3. restart: G sessions each mid-question when the bot stops; the time `resume_group_sessions`
   takes to close their questions and reschedule them. Goal: < 2 s for 100 sessions.

The emulator runs in this process (it has to play the players), so figures include its
work too: they understate the bot alone. The clock is virtual; only wall time is measured.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import os
import platform
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from _common import Table, fresh_database

from bot.clock import VirtualClock
from bot.emulator import TelegramEmulator
from bot.handlers.group import resume_group_sessions, run_group_tick
from storage.db import make_engine, session_scope
from storage.groups import active_session, active_session_ids
from tests.harness import START, Harness, start_harness

QUESTIONS = 5
FIRST_GROUP = -1002000000000
FIRST_USER = 900000


def _groups(count: int) -> list[int]:
    return [FIRST_GROUP - i for i in range(count)]


def _players(group_index: int, players: int) -> list[int]:
    return [FIRST_USER + group_index * 100 + p for p in range(players)]


async def _open_sessions(h: Harness, groups: list[int], players: int) -> dict[int, int]:
    """Every group opens a lobby, its players join, and the starter starts: chat -> session."""
    emulator = h.emulator
    for index, chat in enumerate(groups):
        emulator.add_chat(chat, "supergroup", f"Group {index}")
        for user in _players(index, players):
            emulator.add_user(user, f"Player {user}")
        emulator.send_message(_players(index, players)[0], "/groupquiz csf-leaks", chat_id=chat)
    await h.settle(timeout=120)
    sessions: dict[int, int] = {}
    for index, chat in enumerate(groups):
        lobby = h.last_message(chat)
        with session_scope(h.engine) as session:
            found = active_session(session, chat)
        assert found is not None and found.id is not None
        sessions[chat] = found.id
        for user in _players(index, players)[1:]:
            emulator.press_button(user, lobby, "gq:join")
        emulator.press_button(_players(index, players)[0], lobby, "gq:start")
    await h.settle(timeout=120)
    return sessions


def _last_poll(h: Harness, chat: int) -> Any:
    return next(m for m in reversed(h.messages(chat)) if m.poll is not None)


async def bench_answers(table: Table, kind: str, url: str, groups: int, players: int) -> None:
    label = f"answers {kind} {groups}x{players}"
    async with TelegramEmulator() as emulator:
        engine = make_engine(url)
        async with start_harness(
            emulator, engine, group_quiz_max_questions=QUESTIONS, group_quiz_lobby_seconds=600
        ) as h:
            chats = _groups(groups)
            sessions = await _open_sessions(h, chats, players)
            rates: list[float] = []
            ticks: list[float] = []
            for number in range(QUESTIONS):
                h.advance(seconds=2)
                for index, chat in enumerate(chats):
                    poll = _last_poll(h, chat)
                    correct = poll.poll["correct_option_ids"]
                    for user in _players(index, players):
                        emulator.answer_poll(user, poll.poll["id"], correct)
                began = time.perf_counter()
                await h.settle(timeout=300)
                rates.append(groups * players / (time.perf_counter() - began))
                h.advance(seconds=10)
                began = time.perf_counter()
                await asyncio.gather(*(run_group_tick(h.app, sessions[c]) for c in chats))
                await h.services.drain()
                ticks.append(time.perf_counter() - began)
                if number < QUESTIONS - 1:
                    assert all(
                        len([m for m in h.messages(c) if m.poll]) == number + 2 for c in chats
                    )
        engine.dispose()
    rate = statistics.median(rates)
    table.add(label, "answers handled /s (median)", f"{rate:.0f}", ">= 100", rate >= 100)
    tick = statistics.median(ticks[:-1])
    goal = 2.0 * groups / 100
    table.add(
        label,
        "tick round, next question to all (median s)",
        f"{tick:.2f}",
        f"< {goal:g}",
        tick < goal,
    )


async def bench_pacing(table: Table, url: str) -> None:
    clock = VirtualClock(START)
    async with TelegramEmulator(clock=clock.now) as emulator:
        engine = make_engine(url)
        async with start_harness(emulator, engine, clock=clock, group_quiz_max_questions=10) as h:
            chat = _groups(1)[0]
            sessions = await _open_sessions(h, [chat], 3)
            sid = sessions[chat]
            players = _players(0, 3)
            while True:
                with session_scope(engine) as session:
                    if sid not in active_session_ids(session):
                        break
                poll = _last_poll(h, chat)
                if not emulator.poll(poll.poll["id"]).is_closed:
                    h.advance(seconds=1)
                    for user in players:
                        emulator.answer_poll(user, poll.poll["id"], poll.poll["correct_option_ids"])
                    await h.settle()
                h.advance(seconds=1)
                await run_group_tick(h.app, sid)
                await h.services.drain()
        engine.dispose()
    times = sorted(c.at for c in emulator.calls if c.chat_id == chat)
    minute = dt.timedelta(minutes=1)
    busiest = max(sum(1 for t in times if start <= t < start + minute) for start in times)
    table.add(
        "pacing, 10 questions answered in 1 s",
        "busiest minute, requests to the group",
        str(busiest),
        "<= 20",
        busiest <= 20,
    )


async def bench_restart(table: Table, kind: str, url: str, groups: int) -> None:
    clock = VirtualClock(START)
    async with TelegramEmulator() as emulator:
        engine = make_engine(url)
        async with start_harness(
            emulator, engine, clock=clock, group_quiz_max_questions=QUESTIONS
        ) as h:
            await _open_sessions(h, _groups(groups), 2)
        clock.advance(dt.timedelta(seconds=40))
        async with start_harness(
            emulator, engine, clock=clock, group_quiz_max_questions=QUESTIONS
        ) as h2:
            began = time.perf_counter()
            resumed = await resume_group_sessions(h2.app)
            elapsed = time.perf_counter() - began
        engine.dispose()
    assert len(resumed) == groups
    goal = 2.0 * groups / 100
    table.add(
        f"restart {kind} {groups} sessions",
        "resume_group_sessions (s)",
        f"{elapsed:.2f}",
        f"< {goal:g}",
        elapsed < goal,
    )


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--groups", type=int, default=100)
    parser.add_argument("--players", type=int, default=5)
    args = parser.parse_args()
    postgres = os.environ.get("TEST_DATABASE_URL")
    kinds = ["sqlite"] + (["postgresql"] if postgres else [])
    table = Table()
    print(f"python {platform.python_version()}, {os.cpu_count()} CPUs")
    with tempfile.TemporaryDirectory() as tmp:
        for kind in kinds:
            with fresh_database(kind, Path(tmp), postgres) as url:
                await bench_answers(table, kind, url, args.groups, args.players)
            with fresh_database(kind, Path(tmp), postgres) as url:
                await bench_restart(table, kind, url, args.groups)
        with fresh_database("sqlite", Path(tmp), None) as url:
            await bench_pacing(table, url)
    print()
    print(table.render())


if __name__ == "__main__":
    asyncio.run(main())
