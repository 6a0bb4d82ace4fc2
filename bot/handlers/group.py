"""Live quiz sessions in groups: a lobby, timed quiz polls, scores, /stopquiz and leaderboards.

The database is the session's state; the JobQueue only says when to look at it again. Each
session has one job, named `groupquiz:<session id>`, that runs `run_group_tick`: the tick
reads the session, does whatever is due (refresh or close the lobby, close a question, ask
the next one, post the standings) and schedules itself for the next due moment. Every step
is a compare-and-set on the session row (storage.groups), so a timer, an answer and a
restart can never take the same step twice. After a restart `resume_group_sessions` ticks
every open session once: a lobby resumes its countdown, a question whose time ran out is
closed, and the next question follows.

A question is marked as asked *before* its poll is sent: a crash between the two can lose
that one question (the session moves on after its time), never send it twice.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
import time
import weakref
from dataclasses import dataclass, field
from html import escape
from typing import Any

from sqlalchemy.engine import Engine
from telegram import (
    Bot,
    ChatMember,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    Message,
    ReplyParameters,
    Update,
    User,
)
from telegram.constants import ChatType, ParseMode
from telegram.error import BadRequest, ChatMigrated, Forbidden, TelegramError
from telegram.ext import Application, CommandHandler, PollAnswerHandler, filters

from bot.callbacks import ButtonHandler, LobbyAction, LobbyButton, encode, pressed
from bot.context import Context, Services, services
from bot.domain.leaderboard import (
    LOBBY_EDIT_INTERVAL_SECONDS,
    SEND_GRACE,
    InputError,
    Topic,
    answer_points,
    answer_seconds,
    countdown_text,
    default_topic,
    find_topics,
    is_correct,
    is_stale,
    next_question_at,
    parse_groupquiz_args,
    pick_questions,
    playable_topics,
    question_deadline,
    rank_standings,
    topic_questions,
)
from bot.quizzes import find_question, record_poll, send_quiz_poll
from content.models import POLL_QUESTION_MAX
from storage import groups as q
from storage.db import session_scope
from storage.models import (
    GroupPlayer,
    GroupSession,
    GroupSessionStatus,
    PlanKind,
    PollKind,
    PollRecord,
)
from storage.text import clean_text

log = logging.getLogger(__name__)

App = Application[Any, Any, Any, Any, Any, Any]

JOB_PREFIX = "groupquiz:"
GROUP_CHATS = (ChatType.GROUP, ChatType.SUPERGROUP)
NAME_MAX = 64
NAME_REMOVED = "(name removed)"  # a starter who asked to be forgotten
RETRY_AFTER_ERROR = dt.timedelta(seconds=30)
ADMIN_STATUSES = (ChatMember.OWNER, ChatMember.ADMINISTRATOR)
SCORING_NOTE = (
    "10 points for a right answer, up to 10 more for speed; the same score and time share a place."
)
IN_PRIVATE = (
    "Group quizzes happen in groups: add me to a group and send /groupquiz there. "
    "In this chat, /quiz retakes the questions of threads you have read."
)


def register(app: Application[Any, Any, Any, Any, Any, Any]) -> None:
    """Group quiz commands, the lobby buttons, and the answers to group quiz polls."""
    new = filters.UpdateType.MESSAGE  # an edited /groupquiz or /stopquiz is not a new one
    app.add_handler(CommandHandler("groupquiz", groupquiz_command, filters=new))
    app.add_handler(CommandHandler("stopquiz", stopquiz_command, filters=new))
    app.add_handler(CommandHandler("leaderboard", leaderboard_command, filters=new))
    app.add_handler(ButtonHandler(on_lobby_button, LobbyButton))
    # Its own handler group: the private quiz handler (group 0) sees every poll answer too
    # and ignores group polls, as this one ignores every poll that is not a group quiz's.
    app.add_handler(PollAnswerHandler(on_poll_answer), group=1)


# --- per-process runtime: locks and lobby-edit pacing (the state itself is in the database) --


@dataclass
class _Runtime:
    locks: dict[int, asyncio.Lock] = field(default_factory=dict)
    lobby_dirty: set[int] = field(default_factory=set)
    lobby_edited_at: dict[int, float] = field(default_factory=dict)  # time.monotonic()
    picked: set[int] = field(default_factory=set)  # sessions whose topic we chose

    def lock(self, session_id: int) -> asyncio.Lock:
        return self.locks.setdefault(session_id, asyncio.Lock())

    def forget(self, session_id: int) -> None:
        self.locks.pop(session_id, None)
        self.lobby_dirty.discard(session_id)
        self.lobby_edited_at.pop(session_id, None)
        self.picked.discard(session_id)


_RUNTIMES: weakref.WeakKeyDictionary[Any, _Runtime] = weakref.WeakKeyDictionary()


def _runtime(app: App) -> _Runtime:
    runtime = _RUNTIMES.get(app)
    if runtime is None:
        runtime = _RUNTIMES[app] = _Runtime()
    return runtime


def _services(app: App) -> Services:
    services_: Services = app.bot_data.services
    return services_


def job_name(session_id: int) -> str:
    return f"{JOB_PREFIX}{session_id}"


def _display_name(user: User) -> str:
    name = clean_text(user.full_name, NAME_MAX) or clean_text(user.username or "", NAME_MAX)
    return name or str(user.id)


def _starter(group_session: GroupSession) -> str:
    """The starter's name as shown (HTML); it is empty once they asked to be forgotten."""
    return escape(group_session.starter_name) or NAME_REMOVED


