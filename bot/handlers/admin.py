"""Admin commands: the library, previews, schedules into groups and channels, imports,
statistics and announcements.

Every handler here is wrapped in `admin_only`: anyone else is told the command is not
available and nothing happens. Admins are the ADMIN_IDS of the settings plus those granted
with /admin add. Each handler reads the update, calls a service (bot/services/) through the
database runner, and renders the reply. Registered in bot/app.py.
"""

from __future__ import annotations

import asyncio
import difflib
import functools
import logging
from collections.abc import Awaitable, Callable, Coroutine, Sequence
from dataclasses import dataclass
from html import escape
from typing import Any

from telegram import (
    Bot,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    Message,
    ReplyParameters,
    Update,
)
from telegram.constants import ChatAction, ChatType, ParseMode
from telegram.error import BadRequest, NetworkError, TelegramError, TimedOut

from bot.callbacks import ImportChoice, encode, pressed
from bot.charts_admin import stats_chart_png
from bot.commands import publish_admin_menu
from bot.context import Context, Services, services
from bot.dispatch import _send_post as send_post
from bot.domain.admin import (
    ImportResult,
    check_import_file,
    import_summary_lines,
    library_lines,
    parse_schedule_args,
    schedule_confirmation,
    track_lines,
)
from bot.domain.drip import END_ITEM, Position, plan_installment
from bot.domain.timeparse import InputError
from bot.quizzes import send_quiz_poll
from bot.render import header_text, split_html, thread_end_text
from bot.sending import Outcome, SendResult, send_safely
from bot.services import admin as admins
from bot.services import library as imports
from bot.services import schedules
from bot.services.admin import Grant
from bot.services.library import ReadFailed, ReadTooSlow
from bot.services.schedules import ScheduleConflict
from bot.targets import TargetError, check_publish_target
from bot.views import schedule_line, stats_table
from content.models import MESSAGE_TEXT_LIMIT, Library, Thread

log = logging.getLogger(__name__)

NOT_AVAILABLE = "That command is not available."
FILES_NOT_AVAILABLE = "I can't do anything with files here. Send /help to see what I can do."
PRIVATE_ONLY = "Admin commands work only in a private chat with me."
MAX_REPORT_PROBLEMS = 40

Handler = Callable[[Update, Context], Coroutine[Any, Any, None]]


# --- who is an admin ------------------------------------------------------------------------


def admin_only(refusal: str = NOT_AVAILABLE) -> Callable[[Handler], Handler]:
    """Let admins through, in private chats only; tell anyone else `refusal` and stop."""

    def decorate(handler: Handler) -> Handler:
        @functools.wraps(handler)
        async def guarded(update: Update, context: Context) -> None:
            user = update.effective_user
            if user is None:
                return
            svc = services(context)
            if not await svc.db.run(admins.is_admin, user.id, svc.settings.admin_ids):
                log.info("user %s tried admin handler %s", user.id, handler.__name__)
                await _refuse(update, refusal)
                return
            chat = update.effective_chat
            if chat is not None and chat.type != ChatType.PRIVATE:
                await _refuse(update, PRIVATE_ONLY)
                return
            await handler(update, context)

        return guarded

    return decorate


async def _refuse(update: Update, text: str) -> None:
    if update.callback_query is not None:
        await update.callback_query.answer(text, show_alert=True)
    elif update.effective_message is not None:
        await update.effective_message.reply_text(text)


# --- replies --------------------------------------------------------------------------------


async def _say(update: Update, html: str, markup: InlineKeyboardMarkup | None = None) -> Message:
    chat = update.effective_chat
    assert chat is not None
    return await chat.send_message(html, reply_markup=markup, link_preview_options=None)


async def _say_lines(update: Update, lines: Sequence[str]) -> None:
    """Send HTML lines in as few messages as fit."""
    for part in split_html("\n".join(lines)):
        await _say(update, part)


async def _say_pre(update: Update, text: str) -> None:
    """Send a plain-text table as <pre> blocks, split on lines to fit."""
    for part in split_html(f"<pre>{escape(text)}</pre>"):
        await _say(update, part)


# --- /admin ---------------------------------------------------------------------------------

