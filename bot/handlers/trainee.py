"""Trainee flows in a private chat: onboarding, settings, /next, pause, stop, about, forget."""

from __future__ import annotations

from collections.abc import Sequence
from html import escape
from typing import Any

from telegram import InlineKeyboardButton, InlineKeyboardMarkup, Update
from telegram.constants import ChatType, ParseMode
from telegram.ext import Application, CommandHandler, MessageHandler, filters

from bot.callbacks import (
    Button,
    ButtonHandler,
    ChangeSetting,
    ConfirmForget,
    InvalidButtonHandler,
    OnboardingAnswer,
    encode,
    pressed,
)
from bot.commands import ADMIN_COMMANDS, GROUP_COMMANDS, TRAINEE_COMMANDS, help_lines
from bot.context import Context, Services, services
from bot.dispatch import deliver_now
from bot.domain.drip import plan_thread_ids, resume_position
from bot.domain.schedule import next_delivery_at
from bot.domain.timeparse import InputError, parse_clock_time, parse_timezone, zone, zone_label
from bot.handlers.admin import is_admin
from bot.lanes import as_reply
from bot.render import credit_line, split_html
from content.models import Library
from storage.db import session_scope
from storage.models import PlanKind, Subscription, SubscriptionKind, SubscriptionStatus
from storage.subscriptions import delivered_posts, forget_user, trainee_subscription
from storage.text import NAME_LIMIT, clean_text

PRIVATE = filters.ChatType.PRIVATE
# Only new messages: an edited `/pause` or an edited answer is not said again.
NEW = filters.UpdateType.MESSAGE
ONBOARDING_ORDER = ["track", "time", "timezone", "pace"]
TIME_PRESETS = ["06:30", "07:30", "08:00", "12:30", "18:00", "21:00"]
ZONE_PRESETS = [
    "Europe/London",
    "America/New_York",
    "America/Chicago",
    "America/Los_Angeles",
    "Asia/Kolkata",
    "UTC",
]
PACE_PRESETS = [
    (2, "2 posts a day"),
    (4, "4 posts a day"),
    (6, "6 posts a day"),
    (0, "A whole thread a day"),
]
MAX_INPUT = 200  # longer typed answers cannot be a time or a zone


def register(app: Application[Any, Any, Any, Any, Any, Any]) -> None:
    """Trainee commands work in private chats; /help works everywhere."""
    private = PRIVATE & NEW
    app.add_handler(CommandHandler("start", start, filters=private))
    app.add_handler(CommandHandler("start", start_in_group, filters=filters.ChatType.GROUPS & NEW))
    app.add_handler(CommandHandler("help", help_command, filters=NEW))
    app.add_handler(CommandHandler("settings", settings_command, filters=private))
    app.add_handler(CommandHandler("next", next_command, filters=private))
    app.add_handler(CommandHandler("pause", pause, filters=private))
    app.add_handler(CommandHandler("resume", resume, filters=private))
    app.add_handler(CommandHandler("stop", stop, filters=private))
    app.add_handler(CommandHandler("about", about, filters=NEW))
    app.add_handler(CommandHandler("forget", forget, filters=private))
    app.add_handler(ButtonHandler(on_onboarding_answer, OnboardingAnswer))
    app.add_handler(ButtonHandler(on_setting, ChangeSetting))
    app.add_handler(ButtonHandler(on_forget_answer, ConfirmForget))
    # Any press no module took (forged, stale or inline) is answered and ignored. It only
    # matches presses no button handler accepts, so its place among them does not matter.
    app.add_handler(InvalidButtonHandler())
    # Free text last: it answers the question the trainee is being asked, if any.
    app.add_handler(MessageHandler(private & filters.TEXT & ~filters.COMMAND, on_text))
    app.add_handler(MessageHandler(private & filters.COMMAND, unknown_command))


# --- questions ------------------------------------------------------------------------------


