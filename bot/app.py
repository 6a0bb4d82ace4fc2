"""The one place that builds the Telegram application and registers every handler and job."""

from __future__ import annotations

import asyncio
import gc
import logging
import signal
from dataclasses import dataclass, field
from functools import partial
from html import escape
from typing import Any, NoReturn

from sqlalchemy.engine import Engine
from telegram import Update
from telegram.constants import ChatType, ParseMode
from telegram.error import Forbidden, TelegramError
from telegram.ext import (
    Application,
    ApplicationBuilder,
    BaseHandler,
    CommandHandler,
    Defaults,
    MessageHandler,
    PollAnswerHandler,
    TypeHandler,
    filters,
)

from bot.callbacks import (
    ButtonHandler,
    ChangeSetting,
    ConfirmForget,
    ImportChoice,
    InvalidButtonHandler,
    LobbyButton,
    OnboardingAnswer,
    RetakeThread,
)
from bot.clock import Clock, SystemClock
from bot.commands import publish_command_menus
from bot.context import CONTEXT_TYPES, Context, Services
from bot.dispatch import dispatch_job, stop_delivering
from bot.handlers import admin, group, quiz, trainee
from bot.lanes import make_update_processor
from bot.outage import database_unavailable
from bot.ratelimit import make_rate_limiter
from bot.sending import ChatPacer
from bot.services.library import load_current_library
from bot.settings import Settings
from storage.db import make_engine
from storage.runner import DatabaseBusy

log = logging.getLogger(__name__)

DISPATCH_JOB = "dispatch"
REMINDER_JOB = "quiz-reminders"
REMINDER_INTERVAL_SECONDS = 300.0
STOP_SIGNALS = (signal.SIGTERM, signal.SIGINT)

# Handler groups: PTB runs at most one handler per group for an update, groups in ascending
# order, and a handler raising ApplicationHandlerStop ends the update there.
ACTIVITY_GROUP = -1  # every message or press of a trainee counts as activity; never stops
MAIN_GROUP = 0  # commands, buttons, trainees' poll answers, free text
GROUP_QUIZ_ANSWERS = 1  # group quiz poll answers (after trainees' polls are ruled out)

PRIVATE = filters.ChatType.PRIVATE
# New messages only: an edited `/pause` does not pause again, an edited `/broadcast` does
# not send the announcement again, an edited answer is not said again.
NEW = filters.UpdateType.MESSAGE


def handlers() -> list[tuple[int, BaseHandler[Any, Any, Any]]]:
    """Every handler of the bot with its group, in the order PTB tries them."""
    private = PRIVATE & NEW
    admin_commands = [
        ("admin", admin.admin_command),
        ("threads", admin.threads_command),
        ("preview", admin.preview_command),
        ("schedule", admin.schedule_command),
        ("schedules", admin.schedules_command),
        ("unschedule", admin.unschedule_command),
        ("import", admin.import_command),
        ("stats", admin.stats_command),
        ("broadcast", admin.broadcast_command),
    ]
    trainee_commands = [
        ("settings", trainee.settings_command),
        ("next", trainee.next_command),
        ("pause", trainee.pause),
        ("resume", trainee.resume),
        ("stop", trainee.stop),
        ("forget", trainee.forget),
        ("quiz", quiz.quiz_command),
        ("review", quiz.review_command),
        ("progress", quiz.progress_command),
    ]
    return [
        (ACTIVITY_GROUP, TypeHandler(Update, quiz.note_activity)),
        # Trainees' quiz polls: recorded, then ApplicationHandlerStop. Any other poll answer
        # passes on untouched to GROUP_QUIZ_ANSWERS; nothing else in this group takes one.
        (MAIN_GROUP, PollAnswerHandler(quiz.on_poll_answer)),
        (GROUP_QUIZ_ANSWERS, PollAnswerHandler(group.on_poll_answer)),
        # Admin commands answer everywhere (admin_only refuses strangers and groups), and
        # take documents: an admin's file is an import, anyone else's is refused.
        *[(MAIN_GROUP, CommandHandler(n, c, filters=NEW)) for n, c in admin_commands],
        (MAIN_GROUP, MessageHandler(private & filters.Document.ALL, admin.import_document)),
        (MAIN_GROUP, CommandHandler("groupquiz", group.groupquiz_command, filters=NEW)),
        (MAIN_GROUP, CommandHandler("stopquiz", group.stopquiz_command, filters=NEW)),
        (MAIN_GROUP, CommandHandler("leaderboard", group.leaderboard_command, filters=NEW)),
        (MAIN_GROUP, CommandHandler("start", trainee.start, filters=private)),
        (
            MAIN_GROUP,
            CommandHandler("start", trainee.start_in_group, filters=filters.ChatType.GROUPS & NEW),
        ),
        (MAIN_GROUP, CommandHandler("help", trainee.help_command, filters=NEW)),
        (MAIN_GROUP, CommandHandler("about", trainee.about, filters=NEW)),
        *[(MAIN_GROUP, CommandHandler(n, c, filters=private)) for n, c in trainee_commands],
        (MAIN_GROUP, ButtonHandler(admin.import_choice, ImportChoice)),
        (MAIN_GROUP, ButtonHandler(group.on_lobby_button, LobbyButton)),
        (MAIN_GROUP, ButtonHandler(quiz.on_thread_choice, RetakeThread)),
        (MAIN_GROUP, ButtonHandler(trainee.on_onboarding_answer, OnboardingAnswer)),
        (MAIN_GROUP, ButtonHandler(trainee.on_setting, ChangeSetting)),
        (MAIN_GROUP, ButtonHandler(trainee.on_forget_answer, ConfirmForget)),
        # Any press no button handler takes (forged, stale, inline) is answered and ignored;
        # it only matches what they refuse, so its place among them does not matter.
        (MAIN_GROUP, InvalidButtonHandler()),
        # Last: free text answers the question being asked, and any command no handler
        # above took is an unknown one.
        (MAIN_GROUP, MessageHandler(private & filters.TEXT & ~filters.COMMAND, trainee.on_text)),
        (MAIN_GROUP, MessageHandler(private & filters.COMMAND, trainee.unknown_command)),
    ]