ADMIN_USAGE = "Usage: /admin list · /admin add <user id> · /admin remove <user id>"


@admin_only()
async def admin_command(update: Update, context: Context) -> None:
    """`/admin list|add <id>|remove <id>`."""
    svc = services(context)
    user = update.effective_user
    assert user is not None
    args = context.args or []
    action = args[0].lower() if args else "list"
    configured = svc.settings.admin_ids
    if action == "list":
        await _say(update, _admin_list(await svc.db.run(admins.admins, configured)))
        return
    target = _user_id(args[1]) if action in ("add", "remove") and len(args) == 2 else None
    if target is None:
        await _say(update, _admin_usage(args))
    elif action == "add":
        granted = await svc.db.run(admins.grant, target, user.id, configured, svc.now())
        if granted == Grant.added:
            await publish_admin_menu(context.application, target)
        await _say(update, ADMIN_REPLIES[granted].format(target))
    else:
        revoked = await svc.db.run(admins.revoke, target, configured)
        if revoked == Grant.removed:
            await publish_admin_menu(context.application, target, admin=False)
        await _say(update, REMOVE_REPLIES[revoked].format(target))


ADMIN_REPLIES = {
    Grant.added: "✅ {} is now an admin. The admin commands appear in their menu "
    "(once they have opened a chat with me).",
    Grant.unchanged: "{} is already an admin.",
}
REMOVE_REPLIES = {
    Grant.removed: "🗑 {} is no longer an admin.",
    Grant.unchanged: "{} is not an admin.",
    Grant.configured: "{} is an admin through ADMIN_IDS in the bot's configuration, so they "
    "can't be removed from chat. Take them out of ADMIN_IDS and restart the bot.",
}


def _user_id(text: str) -> int | None:
    try:
        user_id = int(text)
    except ValueError:
        return None
    return user_id if user_id > 0 else None


def _admin_usage(args: Sequence[str]) -> str:
    if len(args) == 2 and args[0].lower() in ("add", "remove"):
        return (
            f"“{escape(args[1][:40])}” is not a Telegram user id. A user id is a positive "
            "number; the person can get theirs from @userinfobot."
        )
    return escape(ADMIN_USAGE)


def _admin_list(entries: Sequence[admins.AdminEntry]) -> str:
    lines = ["<b>Admins</b>"]
    for entry in entries:
        if entry.configured:
            lines.append(f"• {entry.user_id} (ADMIN_IDS)")
            continue
        by = f" by {entry.granted_by}" if entry.granted_by else ""
        when = f"{entry.granted_at:%Y-%m-%d}" if entry.granted_at else "?"
        lines.append(f"• {entry.user_id} (granted{by} on {when})")
    if len(lines) == 1:
        lines.append("none")
    lines.append("\n" + escape(ADMIN_USAGE))
    return "\n".join(lines)


# --- /threads and /preview ------------------------------------------------------------------


@admin_only()
async def threads_command(update: Update, context: Context) -> None:
    """The library: id, title, posts, questions, status; then the tracks."""
    svc = services(context)
    library = svc.library()
    imported = await svc.db.run(imports.imported_ids)
    lines = [f"<b>Library: {len(library.threads)} threads</b>"]
    lines += [f"• {escape(line)}" for line in library_lines(library, imported)]
    lines.append(f"\n<b>Tracks: {len(library.tracks)}</b>")
    lines += [f"• {escape(line)}" for line in track_lines(library)]
    lines.append("\n/preview &lt;thread&gt; shows one as trainees see it.")
    await _say_lines(update, lines)


@admin_only()
async def preview_command(update: Update, context: Context) -> None:
    """Send a whole thread and its quiz here, rendered as for trainees; polls are closed."""
    svc = services(context)
    library = svc.library()
    chat = update.effective_chat
    assert chat is not None
    if not context.args:
        await _say(update, "Usage: /preview &lt;thread id&gt; (/threads lists them)")
        return
    wanted = context.args[0].strip().lower()
    thread = library.threads.get(wanted)
    if thread is None:
        await _say(update, escape(_unknown_thread(library, wanted)))
        return
    await _say(
        update,
        f"👁 Preview of <b>{escape(thread.title)}</b>: exactly what trainees get, in one go. "
        "The quiz polls are closed, so nothing is recorded.",
    )
    # Paced at ~1 message a second in a private chat: send it in the background so the bot
    # keeps answering everyone else meanwhile.
    svc.spawn(_preview_in_background(context.bot, svc, chat.id, thread))


