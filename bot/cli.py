"""`tweetdrip`: run the bot, migrate the database, manage content, schedules and reports."""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path
from typing import Annotated, Any

import typer
from telegram.error import InvalidToken, NetworkError
from telegram.ext import Application
from typer.core import TyperGroup

from bot import cli_admin
from bot.app import MissingToken, build_application, run_polling
from bot.console.server import ConsoleStartError, attach_to_polling, for_webhook
from bot.logs import configured_secrets, redact, redact_output, secret_values, setup_logging
from bot.settings import SettingsError, load_settings
from content.cli import app as content_app
from storage.db import (
    DatabaseUnavailable,
    is_sqlite,
    make_engine,
    parse_url,
    safe_url,
    session_scope,
)
from storage.drip import release_all_leases
from storage.migrate import upgrade
from storage.runner import DatabaseBusy


class _Commands(TyperGroup):
    """The command group: a database that cannot be opened, or settings that are not valid,
    are a line each, not a traceback."""

    def invoke(self, ctx: Any) -> Any:  # typer's own click Context, which it does not export
        try:
            return super().invoke(ctx)
        except DatabaseUnavailable as exc:
            typer.echo(str(exc), err=True)
            raise typer.Exit(1) from None
        except SettingsError as exc:
            for problem in exc.problems:
                typer.echo(problem, err=True)
            raise typer.Exit(2) from None
        except DatabaseBusy:
            typer.echo(
                "The database stayed locked by another process; nothing was changed. "
                "Try again in a moment.",
                err=True,
            )
            raise typer.Exit(1) from None