def _keyboard(rows: Sequence[Sequence[tuple[str, Button]]]) -> InlineKeyboardMarkup:
    return InlineKeyboardMarkup(
        [[InlineKeyboardButton(t, callback_data=encode(b)) for t, b in row] for row in rows]
    )


def _question(
    field: str, library: Library, sub: Subscription
) -> tuple[str, InlineKeyboardMarkup | None]:
    if field == "track":
        rows = [[(t.title, OnboardingAnswer("track", t.id))] for t in library.tracks.values()]
        listing = "\n".join(
            f"• <b>{escape(t.title)}</b> – {escape(t.description)}"
            if t.description
            else f"• <b>{escape(t.title)}</b>"
            for t in library.tracks.values()
        )
        return f"<b>Which track would you like to follow?</b>\n{listing}", _keyboard(rows)
    if field == "time":
        rows = [
            [(t, OnboardingAnswer("time", t)) for t in TIME_PRESETS[:3]],
            [(t, OnboardingAnswer("time", t)) for t in TIME_PRESETS[3:]],
        ]
        return (
            "<b>When should each installment arrive?</b>\n"
            "Pick a time or type one as HH:MM (24-hour), "
            "for example 07:15. It is your local time; you set the zone next.",
            _keyboard(rows),
        )
    if field == "timezone":
        rows = [
            [(z, OnboardingAnswer("timezone", z)) for z in ZONE_PRESETS[i : i + 2]]
            for i in range(0, len(ZONE_PRESETS), 2)
        ]
        return (
            "<b>Which time zone are you in?</b>\nPick one or type its name (Europe/Berlin), a city "
            "(Toronto) or an offset (UTC+5:30). Daylight saving is handled for you.",
            _keyboard(rows),
        )
    if field == "pace":
        rows = [[(label, OnboardingAnswer("pace", str(n)))] for n, label in PACE_PRESETS]
        return (
            "<b>How much per installment?</b>\nA tweetorial post takes about a minute to read.",
            _keyboard(rows),
        )
    if field == "reminders":
        state = "on" if sub.reminders else "off"
        rows = [
            [
                ("Remind me", OnboardingAnswer("reminders", "on")),
                ("No reminders", OnboardingAnswer("reminders", "off")),
            ]
        ]
        return (
            f"Quiz reminders are <b>{state}</b>. If you leave a quiz unanswered, "
            "I remind you about it once, a few hours later.",
            _keyboard(rows),
        )
    raise ValueError(field)


async def _ask(update: Update, context: Context, sub: Subscription, field: str) -> None:
    text, markup = _question(field, services(context).library(), sub)
    with session_scope(services(context).engine) as session:
        row = session.get(Subscription, sub.id)
        if row is not None:
            row.onboarding_step = field
            session.add(row)
    await _reply(update, text, markup)


async def _reply(update: Update, text: str, markup: InlineKeyboardMarkup | None = None) -> None:
    chat = update.effective_chat
    assert chat is not None
    await chat.send_message(text, parse_mode=ParseMode.HTML, reply_markup=markup)


# --- applying answers -----------------------------------------------------------------------


def _apply(svc: Services, sub: Subscription, field: str, raw: str) -> str:
    """Store one answer on `sub`; return a short confirmation. Raises InputError on bad input."""
    library = svc.library()
    if field == "track":
        if raw not in library.tracks:
            raise InputError(
                "That track is not in the library any more; please pick one of the buttons."
            )
        sub.plan_kind, sub.plan_id = PlanKind.track, raw
        return f"Track: <b>{escape(library.tracks[raw].title)}</b>."
    if field == "time":
        sub.delivery_time = parse_clock_time(raw[:MAX_INPUT]).strftime("%H:%M")
        return f"Delivery time: <b>{sub.delivery_time}</b>."
    if field == "timezone":
        sub.timezone = parse_timezone(raw[:MAX_INPUT])
        local = svc.now().astimezone(zone(sub.timezone))
        label = escape(zone_label(sub.timezone, svc.now()))
        return f"Time zone: <b>{label}</b>, where it is now {local:%H:%M}."
    if field == "pace":
        try:
            pace = int(raw)
        except ValueError:
            raise InputError(
                "Please pick a pace with the buttons, or type a number of posts from 1 to 20."
            ) from None
        if not 0 <= pace <= 20:
            raise InputError(
                "A pace goes from 1 to 20 posts per installment (0 for a whole thread)."
            )
        sub.pace = pace
        return (
            "Pace: <b>a whole thread per installment</b>."
            if pace == 0
            else f"Pace: <b>{pace} posts per installment</b>."
        )
    if field == "reminders":
        sub.reminders = raw == "on"
        return f"Quiz reminders <b>{'on' if sub.reminders else 'off'}</b>."
    raise InputError("That question has expired; use /settings to change something.")