async def _preview_in_background(bot: Bot, svc: Services, chat_id: int, thread: Thread) -> None:
    result = await send_preview(bot, svc, chat_id, thread)
    if result.outcome != Outcome.sent:
        reason = escape(result.error or result.outcome)
        try:
            await bot.send_message(
                chat_id, f"⚠️ The preview stopped: {reason}", parse_mode=ParseMode.HTML
            )
        except TelegramError as exc:
            log.warning("could not tell %s the preview stopped: %s", chat_id, exc)


def _unknown_thread(library: Library, wanted: str) -> str:
    if wanted in library.tracks:
        threads = ", ".join(library.tracks[wanted].threads)
        return f"{wanted} is a track; preview its threads one at a time: {threads}."
    close = difflib.get_close_matches(wanted, list(library.threads), n=1)
    hint = f" Did you mean {close[0]}?" if close else ""
    return f"There is no thread “{wanted[:60]}”.{hint} /threads lists the library."


def _to_chat(
    send: Callable[..., Awaitable[Message]], /, **kwargs: Any
) -> Callable[[int], Awaitable[Message]]:
    """`send` with everything bound but the chat id, which send_safely supplies."""

    async def call(chat_id: int) -> Message:
        return await send(chat_id=chat_id, **kwargs)

    return call


async def send_preview(
    bot: Bot, svc: Services, chat_id: int, thread: Thread
) -> SendResult[Message]:
    """The thread as one installment, with the drip's own rendering and closed quiz polls."""
    installment = plan_installment(
        Library(threads={thread.id: thread}, tracks={}), [thread.id], Position(0, 0), 0, 1
    )
    assert installment is not None  # a library thread has at least one post
    reply_to: int | None = None
    result: SendResult[Message] = SendResult(Outcome.sent)
    for item in installment.items:
        reply = ReplyParameters(reply_to, allow_sending_without_reply=True) if reply_to else None
        if item.startswith("p"):
            result = await send_post(bot, thread, int(item[1:]), chat_id, reply, svc.pacer)
        elif item.startswith("q:"):
            question = next(q for q in thread.quiz if q.id == item[2:])
            poll = _to_chat(
                send_quiz_poll, bot=bot, question=question, is_closed=True, reply_to=reply_to
            )
            result = await send_safely(poll, chat_id, pacer=svc.pacer)
        else:
            if item == END_ITEM:
                html = thread_end_text(thread, None, None, None)
            else:  # the header opens the installment and replies to nothing
                html = header_text(1, thread, installment.first_post, installment.last_post)
                reply = None
            send = _to_chat(
                bot.send_message, text=html, parse_mode=ParseMode.HTML, reply_parameters=reply
            )
            result = await send_safely(send, chat_id, pacer=svc.pacer)
        if result.outcome != Outcome.sent:
            return result
        if result.value is not None:
            reply_to = result.value.message_id
    return result


# --- /schedule, /schedules, /unschedule -----------------------------------------------------


@admin_only()
async def schedule_command(update: Update, context: Context) -> None:
    """`/schedule <thread|track> <chat> <YYYY-MM-DD> <HH:MM> [zone] [posts per day]`."""
    svc = services(context)
    user = update.effective_user
    assert user is not None
    try:
        request = parse_schedule_args(
            context.args or [],
            svc.library(),
            svc.now(),
            default_timezone=svc.settings.default_timezone,
            default_pace=svc.settings.default_pace,
        )
        target = await check_publish_target(context.bot, request.chat)
        schedule_id = await svc.db.run(schedules.add_schedule, request, target, user.id, svc.now())
    except (InputError, TargetError, ScheduleConflict) as exc:
        await _say(update, f"⚠️ {escape(str(exc))}")
        return
    lines = schedule_confirmation(schedule_id, request, target)
    lines.append(f"/schedules lists every schedule; /unschedule {schedule_id} removes this one.")
    await _say(update, "\n".join(escape(line) for line in lines))


