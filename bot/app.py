"""The one place that builds the Telegram application and registers every handler and job."""

from __future__ import annotations

import asyncio
import gc
import logging
import signal
from functools import partial
from typing import Any, NoReturn

from sqlalchemy.engine import Engine
from telegram import Update
from telegram.error import Forbidden, TelegramError
from telegram.ext import Application, ApplicationBuilder

from bot.clock import Clock, SystemClock
from bot.commands import publish_command_menus
from bot.context import CONTEXT_TYPES, Context, Services
from bot.dispatch import dispatch_job, stop_delivering
from bot.handlers import admin, group, quiz, trainee
from bot.lanes import make_update_processor
from bot.library import load_current_library
from bot.outage import database_unavailable
from bot.ratelimit import make_rate_limiter
from bot.sending import ChatPacer
from bot.settings import Settings
from storage.db import make_engine

log = logging.getLogger(__name__)

DISPATCH_JOB = "dispatch"
STOP_SIGNALS = (signal.SIGTERM, signal.SIGINT)


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
        .post_init(_post_init)
        .post_stop(_post_stop)
        # Chats at the same time, each in order; replies marked for the fast lane; floods cut.
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

    # Order matters: commands first, then the modules' callbacks, then free text last.
    admin.register(app)
    group.register(app)
    quiz.register(app)
    trainee.register(app)
    app.add_error_handler(_on_error)

    if start_dispatcher:
        schedule_dispatcher(app)
    return app


def schedule_dispatcher(app: Application) -> None:
    """Run the delivery engine every DISPATCH_INTERVAL_SECONDS (it pauses itself while it runs)."""
    if app.job_queue is not None:
        app.job_queue.run_repeating(
            dispatch_job,
            interval=app.bot_data.services.settings.dispatch_interval_seconds,
            first=1,
            name=DISPATCH_JOB,
            job_kwargs={"max_instances": 1, "coalesce": True, "misfire_grace_time": None},
        )


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