class _StaleQuestion(Exception):
    """A button or answer for a question that is no longer being asked."""


def _store_answer(svc: Services, chat_id: int, field: str, raw: str) -> tuple[str, Subscription]:
    """Apply one answer and move onboarding on; raises InputError (nothing is saved)."""
    now = svc.now()
    with session_scope(svc.engine) as session:
        sub = trainee_subscription(session, chat_id)
        if sub is None or (sub.onboarding_step != field and field != "reminders"):
            raise _StaleQuestion
        confirmation = _apply(svc, sub, field, raw)
        onboarding = sub.status == SubscriptionStatus.onboarding
        sub.onboarding_step = _next_field(field) if onboarding else None
        if field == "track":
            library = svc.library()
            thread_ids = plan_thread_ids(library, sub.plan_kind, sub.plan_id)
            delivered = delivered_posts(session, sub.id) if sub.id else {}
            position = resume_position(library, thread_ids, delivered)
            sub.thread_index, sub.next_post = position.thread_index, position.next_post
        if sub.onboarding_step is None:
            if sub.status in (SubscriptionStatus.onboarding, SubscriptionStatus.finished):
                sub.status = SubscriptionStatus.active
            if sub.status == SubscriptionStatus.active:
                sub.next_due_at = next_delivery_at(sub.timezone, sub.delivery_time, now)
        sub.updated_at = now
        session.add(sub)
        return confirmation, sub.model_copy()


async def _answer(update: Update, context: Context, field: str, raw: str) -> None:
    svc = services(context)
    chat = update.effective_chat
    assert chat is not None
    try:
        confirmation, sub = _store_answer(svc, chat.id, field, raw)
    except _StaleQuestion:
        await _reply(
            update, "That belongs to an earlier question. Use /settings to change something."
        )
        return
    except InputError as exc:
        await _reply(update, f"⚠️ {escape(str(exc))}")
        current = _load(update, context)
        if current is not None:
            await _ask(update, context, current, field)
        return
    await _reply(update, confirmation)
    if sub.onboarding_step:
        await _ask(update, context, sub, sub.onboarding_step)
    elif sub.status == SubscriptionStatus.active:
        welcome = field == "pace" and sub.installments_sent == 0
        await _reply(update, _summary(svc, sub, welcome=welcome))


def _next_field(field: str) -> str | None:
    index = ONBOARDING_ORDER.index(field) if field in ONBOARDING_ORDER else len(ONBOARDING_ORDER)
    return ONBOARDING_ORDER[index + 1] if index + 1 < len(ONBOARDING_ORDER) else None


def _summary(svc: Services, sub: Subscription, *, welcome: bool = False) -> str:
    library = svc.library()
    title = (
        library.tracks[sub.plan_id].title if sub.plan_id in library.tracks else sub.plan_id or "–"
    )
    pace = "a whole thread" if sub.pace == 0 else f"{sub.pace} posts"
    lines = ["🎉 <b>You're subscribed!</b>" if welcome else "<b>Your settings</b>"]
    lines.append(f"Track: <b>{escape(str(title))}</b>")
    lines.append(
        f"Every day at <b>{sub.delivery_time}</b> "
        f"({escape(zone_label(sub.timezone, svc.now()))}), {pace} per installment"
    )
    lines.append(f"Quiz reminders: {'on' if sub.reminders else 'off'}")
    if sub.status == SubscriptionStatus.active and sub.next_due_at is not None:
        local = sub.next_due_at.astimezone(zone(sub.timezone))
        lines.append(f"Next installment: <b>{local:%a %d %b, %H:%M}</b>")
    elif sub.status == SubscriptionStatus.paused:
        lines.append("The drip is paused: /resume to continue.")
    if welcome:
        lines.append(
            "\nCan't wait? Send /next to get the first installment now. "
            "/help lists everything else."
        )
    return "\n".join(lines)