# --- commands --------------------------------------------------------------------------------


async def groupquiz_command(update: Update, context: Context) -> None:
    """`/groupquiz [thread or track] [seconds]`: open a lobby for a live quiz."""
    message, chat, user = update.effective_message, update.effective_chat, update.effective_user
    if message is None or chat is None or user is None:
        return
    if chat.type not in GROUP_CHATS:
        await message.reply_text(IN_PRIVATE)
        return
    svc = services(context)
    settings = svc.settings
    now = svc.now()
    try:
        topic_text, seconds = parse_groupquiz_args(context.args or [])
    except InputError as exc:
        await message.reply_text(str(exc))
        return
    with session_scope(svc.engine) as session:
        existing = q.active_session(session, chat.id)
        recent = q.recent_plan_ids(session, chat.id)
    if existing is not None:
        await _reply_already_running(message, existing)
        return

    library = svc.library()
    picked = topic_text is None
    if topic_text is None:
        topic = default_topic(library, recent)
        if topic is None:
            await message.reply_text("The library has no quiz questions yet.")
            return
    else:
        matches = find_topics(library, topic_text)
        if len(matches) != 1:
            await message.reply_text(
                _topic_hint(topic_text, matches or playable_topics(library)),
                parse_mode=ParseMode.HTML,
            )
            return
        topic = matches[0]

    questions = pick_questions(topic_questions(library, topic), settings.group_quiz_max_questions)
    try:
        with session_scope(svc.engine) as session:
            group_session = q.create_session(
                session,
                chat_id=chat.id,
                started_by=user.id,
                starter_name=_display_name(user),
                plan_kind=PlanKind(topic.kind),
                plan_id=topic.id,
                title=topic.title,
                questions=questions,
                open_period=seconds or settings.group_quiz_open_period,
                min_players=settings.group_quiz_min_players,
                lobby_deadline=now + dt.timedelta(seconds=settings.group_quiz_lobby_seconds),
                now=now,
            )
            players = [_display_name(user)]
    except q.SessionExists:
        with session_scope(svc.engine) as session:
            existing = q.active_session(session, chat.id)
        if existing is not None:
            await _reply_already_running(message, existing)
        return
    session_id = group_session.id
    assert session_id is not None
    runtime = _runtime(context.application)
    if picked:
        runtime.picked.add(session_id)
    async with runtime.lock(session_id):
        try:
            lobby = await message.reply_text(
                lobby_text(group_session, players, now, picked=picked),
                parse_mode=ParseMode.HTML,
                reply_markup=lobby_keyboard(),
            )
        except TelegramError:
            # No lobby, no way to join: free the group rather than block it until a restart.
            with session_scope(svc.engine) as session:
                q.end_session(session, session_id, now, "removed")
            raise
        with session_scope(svc.engine) as session:
            q.set_lobby_message(session, session_id, lobby.message_id)
        runtime.lobby_edited_at[session_id] = time.monotonic()
    assert group_session.lobby_deadline is not None
    _schedule(context.application, session_id, group_session.lobby_deadline)