@dataclass(frozen=True)
class RepeatingJob:
    name: str  # stable: a restart or a test finds the job by it
    callback: Any
    interval: float
    first: float
    job_kwargs: dict[str, Any] = field(default_factory=dict)


def jobs(settings: Settings, *, dispatcher: bool) -> list[RepeatingJob]:
    """The repeating jobs (group quizzes add one-off jobs of their own while they run)."""
    # At most one run of each at a time; runs missed while one was running are merged.
    once = {"max_instances": 1, "coalesce": True}
    found = [
        RepeatingJob(
            REMINDER_JOB,
            quiz.quiz_reminder_job,
            REMINDER_INTERVAL_SECONDS,
            REMINDER_INTERVAL_SECONDS,
            once,
        )
    ]
    if dispatcher:
        # The delivery engine pauses itself while it runs; a late tick is never skipped.
        found.append(
            RepeatingJob(
                DISPATCH_JOB,
                dispatch_job,
                settings.dispatch_interval_seconds,
                1,
                {**once, "misfire_grace_time": None},
            )
        )
    return found


class MissingToken(RuntimeError):
    """No bot token was configured."""


def build_application(
    settings: Settings,
    *,
    engine: Engine | None = None,
    clock: Clock | None = None,
    start_dispatcher: bool = True,
) -> Application:
    """Build the Application: services, handlers in order, the error handler and the dispatcher."""
    if settings.telegram_bot_token is None:
        raise MissingToken
    services = Services(
        settings=settings,
        engine=engine or make_engine(settings.database_url),
        library_loader=load_current_library,
        clock=clock or SystemClock(),
        pacer=ChatPacer(settings.private_chat_interval_seconds),
    )
    builder: ApplicationBuilder[Any, Any, Any, Any, Any, Any] = (
        ApplicationBuilder()
        .token(settings.telegram_bot_token.get_secret_value())
        .context_types(CONTEXT_TYPES)
        # Replies are HTML with every piece of content escaped; text that is not HTML (an
        # announcement, a poll's question) says parse_mode=None.
        .defaults(Defaults(parse_mode=ParseMode.HTML))
        .post_init(_post_init)
        .post_stop(_post_stop)
        # Chats at the same time, each in order (a reply waiting on the database or on its
        # chat's pace holds up no other chat); replies marked for the fast lane; floods cut.
        .concurrent_updates(make_update_processor(settings))
    )
    timeout = settings.telegram_timeout_seconds
    builder = builder.read_timeout(timeout).write_timeout(timeout).connect_timeout(timeout)
    # Sends beyond the pool's connections queue for one (up to the same timeout) instead of
    # failing after PTB's default of 1 s.
    builder = builder.connection_pool_size(settings.telegram_connections).pool_timeout(timeout)
    if settings.telegram_api_base_url:
        builder = builder.base_url(settings.telegram_api_base_url)
        builder = builder.base_file_url(
            settings.telegram_api_file_url
            or settings.telegram_api_base_url.replace("/bot", "/file/bot", 1)
        )
    if settings.rate_limit:
        # Overall ~30 msg/s (replies first), 20 msg/min per group, ~1 msg/s per private chat;
        # on PostgreSQL the overall budget is shared by every bot process (bot/ratelimit.py).
        builder = builder.rate_limiter(make_rate_limiter(settings, services.engine, services.pacer))
    app = builder.build()
    app.bot_data.services = services

    for handler_group, handler in handlers():
        app.add_handler(handler, group=handler_group)
    app.add_error_handler(_on_error)
    for job in jobs(settings, dispatcher=start_dispatcher):
        _schedule(app, job)
    return app


