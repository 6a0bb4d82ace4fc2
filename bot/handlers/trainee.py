"""Trainee flows in a private chat: onboarding, settings, /next, pause, stop, about, forget.

Each handler reads the update, calls one service (bot/services/subscriptions.py) through
the database runner, and renders the reply. Registered in bot/app.py.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from html import escape

from telegram import InlineKeyboardButton, InlineKeyboardMarkup, Update
from telegram.constants import ChatType

from bot.callbacks import Button, ChangeSetting, ConfirmForget, OnboardingAnswer, encode, pressed
from bot.commands import ADMIN_COMMANDS, GROUP_COMMANDS, TRAINEE_COMMANDS, help_lines
from bot.context import Context, Services, services
from bot.dispatch import deliver_now
from bot.domain.lifecycle import Change, Status
from bot.domain.timeparse import zone, zone_label
from bot.lanes import as_reply
from bot.render import credit_line, split_html
from bot.services import admin as admins
from bot.services import subscriptions as subs
from bot.services.subscriptions import (
    PACE_PRESETS,
    TIME_PRESETS,
    ZONE_PRESETS,
    AnswerKind,
    NewTrainee,
    Trainee,
)
from content.models import Library
from storage.text import NAME_LIMIT, clean_text

NOT_SUBSCRIBED = "You are not subscribed yet. Send /start to begin."


# --- questions ------------------------------------------------------------------------------


def _keyboard(rows: Sequence[Sequence[tuple[str, Button]]]) -> InlineKeyboardMarkup:
    return InlineKeyboardMarkup(
        [[InlineKeyboardButton(t, callback_data=encode(b)) for t, b in row] for row in rows]
    )


def _question(
    field: str, library: Library, sub: Trainee
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


async def _ask(update: Update, svc: Services, sub: Trainee, field: str) -> None:
    """Send the question for `field` (the service has noted it as the one being asked)."""
    await _reply(update, *_question(field, svc.library(), sub))


async def _reply(update: Update, text: str, markup: InlineKeyboardMarkup | None = None) -> None:
    chat = update.effective_chat
    assert chat is not None
    await chat.send_message(text, reply_markup=markup)


def _chat_id(update: Update) -> int:
    chat = update.effective_chat
    assert chat is not None
    return chat.id


# --- rendering --------------------------------------------------------------------------------


def _confirmation(field: str, sub: Trainee, library: Library, now: dt.datetime) -> str:
    """What the trainee is told once an answer is saved."""
    if field == "track":
        track = library.tracks.get(sub.plan_id or "")
        return f"Track: <b>{escape(track.title if track else str(sub.plan_id))}</b>."
    if field == "time":
        return f"Delivery time: <b>{sub.delivery_time}</b>."
    if field == "timezone":
        local = now.astimezone(zone(sub.timezone))
        label = escape(zone_label(sub.timezone, now))
        return f"Time zone: <b>{label}</b>, where it is now {local:%H:%M}."
    if field == "pace":
        if sub.pace == 0:
            return "Pace: <b>a whole thread per installment</b>."
        return f"Pace: <b>{sub.pace} posts per installment</b>."
    return f"Quiz reminders <b>{'on' if sub.reminders else 'off'}</b>."


def _summary(svc: Services, sub: Trainee, *, welcome: bool = False) -> str:
    library = svc.library()
    plan_id = sub.plan_id or ""
    title = library.tracks[plan_id].title if plan_id in library.tracks else plan_id or "–"
    pace = "a whole thread" if sub.pace == 0 else f"{sub.pace} posts"
    lines = ["🎉 <b>You're subscribed!</b>" if welcome else "<b>Your settings</b>"]
    lines.append(f"Track: <b>{escape(str(title))}</b>")
    lines.append(
        f"Every day at <b>{sub.delivery_time}</b> "
        f"({escape(zone_label(sub.timezone, svc.now()))}), {pace} per installment"
    )
    lines.append(f"Quiz reminders: {'on' if sub.reminders else 'off'}")
    if sub.status == Status.active and sub.next_due_at is not None:
        local = sub.next_due_at.astimezone(zone(sub.timezone))
        lines.append(f"Next installment: <b>{local:%a %d %b, %H:%M}</b>")
    elif sub.status == Status.paused:
        lines.append("The drip is paused: /resume to continue.")
    if welcome:
        lines.append(
            "\nCan't wait? Send /next to get the first installment now. "
            "/help lists everything else."
        )
    return "\n".join(lines)


# --- onboarding and settings ------------------------------------------------------------------


async def start(update: Update, context: Context) -> None:
    """Welcome a new trainee, or bring back one who stopped; `/start <track>` preselects a track."""
    svc = services(context)
    chat, user = update.effective_chat, update.effective_user
    assert chat is not None and user is not None
    wanted = context.args[0].strip().lower() if context.args else None
    settings = svc.settings
    who = NewTrainee(
        chat.id,
        user.id,
        user.first_name,
        settings.default_timezone,
        settings.default_delivery_time,
        settings.default_pace,
    )
    started = await svc.db.run(subs.start, who, wanted, svc.library(), svc.now())
    name = escape(clean_text(user.first_name, NAME_LIMIT))
    if started.returning:
        await _reply(update, f"👋 Welcome back, {name}!\n\n" + _summary(svc, started.trainee))
        return
    intro = (
        f"👋 Hi {name}, welcome to <b>tweetdrip</b>!\n\n"
        "Every day I send you a short installment of a tweetorial: an expert's numbered thread "
        "teaching one topic, post by post. Quiz questions follow, and what you miss comes back "
        "later for review.\n\nThree quick questions and you're set."
    )
    if started.unknown_track:
        shown = escape(started.unknown_track[:40])
        intro += f"\n\n(I don't know a track called “{shown}”, so please pick one below.)"
    await _reply(update, intro)
    await _ask(update, svc, started.trainee, started.ask or "track")


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


async def _answer(update: Update, context: Context, field: str, raw: str) -> None:
    """Save one answer, then ask the next question or show the settings."""
    svc = services(context)
    now = svc.now()
    answered = await svc.db.run(subs.answer, _chat_id(update), field, raw, svc.library(), now)
    sub = answered.trainee
    if answered.kind == AnswerKind.stale or sub is None:
        await _reply(
            update, "That belongs to an earlier question. Use /settings to change something."
        )
    elif answered.kind == AnswerKind.invalid:
        await _reply(update, f"⚠️ {escape(answered.error)}")
        await _ask(update, svc, sub, field)
    else:
        await _reply(update, _confirmation(field, sub, svc.library(), now))
        if sub.onboarding_step:
            await _ask(update, svc, sub, sub.onboarding_step)
        elif sub.status == Status.active:
            welcome = field == "pace" and sub.installments_sent == 0
            await _reply(update, _summary(svc, sub, welcome=welcome))


async def on_onboarding_answer(update: Update, context: Context) -> None:
    """A preset answer's button."""
    button = pressed(update, OnboardingAnswer)
    if await _answered(update):
        await _answer(update, context, button.field, button.value)