async def _reply_already_running(message: Message, existing: GroupSession) -> None:
    state = "is waiting for players" if existing.status == GroupSessionStatus.lobby else "is on"
    reply_to = existing.lobby_message_id
    await message.reply_text(
        f"A quiz {state} here already (<b>{escape(existing.title)}</b>, started by "
        f"{_starter(existing)}). One at a time: /stopquiz ends it.",
        parse_mode=ParseMode.HTML,
        reply_parameters=(
            ReplyParameters(reply_to, allow_sending_without_reply=True) if reply_to else None
        ),
    )


def _topic_hint(text: str, topics: list[Topic]) -> str:
    lines = [
        f"<code>{escape(t.id)}</code> – {escape(t.title)} ({t.question_count} questions)"
        for t in topics[:12]
    ]
    return (
        f"Which one do you mean by “{escape(text[:60])}”? Send /groupquiz with one of these:\n"
        + "\n".join(lines)
    )


async def stopquiz_command(update: Update, context: Context) -> None:
    """`/stopquiz`: the starter or a group admin ends the quiz with the standings so far."""
    message, chat, user = update.effective_message, update.effective_chat, update.effective_user
    if message is None or chat is None or user is None:
        return
    if chat.type not in GROUP_CHATS:
        await message.reply_text(IN_PRIVATE)
        return
    svc = services(context)
    with session_scope(svc.engine) as session:
        group_session = q.active_session(session, chat.id)
    if group_session is None or group_session.id is None:
        await message.reply_text("No quiz is running here. Start one with /groupquiz.")
        return
    # An admin posting as the group ("anonymous admin") is an admin by definition.
    as_group = message.sender_chat is not None and message.sender_chat.id == chat.id
    allowed = (
        user.id == group_session.started_by
        or as_group
        or await is_group_admin(context.bot, chat.id, user.id)
    )
    if not allowed:
        await message.reply_text(
            f"Only {_starter(group_session)} (who started it) or a group admin can stop this quiz.",
            parse_mode=ParseMode.HTML,
        )
        return
    await stop_session(context.application, group_session.id, user.id, _display_name(user))


async def leaderboard_command(update: Update, context: Context) -> None:
    """`/leaderboard`: the group's all-time standings, summed over its finished quizzes."""
    message, chat = update.effective_message, update.effective_chat
    if message is None or chat is None:
        return
    if chat.type not in GROUP_CHATS:
        await message.reply_text(
            "Leaderboards belong to groups: send /leaderboard in a group where you play."
        )
        return
    svc = services(context)
    with session_scope(svc.engine) as session:
        totals, sessions = q.all_time_totals(session, chat.id)
    await message.reply_text(all_time_text(totals, sessions), parse_mode=ParseMode.HTML)


async def is_group_admin(bot: Bot, chat_id: int, user_id: int) -> bool:
    """Ask Telegram whether the user is the group's owner or one of its admins."""
    try:
        member = await bot.get_chat_member(chat_id, user_id)
    except BadRequest as exc:  # not a member, or the chat is gone
        log.info("getChatMember(%s, %s) refused: %s", chat_id, user_id, exc.message)
        return False
    except TelegramError as exc:
        log.warning("could not check whether %s administers %s: %s", user_id, chat_id, exc)
        return False
    return member.status in ADMIN_STATUSES


# --- lobby -----------------------------------------------------------------------------------


def lobby_keyboard() -> InlineKeyboardMarkup:
    """Join, Leave, Start: the lobby message they sit under says which session they act on."""

    def button(label: str, action: LobbyAction) -> InlineKeyboardButton:
        return InlineKeyboardButton(label, callback_data=encode(LobbyButton(action)))

    return InlineKeyboardMarkup(
        [
            [button("✋ Join", LobbyAction.JOIN), button("Leave", LobbyAction.LEAVE)],
            [button("▶️ Start", LobbyAction.START)],
        ]
    )


def _header(group_session: GroupSession) -> str:
    count = len(group_session.questions)
    return (
        f"🧠 <b>Group quiz</b> · {escape(group_session.title)}\n"
        f"{count} question{'s' if count != 1 else ''} · {group_session.open_period} s each"
    )