def _schedule(app: Application, job: RepeatingJob) -> None:
    if app.job_queue is not None:
        app.job_queue.run_repeating(
            job.callback,
            interval=job.interval,
            first=job.first,
            name=job.name,
            job_kwargs=job.job_kwargs,
        )


def schedule_dispatcher(app: Application) -> None:
    """Run the delivery engine every DISPATCH_INTERVAL_SECONDS (it pauses itself while it runs)."""
    settings = app.bot_data.services.settings
    for job in jobs(settings, dispatcher=True):
        if job.name == DISPATCH_JOB:
            _schedule(app, job)


def run_polling(app: Application) -> None:
    """Long polling until SIGTERM or SIGINT. The delivery engine hears of the signal first,
    before the application waits for its jobs (`stop_signal`)."""
    loop = asyncio.new_event_loop()
    asyncio.set_event_loop(loop)  # the loop run_polling takes, with our handlers on it
    for signum in STOP_SIGNALS:
        loop.add_signal_handler(signum, partial(stop_signal, app))
    # PTB installs no handlers of its own, and closes the loop when it is done.
    app.run_polling(allowed_updates=Update.ALL_TYPES, stop_signals=None)


def stop_signal(app: Application) -> NoReturn:
    """On SIGTERM/SIGINT: stop the delivery engine, then stop the application the way PTB's
    own signal handler does (SystemExit out of the running loop; run_polling catches it and
    shuts down: updates, jobs, post_stop)."""
    stop_delivering(app)
    raise SystemExit


async def _post_init(app: Application) -> None:
    await publish_command_menus(app)
    # Group quizzes left open by a restart pick up where they were (or end cleanly).
    await group.resume_group_sessions(app)
    freeze_startup_objects()


def freeze_startup_objects() -> None:
    """Keep everything loaded so far (library, modules, which live as long as the process)
    out of the garbage collector's scans, which otherwise dominate the slowest replies."""
    gc.collect()
    gc.freeze()


async def _post_stop(app: Application) -> None:
    await app.bot_data.services.drain()
    app.bot_data.services.db.close()
    gc.unfreeze()


async def _on_error(update: object, context: Context) -> None:
    """Log first; then, where there is a chat, tell the person something went wrong."""
    if isinstance(context.error, DatabaseBusy):
        await _tell_busy(update, context)
        return
    if context.error is not None and database_unavailable(context.error):
        # An outage fails every update and job alike: logged once, not once per failure.
        what = "a job" if update is None else "handling an update"
        context.bot_data.services.outages.failed(context.error, what)
    else:
        log.error("error while handling an update", exc_info=context.error)
    if isinstance(context.error, Forbidden):
        return
    if isinstance(update, Update) and update.effective_chat is not None:
        try:
            await context.bot.send_message(
                update.effective_chat.id,
                "Sorry, something went wrong on my side. Nothing you did was lost; "
                "please try again in a minute.",
            )
        except TelegramError:
            log.warning("could not tell chat %s about the error", update.effective_chat.id)


async def _tell_busy(update: object, context: Context) -> None:
    """The database stayed locked longer than a person should wait: say what was not done."""
    if not isinstance(update, Update):
        log.warning("a job gave up: the database stayed busy")
        return
    log.warning("update %s not handled: the database stayed busy", update.update_id)
    chat_id, text = _busy_reply(update)
    if chat_id is None:
        return
    try:
        await context.bot.send_message(chat_id, text)
    except TelegramError:
        log.warning("could not tell chat %s the database was busy", chat_id)


BUSY = "⏳ The database is busy right now"


def _busy_reply(update: Update) -> tuple[int | None, str]:
    """Where to say it, and what was not done: the command by name when there is one."""
    if update.poll_answer is not None:
        user = update.poll_answer.user
        # Quiz answers cannot be given twice; only a trainee's private chat hears of it.
        private = user.id if user is not None else None
        return private, f"{BUSY}, so your quiz answer was not recorded. Sorry!"
    chat = update.effective_chat
    if chat is None:
        return None, ""
    message = update.effective_message
    if update.callback_query is not None:
        return chat.id, f"{BUSY}: your button press was not done. Please press it again."
    words = (message.text or message.caption or "").split() if message is not None else []
    if words and words[0].startswith("/"):
        command = escape(words[0].split("@")[0][:40])
        return chat.id, f"{BUSY}: your {command} was not done. Please send it again."
    if chat.type != ChatType.PRIVATE:
        return None, ""  # a group's chatter was not for the bot
    return chat.id, f"{BUSY}: your message was not handled. Please send it again."
