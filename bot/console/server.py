"""The console's web server: the page, its assets, the JSON API and the views, under /app/.

Every request under /app/api/ carries `Authorization: tma <init data>`; the init data is
checked on each one (bot/console/initdata.py) and the caller's role read from the database
each time, so there is no session to steal and an admin revoked in the chat loses the
console at once. Missing, forged or stale init data: 401; valid but not allowed: 403.
GET never changes anything; the one write (a trainee's settings) is limited per user.

The page is server-rendered (Jinja2, bot/console/pages.py) and swapped in by htmx; the JSON
endpoints answer the same dataclasses (bot/console/models.py) for other clients.
"""

from __future__ import annotations

import collections
import datetime as dt
import json
import logging
import time
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar
from urllib.parse import urlsplit

from aiohttp import web
from sqlmodel import Session
from telegram.ext import Application

from bot.console import data, pages
from bot.console import models as m
from bot.console.initdata import InitDataError, check_init_data, secret_key
from bot.console.links import console_address, sync_menu_button
from bot.context import Services
from storage.runner import DatabaseBusy
from storage.text import NAME_LIMIT, clean_text

log = logging.getLogger(__name__)
audit = logging.getLogger("bot.console.audit")

T = TypeVar("T")
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]

MOUNT = "/app"
API = f"{MOUNT}/api/"
WRITES_PER_MINUTE = 20  # a person saving settings; more than this is a script
MAX_BODY = 16 * 1024
MAX_FIELD = 200
ME = web.RequestKey("me", m.Me)  # the signed-in person of an API request
COMPRESS_FROM = 1024  # bytes; smaller answers are not worth the CPU
SHUTDOWN_SECONDS = 5.0
CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' https: data:; "
    "connect-src 'self'; base-uri 'none'; form-action 'self'; "
    # Telegram's web client shows Mini Apps in a frame; the apps on phones and desktops
    # use a web view.
    "frame-ancestors 'self' https://web.telegram.org"
)
SETTING_LABELS = {
    "time": "delivery time",
    "timezone": "time zone",
    "pace": "pace",
    "paused": "paused",
}


class ConsoleStartError(RuntimeError):
    """The console cannot serve (its port is taken, say); the message names the setting."""


class WriteLimiter:
    """At most `per_minute` writes a minute for each user (in this process)."""

    def __init__(self, per_minute: int, clock: Callable[[], float] = time.monotonic) -> None:
        self.per_minute = per_minute
        self.clock = clock
        self._writes: dict[int, collections.deque[float]] = {}

    def retry_after(self, user_id: int) -> float:
        """0 when `user_id` may write now (and counts the write), else seconds to wait."""
        now = self.clock()
        writes = self._writes.setdefault(user_id, collections.deque())
        while writes and writes[0] <= now - 60:
            writes.popleft()
        if len(writes) >= self.per_minute:
            return 60 - (now - writes[0])
        writes.append(now)
        if len(self._writes) > 10_000:  # forget people who stopped writing
            self._writes = {k: v for k, v in self._writes.items() if v and v[-1] > now - 60}
        return 0.0


def _json(value: Any, status: int = 200) -> web.Response:
    return web.Response(text=m.to_json(value), status=status, content_type="application/json")


def _error(status: int, message: str, **headers: str) -> web.Response:
    return web.Response(
        text=json.dumps({"error": message}),
        status=status,
        content_type="application/json",
        headers=headers,
    )


def _html(text: str, status: int = 200) -> web.Response:
    return web.Response(text=text, status=status, content_type="text/html")


def _param(request: web.Request, name: str) -> str:
    return request.query.get(name, "")[:MAX_FIELD].strip()