def lobby_text(
    group_session: GroupSession, names: list[str], now: dt.datetime, *, picked: bool = False
) -> str:
    """The lobby message: what is played, who joined, and when it starts."""
    starter = _starter(group_session)
    remaining = (
        (group_session.lobby_deadline - now).total_seconds()
        if group_session.lobby_deadline
        else 0.0
    )
    lines = [_header(group_session)]
    if picked:
        lines.append(
            "No topic given, so I picked this one. Choose with "
            "/groupquiz &lt;thread or track&gt; [seconds], e.g. /groupquiz csf-leaks 20."
        )
    lines.append("")
    lines.append(
        f"Press <b>Join</b> to play. {starter} can press <b>Start</b>; otherwise it starts "
        f"{countdown_text(remaining)} if at least {group_session.min_players} players joined."
    )
    lines.append("Points: " + SCORING_NOTE)
    roster = ", ".join(escape(n) for n in names) if names else "nobody yet"
    lines.append(f"\n<b>Players ({len(names)}):</b> {roster}")
    return "\n".join(lines)


def _started_text(group_session: GroupSession, names: list[str]) -> str:
    roster = ", ".join(escape(n) for n in names)
    return (
        f"{_header(group_session)}\n\n▶️ Started with {len(names)} players: {roster}.\n"
        "Answer each poll before its timer runs out; faster right answers score more. "
        "Anyone who answers a question joins in."
    )


async def on_lobby_button(update: Update, context: Context) -> None:
    """Join, Leave and Start under the lobby message.

    The session is the group's active one, and only under its own lobby message: a button
    carries no session id, so a press in another chat or under an old lobby reaches nothing.
    """
    query, user, chat = update.callback_query, update.effective_user, update.effective_chat
    if query is None or user is None or chat is None or query.message is None:
        return
    action = pressed(update, LobbyButton).action
    app = context.application
    svc = services(context)
    now = svc.now()
    with session_scope(svc.engine) as session:
        group_session = q.active_session(session, chat.id)
    lobby_id = group_session.lobby_message_id if group_session is not None else None
    # Until the lobby's message id is stored (just after it is sent) the group's only
    # lobby buttons are on that message.
    if (
        group_session is None
        or group_session.id is None
        or lobby_id not in (None, query.message.message_id)
    ):
        await query.answer("This quiz is over. Send /groupquiz to start another.")
        return
    if group_session.status != GroupSessionStatus.lobby:
        await query.answer("The quiz is on: answer the next question to join in.")
        return
    session_id = group_session.id

    if action == LobbyAction.JOIN:
        with session_scope(svc.engine) as session:
            added = q.add_player(session, session_id, user.id, _display_name(user), now)
            count = q.player_count(session, session_id)
        await query.answer(f"You're in! {count} players so far." if added else "You're in already.")
        if added:
            _lobby_changed(app, session_id)
    elif action == LobbyAction.LEAVE:
        with session_scope(svc.engine) as session:
            removed = q.remove_player(session, session_id, user.id)
        await query.answer("You left the quiz." if removed else "You had not joined.")
        if removed:
            _lobby_changed(app, session_id)
    else:
        if user.id != group_session.started_by and not await is_group_admin(
            context.bot, group_session.chat_id, user.id
        ):
            remaining = (
                (group_session.lobby_deadline - now).total_seconds()
                if group_session.lobby_deadline
                else 0.0
            )
            starter = group_session.starter_name or NAME_REMOVED
            await query.answer(
                f"Only {starter} or a group admin can start early; "
                f"it starts by itself {countdown_text(remaining)}."
            )
            return
        with session_scope(svc.engine) as session:
            count = q.player_count(session, session_id)
            started = count >= group_session.min_players and q.start_session(
                session, session_id, now
            )
        if started:
            await query.answer("Starting!")
            svc.spawn(_begin(app, session_id))
        elif count < group_session.min_players:
            await query.answer(
                f"Waiting for at least {group_session.min_players} players ({count} so far)."
            )
        else:
            await query.answer("It has started already.")


async def _begin(app: App, session_id: int) -> None:
    """After Start: show who plays in place of the lobby, then ask the first question."""
    async with _runtime(app).lock(session_id):
        snap = _snapshot(_services(app).engine, session_id)
        if snap is not None and snap.session.status == GroupSessionStatus.running:
            names = [p.name for p in snap.players]
            await _edit_lobby(app, snap.session, _started_text(snap.session, names), None)
    await run_group_tick(app, session_id)