app = typer.Typer(
    cls=_Commands,
    help="tweetdrip: a Telegram bot that drips medical tweetorials to trainees.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
db_app = typer.Typer(help="Database maintenance.", no_args_is_help=True)
app.add_typer(db_app, name="db")
app.add_typer(content_app, name="content")
app.add_typer(cli_admin.schedule_app, name="schedule")
app.add_typer(cli_admin.export_app, name="export")

TOKEN_HELP = """\
tweetdrip needs a Telegram bot token. Open a chat with @BotFather in Telegram, send /newbot,
choose a name and a username, and BotFather replies with a token like 123456789:AA...;
put it in the environment as TELEGRAM_BOT_TOKEN (or in a .env file in this folder) and run
this command again. To try tweetdrip without a token, run `tweetdrip sandbox`."""


@app.command()
def run(
    webhook: Annotated[
        bool, typer.Option(help="Receive updates by webhook (WEBHOOK_URL) instead of polling.")
    ] = False,
) -> None:
    """Run the bot (long polling by default); migrates the database first."""
    settings = load_settings()
    secrets = secret_values(settings)
    setup_logging(settings.log_level, secrets)
    engine = make_engine(settings.database_url)
    upgrade(engine)
    if is_sqlite(engine):
        # SQLite means one process: leases left by a previous run that died can go at once.
        with session_scope(engine) as session:
            release_all_leases(session)
    try:
        application = build_application(settings, engine=engine)
    except MissingToken:
        typer.echo(TOKEN_HELP, err=True)
        raise typer.Exit(2) from None
    try:
        asyncio.run(_check_token(application))
    except InvalidToken:
        typer.echo("Telegram rejected the token.\n\n" + TOKEN_HELP, err=True)
        raise typer.Exit(2) from None
    except NetworkError as exc:
        typer.echo(
            f"Could not reach Telegram: {redact(str(exc), secrets)}. Check the network, or "
            "TELEGRAM_API_BASE_URL if you use a local Bot API server.",
            err=True,
        )
        raise typer.Exit(3) from None
    try:
        # The web console (WEB_PORT) runs on the same event loop as the bot.
        if webhook:
            from bot.webhook import run_webhook

            run_webhook(application, settings, extend=for_webhook(application).extend)
        else:
            attach_to_polling(application)
            run_polling(application)
    except InvalidToken:
        typer.echo("Telegram rejected the token.\n\n" + TOKEN_HELP, err=True)
        raise typer.Exit(2) from None
    except ConsoleStartError as exc:
        typer.echo(str(exc), err=True)
        raise typer.Exit(1) from None


async def _check_token(application: Application) -> None:
    """Ask Telegram who we are before starting, so a bad token gets a plain answer."""
    async with application.bot:
        await application.bot.get_me()


@db_app.command("upgrade")
def db_upgrade() -> None:
    """Create or migrate the database to the latest schema."""
    settings = load_settings()
    upgrade(make_engine(settings.database_url))
    typer.echo(f"database is up to date ({safe_url(settings.database_url)})")


@db_app.command("backup")
def db_backup(
    target: Annotated[
        Path, typer.Argument(help="The copy to write, e.g. /data/backups/tweetdrip-2026-01-05.db")
    ],
    overwrite: Annotated[bool, typer.Option(help="Replace TARGET if it exists.")] = False,
) -> None:
    """Copy the live SQLite database consistently (online backup; for PostgreSQL use pg_dump)."""
    from storage.backup import BackupError, backup_sqlite, sqlite_path

    settings = load_settings()
    parse_url(settings.database_url)  # an unusable URL is explained like everywhere else
    try:
        result = backup_sqlite(sqlite_path(settings.database_url), target, overwrite=overwrite)
    except BackupError as exc:
        typer.echo(str(exc), err=True)
        raise typer.Exit(1) from None
    typer.echo(
        f"backed up {result.source} to {result.target} "
        f"({result.size_bytes:,} bytes, {result.tables} tables)"
    )


@app.command()
def health(
    url: Annotated[
        str | None,
        typer.Option(help="Ask this /healthz address (default: the local webhook server)."),
    ] = None,
) -> None:
    """Check the database and Telegram; exit 0 when both answer (the Docker HEALTHCHECK)."""
    import asyncio
    import json

    from bot.health import probe

    ok, body = asyncio.run(probe(load_settings(), url))
    typer.echo(json.dumps(body, indent=2))
    raise typer.Exit(0 if ok else 1)


@app.command()
def sandbox(
    database: Annotated[
        Path | None,
        typer.Option(help="Keep the data in this SQLite file (default: a temporary one)."),
    ] = None,
) -> None:
    """Try tweetdrip in this terminal against a local Telegram emulator; no token needed."""
    from bot.sandbox import run_sandbox

    run_sandbox(database=database)


@app.command("console-url")
def console_url(
    user: Annotated[int, typer.Option("--user", help="The Telegram user id to sign in as.")],
    name: Annotated[
        str | None,
        typer.Option(help="The name the console shows (default: the trainee's, or 'User ID')."),
    ] = None,
) -> None:
    """Print a signed link to the web console as USER, for use on this machine.

    The link is WEB_URL's (or http://127.0.0.1:WEB_PORT's) /app/ with Mini App init data in
    the fragment, as Telegram opens it; whoever has it is USER until it expires.
    """
    from bot.console.links import ConsoleOff, operator_link

    settings = load_settings()
    if settings.telegram_bot_token is None:
        typer.echo(TOKEN_HELP, err=True)
        raise typer.Exit(2)
    try:
        typer.echo(operator_link(settings, user, name))
    except ConsoleOff as exc:
        typer.echo(f"WEB_PORT: {exc}", err=True)
        raise typer.Exit(2) from None
    hours = settings.web_auth_max_age_seconds / 3600
    typer.echo(
        f"Valid for {hours:g} hours (WEB_AUTH_MAX_AGE_SECONDS): whoever has this link is user "
        f"{user} in the console; keep it to yourself.",
        err=True,
    )


app.command("stats")(cli_admin.stats)


def main() -> None:
    """Console-script entry point: every line any command prints goes through the redactor."""
    redact_output(configured_secrets())
    sys.exit(app())