async def on_text(update: Update, context: Context) -> None:
    """Typed text answers the current question; anything else gets a pointer to /help."""
    svc = services(context)
    message = update.effective_message
    assert message is not None and message.text is not None
    sub = await svc.db.run(subs.trainee, _chat_id(update))
    if sub is not None and sub.onboarding_step:
        await _answer(update, context, sub.onboarding_step, message.text.strip())
        return
    await _reply(update, "I only understand commands here. Send /help to see them.")


async def settings_command(update: Update, context: Context) -> None:
    svc = services(context)
    sub = await svc.db.run(subs.trainee, _chat_id(update))
    if sub is None or not sub.subscribed:
        await _reply(update, NOT_SUBSCRIBED)
        return
    rows = [
        [("Track", ChangeSetting("track")), ("Delivery time", ChangeSetting("time"))],
        [("Time zone", ChangeSetting("timezone")), ("Pace", ChangeSetting("pace"))],
        [("Quiz reminders", ChangeSetting("reminders"))],
    ]
    await _reply(update, _summary(svc, sub) + "\n\nWhat would you like to change?", _keyboard(rows))


async def on_setting(update: Update, context: Context) -> None:
    """A /settings button: ask that question again."""
    button = pressed(update, ChangeSetting)
    if not await _answered(update):
        return
    svc = services(context)
    sub = await svc.db.run(subs.ask, _chat_id(update), button.field)
    if sub is None:
        await _reply(update, NOT_SUBSCRIBED)
        return
    await _ask(update, svc, sub, button.field)