def _lobby_changed(app: App, session_id: int) -> None:
    """Show the new roster soon: now, or once the last lobby edit is old enough."""
    runtime = _runtime(app)
    runtime.lobby_dirty.add(session_id)
    since = time.monotonic() - runtime.lobby_edited_at.get(session_id, float("-inf"))
    wait = LOBBY_EDIT_INTERVAL_SECONDS - since
    if wait <= 0:
        _services(app).spawn(run_group_tick(app, session_id))
    else:
        _schedule(app, session_id, _services(app).now() + dt.timedelta(seconds=wait))


async def _edit_lobby(
    app: App,
    group_session: GroupSession,
    text: str,
    keyboard: InlineKeyboardMarkup | None,
) -> None:
    if group_session.lobby_message_id is None or group_session.id is None:
        return
    runtime = _runtime(app)
    runtime.lobby_dirty.discard(group_session.id)
    runtime.lobby_edited_at[group_session.id] = time.monotonic()
    try:
        await app.bot.edit_message_text(
            text,
            chat_id=group_session.chat_id,
            message_id=group_session.lobby_message_id,
            parse_mode=ParseMode.HTML,
            reply_markup=keyboard,
        )
    except BadRequest as exc:  # "message is not modified", or it was deleted
        log.info("lobby of session %s not edited: %s", group_session.id, exc.message)
    except TelegramError as exc:
        log.warning("lobby of session %s not edited: %s", group_session.id, exc)


# --- answers ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class RecordedAnswer:
    session_id: int
    question_index: int
    correct: bool
    points: int
    everyone_answered: bool


def record_group_answer(
    engine: Engine,
    poll_id: str,
    user_id: int,
    name: str,
    option_ids: list[int],
    now: dt.datetime,
) -> RecordedAnswer | None:
    """Score an answer to the open question of a group session; None if it does not count
    (not a group poll, the question closed, or answered already)."""
    with session_scope(engine) as session:
        found = q.open_question_for_poll(session, poll_id)
        if found is None or found[0].id is None:
            return None
        group_session, correct_ids = found
        assert group_session.id is not None
        sent_at = group_session.question_sent_at or now
        seconds = answer_seconds(sent_at, now, group_session.open_period)
        correct = is_correct(option_ids, correct_ids)
        points = answer_points(correct, seconds, group_session.open_period)
        index = group_session.question_index - 1
        added = q.add_answer(
            session,
            group_session,
            user_id=user_id,
            name=name,
            poll_id=poll_id,
            option_ids=option_ids,
            correct=correct,
            seconds=seconds,
            points=points,
            now=now,
        )
        if not added:
            return None
        everyone = q.everyone_answered(session, group_session.id, index)
        return RecordedAnswer(group_session.id, index, correct, points, everyone)


async def on_poll_answer(update: Update, context: Context) -> None:
    """A player answered a group quiz poll: score it; when everyone has, close the question."""
    answer = update.poll_answer
    if answer is None or answer.user is None or not answer.option_ids:
        return
    svc = services(context)
    recorded = record_group_answer(
        svc.engine,
        answer.poll_id,
        answer.user.id,
        _display_name(answer.user),
        list(answer.option_ids),
        svc.now(),
    )
    if recorded is not None and recorded.everyone_answered:
        svc.spawn(run_group_tick(context.application, recorded.session_id))


# --- the session's clock ---------------------------------------------------------------------


async def group_quiz_job(context: Context) -> None:
    """JobQueue entry point: the tick of one session (its id is the job's data)."""
    job = context.job
    if job is None or not isinstance(job.data, int):
        return
    await run_group_tick(context.application, job.data)


async def run_group_tick(app: App, session_id: int) -> dt.datetime | None:
    """Do what is due for one session now and schedule the next tick; return when that is
    (None once the session is over)."""
    runtime = _runtime(app)
    svc = _services(app)
    try:
        async with runtime.lock(session_id):
            due = await _advance(app, session_id)
    except Exception:  # one session's failure must not stop its clock for good
        log.exception("group quiz session %s: tick failed; trying again later", session_id)
        due = svc.now() + RETRY_AFTER_ERROR
    if due is None:
        _cancel(app, session_id)
        runtime.forget(session_id)
    else:
        _schedule(app, session_id, due)
    return due