@admin_only()
async def schedules_command(update: Update, context: Context) -> None:
    svc = services(context)
    found = await svc.db.run(schedules.schedules, svc.library())
    if not found:
        await _say(update, "Nothing is scheduled. /schedule publishes a thread or track.")
        return
    await _say_lines(
        update,
        ["<b>Schedules</b> (next send in each schedule's time zone)"]
        + [f"• {escape(schedule_line(s))}" for s in found],
    )


@admin_only()
async def unschedule_command(update: Update, context: Context) -> None:
    svc = services(context)
    raw = (context.args or [""])[0].lstrip("#")
    try:
        schedule_id = int(raw)
    except ValueError:
        await _say(update, "Usage: /unschedule &lt;id&gt; (/schedules shows the ids)")
        return
    removed = await svc.db.run(schedules.remove_schedule, schedule_id)
    if removed is None:
        await _say(update, f"There is no schedule #{schedule_id}. /schedules lists them.")
        return
    await _say(
        update,
        f"🗑 Removed schedule #{schedule_id}: {escape(removed.plan_id)} into "
        f"{escape(removed.chat)}. Nothing more will be sent.",
    )


# --- /import --------------------------------------------------------------------------------

IMPORT_HELP = (
    "Send me the file to import: a .md, .txt or .csv export (Thread Reader App, Readwise, "
    "a thread copied from X, Markdown), the X archive's tweets.js or a .yaml thread, up to "
    "1 MB. I check it and show you what I found before anything joins the library."
)


@admin_only()
async def import_command(update: Update, context: Context) -> None:
    """`/import` alone asks for the file; as a reply to a file, imports that file."""
    message = update.effective_message
    assert message is not None
    replied = message.reply_to_message
    if replied is not None and replied.document is not None:
        await _import_file(update, context, replied)
        return
    await _say(update, escape(IMPORT_HELP))


@admin_only(refusal=FILES_NOT_AVAILABLE)
async def import_document(update: Update, context: Context) -> None:
    """A file from an admin (with or without the caption /import) is an import."""
    message = update.effective_message
    assert message is not None
    await _import_file(update, context, message)


async def _import_file(update: Update, context: Context, message: Message) -> None:
    svc = services(context)
    chat, user = update.effective_chat, update.effective_user
    document = message.document
    assert chat is not None and user is not None and document is not None
    filename = document.file_name or "upload"
    try:
        check_import_file(filename, document.file_size)
    except InputError as exc:
        await _say(update, f"⚠️ {escape(str(exc))} Nothing was imported.")
        return
    try:
        telegram_file = await document.get_file()
        data = bytes(await telegram_file.download_as_bytearray())
    except BadRequest as exc:
        await _say(update, f"⚠️ I could not download {escape(filename)}: {escape(exc.message)}")
        return
    except (TimedOut, NetworkError):
        await _say(update, f"⚠️ Downloading {escape(filename)} timed out; send it again.")
        return
    try:
        check_import_file(filename, len(data))  # Telegram does not always say the size
    except InputError as exc:
        await _say(update, f"⚠️ {escape(str(exc))} Nothing was imported.")
        return
    # Reading a big export takes seconds: in the background, so every chat is answered.
    svc.spawn(_import_in_background(context.bot, svc, chat.id, user.id, filename, data))