class Console:
    """The console of one bot process, on its own server or mounted on another."""

    def __init__(self, application: Application) -> None:
        self.application = application
        self.services: Services = application.bot_data.services
        self.settings = self.services.settings
        token = self.settings.telegram_bot_token
        if token is None:
            raise ConsoleStartError("the console needs TELEGRAM_BOT_TOKEN to check sign-ins")
        self._key = secret_key(token.get_secret_value())
        self.max_age = dt.timedelta(seconds=self.settings.web_auth_max_age_seconds)
        self.writes = WriteLimiter(WRITES_PER_MINUTE)
        self._runner: web.AppRunner | None = None
        self.port: int | None = None
        self._shell = pages.render(
            "shell.html", versions={name: a.version for name, a in pages.assets().items()}
        )

    # -- serving ------------------------------------------------------------------------

    def sub_app(self) -> web.Application:
        """The console's routes, relative to /app."""
        app = web.Application(middlewares=[self._guard])
        r = app.router
        r.add_get("/", self._page)
        r.add_get("/static/{name}", self._asset)
        r.add_get("/api/me", self._me)
        r.add_get("/api/threads", self._threads)
        r.add_get("/api/threads/{thread_id}", self._thread)
        r.add_get("/api/progress", self._progress)
        r.add_get("/api/progress/threads/{thread_id}", self._reading)
        r.add_post("/api/settings", self._settings)
        r.add_get("/api/view/home", self._view_home)
        r.add_get("/api/view/progress", self._view_progress)
        r.add_get("/api/view/progress/threads/{thread_id}", self._view_reading)
        r.add_get("/api/view/settings", self._view_settings)
        r.add_post("/api/view/settings", self._view_settings_save)
        r.add_get("/api/view/library", self._view_library)
        r.add_get("/api/view/library/results", self._view_library_results)
        r.add_get("/api/view/threads/{thread_id}", self._view_thread)
        return app

    def mount(self, app: web.Application) -> None:
        """Serve the console under /app of `app` (its own server's, or the webhook's)."""

        async def to_app(_request: web.Request) -> web.StreamResponse:
            raise web.HTTPPermanentRedirect("app/")  # relative: works behind a path prefix

        app.router.add_get(MOUNT, to_app)
        app.add_subapp(MOUNT, self.sub_app())

    async def start(self, *, serve: bool = True) -> None:
        """Set the menu button; with `serve`, listen on WEB_LISTEN:WEB_PORT (unless off)."""
        await sync_menu_button(self.application.bot, self.settings)
        port = self.settings.web_port
        if not serve or port is None:
            return
        root = web.Application()

        async def to_console(_request: web.Request) -> web.StreamResponse:
            raise web.HTTPFound("app/")

        root.router.add_get("/", to_console)
        self.mount(root)
        runner = web.AppRunner(
            root, handle_signals=False, access_log=None, shutdown_timeout=SHUTDOWN_SECONDS
        )
        await runner.setup()
        site = web.TCPSite(runner, self.settings.web_listen, port)
        try:
            await site.start()
        except OSError as exc:
            await runner.cleanup()
            raise ConsoleStartError(
                f"WEB_PORT: cannot listen on {self.settings.web_listen}:{port} "
                f"({exc.strerror or exc}); choose a free port, or WEB_PORT=off"
            ) from None
        self._runner = runner
        self.port = int(runner.addresses[0][1])
        log.info("console listening on %s:%s%s/", self.settings.web_listen, self.port, MOUNT)

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    def address(self) -> str:
        return console_address(self.settings, self.port)

    @property
    def shares_webhook_port(self) -> bool:
        port = self.settings.web_port
        return port is not None and port == self.settings.webhook_port

    def extend(self, app: web.Application) -> None:
        """Join the webhook server's life: start with it, stop with it (and, sharing its
        port, serve from it)."""
        shared = self.shares_webhook_port
        if shared:
            self.mount(app)
            self.port = self.settings.web_port

        async def on_startup(_app: web.Application) -> None:
            await self.start(serve=not shared)

        async def on_cleanup(_app: web.Application) -> None:
            await self.stop()

        app.on_startup.append(on_startup)
        app.on_cleanup.append(on_cleanup)

    # -- every request ------------------------------------------------------------------

    @web.middleware
    async def _guard(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        """Sign-in for the API, then the same safety headers on every answer."""
        api = request.path.startswith(API)
        try:
            if api:
                failure = await self._sign_in(request)
                response = failure or await handler(request)
            else:
                response = await handler(request)
        except web.HTTPException as exc:
            if not api or exc.status < 400:
                raise
            response = _error(exc.status, exc.reason)
            for name in ("Retry-After", "Allow"):
                if name in exc.headers:
                    response.headers[name] = exc.headers[name]
        except DatabaseBusy:
            response = _error(503, "the database is busy; please try again", **{"Retry-After": "2"})
        except Exception:
            # The server's edge: logged here with the request, answered without details.
            log.exception("console request %s %s failed", request.method, request.path)
            response = _error(500, "something went wrong on the bot's side")
        response.headers.setdefault("Content-Security-Policy", CSP)
        response.headers["X-Content-Type-Options"] = "nosniff"
        response.headers["Referrer-Policy"] = "no-referrer"
        if api:
            response.headers["Cache-Control"] = "no-store"
        if (
            isinstance(response, web.Response)
            and isinstance(response.body, bytes)
            and len(response.body) >= COMPRESS_FROM
            and "Content-Encoding" not in response.headers
        ):
            response.enable_compression()
        return response

    async def _sign_in(self, request: web.Request) -> web.Response | None:
        """Put the signed-in person in request[ME], or answer 401."""
        scheme, _, init_data = request.headers.get("Authorization", "").partition(" ")
        if scheme.lower() != "tma" or not init_data:
            return self._unauthorized("send the Mini App init data as Authorization: tma ...")
        try:
            signed = check_init_data(
                init_data.strip(), self._key, self.services.now(), self.max_age
            )
        except InitDataError as exc:
            return self._unauthorized(str(exc))
        user = signed.user
        role = await self.services.db.run(data.role_of, user.id, self.settings.admin_ids)
        request[ME] = m.Me(user.id, clean_text(user.name, NAME_LIMIT) or str(user.id), role)
        return None

    @staticmethod
    def _unauthorized(why: str) -> web.Response:
        return _error(401, f"not signed in: {why}", **{"WWW-Authenticate": "tma"})

    @staticmethod
    def _me_of(request: web.Request) -> m.Me:
        return request[ME]

    def _admin(self, request: web.Request) -> m.Me:
        me = self._me_of(request)
        if me.role != "admin":
            log.info("user %s asked for an admin page of the console", me.id)
            raise web.HTTPForbidden(reason="for admins only")
        return me

    async def _db(self, fn: Callable[[Session], T]) -> T:
        return await self.services.db.run(fn)

    # -- the page and its files ---------------------------------------------------------

    async def _page(self, _request: web.Request) -> web.StreamResponse:
        response = _html(self._shell)
        response.headers["Cache-Control"] = "no-cache"
        return response

    async def _asset(self, request: web.Request) -> web.StreamResponse:
        asset = pages.assets().get(request.match_info["name"])
        if asset is None:
            raise web.HTTPNotFound()
        gzip = "gzip" in request.headers.get("Accept-Encoding", "")
        response = web.Response(
            body=asset.gzipped if gzip else asset.body,
            content_type=asset.content_type,
            charset="utf-8",
        )
        if gzip:
            response.headers["Content-Encoding"] = "gzip"
        response.headers["Vary"] = "Accept-Encoding"
        response.headers["ETag"] = f'"{asset.version}"'
        # The page names each file with its version, so a copy never goes stale.
        versioned = request.query.get("v") == asset.version
        response.headers["Cache-Control"] = (
            "public, max-age=31536000, immutable" if versioned else "no-cache"
        )
        return response

    # -- JSON ---------------------------------------------------------------------------

    async def _me(self, request: web.Request) -> web.StreamResponse:
        return _json(self._me_of(request))

    async def _library(self, request: web.Request) -> m.Library:
        query, status, tag = _param(request, "q"), _param(request, "status"), _param(request, "tag")
        svc = self.services
        return await self._db(
            lambda s: data.library_threads(s, svc.library(), query=query, status=status, tag=tag)
        )

    async def _detail(self, request: web.Request) -> m.ThreadDetail:
        thread_id = request.match_info["thread_id"]
        svc = self.services
        detail = await self._db(lambda s: data.thread_detail(s, svc.library(), thread_id))
        if detail is None:
            raise web.HTTPNotFound(reason="no such thread")
        return detail

    async def _own_progress(self, request: web.Request) -> m.Progress:
        """The caller's own: the user comes from the signed init data, never a parameter."""
        me, svc = self._me_of(request), self.services
        return await self._db(lambda s: data.trainee_progress(s, svc.library(), me.id, svc.now()))

    async def _own_reading(self, request: web.Request) -> m.Reading:
        me, svc = self._me_of(request), self.services
        thread_id = request.match_info["thread_id"]
        reading = await self._db(lambda s: data.received_thread(s, svc.library(), me.id, thread_id))
        if reading is None:
            raise web.HTTPNotFound(reason="no post of that thread has reached you yet")
        return reading

    async def _threads(self, request: web.Request) -> web.StreamResponse:
        self._admin(request)
        return _json(await self._library(request))

    async def _thread(self, request: web.Request) -> web.StreamResponse:
        self._admin(request)
        return _json(await self._detail(request))

    async def _progress(self, request: web.Request) -> web.StreamResponse:
        return _json(await self._own_progress(request))

    async def _reading(self, request: web.Request) -> web.StreamResponse:
        return _json(await self._own_reading(request))

    async def _settings(self, request: web.Request) -> web.StreamResponse:
        try:
            saved = await self._save_settings(request)
        except m.SettingsRefused as exc:
            return _json({"errors": exc.errors}, status=422)
        return _json(saved)

    # -- settings (the one write) -------------------------------------------------------

    async def _save_settings(self, request: web.Request) -> m.SettingsSaved:
        me = self._me_of(request)
        wait = self.writes.retry_after(me.id)
        if wait:
            raise web.HTTPTooManyRequests(
                reason="too many changes; wait a minute",
                headers={"Retry-After": str(int(wait) + 1)},
            )
        change = await _settings_change(request)
        svc = self.services
        saved = await self._db(lambda s: data.change_settings(s, svc, me.id, change))
        if saved.changed:
            audit.info(
                "console: user %s changed their settings: %s",
                me.id,
                "; ".join(f"{name} {old} -> {new}" for name, (old, new) in saved.changed.items()),
            )
        return saved

    # -- views (HTML for the page) ------------------------------------------------------

    async def _view_home(self, request: web.Request) -> web.StreamResponse:
        me = self._me_of(request)
        if me.role == "admin":
            first = pages.render("library.html", lib=await self._library(request), **_filters())
        else:
            first = pages.render("progress.html", p=await self._own_progress(request), me=me)
        return _html(pages.render("home.html", me=me, first=first))

    async def _view_progress(self, request: web.Request) -> web.StreamResponse:
        me = self._me_of(request)
        return _html(pages.render("progress.html", p=await self._own_progress(request), me=me))

    async def _view_reading(self, request: web.Request) -> web.StreamResponse:
        return _html(pages.render("reading.html", r=await self._own_reading(request)))

    async def _settings_form(
        self,
        request: web.Request,
        *,
        saved: dict[str, tuple[str, str]] | None = None,
        errors: dict[str, str] | None = None,
        status: int = 200,
    ) -> web.Response:
        me, svc = self._me_of(request), self.services
        settings = await self._db(lambda s: data.own_settings(s, me.id, svc.now()))
        html = pages.render(
            "settings.html",
            s=settings,
            refusal="There is no drip to change: send /start to the bot, then come back here.",
            saved=saved,
            errors=errors or {},
            labels=SETTING_LABELS,
            zones=data.ZONE_CHOICES,
            paces=data.pace_choices(settings.pace if settings else None),
        )
        return _html(html, status=status)

    async def _view_settings(self, request: web.Request) -> web.StreamResponse:
        return await self._settings_form(request)

    async def _view_settings_save(self, request: web.Request) -> web.StreamResponse:
        try:
            saved = await self._save_settings(request)
        except m.SettingsRefused as exc:
            return await self._settings_form(request, errors=exc.errors, status=422)
        return await self._settings_form(request, saved=saved.changed)

    async def _view_library(self, request: web.Request) -> web.StreamResponse:
        self._admin(request)
        lib = await self._library(request)
        return _html(pages.render("library.html", lib=lib, **_filters(request)))

    async def _view_library_results(self, request: web.Request) -> web.StreamResponse:
        self._admin(request)
        return _html(pages.render("library_results.html", lib=await self._library(request)))

    async def _view_thread(self, request: web.Request) -> web.StreamResponse:
        self._admin(request)
        return _html(pages.render("thread.html", d=await self._detail(request)))


def _filters(request: web.Request | None = None) -> dict[str, str]:
    if request is None:
        return {"query": "", "status": "", "tag": ""}
    return {
        "query": _param(request, "q"),
        "status": _param(request, "status"),
        "tag": _param(request, "tag"),
    }


_YES = frozenset({"true", "on", "1", "yes"})
_NO = frozenset({"false", "off", "0", "no"})


async def _settings_change(request: web.Request) -> m.SettingsChange:
    """The fields of a settings form (form-encoded) or JSON object."""
    if request.content_length is not None and request.content_length > MAX_BODY:
        raise web.HTTPRequestEntityTooLarge(max_size=MAX_BODY, actual_size=request.content_length)
    raw: dict[str, Any]
    if request.content_type == "application/json":
        try:
            body = await request.json()
        except ValueError:
            raise web.HTTPBadRequest(reason="the body is not JSON") from None
        if not isinstance(body, dict):
            raise web.HTTPBadRequest(reason="send a JSON object")
        raw = body
    else:
        form = await request.post()
        raw = {key: form.getall(key)[-1] for key in form}

    def text(name: str) -> str | None:
        value = raw.get(name)
        if value is None:
            return None
        if isinstance(value, bool) or not isinstance(value, str | int):
            raise web.HTTPBadRequest(reason=f"{name}: a text value, please")
        return str(value)[:MAX_FIELD]

    paused = raw.get("paused")
    if isinstance(paused, str) and paused.strip().lower() in _YES | _NO:
        paused = paused.strip().lower() in _YES
    elif paused is not None and not isinstance(paused, bool):
        raise web.HTTPBadRequest(reason="paused: true or false")
    return m.SettingsChange(
        time=text("time"), timezone=text("timezone"), pace=text("pace"), paused=paused
    )


# -- joining the bot's life ------------------------------------------------------------------


def attach_to_polling(application: Application) -> Console:
    """Start the console with the bot (`run_polling`) and stop it before the bot's services
    close (the database runner it uses)."""
    console = Console(application)
    first_init, first_stop = application.post_init, application.post_stop

    async def post_init(app: Application) -> None:
        await console.start()  # first: a port that is taken stops the bot before anything
        if first_init is not None:
            await first_init(app)

    async def post_stop(app: Application) -> None:
        await console.stop()
        if first_stop is not None:
            await first_stop(app)

    application.post_init = post_init
    application.post_stop = post_stop
    return console


def for_webhook(application: Application) -> Console:
    """The console of `run --webhook`: give its `extend` to the webhook server. With WEB_PORT
    equal to WEBHOOK_PORT it rides on that server (one port and one proxy for both);
    otherwise it listens on its own port."""
    console = Console(application)
    settings = console.settings
    if console.shares_webhook_port and urlsplit(settings.webhook_url or "").path.startswith(MOUNT):
        raise ConsoleStartError(
            f"WEBHOOK_URL: its path is under {MOUNT}/, the console's, on the same port "
            "(WEB_PORT = WEBHOOK_PORT); choose another path, e.g. /telegram"
        )
    return console