async def resume_group_sessions(app: App) -> list[int]:
    """At start-up: tick every session left in the lobby or running; return their ids."""
    with session_scope(_services(app).engine) as session:
        ids = q.active_session_ids(session)
    for session_id in ids:
        log.info("resuming group quiz session %s", session_id)
        await run_group_tick(app, session_id)
    return ids


def _schedule(app: App, session_id: int, due: dt.datetime) -> None:
    """Make sure the session's job runs by `due` (an earlier run already planned stays)."""
    job_queue = app.job_queue
    if job_queue is None:
        return
    delay = max(0.0, (due - _services(app).now()).total_seconds())
    target = dt.datetime.now(dt.UTC) + dt.timedelta(seconds=delay)
    existing = job_queue.get_jobs_by_name(job_name(session_id))
    for job in existing:
        planned = getattr(job.job, "next_run_time", None)
        if planned is not None and planned <= target:
            return
    for job in existing:
        job.schedule_removal()
    job_queue.run_once(
        group_quiz_job,
        when=delay,
        data=session_id,
        name=job_name(session_id),
        job_kwargs={"misfire_grace_time": None},
    )


def _cancel(app: App, session_id: int) -> None:
    if app.job_queue is None:
        return
    for job in app.job_queue.get_jobs_by_name(job_name(session_id)):
        job.schedule_removal()


@dataclass(frozen=True)
class _Snapshot:
    session: GroupSession
    players: list[GroupPlayer]
    everyone_answered: bool


def _snapshot(engine: Engine, session_id: int) -> _Snapshot | None:
    with session_scope(engine) as session:
        group_session = session.get(GroupSession, session_id)
        if group_session is None:
            return None
        everyone = bool(
            group_session.question_open
            and group_session.current_poll_id
            and q.everyone_answered(session, session_id, group_session.question_index - 1)
        )
        return _Snapshot(group_session, q.players(session, session_id), everyone)


async def _advance(app: App, session_id: int) -> dt.datetime | None:
    """Take every step that is due, in order; return when the next one is."""
    svc = _services(app)
    runtime = _runtime(app)
    for _step in range(1000):
        now = svc.now()
        snap = _snapshot(svc.engine, session_id)
        if snap is None or snap.session.status == GroupSessionStatus.finished:
            return None
        gs = snap.session
        names = [p.name for p in snap.players]

        if gs.status == GroupSessionStatus.lobby:
            deadline = gs.lobby_deadline or now
            if is_stale(deadline, now):
                await _cancel_lobby(
                    app,
                    gs,
                    now,
                    "interrupted",
                    "The lobby closed while I was offline. Send /groupquiz to start again.",
                )
                return None
            if deadline <= now:
                with session_scope(svc.engine) as session:
                    enough = q.player_count(session, session_id) >= gs.min_players
                    started = enough and q.start_session(session, session_id, now)
                if started:
                    await _edit_lobby(app, gs, _started_text(gs, names), None)
                    continue
                if not enough:
                    await _cancel_lobby(
                        app,
                        gs,
                        now,
                        "cancelled",
                        f"Not enough players joined ({len(names)} of {gs.min_players} needed), "
                        "so the quiz is off. Send /groupquiz to try again.",
                    )
                    return None
                continue
            if session_id in runtime.lobby_dirty:
                await _edit_lobby(
                    app,
                    gs,
                    lobby_text(gs, names, now, picked=session_id in runtime.picked),
                    lobby_keyboard(),
                )
            return deadline

        # Running.
        if gs.question_open:
            index = gs.question_index - 1
            deadline = gs.question_deadline or now
            if is_stale(deadline, now):
                await _finish(app, session_id, now, "interrupted")
                return None
            if deadline > now and not snap.everyone_answered:
                return deadline
            early = deadline > now
            with session_scope(svc.engine) as session:
                closed = q.close_question(
                    session,
                    session_id,
                    index,
                    next_question_at(now, gs.question_sent_at),
                    missed_seconds=float(gs.open_period),
                )
            if closed and early and gs.current_poll_id:
                await _stop_poll(app, gs)
            continue

        due = gs.next_question_at or now
        if is_stale(due, now):
            await _finish(app, session_id, now, "interrupted")
            return None
        if due > now:
            return due
        if gs.question_index >= len(gs.questions):
            await _finish(app, session_id, now, "completed")
            return None
        await _ask(app, gs, gs.question_index, now)
    raise RuntimeError(f"group quiz session {session_id} did not settle")