async def _import_in_background(
    bot: Bot, svc: Services, chat_id: int, admin_id: int, filename: str, data: bytes
) -> None:
    """Read the file, keep its drafts waiting for Publish, and send the report."""

    async def say(html: str, markup: InlineKeyboardMarkup | None = None) -> None:
        await bot.send_message(chat_id, html, reply_markup=markup)

    try:
        await bot.send_chat_action(chat_id, ChatAction.TYPING)
        try:
            result = await imports.read_import(filename, data, svc.library())
        except ReadTooSlow:
            await say(
                f"⚠️ Reading {escape(filename)} took longer than "
                f"{imports.IMPORT_SECONDS:g} seconds, so I stopped. Nothing was imported. "
                "Split it into smaller files (one thread each) and send them one at a time."
            )
            return
        except ReadFailed as exc:
            log.error("reading %s failed: %s", filename, exc)
            await say(f"⚠️ I could not read {escape(filename)}; nothing was imported.")
            return
        if not result.ok:
            for part in split_html("\n".join(import_problem_lines(result))):
                await say(part)
            return
        token = await svc.db.run(imports.stage_import, admin_id, result, svc.now())
        buttons = InlineKeyboardMarkup(
            [
                [
                    InlineKeyboardButton(
                        "✅ Publish", callback_data=encode(ImportChoice(True, token))
                    ),
                    InlineKeyboardButton(
                        "Cancel", callback_data=encode(ImportChoice(False, token))
                    ),
                ]
            ]
        )
        parts = split_html("\n".join(import_summary_html(result)))
        for part in parts[:-1]:
            await say(part)
        await say(parts[-1], buttons)
    except TelegramError as exc:
        log.warning("the report on %s did not reach %s: %s", filename, chat_id, exc)


def import_problem_lines(result: ImportResult) -> list[str]:
    problems = result.problems or [f"{result.filename}: no thread found in this file"]
    lines = [
        f"❌ <b>{escape(result.filename)} was not imported</b>: "
        f"{len(problems)} problem(s). Fix them and send the file again.",
        "",
    ]
    lines += [f"<code>{escape(p)}</code>" for p in problems[:MAX_REPORT_PROBLEMS]]
    if len(problems) > MAX_REPORT_PROBLEMS:
        lines.append(f"… and {len(problems) - MAX_REPORT_PROBLEMS} more.")
    return lines


def import_summary_html(result: ImportResult) -> list[str]:
    count = len(result.drafts)
    lines = [
        f"📥 <b>{escape(result.filename)}</b> is ready to import: "
        f"{count} thread{'s' if count != 1 else ''}.",
    ]
    lines += [f"• {escape(line)}" for line in import_summary_lines(result)]
    if result.notes:
        lines.append("\n<b>Notes</b>")
        lines += [f"• {escape(note)}" for note in result.notes]
    lines.append("\nPublish adds it to the library; nothing changes until you press it.")
    return lines


STALE_IMPORT = (
    "That import is no longer waiting: it was published, cancelled or replaced by a newer file."
)


@admin_only()
async def import_choice(update: Update, context: Context) -> None:
    """The Publish or Cancel button under an import report."""
    svc = services(context)
    query = update.callback_query
    user = update.effective_user
    assert query is not None and user is not None
    choice = pressed(update, ImportChoice)
    await query.answer()
    await _drop_buttons(query.message)
    if not choice.publish:
        cancelled = await svc.db.run(imports.cancel_import, user.id, choice.token)
        await _say(update, "Cancelled: nothing was imported." if cancelled else STALE_IMPORT)
        return
    # Several units of work with the library reloaded between them: in a worker thread.
    published = await asyncio.to_thread(
        imports.publish_import, svc.db, user.id, choice.token, svc.library(), svc.reload_library
    )
    await _say_lines(update, _published_lines(published, svc.library()))


def _published_lines(published: imports.Published, library: Library) -> list[str]:
    if published.stale:
        return [STALE_IMPORT]
    if published.clashes:
        return [
            "⚠️ Not imported: "
            + ", ".join(escape(c) for c in published.clashes)
            + " joined the library in the meantime. Change the id and send the file again."
        ]
    if published.problems:
        return ["⚠️ Not imported: the library would not load with it."] + [
            f"<code>{escape(p)}</code>" for p in published.problems[:MAX_REPORT_PROBLEMS]
        ]
    lines = ["✅ <b>Published</b>; it is in /threads now:"]
    for thread_id in published.thread_ids:
        thread = library.threads.get(thread_id)
        title = thread.title if thread else thread_id
        lines.append(f"• {escape(title)} ({escape(thread_id)})")
    lines.append("Use /preview to check it and /schedule to publish it into a group or channel.")
    return lines


async def _drop_buttons(message: Any) -> None:
    if not isinstance(message, Message):
        return
    try:
        await message.edit_reply_markup(reply_markup=None)
    except BadRequest as exc:  # already without buttons, or too old to edit
        log.info("could not remove the import buttons: %s", exc.message)