# --- commands -------------------------------------------------------------------------------


async def start(update: Update, context: Context) -> None:
    """Welcome a new trainee, or bring back one who stopped; `/start <track>` preselects a track."""
    svc = services(context)
    chat, user = update.effective_chat, update.effective_user
    assert chat is not None and user is not None
    wanted = context.args[0].strip().lower() if context.args else None
    library = svc.library()
    now = svc.now()
    with session_scope(svc.engine) as session:
        sub = trainee_subscription(session, chat.id)
        returning = sub is not None and sub.status != SubscriptionStatus.onboarding
        if sub is None:
            sub = Subscription(
                kind=SubscriptionKind.trainee,
                chat_id=chat.id,
                user_id=user.id,
                name=clean_text(user.first_name, NAME_LIMIT),
                timezone=svc.settings.default_timezone,
                delivery_time=svc.settings.default_delivery_time,
                pace=svc.settings.default_pace,
            )
            session.add(sub)
            session.flush()
        if (
            returning
            and sub.status in (SubscriptionStatus.stopped, SubscriptionStatus.blocked)
            and not wanted
        ):
            sub.status = SubscriptionStatus.active
            sub.next_due_at = next_delivery_at(sub.timezone, sub.delivery_time, now)
        step = "track"
        if wanted and wanted in library.tracks:
            sub.plan_kind, sub.plan_id = PlanKind.track, wanted
            thread_ids = plan_thread_ids(library, sub.plan_kind, wanted)
            position = resume_position(library, thread_ids, delivered_posts(session, sub.id))  # type: ignore[arg-type]
            sub.thread_index, sub.next_post = position.thread_index, position.next_post
            step = "time"
            if returning:
                sub.status = SubscriptionStatus.active
                sub.next_due_at = next_delivery_at(sub.timezone, sub.delivery_time, now)
        sub.onboarding_step = None if returning else step
        session.add(sub)
        snapshot = sub.model_copy()
    name = escape(clean_text(user.first_name, NAME_LIMIT))
    if returning:
        await _reply(update, f"👋 Welcome back, {name}!\n\n" + _summary(svc, snapshot))
        return
    intro = (
        f"👋 Hi {name}, welcome to <b>tweetdrip</b>!\n\n"
        "Every day I send you a short installment of a tweetorial: an expert's numbered thread "
        "teaching one topic, post by post. Quiz questions follow, and what you miss comes back "
        "later for review.\n\nThree quick questions and you're set."
    )
    if wanted and wanted not in library.tracks:
        intro += (
            f"\n\n(I don't know a track called “{escape(wanted[:40])}”, so please pick one below.)"
        )
    await _reply(update, intro)
    await _ask(update, context, snapshot, step)


async def start_in_group(update: Update, context: Context) -> None:
    """In a group, point to the group quiz and to a private chat for the daily drip."""
    link = (
        f"https://t.me/{context.bot.username}?start" if context.bot.username else "a private chat"
    )
    await _reply(
        update,
        "Here I run live quizzes: send /groupquiz to start one. For your own daily drip, "
        f'<a href="{escape(link, quote=True)}">message me privately</a> and send /start.',
    )