async def _ask(app: App, gs: GroupSession, index: int, now: dt.datetime) -> None:
    """Ask question `index`: claim it, send its poll, remember the poll."""
    svc = _services(app)
    assert gs.id is not None
    thread_id, question_id = gs.questions[index]
    library = svc.library()
    question = find_question(library, thread_id, question_id)
    with session_scope(svc.engine) as session:
        claimed = q.claim_question(
            session, gs.id, index, now, question_deadline(now, gs.open_period) + SEND_GRACE
        )
        if claimed and question is None:  # removed from the library: skip it
            log.warning("session %s: question %s/%s is gone", gs.id, thread_id, question_id)
            q.close_question(session, gs.id, index, now, missed_seconds=0.0)
    if not claimed or question is None:
        return
    numbered = f"{index + 1}/{len(gs.questions)} · {question.question}"
    if len(numbered) <= POLL_QUESTION_MAX:
        question = question.model_copy(update={"question": numbered})
    chat_id = gs.chat_id
    message: Message | None = None
    for _attempt in range(2):
        try:
            message = await send_quiz_poll(app.bot, chat_id, question, open_period=gs.open_period)
            break
        except ChatMigrated as exc:
            chat_id = exc.new_chat_id
            with session_scope(svc.engine) as session:
                q.move_chat(session, gs.id, chat_id)
        except Forbidden as exc:
            log.info("session %s: the bot can no longer post in %s: %s", gs.id, chat_id, exc)
            with session_scope(svc.engine) as session:
                q.end_session(session, gs.id, svc.now(), "removed")
            return
        except BadRequest as exc:  # before TelegramError: this question will never go out
            log.warning("session %s: question %s refused: %s", gs.id, question_id, exc.message)
            with session_scope(svc.engine) as session:
                q.close_question(session, gs.id, index, svc.now(), missed_seconds=0.0)
            return
        except TelegramError as exc:
            # A timeout does not prove the poll was not sent: leave the question to its time.
            log.warning("session %s: question %s may not have gone out: %s", gs.id, index, exc)
            return
    if message is None:
        return
    sent_at = svc.now()
    with session_scope(svc.engine) as session:
        recorded = q.record_question_poll(
            session,
            gs.id,
            index,
            message.poll.id if message.poll else "",
            sent_at,
            question_deadline(sent_at, gs.open_period),
        )
        if recorded:
            thread = library.threads[thread_id]
            record_poll(
                session, message, thread, question, PollKind.group, sent_at, session_id=gs.id
            )
    if not recorded:  # the session moved on while the poll was on its way
        await _stop_poll(app, gs, message.message_id, chat_id)


async def _stop_poll(
    app: App,
    gs: GroupSession,
    message_id: int | None = None,
    chat_id: int | None = None,
) -> None:
    """Close the question's poll now, so everyone sees the answer."""
    if message_id is None:
        with session_scope(_services(app).engine) as session:
            record = session.get(PollRecord, gs.current_poll_id) if gs.current_poll_id else None
            message_id = record.message_id if record else None
    if message_id is None:
        return
    try:
        await app.bot.stop_poll(chat_id or gs.chat_id, message_id)
    except BadRequest as exc:  # closed already (its time ran out) or deleted
        log.info("poll of session %s not stopped: %s", gs.id, exc.message)
    except TelegramError as exc:
        log.warning("poll of session %s not stopped: %s", gs.id, exc)


async def _cancel_lobby(
    app: App,
    gs: GroupSession,
    now: dt.datetime,
    reason: str,
    text: str,
    stopped_by: int | None = None,
) -> None:
    assert gs.id is not None
    with session_scope(_services(app).engine) as session:
        ended = q.end_session(session, gs.id, now, reason, stopped_by=stopped_by)
    if ended:
        await _edit_lobby(app, gs, f"{_header(gs)}\n\n{text}", None)