# --- /stats ---------------------------------------------------------------------------------

STATS_QUESTIONS_IN_CHAT = 15


@admin_only()
async def stats_command(update: Update, context: Context) -> None:
    """Subscribers, deliveries, completions and accuracy, with a chart."""
    svc = services(context)
    chat = update.effective_chat
    assert chat is not None
    stats = await svc.db.run(admins.stats, svc.library(), svc.now())
    await _say_pre(update, stats_table(stats, max_questions=STATS_QUESTIONS_IN_CHAT))
    png = await asyncio.to_thread(stats_chart_png, stats)
    try:
        await context.bot.send_photo(chat.id, png, caption="tweetdrip statistics")
    except BadRequest as exc:
        log.warning("the stats chart was refused: %s", exc.message)


# --- /broadcast -----------------------------------------------------------------------------


@dataclass
class BroadcastCounts:
    total: int
    sent: int = 0
    blocked: int = 0
    failed: int = 0

    @property
    def done(self) -> int:
        return self.sent + self.blocked + self.failed

    def summary(self) -> str:
        return (
            f"sent {self.sent}, blocked {self.blocked}, failed {self.failed} "
            f"(of {self.total} subscribers)"
        )


@admin_only()
async def broadcast_command(update: Update, context: Context) -> None:
    """`/broadcast <text>`: an announcement to every active trainee, sent in the background."""
    svc = services(context)
    message = update.effective_message
    assert message is not None and message.text is not None
    parts = message.text.split(maxsplit=1)
    text = parts[1].strip() if len(parts) > 1 else ""
    if not text:
        await _say(update, "Usage: /broadcast &lt;announcement text&gt;")
        return
    if len(text) > MESSAGE_TEXT_LIMIT:
        await _say(
            update,
            f"That announcement is {len(text)} characters; Telegram allows {MESSAGE_TEXT_LIMIT}.",
        )
        return
    chats = await svc.db.run(admins.broadcast_chats)
    if not chats:
        await _say(update, "There are no active subscribers; nothing was sent.")
        return
    progress = await _say(update, f"📣 Broadcasting to {len(chats)} subscribers… 0/{len(chats)}")
    svc.spawn(broadcast(context.bot, svc, chats, text, progress))


async def broadcast(
    bot: Bot, svc: Services, chats: Sequence[int], text: str, progress: Message | None = None
) -> BroadcastCounts:
    """Send `text` to `chats` as plain text, editing `progress` every few sends; blocked
    chats are marked blocked. Returns the counts."""
    counts = BroadcastCounts(total=len(chats))
    every = svc.settings.broadcast_progress_every
    pending = iter(chats)

    async def worker() -> None:
        for chat_id in pending:
            # The admin's own words, shown as typed: not HTML.
            result = await send_safely(
                lambda c: bot.send_message(c, text, parse_mode=None), chat_id, pacer=svc.pacer
            )
            if result.outcome == Outcome.sent:
                counts.sent += 1
            elif result.outcome == Outcome.blocked:
                counts.blocked += 1
                await svc.db.run(admins.mark_blocked, chat_id, svc.now())
            else:
                counts.failed += 1
                log.info("broadcast to %s failed: %s", chat_id, result.error)
            if progress is not None and counts.done % every == 0 and counts.done < counts.total:
                await _edit_progress(
                    progress,
                    f"📣 Broadcasting to {counts.total} subscribers… {counts.done}/{counts.total}",
                )

    workers = min(svc.settings.broadcast_concurrency, len(chats))
    await asyncio.gather(*(worker() for _ in range(workers)))
    log.info("broadcast finished: %s", counts.summary())
    if progress is not None:
        await _edit_progress(progress, f"📣 Broadcast finished: {counts.summary()}.")
    return counts


async def _edit_progress(progress: Message, text: str) -> None:
    try:
        await progress.edit_text(text)
    except BadRequest as exc:  # "message is not modified" and the like
        log.info("broadcast progress not edited: %s", exc.message)
    except TelegramError as exc:
        log.warning("broadcast progress not edited: %s", exc)
