"""Every chat command, once: the command menus, /help and the README are built from this list."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

from sqlmodel import select
from telegram import (
    BotCommand,
    BotCommandScopeAllGroupChats,
    BotCommandScopeAllPrivateChats,
    BotCommandScopeChat,
)
from telegram.error import TelegramError
from telegram.ext import Application

from storage.db import session_scope
from storage.models import Admin

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Command:
    name: str
    args: str
    description: str


TRAINEE_COMMANDS = [
    Command("start", "[track]", "Subscribe, or pick up where you left off"),
    Command("next", "", "Get the next installment now"),
    Command("quiz", "[thread]", "Retake the questions of threads you have read"),
    Command("review", "", "Answer the review questions that are due"),
    Command("progress", "", "Your progress, accuracy and streak, with a chart"),
    Command("settings", "", "Change track, delivery time, time zone, pace or reminders"),
    Command("pause", "", "Pause the daily drip"),
    Command("resume", "", "Resume the daily drip"),
    Command("stop", "", "Unsubscribe (your progress is kept)"),
    Command("about", "", "Authors and sources of the tweetorials"),
    Command("forget", "", "Delete everything stored about you"),
    Command("help", "", "What tweetdrip can do"),
]

GROUP_COMMANDS = [
    Command("groupquiz", "[thread or track] [seconds]", "Start a live quiz in this group"),
    Command("stopquiz", "", "End the running quiz with the standings so far"),
    Command("leaderboard", "", "This group's all-time standings"),
    Command("help", "", "What tweetdrip can do here"),
]

ADMIN_COMMANDS = [
    Command("threads", "", "List the library"),
    Command("preview", "<thread>", "See a thread and its quiz exactly as trainees will"),
    Command(
        "schedule",
        "<thread|track> <chat> <YYYY-MM-DD HH:MM> [zone] [posts/day]",
        "Publish a drip into a group or channel",
    ),
    Command("schedules", "", "List scheduled drips and their next send"),
    Command("unschedule", "<id>", "Remove a scheduled drip"),
    Command("import", "", "Import a .md, .txt or .yaml file into the library"),
    Command("stats", "", "Subscribers, deliveries, completions and accuracy"),
    Command("broadcast", "<text>", "Send an announcement to all active subscribers"),
    Command("admin", "add|remove|list [user id]", "Manage admins"),
]


def help_lines(commands: list[Command]) -> list[str]:
    return [f"/{c.name}{' ' + c.args if c.args else ''} – {c.description}" for c in commands]


def _menu(commands: list[Command]) -> list[BotCommand]:
    return [BotCommand(c.name, c.description[:256]) for c in commands]


def admin_ids(app: Application) -> set[int]:
    """ADMIN_IDS from the settings plus admins granted with /admin add."""
    services = app.bot_data.services
    with session_scope(services.engine) as session:
        granted = set(session.exec(select(Admin.user_id)).all())
    return set(services.settings.admin_ids) | granted


async def publish_command_menus(app: Application) -> None:
    """Trainees see their commands, groups theirs, and admins also see the admin commands."""
    bot = app.bot
    await bot.set_my_commands(_menu(TRAINEE_COMMANDS), scope=BotCommandScopeAllPrivateChats())
    await bot.set_my_commands(_menu(GROUP_COMMANDS), scope=BotCommandScopeAllGroupChats())
    for user_id in sorted(admin_ids(app)):
        await publish_admin_menu(app, user_id)


async def publish_admin_menu(app: Application, user_id: int, *, admin: bool = True) -> None:
    """Show (or, with admin=False, take away) the admin commands in one admin's private chat."""
    scope: Any = BotCommandScopeChat(user_id)
    try:
        if admin:
            await app.bot.set_my_commands(_menu(TRAINEE_COMMANDS + ADMIN_COMMANDS), scope=scope)
        else:
            await app.bot.delete_my_commands(scope=scope)
    except TelegramError as exc:  # the admin never opened a chat with the bot
        log.info("could not set the admin menu for %s: %s", user_id, exc)