async def _finish(
    app: App,
    session_id: int,
    now: dt.datetime,
    reason: str,
    *,
    stopped_by: int | None = None,
    stopper_name: str = "",
) -> bool:
    """End a running session (once) and post its standings."""
    svc = _services(app)
    with session_scope(svc.engine) as session:
        before = session.get(GroupSession, session_id)
        if before is None:
            return False
        # Read before ending: the UPDATE below refreshes this object in the session.
        poll_open = before.question_open and before.current_poll_id is not None
        before = before.model_copy()
        ended = q.end_session(session, session_id, now, reason, stopped_by=stopped_by)
        players = q.players(session, session_id)
    if not ended:
        return False
    if reason == "stopped" and poll_open:
        await _stop_poll(app, before)
    if reason == "removed":
        return True
    try:
        await app.bot.send_message(
            before.chat_id,
            standings_text(before, players, reason, stopper_name),
            parse_mode=ParseMode.HTML,
        )
    except TelegramError as exc:
        log.warning("standings of session %s not posted: %s", session_id, exc)
    return True


async def stop_session(
    app: App,
    session_id: int,
    user_id: int,
    name: str,
) -> bool:
    """/stopquiz: end a lobby or a running session now; False if it had ended already."""
    svc = _services(app)
    now = svc.now()
    async with _runtime(app).lock(session_id):
        with session_scope(svc.engine) as session:
            gs = session.get(GroupSession, session_id)
        if gs is None or gs.status == GroupSessionStatus.finished:
            return False
        if gs.status == GroupSessionStatus.lobby:
            with session_scope(svc.engine) as session:
                ended = q.end_session(session, session_id, now, "stopped", stopped_by=user_id)
            if ended:
                await _edit_lobby(
                    app, gs, f"{_header(gs)}\n\n⏹ Called off by {escape(name)}.", None
                )
                await app.bot.send_message(
                    gs.chat_id,
                    f"⏹ The quiz was called off by {escape(name)}.",
                    parse_mode=ParseMode.HTML,
                )
        else:
            ended = await _finish(
                app, session_id, now, "stopped", stopped_by=user_id, stopper_name=name
            )
    if ended:
        _cancel(app, session_id)
        _runtime(app).forget(session_id)
    return ended


# --- standings -------------------------------------------------------------------------------

MEDALS = {1: "🥇", 2: "🥈", 3: "🥉"}


def _place(place: int) -> str:
    return MEDALS.get(place, f"{place}.")


def standings_text(
    gs: GroupSession, players: list[GroupPlayer], reason: str, stopper_name: str = ""
) -> str:
    """The standings posted when a session ends."""
    asked = gs.question_index
    total = len(gs.questions)
    title = escape(gs.title)
    if reason == "stopped":
        head = (
            f"⏹ <b>Quiz stopped</b> by {escape(stopper_name)} after {asked} of {total} "
            f"questions · {title}\nStandings so far:"
        )
    elif reason == "interrupted":
        head = (
            f"⚠️ <b>Quiz interrupted</b> (I was offline) after {asked} of {total} questions · "
            f"{title}\nFinal standings:"
        )
    else:
        head = f"🏁 <b>Quiz over</b> · {title}\n{asked} questions · {len(players)} players"
    ranked = rank_standings(players)
    if not ranked:
        return f"{head}\nNobody played."
    lines = [
        f"{_place(place)} {escape(p.name)} — <b>{p.score}</b> pts · "
        f"{p.correct}/{asked} right · {p.seconds:.1f} s"
        for place, p in ranked
    ]
    more = len(players) - len(ranked)
    if more > 0:
        lines.append(f"…and {more} more.")
    return "\n".join([head, "", *lines, "", SCORING_NOTE + " /leaderboard: all-time standings."])


def all_time_text(totals: list[q.PlayerTotals], sessions: int) -> str:
    """The group's all-time leaderboard."""
    if not totals:
        return "No finished quizzes in this group yet. Start one with /groupquiz."
    ranked = rank_standings(totals)
    lines = [
        f"{_place(place)} {escape(t.name)} — <b>{t.score}</b> pts · {t.correct} right · "
        f"{t.sessions} {'quiz' if t.sessions == 1 else 'quizzes'} · {t.seconds:.1f} s"
        for place, t in ranked
    ]
    plural = "quiz" if sessions == 1 else "quizzes"
    return "\n".join(
        [f"🏆 <b>All-time leaderboard</b> · {sessions} {plural}", "", *lines, "", SCORING_NOTE]
    )
