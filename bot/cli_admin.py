"""Operator commands: `tweetdrip schedule add|list|remove`, `tweetdrip stats`,
`tweetdrip export progress`.

They call the same services as the admin chat commands (bot/services/, bot/domain/admin.py
and the Telegram check in bot/targets.py), so a schedule made in a shell is checked exactly
like one made in Telegram. Each unit of work is retried while another process holds the
database's lock (storage/runner.py).

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
from typing import Annotated, Any

import typer
from telegram import Bot

from bot.clock import SystemClock
from bot.domain.admin import (
    PublishTarget,
    ScheduleRequest,
    parse_schedule_args,
    schedule_confirmation,
)
from bot.domain.timeparse import InputError
from bot.services import admin as admins
from bot.services import schedules
from bot.services.library import current_library
from bot.services.schedules import ScheduleConflict
from bot.settings import Settings, load_settings
from bot.targets import TargetError, check_publish_target
from bot.views import schedule_line, stats_table
from storage.db import make_engine
from storage.migrate import upgrade
from storage.runner import Database

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


def _database(settings: Settings) -> Database:
    engine = make_engine(settings.database_url)
    upgrade(engine)
    return Database(engine)


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
    settings = load_settings()
    db = _database(settings)
    now = SystemClock().now()
    try:
        request = parse_schedule_args(
            args,
            db.run_sync(current_library),
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
        schedule_id = db.run_sync(schedules.add_schedule, request, target, created_by, now)
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
    return PublishTarget(request.chat, "", "channel" if kind == ChatKind.channel else "group")


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
    db = _database(load_settings())
    lines = [
        schedule_line(s) for s in db.run_sync(schedules.schedules, db.run_sync(current_library))
    ]
    if not lines:
        typer.echo("Nothing is scheduled.")
    for line in lines:
        typer.echo(line)


@schedule_app.command("remove")
def schedule_remove(
    schedule_id: Annotated[int, typer.Argument(help="The schedule's id (see `schedule list`).")],
) -> None:
    """Remove a schedule; nothing more is sent for it."""
    db = _database(load_settings())
    removed = db.run_sync(schedules.remove_schedule, schedule_id)
    if removed is None:
        raise _fail(f"There is no schedule #{schedule_id}.")
    typer.echo(f"Removed schedule #{schedule_id}: {removed.plan_id} into {removed.chat}.")


def stats() -> None:
    """Subscribers, deliveries in the last 7 days, completions and accuracy per question."""
    db = _database(load_settings())
    report = db.run_sync(admins.stats, db.run_sync(current_library), SystemClock().now())
    typer.echo(stats_table(report))


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
    db = _database(load_settings())
    library = db.run_sync(current_library)
    rows = db.run_sync(admins.progress_rows, library)
    if output is None:
        admins.write_progress_csv(rows, sys.stdout)
        return
    with output.open("w", encoding="utf-8", newline="") as file:
        count = admins.write_progress_csv(rows, file)
    typer.echo(f"wrote {count} rows to {output}", err=True)