async def help_command(update: Update, context: Context) -> None:
    chat = update.effective_chat
    assert chat is not None
    if chat.type == ChatType.PRIVATE:
        text = "<b>tweetdrip</b> sends you a tweetorial a little at a time, with quizzes "
        text += "and reviews.\n\n"
        text += "\n".join(escape(line) for line in help_lines(TRAINEE_COMMANDS))
        user = update.effective_user
        if user is not None and is_admin(services(context), user.id):
            text += "\n\n<b>Admin commands</b>\n"
            text += "\n".join(escape(line) for line in help_lines(ADMIN_COMMANDS))
    else:
        text = "<b>tweetdrip</b> in a group: live quizzes with a leaderboard.\n\n"
        text += "\n".join(escape(line) for line in help_lines(GROUP_COMMANDS))
    for part in split_html(text):
        await _reply(update, part)


async def settings_command(update: Update, context: Context) -> None:
    svc = services(context)
    sub = _load(update, context)
    if sub is None or sub.status == SubscriptionStatus.onboarding:
        await _reply(update, "You are not subscribed yet. Send /start to begin.")
        return
    rows = [
        [("Track", ChangeSetting("track")), ("Delivery time", ChangeSetting("time"))],
        [("Time zone", ChangeSetting("timezone")), ("Pace", ChangeSetting("pace"))],
        [("Quiz reminders", ChangeSetting("reminders"))],
    ]
    await _reply(update, _summary(svc, sub) + "\n\nWhat would you like to change?", _keyboard(rows))


async def on_onboarding_answer(update: Update, context: Context) -> None:
    """A preset answer's button."""
    button = pressed(update, OnboardingAnswer)
    if await _answered(update):
        await _answer(update, context, button.field, button.value)


async def on_setting(update: Update, context: Context) -> None:
    """A /settings button: ask that question again."""
    button = pressed(update, ChangeSetting)
    if not await _answered(update):
        return
    sub = _load(update, context)
    if sub is None:
        await _reply(update, "You are not subscribed yet. Send /start to begin.")
        return
    await _ask(update, context, sub, button.field)


async def on_forget_answer(update: Update, context: Context) -> None:
    """The confirmation buttons of /forget."""
    button = pressed(update, ConfirmForget)
    if await _answered(update):
        await _forget_confirmed(update, context, button.confirmed)


async def _answered(update: Update) -> bool:
    """Answer the press; True if it came from a private chat, where these buttons live."""
    assert update.callback_query is not None
    await update.callback_query.answer()
    chat = update.effective_chat
    return chat is not None and chat.type == ChatType.PRIVATE


async def on_text(update: Update, context: Context) -> None:
    """Typed text answers the current question; anything else gets a pointer to /help."""
    message = update.effective_message
    assert message is not None and message.text is not None
    sub = _load(update, context)
    if sub is not None and sub.onboarding_step:
        await _answer(update, context, sub.onboarding_step, message.text.strip())
        return
    await _reply(update, "I only understand commands here. Send /help to see them.")


async def unknown_command(update: Update, context: Context) -> None:
    """Registered last: any command no other handler took."""
    message = update.effective_message
    if message is None or message.text is None:
        return
    name = message.text.split()[0][:40]
    await _reply(update, f"I don't know {escape(name)}. Send /help to see what I can do.")


async def next_command(update: Update, context: Context) -> None:
    """Make the next installment due now and deliver it: this trainee's, no one else's."""
    svc = services(context)
    chat = update.effective_chat
    assert chat is not None
    due: int | None = None  # the subscription made due now
    with session_scope(svc.engine) as session:
        sub = trainee_subscription(session, chat.id)
        if sub is None or sub.status == SubscriptionStatus.onboarding:
            reply = "You are not subscribed yet. Send /start to begin."
        elif sub.status == SubscriptionStatus.finished:
            reply = "You have read everything in your track 🎉 Send /start to pick another one."
        elif sub.lease_until is not None and sub.lease_until > svc.now():
            reply = "Your installment is on its way."
        else:
            if sub.status != SubscriptionStatus.active:
                sub.status = SubscriptionStatus.active
            sub.next_due_at = svc.now()
            session.add(sub)
            due = sub.id
    if due is None:
        await _reply(update, reply)
        return
    # Deliver in the background so other trainees' updates are not held up meanwhile. If a
    # dispatcher claims it first (it is due now), that one delivers it. It answers this
    # person, so it goes ahead of scheduled sends (bot/lanes.py).
    services(context).spawn(as_reply(deliver_now(context.application, due)))


