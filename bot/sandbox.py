"""`tweetdrip sandbox`: try the bot in a terminal, against the local Telegram emulator.

The real Application runs exactly as in production (same handlers, same delivery engine),
but talks to `bot.emulator.TelegramEmulator` on a random 127.0.0.1 port with a dummy token,
a temporary SQLite database and a virtual clock. The person at the keyboard plays a trainee
(or, after `/as admin`, an admin): lines are sent as messages, `/press N` taps a button,
`/answer N` votes in a poll, and `/tick 1d` moves time on and runs whatever became due.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import itertools
import logging
import re
import sys
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from telegram import Update
from telegram.ext import Application

from bot.app import build_application
from bot.clock import VirtualClock
from bot.console.initdata import WebAppUser
from bot.console.links import signed_link
from bot.console.server import Console
from bot.dispatch import dispatch_due
from bot.emulator import BotEvent, EmulatorError, PollState, StoredMessage, TelegramEmulator
from bot.settings import Settings
from storage.db import make_engine
from storage.migrate import upgrade

TRAINEE_ID = 1001
ADMIN_ID = 1002
PEOPLE = {
    "trainee": (TRAINEE_ID, "Ada", "a trainee"),
    "admin": (ADMIN_ID, "Ben", "an admin: /threads, /preview, /schedule, /stats ..."),
}
PROCESS_TIMEOUT = 30.0
TICK_STEP = dt.timedelta(minutes=15)  # the dispatcher runs every few seconds in production

SANDBOX_HELP = """\
Sandbox commands (everything else is sent to the bot as a message):
  /press N          press button [N] (or type just the number)
  /answer N [M ..]  answer the first open poll with option N (several where a poll allows)
  /tick 1d | 3h | 30m | 1d6h
                    move the virtual clock on, then run what became due (drip, reminders)
  /time             show the virtual time
  /as admin | /as trainee
                    switch who is typing
  /console          a fresh link to the web console, signed in as whoever is typing
  /sandbox          this help
  /quit             leave (Ctrl-D works too)"""

_TICK = re.compile(r"(\d+)\s*([dhms])")
_UNITS = {"d": "days", "h": "hours", "m": "minutes", "s": "seconds"}


def parse_duration(text: str) -> dt.timedelta:
    """'1d', '3h', '30m', '1d6h', '90s' -> a timedelta; ValueError with advice otherwise."""
    compact = text.replace(" ", "").lower()
    parts = _TICK.findall(compact)
    if not parts or "".join(n + u for n, u in parts) != compact:
        raise ValueError(f"{text!r} is not a duration; try 1d, 3h, 30m or 1d6h")
    delta = dt.timedelta()
    for number, unit in parts:
        delta += dt.timedelta(**{_UNITS[unit]: int(number)})
    if delta <= dt.timedelta():
        raise ValueError("the clock only moves forward")
    return delta


# -- showing messages ---------------------------------------------------------------------

_ANSI = {
    "bold": "1",
    "italic": "3",
    "underline": "4",
    "strikethrough": "9",
    "spoiler": "2",
    "code": "36",
    "pre": "36",
    "text_link": "4;34",
    "url": "4;34",
    "blockquote": "2",
    "expandable_blockquote": "2",
}


def styled_text(text: str, entities: list[dict[str, Any]] | None, *, color: bool) -> str:
    """Telegram text with its entities as terminal styling (or plain); hidden links shown."""
    if not entities:
        return text
    units = text.encode("utf-16-le")
    bounds = {0, len(units) // 2}
    for entity in entities:
        bounds.update((entity["offset"], entity["offset"] + entity["length"]))
    points = sorted(bounds)
    out: list[str] = []
    for start, end in itertools.pairwise(points):
        piece = units[start * 2 : end * 2].decode("utf-16-le", errors="replace")
        active = [e for e in entities if e["offset"] <= start and end <= e["offset"] + e["length"]]
        codes = [_ANSI[e["type"]] for e in active if e["type"] in _ANSI]
        out.append(f"\x1b[{';'.join(codes)}m{piece}\x1b[0m" if color and codes else piece)
        for entity in active:  # a link's address after its last piece
            if entity["type"] == "text_link" and entity["offset"] + entity["length"] == end:
                out.append(f" <{entity['url']}>")
    return "".join(out)


def _indent(text: str, prefix: str) -> str:
    lines = text.splitlines() or [""]
    return "\n".join(prefix + line if i else line for i, line in enumerate(lines))


@dataclass
class _Shown:
    """What the numbers on screen refer to."""

    buttons: list[tuple[StoredMessage, dict[str, Any]]]


class Sandbox:
    """The emulator, the bot and a chat view; `handle(line)` is one turn at the keyboard."""

    def __init__(
        self,
        out: Callable[[str], None],
        *,
        color: bool = False,
        start: dt.datetime | None = None,
        database: Path | None = None,
        settings: dict[str, Any] | None = None,
    ) -> None:
        self.out = out
        self.color = color
        self.clock = VirtualClock(start or dt.datetime.now(dt.UTC).replace(second=0, microsecond=0))
        self.database = database
        self.extra_settings = settings or {}
        self.emulator = TelegramEmulator(
            clock=self.clock.now, bot_username="tweetdrip_sandbox_bot", bot_first_name="tweetdrip"
        )
        self.person = "trainee"
        self.shown = _Shown([])
        # Buttons and the poll printed during the current turn; numbering starts at 1 each turn.
        self._fresh: list[tuple[StoredMessage, dict[str, Any]]] = []
        self._polls: list[StoredMessage] = []  # every poll shown, oldest first
        self._header: str | None = None  # printed before the next thing the bot says
        self._tmp: tempfile.TemporaryDirectory[str] | None = None
        self._app: Application | None = None
        self._unsubscribe: Callable[[], None] | None = None
        self._console: Console | None = None

    # -- lifecycle ------------------------------------------------------------------------

    @property
    def user_id(self) -> int:
        return PEOPLE[self.person][0]

    @property
    def app(self) -> Application:
        if self._app is None:
            raise RuntimeError("the sandbox is not running")
        return self._app

    async def __aenter__(self) -> Sandbox:
        await self.start()
        return self

    async def __aexit__(self, *_exc: object) -> None:
        await self.stop()

    async def start(self) -> None:
        """Start the emulator, migrate the database and start the bot with long polling."""
        await self.emulator.start()
        for person_id, name, _role in PEOPLE.values():
            self.emulator.add_user(person_id, name, username=name.lower())
        if self.database is None:
            self._tmp = tempfile.TemporaryDirectory(prefix="tweetdrip-sandbox-")
            path = Path(self._tmp.name) / "sandbox.db"
        else:
            path = self.database.expanduser()
        url = f"sqlite:///{path}"
        engine = make_engine(url)
        upgrade(engine)
        values: dict[str, Any] = {
            "telegram_bot_token": self.emulator.token,
            "telegram_api_base_url": self.emulator.base_url,
            "telegram_api_file_url": self.emulator.base_file_url,
            "database_url": url,
            "admin_ids": [ADMIN_ID],
            "rate_limit": False,
            "private_chat_interval_seconds": 0,
            # The web console on a free port of this computer only.
            "web_listen": "127.0.0.1",
            "web_port": 0,
        }
        values.update(self.extra_settings)
        settings = Settings(_env_file=None, **values)  # type: ignore[call-arg]
        app = build_application(settings, engine=engine, clock=self.clock, start_dispatcher=False)
        self._unsubscribe = self.emulator.on_bot_message(self._on_event)
        await app.initialize()
        await app.start()
        assert app.updater is not None
        await app.updater.start_polling(
            poll_interval=0, timeout=1, allowed_updates=Update.ALL_TYPES
        )
        self._app = app
        self._console = Console(app)
        await self._console.start()

    async def stop(self) -> None:
        app, self._app = self._app, None
        if self._console is not None:
            await self._console.stop()
            self._console = None
        if app is not None:
            if app.updater is not None and app.updater.running:
                await app.updater.stop()
            if app.running:
                await app.stop()
            await app.shutdown()
            app.bot_data.services.engine.dispose()
        if self._unsubscribe is not None:
            self._unsubscribe()
        await self.emulator.stop()
        if self._tmp is not None:
            self._tmp.cleanup()
            self._tmp = None

    def banner(self) -> str:
        user_id, name, role = PEOPLE[self.person]
        return (
            "tweetdrip sandbox: the bot runs against a local Telegram emulator; nothing leaves "
            "this computer.\n"
            f"You are {name} ({role}, user {user_id}). Send /start to begin; "
            "/sandbox lists the sandbox's own commands.\n"
            f"Virtual time: {self._time()}\n"
            f"{self.console_line()}"
        )

    def console_link(self) -> str | None:
        """A link to the web console signed in as whoever is typing (None when it is off)."""
        if self._console is None or self._console.port is None:
            return None
        user_id, name, _role = PEOPLE[self.person]
        user = WebAppUser(id=user_id, first_name=name)
        return signed_link(self._console.address(), user, self.emulator.token, self.clock.now())

    def console_line(self) -> str:
        link = self.console_link()
        if link is None:
            return "The web console is off."
        name = PEOPLE[self.person][1]
        return (
            f"Web console, signed in as {name} (open it in a browser; /console gives a fresh "
            f"link after /tick or /as):\n  {link}"
        )

    # -- one turn -------------------------------------------------------------------------

    async def handle(self, line: str) -> bool:
        """Act on one line typed at the prompt; False when the person wants to leave."""
        line = line.strip()
        if not line:
            return True
        command, _, rest = line.partition(" ")
        command = command.lower()
        try:
            if command in ("/quit", "/exit"):
                return False
            if command == "/sandbox":
                self.out(SANDBOX_HELP)
            elif command == "/console":
                self.out(self.console_line())
            elif command == "/time":
                self.out(f"virtual time: {self._time()}")
            elif command == "/as":
                self._switch(rest.strip().lower())
            elif command == "/tick":
                await self.tick(parse_duration(rest or "1d"))
            elif command == "/press":
                await self.press(int(rest))
            elif command == "/answer":
                await self.answer([int(n) for n in rest.replace(",", " ").split()])
            elif line.isdigit() and self.shown.buttons:
                await self.press(int(line))
            else:
                await self.say(line)
        except ValueError as exc:
            self.out(f"! {exc}")
        except EmulatorError as exc:
            self.out(f"! Telegram would not allow that: {exc}")
        return True

    async def say(self, text: str) -> None:
        self.emulator.send_message(self.user_id, text)
        await self._settle()

    async def press(self, number: int) -> None:
        if not 1 <= number <= len(self.shown.buttons):
            raise ValueError(
                f"there is no button [{number}]"
                + (f"; choose 1 to {len(self.shown.buttons)}" if self.shown.buttons else "")
            )
        message, button = self.shown.buttons[number - 1]
        if "callback_data" not in button:
            url = button.get("url") or button.get("web_app", {}).get("url")
            self.out(f"(that button opens {url} in a browser)" if url else "(nothing to press)")
            return
        self.out(f"(you pressed “{button['text']}”)")
        self.emulator.press_button(
            self.user_id, message, button["callback_data"], chat_id=message.chat_id
        )
        await self._settle()

    def _next_poll(self) -> PollState:
        """The oldest poll in this chat that is still open and not yet answered."""
        for message in self._polls:
            poll = self.emulator.poll((message.poll or {})["id"])
            mine = message.chat_id == self.user_id
            if mine and not poll.is_closed and self.user_id not in poll.votes:
                return poll
        raise ValueError("there is no open poll to answer")

    async def answer(self, numbers: list[int]) -> None:
        poll = self._next_poll()
        if len(self._polls) > 1:
            self.out(f"(answering: {poll.question})")
        if not numbers:
            raise ValueError("say which option, e.g. /answer 2")
        if any(not 1 <= n <= len(poll.options) for n in numbers):
            raise ValueError(f"the options are numbered 1 to {len(poll.options)}")
        chosen = [n - 1 for n in numbers]
        self.emulator.answer_poll(self.user_id, poll.id, chosen)
        if poll.type == "quiz":
            right = set(chosen) == set(poll.correct_option_ids)
            correct = ", ".join(f"{i + 1}) {poll.options[i].text}" for i in poll.correct_option_ids)
            self.out("✓ correct" if right else f"✗ not quite; the answer is {correct}")
            if poll.explanation:
                self.out(f"  💡 {poll.explanation}")
        await self._settle()

    async def tick(self, delta: dt.timedelta) -> None:
        """Move the clock on in steps, running what falls due at each step's time.

        Steps, not one jump: three days on means three installments at their own times,
        as a trainee would get them, not one (the drip never sends a backlog).
        """
        end = self.clock.now() + delta
        while self.clock.now() < end:
            self.clock.set(min(end, self.clock.now() + TICK_STEP))
            self._header = f"⏩ {self._time()}"
            await self._run_due()
        self._header = None
        self.out(f"⏩ virtual time: {self._time()}")

    async def _run_due(self) -> None:
        """What production runs on its own: the dispatcher and the repeating jobs."""
        self.emulator.close_expired_polls()
        await dispatch_due(self.app, self.clock.now())
        if self.app.job_queue is not None:
            for job in self.app.job_queue.jobs():
                trigger = getattr(job.job, "trigger", None)
                if trigger is not None and type(trigger).__name__ == "IntervalTrigger":
                    await job.run(self.app)
        await self._settle()

    def _switch(self, who: str) -> None:
        if who not in PEOPLE:
            raise ValueError("say /as admin or /as trainee")
        self.person = who
        _user_id, name, role = PEOPLE[who]
        self.out(f"(you are now {name}, {role})")

    def _time(self) -> str:
        return self.clock.now().strftime("%a %d %b %Y %H:%M UTC")

    async def _settle(self) -> None:
        """Wait until the bot fetched and handled everything, then number what is on screen."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + PROCESS_TIMEOUT
        while self.emulator.pending_updates:
            if loop.time() > deadline:
                self.out("! the bot did not pick up the message in time")
                break
            await self.emulator.world.changed.wait(0.05)
        await asyncio.wait_for(self.app.update_queue.join(), PROCESS_TIMEOUT)
        await self.app.bot_data.services.drain()
        self._number_what_is_new()

    # -- the bot's side ---------------------------------------------------------------------

    def _on_event(self, event: BotEvent) -> None:
        if event.chat_id not in (TRAINEE_ID, ADMIN_ID) and event.kind not in ("sent", "edited"):
            return
        if self._header is not None:
            self.out(self._header)
            self._header = None
        names = {person_id: name for person_id, name, _role in PEOPLE.values()}
        where = ""
        if event.chat_id != self.user_id:
            where = f"[to {names.get(event.chat_id or 0, f'chat {event.chat_id}')}] "
        if event.kind == "sent" and event.message is not None:
            self.out(_indent(f"bot> {where}{self._render(event.message)}", "     "))
        elif event.kind == "edited" and event.message is not None:
            self.out(_indent(f"bot> {where}(edited) {self._render(event.message)}", "     "))
        elif event.kind == "callback_answer" and event.detail and event.detail.get("text"):
            self.out(f"     ⓘ {event.detail['text']}")
        elif event.kind == "deleted" and event.message is not None:
            self.out(f"     (the bot deleted a message: {event.message.content[:40]!r})")

    def _render(self, message: StoredMessage) -> str:
        parts: list[str] = []
        data = message.data
        if message.photo:
            parts.append("[photo]")
        if message.document:
            parts.append(f"[file {message.document.get('file_name', '')}]")
        if message.text is not None:
            parts.append(styled_text(message.text, data.get("entities"), color=self.color))
        if message.caption:
            parts.append(
                styled_text(message.caption, data.get("caption_entities"), color=self.color)
            )
        if message.poll is not None:
            parts.append(self._render_poll(message))
        if message.buttons:
            parts.append(self._render_buttons(message))
        return "\n".join(p for p in parts if p)

    def _render_poll(self, message: StoredMessage) -> str:
        poll = message.poll or {}
        kind = "Quiz" if poll.get("type") == "quiz" else "Poll"
        several = " (choose one or more)" if poll.get("allows_multiple_answers") else ""
        lines = [f"📊 {kind}: {poll.get('question', '')}{several}"]
        for number, option in enumerate(poll.get("options", []), start=1):
            lines.append(f"  {number}) {option.get('text', '')}")
        if poll.get("is_closed"):
            lines.append("  (closed)")
        else:
            lines.append("  answer with /answer N")
            if message not in self._polls:
                self._polls.append(message)
        return "\n".join(lines)

    def _render_buttons(self, message: StoredMessage) -> str:
        labels = []
        for button in message.buttons:
            self._fresh.append((message, button))
            labels.append(f"[{len(self._fresh)}] {button['text']}")
        return "   ".join(labels)

    def _number_what_is_new(self) -> None:
        """The buttons of this turn replace the old ones; without new ones the old stay."""
        if self._fresh:
            self.shown.buttons, self._fresh = self._fresh, []


async def run_sandbox_async(
    database: Path | None = None,
    *,
    read_line: Callable[[str], str] = input,
    out: Callable[[str], None] = print,
    color: bool | None = None,
) -> None:
    """The interactive loop: a prompt, a line, the bot's answer; until /quit or end of input."""
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    for noisy in ("httpx", "httpcore", "apscheduler", "aiohttp.access"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    use_color = sys.stdout.isatty() if color is None else color
    loop = asyncio.get_running_loop()
    async with Sandbox(out, color=use_color, database=database) as sandbox:
        out(sandbox.banner())
        while True:
            prompt = f"{PEOPLE[sandbox.person][1].lower()}> "
            try:
                line = await loop.run_in_executor(None, read_line, prompt)
            except (EOFError, KeyboardInterrupt):
                out("")
                break
            if not await sandbox.handle(line):
                break
    out("bye: the sandbox's data is gone" if database is None else f"data kept in {database}")


def run_sandbox(database: Path | None = None) -> None:
    """`tweetdrip sandbox`."""
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(run_sandbox_async(database))
