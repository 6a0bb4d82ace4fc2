"""Operator commands: `tweetdrip schedule add|list|remove`, `tweetdrip stats`,
`tweetdrip export progress`.

They call the same functions as the admin chat commands (bot/domain/admin.py,
storage/admin.py, and the Telegram check in bot/handlers/admin.py), so a schedule made in a
shell is checked exactly like one made in Telegram.

`schedule add` asks Telegram whether the bot can post into the chat when a bot token is
configured (TELEGRAM_BOT_TOKEN), as /schedule does. Without a token, or with --no-check, it
cannot ask, so the chat must be given by its numeric id and --kind must say whether it is a
group or a channel; everything else is validated all the same.
"""

from __future__ import annotations

import asyncio
import sys
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from sqlalchemy.engine import Engine
from telegram import Bot

from bot.clock import SystemClock
from bot.domain.admin import (
    PublishTarget,
    ScheduleConflict,
    ScheduleRequest,
    format_stats_table,
    parse_schedule_args,
    schedule_confirmation,
    schedule_line,
    store_schedule,
    write_progress_csv,
)
from bot.domain.timeparse import InputError
from bot.handlers.admin import TargetError, check_publish_target
from bot.library import load_current_library
from storage import admin as store
from storage.db import make_engine, session_scope
from storage.migrate import upgrade
from storage.models import SubscriptionKind

if TYPE_CHECKING:
    from bot.settings import Settings

schedule_app = typer.Typer(
    help="Publish threads and tracks into groups and channels as a drip.",
    no_args_is_help=True,
)
export_app = typer.Typer(help="Export data for analysis.", no_args_is_help=True)


class ChatKind(StrEnum):
    group = "group"
    channel = "channel"


class ExportFormat(StrEnum):
    csv = "csv"


def _settings() -> Settings:
    from bot.cli import load_settings  # bot.cli mounts this module: import it late

    return load_settings()


def _engine(settings: Settings) -> Engine:
    engine = make_engine(settings.database_url)
    upgrade(engine)
    return engine


def _fail(message: str) -> typer.Exit:
    typer.echo(message, err=True)
    return typer.Exit(1)


@schedule_app.command(
    "add",
    # Chat ids are negative numbers: let them through as arguments, not as options.
    context_settings={"ignore_unknown_options": True},
)
def schedule_add(
    args: Annotated[
        list[str],
        typer.Argument(
            help="<thread|track> <chat> <YYYY-MM-DD> <HH:MM> [time zone] [posts per day], "
            "as for /schedule in Telegram.",
            show_default=False,
        ),
    ],
    kind: Annotated[
        ChatKind | None,
        typer.Option(help="group or channel; required when Telegram is not asked."),
    ] = None,
    check: Annotated[
        bool,
        typer.Option(
            help="Ask Telegram whether the bot is an admin who may post there "
            "(needs TELEGRAM_BOT_TOKEN; on by default when one is set)."
        ),
    ] = True,
    created_by: Annotated[
        int | None, typer.Option("--by", help="The admin's Telegram user id, for the record.")
    ] = None,
) -> None:
    """Schedule a thread or track into a group or channel, starting at a local date and time."""
    settings = _settings()
    engine = _engine(settings)
    now = SystemClock().now()
    try:
        request = parse_schedule_args(
            args,
            load_current_library(engine),
            now,
            default_timezone=settings.default_timezone,
            default_pace=settings.default_pace,
        )
    except InputError as exc:
        raise _fail(str(exc)) from None
    asks_telegram = check and settings.telegram_bot_token is not None
    try:
        if asks_telegram:
            target = asyncio.run(_check_with_telegram(settings, request))
        else:
            target = _unchecked_target(request, kind)
        schedule_id = store_schedule(engine, request, target, created_by, now)
    except (TargetError, ScheduleConflict, InputError) as exc:
        raise _fail(str(exc)) from None
    for line in schedule_confirmation(schedule_id, request, target):
        typer.echo(line)
    if not asks_telegram:
        typer.echo(
            "Not checked with Telegram (no TELEGRAM_BOT_TOKEN, or --no-check): make sure the bot "
            "is an admin there who may post, or the sends will fail."
        )


def _unchecked_target(request: ScheduleRequest, kind: ChatKind | None) -> PublishTarget:
    if isinstance(request.chat, str):
        raise InputError(
            f"{request.chat} can only be looked up with Telegram. Give the chat's numeric id, "
            "or configure TELEGRAM_BOT_TOKEN."
        )
    if kind is None:
        raise InputError(
            "Say --kind group or --kind channel: without Telegram I can't tell which it is."
        )
    return PublishTarget(request.chat, "", SubscriptionKind(kind.value))


async def _check_with_telegram(settings: Settings, request: ScheduleRequest) -> PublishTarget:
    assert settings.telegram_bot_token is not None
    options: dict[str, Any] = {}
    if settings.telegram_api_base_url:
        options["base_url"] = settings.telegram_api_base_url
        options["base_file_url"] = settings.telegram_api_file_url or (
            settings.telegram_api_base_url.replace("/bot", "/file/bot", 1)
        )
    bot = Bot(settings.telegram_bot_token.get_secret_value(), **options)
    async with bot:
        return await check_publish_target(bot, request.chat)


@schedule_app.command("list")
def schedule_list() -> None:
    """List the schedules with their next send in each schedule's local time."""
    settings = _settings()
    engine = _engine(settings)
    library = load_current_library(engine)
    with session_scope(engine) as session:
        lines = [schedule_line(sub, library) for sub in store.schedules(session)]
    if not lines:
        typer.echo("Nothing is scheduled.")
    for line in lines:
        typer.echo(line)


@schedule_app.command("remove")
def schedule_remove(
    schedule_id: Annotated[int, typer.Argument(help="The schedule's id (see `schedule list`).")],
) -> None:
    """Remove a schedule; nothing more is sent for it."""
    engine = _engine(_settings())
    with session_scope(engine) as session:
        removed = store.delete_schedule(session, schedule_id)
    if removed is None:
        raise _fail(f"There is no schedule #{schedule_id}.")
    typer.echo(
        f"Removed schedule #{schedule_id}: {removed.plan_id} into "
        f"{removed.name or removed.chat_id}."
    )


def stats() -> None:
    """Subscribers, deliveries in the last 7 days, completions and accuracy per question."""
    engine = _engine(_settings())
    library = load_current_library(engine)
    with session_scope(engine) as session:
        report = store.collect_stats(session, library, SystemClock().now())
    typer.echo(format_stats_table(report))


@export_app.command("progress")
def export_progress(
    format: Annotated[ExportFormat, typer.Option(help="Output format.")] = ExportFormat.csv,
    output: Annotated[
        Path | None,
        typer.Option(help="Write to this file instead of standard output.", dir_okay=False),
    ] = None,
) -> None:
    """One row per trainee per thread: user id, name, thread, posts delivered, questions
    answered, accuracy (0-1), last activity (UTC)."""
    engine = _engine(_settings())
    library = load_current_library(engine)
    with session_scope(engine) as session:
        rows = store.progress_rows(session, library)
    if output is None:
        write_progress_csv(rows, sys.stdout)
        return
    with output.open("w", encoding="utf-8", newline="") as file:
        count = write_progress_csv(rows, file)
    typer.echo(f"wrote {count} rows to {output}", err=True)