async def pause(update: Update, context: Context) -> None:
    text = _set_status(update, context, SubscriptionStatus.paused)
    await _reply(update, text or "⏸ Paused. Nothing arrives until you send /resume.")


async def resume(update: Update, context: Context) -> None:
    text = _set_status(update, context, SubscriptionStatus.active)
    if text is None:
        sub = _load(update, context)
        assert sub is not None
        text = "▶️ Resumed.\n\n" + _summary(services(context), sub)
    await _reply(update, text)


async def stop(update: Update, context: Context) -> None:
    text = _set_status(update, context, SubscriptionStatus.stopped)
    await _reply(
        update,
        text
        or "👋 Unsubscribed. Your progress is kept: send /start whenever you want to continue.",
    )


def _set_status(update: Update, context: Context, status: SubscriptionStatus) -> str | None:
    """Change the drip's status; return a message when there is nothing to change."""
    svc = services(context)
    chat = update.effective_chat
    assert chat is not None
    with session_scope(svc.engine) as session:
        sub = trainee_subscription(session, chat.id)
        if sub is None or sub.status == SubscriptionStatus.onboarding:
            return "You are not subscribed yet. Send /start to begin."
        if sub.status == SubscriptionStatus.finished:
            return "You have finished your track. Send /start to pick another one."
        if sub.status == status:
            return {
                SubscriptionStatus.paused: "Already paused. Send /resume to continue.",
                SubscriptionStatus.active: "Your drip is already running.",
                SubscriptionStatus.stopped: "You are already unsubscribed. /start brings you back.",
            }.get(status, "Nothing to change.")
        sub.status = status
        sub.idle_installments = 0
        sub.next_due_at = (
            next_delivery_at(sub.timezone, sub.delivery_time, svc.now())
            if status == SubscriptionStatus.active
            else None
        )
        session.add(sub)
    return None


async def about(update: Update, context: Context) -> None:
    """Credit every author and link every original."""
    library = services(context).library()
    lines = [
        "<b>About tweetdrip</b>\nThe tweetorials belong to their authors; tweetdrip only "
        "delivers them. Thank you to:\n"
    ]
    for thread in library.threads.values():
        partial = " (opening posts only)" if thread.status == "partial" else ""
        lines.append(f"• <b>{escape(thread.title)}</b>{partial} – {credit_line(thread)}")
    for part in split_html("\n".join(lines)):
        await _reply(update, part)


FORGET_WARNING = (
    "This deletes everything stored about you: your subscription, progress, quiz answers, "
    "review schedule and group quiz scores, and an admin grant if you have one. Group quizzes "
    "you started or stopped stay in their group's history without your name. "
    "It cannot be undone. Are you sure?"
)


async def forget(update: Update, context: Context) -> None:
    rows = [
        [("Yes, delete everything", ConfirmForget(True)), ("No, keep it", ConfirmForget(False))]
    ]
    await _reply(update, FORGET_WARNING, _keyboard(rows))


async def _forget_confirmed(update: Update, context: Context, confirmed: bool) -> None:
    chat, user = update.effective_chat, update.effective_user
    assert chat is not None and user is not None
    if not confirmed:
        await _reply(update, "Nothing was deleted.")
        return
    with session_scope(services(context).engine) as session:
        forget_user(session, user.id, chat.id)
    await _reply(update, "🗑 Done: everything stored about you is deleted. /start begins afresh.")


def _load(update: Update, context: Context) -> Subscription | None:
    chat = update.effective_chat
    assert chat is not None
    with session_scope(services(context).engine) as session:
        return trainee_subscription(session, chat.id)
