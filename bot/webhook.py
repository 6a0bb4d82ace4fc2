"""Webhook mode: Telegram POSTs each update to us; several processes may share the work.

PTB's own `run_webhook` (tornado) has no room for a health endpoint and acknowledges an
update before handling it, so this module runs its own aiohttp server (the pattern of PTB's
`customwebhookbot` example) around the same `Application`:

- `POST <path of WEBHOOK_URL>`: refused with 403 unless `X-Telegram-Bot-Api-Secret-Token`
  matches; the update's handlers run to their end (through the application's update
  processor, as in polling: bot/lanes.py) before the 200 goes back. A process that dies
  mid-update never answers, so Telegram delivers the update again. Work a handler detaches to
  go on in the background (a broadcast, a preview) is not waited for: it belongs to this
  process (shutdown waits for it) and is not redone on a redelivery — the update was handled.
- Each update id is claimed in `ProcessedUpdate` before it is handled and marked done before
  it is acknowledged. A redelivery of a finished update is acknowledged without handling it
  again; one that arrives while another process holds the claim gets 503 (Telegram retries
  later); a claim left by a process that died expires after WEBHOOK_UPDATE_LEASE_SECONDS.
  The one window: a process that dies after handling an update but before marking it done
  leaves it to be handled again when its claim has expired.
- `GET /healthz`: database and Telegram reachability as JSON, 200 or 503.
- SIGTERM/SIGINT: the dispatcher stops claiming at once (`bot.dispatch.stop_delivering`);
  stop taking requests, let the ones in progress finish within SHUTDOWN_GRACE_SECONDS (a
  request cut short releases its claim and is redelivered), then stop the application.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import hashlib
import hmac
import logging
import signal
from collections.abc import AsyncIterator, Callable
from enum import StrEnum
from urllib.parse import urlsplit

from aiohttp import web
from sqlalchemy import delete
from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col
from telegram import Update
from telegram.ext import Application

from bot.context import Context, Services
from bot.dispatch import stop_delivering
from bot.health import HealthChecker
from bot.settings import Settings
from storage.db import session_scope
from storage.models import ProcessedUpdate

log = logging.getLogger(__name__)

SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"
HEALTH_PATH = "/healthz"
KEEP_PROCESSED_IDS = dt.timedelta(days=2)  # Telegram gives up on an update after 24 hours
PRUNE_JOB = "prune_processed_updates"
PRUNE_INTERVAL_SECONDS = 3600
SHUTDOWN_GRACE_SECONDS = 30.0
BUSY_RETRY_AFTER_SECONDS = 5


class WebhookConfigError(ValueError):
    """The webhook settings cannot work; the message says what to set."""


# -- processed update ids (the ProcessedUpdate table) --------------------------------------


class Claim(StrEnum):
    new = "new"  # this process handles it now
    done = "done"  # already handled: acknowledge without handling again
    busy = "busy"  # another process is handling it right now


def claim_update(session: Session, update_id: int, now: dt.datetime, lease: dt.timedelta) -> Claim:
    """Claim an update for this process, unless it was handled or someone else holds it.

    Raises IntegrityError when another process inserted the same id at the same moment
    (the caller treats that as `busy`).
    """
    row = session.get(ProcessedUpdate, update_id, with_for_update=True)
    if row is None:
        session.add(ProcessedUpdate(update_id=update_id, processed_at=now, lease_until=now + lease))
        session.flush()
        return Claim.new
    if row.lease_until is None:
        return Claim.done
    if row.lease_until > now:
        return Claim.busy
    # The process that claimed it died without finishing: take it over.
    row.processed_at, row.lease_until = now, now + lease
    session.add(row)
    return Claim.new


def finish_update(session: Session, update_id: int, now: dt.datetime) -> None:
    """Mark a claimed update as handled; redeliveries are acknowledged from now on."""
    row = session.get(ProcessedUpdate, update_id)
    if row is None:
        row = ProcessedUpdate(update_id=update_id)
    row.processed_at, row.lease_until = now, None
    session.add(row)


def release_update(session: Session, update_id: int) -> None:
    """Give up a claim without handling the update, so a redelivery is handled at once."""
    session.execute(
        delete(ProcessedUpdate).where(
            col(ProcessedUpdate.update_id) == update_id,
            col(ProcessedUpdate.lease_until).is_not(None),
        )
    )


def prune_processed_updates(session: Session, before: dt.datetime) -> int:
    """Forget handled update ids older than `before`; return how many went."""
    result = session.execute(
        delete(ProcessedUpdate).where(
            col(ProcessedUpdate.lease_until).is_(None),
            col(ProcessedUpdate.processed_at) < before,
        )
    )
    return int(getattr(result, "rowcount", 0) or 0)


async def prune_processed_updates_job(context: Context) -> None:
    """JobQueue entry point: forget update ids Telegram can no longer redeliver."""
    svc = context.bot_data.services
    with session_scope(svc.engine) as session:
        removed = prune_processed_updates(session, svc.now() - KEEP_PROCESSED_IDS)
    if removed:
        log.info("forgot %d processed update ids", removed)


# -- settings -------------------------------------------------------------------------------


def webhook_secret(settings: Settings) -> str:
    """WEBHOOK_SECRET, or one derived from the token (the same in every process)."""
    if settings.webhook_secret is not None:
        secret = settings.webhook_secret.get_secret_value()
        if not secret or len(secret) > 256 or not all(c.isalnum() or c in "_-" for c in secret):
            raise WebhookConfigError(
                "WEBHOOK_SECRET: 1 to 256 characters of A-Z, a-z, 0-9, _ and - "
                "(e.g. the output of: python -c 'import secrets; print(secrets.token_hex(32))')"
            )
        return secret
    token = settings.telegram_bot_token.get_secret_value() if settings.telegram_bot_token else ""
    return hashlib.sha256(f"tweetdrip-webhook:{token}".encode()).hexdigest()


def webhook_path(settings: Settings) -> str:
    """The path Telegram POSTs to: the path of WEBHOOK_URL (a proxy may strip nothing)."""
    if not settings.webhook_url:
        raise WebhookConfigError(
            "WEBHOOK_URL: set the public HTTPS address Telegram should post updates to, "
            "e.g. https://bot.example.org/telegram (it must reach WEBHOOK_PORT of this process)"
        )
    parts = urlsplit(settings.webhook_url)
    if parts.scheme not in ("https", "http") or not parts.netloc:
        raise WebhookConfigError(
            f"WEBHOOK_URL: {settings.webhook_url!r} is not an address like "
            "https://bot.example.org/telegram"
        )
    path = parts.path or "/"
    if path == HEALTH_PATH:
        raise WebhookConfigError(f"WEBHOOK_URL: the path {HEALTH_PATH} is the health check's")
    return path


# -- the server -----------------------------------------------------------------------------


class WebhookServer:
    """The aiohttp server in front of a started `Application`."""

    def __init__(
        self,
        application: Application,
        settings: Settings,
        *,
        health: HealthChecker | None = None,
        extend: Callable[[web.Application], None] | None = None,
    ) -> None:
        self.application = application
        self.extend = extend  # adds routes and start-up steps (the web console)
        self.settings = settings
        self.path = webhook_path(settings)
        self.secret = webhook_secret(settings)
        self.services: Services = application.bot_data.services
        self.engine: Engine = self.services.engine
        self.health = health or HealthChecker(self.engine, application.bot)
        self.lease = dt.timedelta(seconds=settings.webhook_update_lease_seconds)
        self.handled = 0
        self._inflight: dict[int, asyncio.Future[bool]] = {}
        self._runner: web.AppRunner | None = None
        self.port: int | None = None

    def web_app(self) -> web.Application:
        app = web.Application(client_max_size=1024 * 1024)
        app.router.add_post(self.path, self._on_update)
        app.router.add_get(HEALTH_PATH, self._on_health)
        if self.extend is not None:
            self.extend(app)
        return app

    async def start(self, *, shutdown_timeout: float = SHUTDOWN_GRACE_SECONDS) -> None:
        """Listen on WEBHOOK_LISTEN:WEBHOOK_PORT (port 0 picks a free one, see `port`)."""
        runner = web.AppRunner(
            self.web_app(),
            handle_signals=False,
            access_log=None,
            shutdown_timeout=shutdown_timeout,
            # Telegram hanging up must not cut an update short; shutdown still can.
            handler_cancellation=False,
        )
        await runner.setup()
        site = web.TCPSite(runner, self.settings.webhook_listen, self.settings.webhook_port)
        await site.start()
        self.port = int(runner.addresses[0][1])
        self._runner = runner
        log.info(
            "webhook server listening on %s:%s%s",
            self.settings.webhook_listen,
            self.port,
            self.path,
        )

    async def stop(self) -> None:
        """Stop listening; requests in progress get `shutdown_timeout` seconds to finish."""
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def _on_health(self, _request: web.Request) -> web.Response:
        report = await self.health.report()
        return web.json_response(report.to_json(), status=200 if report.ok else 503)

    async def _on_update(self, request: web.Request) -> web.Response:
        given = request.headers.get(SECRET_HEADER, "")
        if not hmac.compare_digest(given.encode(), self.secret.encode()):
            log.warning("refused a webhook request without the right secret token")
            return web.json_response({"error": "forbidden"}, status=403)
        try:
            data = await request.json()
            if not isinstance(data, dict) or not isinstance(data.get("update_id"), int):
                raise ValueError("no update_id")
            update = Update.de_json(data, self.application.bot)
        except (ValueError, TypeError, KeyError, AttributeError) as exc:
            log.warning("refused a webhook request that is not an update: %s", exc)
            return web.json_response({"error": "not an update"}, status=400)

        update_id = update.update_id
        running = self._inflight.get(update_id)
        if running is not None:  # a redelivery while this very process handles it
            if await asyncio.shield(running):
                return web.json_response({"ok": True, "duplicate": True})
            return web.json_response({"error": "not handled, send it again"}, status=503)

        claim = await asyncio.to_thread(self._claim, update_id)
        if claim == Claim.done:
            return web.json_response({"ok": True, "duplicate": True})
        if claim == Claim.busy:
            return web.json_response(
                {"error": "being handled by another process"},
                status=503,
                headers={"Retry-After": str(BUSY_RETRY_AFTER_SECONDS)},
            )

        done: asyncio.Future[bool] = asyncio.get_running_loop().create_future()
        self._inflight[update_id] = done
        finished = False
        try:
            await self._handle(update)
            await asyncio.to_thread(self._finish, update_id)
            finished = True
        finally:
            self._inflight.pop(update_id, None)
            if not finished:
                # Cut short (shutdown) or failed: let the redelivery be handled at once.
                with contextlib.suppress(Exception):
                    await asyncio.shield(asyncio.to_thread(self._release, update_id))
            if not done.done():
                done.set_result(finished)
        self.handled += 1
        return web.json_response({"ok": True})

    async def _handle(self, update: Update) -> None:
        """Run the handlers, as polling would; what they spawn carries on after the answer."""
        app = self.application
        await app.update_processor.process_update(update, app.process_update(update))

    def _claim(self, update_id: int) -> Claim:
        try:
            with session_scope(self.engine) as session:
                return claim_update(session, update_id, self.services.now(), self.lease)
        except IntegrityError:
            return Claim.busy

    def _finish(self, update_id: int) -> None:
        with session_scope(self.engine) as session:
            finish_update(session, update_id, self.services.now())

    def _release(self, update_id: int) -> None:
        with session_scope(self.engine) as session:
            release_update(session, update_id)


@contextlib.asynccontextmanager
async def serve_webhook(
    application: Application,
    settings: Settings,
    *,
    set_webhook: bool = True,
    shutdown_timeout: float = SHUTDOWN_GRACE_SECONDS,
    extend: Callable[[web.Application], None] | None = None,
) -> AsyncIterator[WebhookServer]:
    """Run the application behind the webhook server until the block exits, then stop both."""
    server = WebhookServer(application, settings, extend=extend)
    async with application:
        # The same start-up and shutdown hooks as long polling (`Application.run_polling`):
        # command menus, group quizzes resumed, background work drained at the end.
        if application.post_init is not None:
            await application.post_init(application)
        await application.start()
        if application.job_queue is not None:
            application.job_queue.run_repeating(
                prune_processed_updates_job,
                interval=PRUNE_INTERVAL_SECONDS,
                first=60,
                name=PRUNE_JOB,
            )
        try:
            await server.start(shutdown_timeout=shutdown_timeout)
            if set_webhook:
                # Only after the server listens: Telegram may post at once. Several processes
                # all set the same address; the webhook is never deleted on the way out.
                await application.bot.set_webhook(
                    url=settings.webhook_url or "",
                    secret_token=server.secret,
                    allowed_updates=Update.ALL_TYPES,
                )
            yield server
        finally:
            await server.stop()
            await application.stop()
            if application.post_stop is not None:
                await application.post_stop(application)


def run_webhook(
    application: Application,
    settings: Settings,
    *,
    extend: Callable[[web.Application], None] | None = None,
) -> None:
    """`tweetdrip run --webhook`: serve until SIGTERM or SIGINT, then shut down gracefully."""
    try:
        webhook_path(settings)
        webhook_secret(settings)
    except WebhookConfigError as exc:
        raise SystemExit(str(exc)) from None
    asyncio.run(_serve_until_signalled(application, settings, extend))


async def _serve_until_signalled(
    application: Application,
    settings: Settings,
    extend: Callable[[web.Application], None] | None = None,
) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()

    def on_signal() -> None:
        stop_delivering(application)  # at once, before anything below waits for it
        stop.set()

    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, on_signal)
    grace = settings.shutdown_grace_seconds
    async with serve_webhook(application, settings, shutdown_timeout=grace, extend=extend):
        await stop.wait()
        log.info("stopping: finishing the updates in progress")