async def _answered(update: Update) -> bool:
    """Answer the press; True if it came from a private chat, where these buttons live."""
    assert update.callback_query is not None
    await update.callback_query.answer()
    chat = update.effective_chat
    return chat is not None and chat.type == ChatType.PRIVATE


# --- commands ---------------------------------------------------------------------------------


async def help_command(update: Update, context: Context) -> None:
    svc = services(context)
    chat, user = update.effective_chat, update.effective_user
    assert chat is not None
    if chat.type == ChatType.PRIVATE:
        text = "<b>tweetdrip</b> sends you a tweetorial a little at a time, with quizzes "
        text += "and reviews.\n\n"
        text += "\n".join(escape(line) for line in help_lines(TRAINEE_COMMANDS))
        configured = svc.settings.admin_ids
        if user is not None and await svc.db.run(admins.is_admin, user.id, configured):
            text += "\n\n<b>Admin commands</b>\n"
            text += "\n".join(escape(line) for line in help_lines(ADMIN_COMMANDS))
    else:
        text = "<b>tweetdrip</b> in a group: live quizzes with a leaderboard.\n\n"
        text += "\n".join(escape(line) for line in help_lines(GROUP_COMMANDS))
    for part in split_html(text):
        await _reply(update, part)


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
    changed = await svc.db.run(subs.deliver_now, _chat_id(update), svc.now())
    if changed.change == Change.done and changed.subscription_id is not None:
        # Deliver in the background so other trainees' updates are not held up meanwhile. If
        # a dispatcher claims it first (it is due now), that one delivers it. It answers this
        # person, so it goes ahead of scheduled sends (bot/lanes.py).
        svc.spawn(as_reply(deliver_now(context.application, changed.subscription_id)))
        return
    await _reply(
        update,
        {
            Change.finished: "You have read everything in your track 🎉 "
            "Send /start to pick another one.",
            Change.on_its_way: "Your installment is on its way.",
        }.get(changed.change, NOT_SUBSCRIBED),
    )


STATUS_REPLIES = {
    Change.not_subscribed: NOT_SUBSCRIBED,
    Change.finished: "You have finished your track. Send /start to pick another one.",
}


async def pause(update: Update, context: Context) -> None:
    svc = services(context)
    changed = await svc.db.run(subs.pause, _chat_id(update), svc.now())
    await _reply(
        update,
        {
            Change.done: "⏸ Paused. Nothing arrives until you send /resume.",
            Change.unchanged: "Already paused. Send /resume to continue.",
        }.get(changed.change)
        or STATUS_REPLIES[changed.change],
    )


async def resume(update: Update, context: Context) -> None:
    svc = services(context)
    changed = await svc.db.run(subs.resume, _chat_id(update), svc.now())
    if changed.change == Change.done and changed.trainee is not None:
        await _reply(update, "▶️ Resumed.\n\n" + _summary(svc, changed.trainee))
        return
    text = STATUS_REPLIES.get(changed.change, "Your drip is already running.")
    await _reply(update, text)


async def stop(update: Update, context: Context) -> None:
    svc = services(context)
    changed = await svc.db.run(subs.stop, _chat_id(update), svc.now())
    await _reply(
        update,
        {
            Change.done: "👋 Unsubscribed. Your progress is kept: "
            "send /start whenever you want to continue.",
            Change.unchanged: "You are already unsubscribed. /start brings you back.",
        }.get(changed.change)
        or STATUS_REPLIES[changed.change],
    )


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


async def on_forget_answer(update: Update, context: Context) -> None:
    """The confirmation buttons of /forget."""
    button = pressed(update, ConfirmForget)
    if not await _answered(update):
        return
    user = update.effective_user
    assert user is not None
    if not button.confirmed:
        await _reply(update, "Nothing was deleted.")
        return
    await services(context).db.run(subs.forget, user.id, _chat_id(update))
    await _reply(update, "🗑 Done: everything stored about you is deleted. /start begins afresh.")
