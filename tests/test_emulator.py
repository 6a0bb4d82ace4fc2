"""The Telegram emulator, exercised through the real python-telegram-bot client stack."""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import socket
import struct
import zlib
from collections.abc import AsyncIterator, Awaitable
from contextlib import asynccontextmanager
from typing import Any

import aiohttp
import pytest
from aiohttp import web
from telegram import (
    Bot,
    BotCommand,
    BotCommandScopeChat,
    ChatFullInfo,
    ChatMemberAdministrator,
    ChatMemberOwner,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    InputMediaPhoto,
    MenuButtonCommands,
    MenuButtonDefault,
    MenuButtonWebApp,
    Message,
    Poll,
    PollAnswer,
    ReplyParameters,
    Update,
    WebAppInfo,
)
from telegram.error import (
    BadRequest,
    ChatMigrated,
    Conflict,
    Forbidden,
    NetworkError,
    RetryAfter,
    TimedOut,
)
from telegram.ext import (
    Application,
    ApplicationBuilder,
    BaseHandler,
    CallbackQueryHandler,
    CommandHandler,
    ContextTypes,
    PollAnswerHandler,
    PollHandler,
)
from telegram.request import HTTPXRequest

from bot.emulator import BotEvent, EmulatorError, RateLimiter, RateLimits, TelegramEmulator
from bot.emulator.formatting import EntityParseError, format_text

USER = 42
GROUP = -1001234567890

# -- helpers ------------------------------------------------------------------------------


def png(width: int, height: int) -> bytes:
    """A valid, tiny PNG of the given size."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    header = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    pixels = zlib.compress(b"".join(b"\x00" + b"\x00" * width for _ in range(height)))
    return (
        b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", pixels) + chunk(b"IEND", b"")
    )


class FakeClock:
    def __init__(self, start: dt.datetime) -> None:
        self.current = start

    def __call__(self) -> dt.datetime:
        return self.current

    def advance(self, seconds: float) -> None:
        self.current += dt.timedelta(seconds=seconds)


def make_bot(emulator: TelegramEmulator, read_timeout: float = 5.0) -> Bot:
    return Bot(
        emulator.token,
        base_url=emulator.base_url,
        base_file_url=emulator.base_file_url,
        request=HTTPXRequest(read_timeout=read_timeout),
    )


@pytest.fixture
async def tg_bot(emulator: TelegramEmulator) -> AsyncIterator[Bot]:
    emulator.add_user(USER, "Ana", username="ana_md")
    async with make_bot(emulator) as bot:
        yield bot


@pytest.fixture
def timedelta_periods(monkeypatch: pytest.MonkeyPatch) -> None:
    """PTB 22.8 warns on integer ``RetryAfter.retry_after`` unless opted in to timedeltas."""
    monkeypatch.setenv("PTB_TIMEDELTA", "true")


@asynccontextmanager
async def running_app(
    emulator: TelegramEmulator, *handlers: BaseHandler[Any, Any, Any]
) -> AsyncIterator[Application[Any, Any, Any, Any, Any, Any]]:
    """A real Application long-polling the emulator."""
    app = (
        ApplicationBuilder()
        .token(emulator.token)
        .base_url(emulator.base_url)
        .base_file_url(emulator.base_file_url)
        .build()
    )
    for handler in handlers:
        app.add_handler(handler)
    async with app:
        await app.start()
        assert app.updater is not None
        await app.updater.start_polling(
            poll_interval=0, timeout=1, allowed_updates=Update.ALL_TYPES
        )
        try:
            yield app
        finally:
            await app.updater.stop()
            await app.stop()


async def raw_post(url: str, **kwargs: Any) -> tuple[int, Any]:
    async with aiohttp.ClientSession() as session, session.post(url, **kwargs) as response:
        return response.status, await response.json(content_type=None)


# -- identity, routing, parameters ----------------------------------------------------------


async def test_get_me_answers_with_the_configured_bot_user() -> None:
    async with (
        TelegramEmulator(bot_id=555, bot_username="drip_bot", bot_first_name="Drip") as emu,
        make_bot(emu) as bot,
    ):
        me = await bot.get_me()
    assert (me.id, me.username, me.first_name, me.is_bot) == (555, "drip_bot", "Drip", True)


async def test_any_well_formed_token_is_accepted_and_others_are_unauthorized(
    emulator: TelegramEmulator,
) -> None:
    status, body = await raw_post(f"{emulator.base_url}123:abc-DEF_9/getMe")
    assert status == 200 and body["ok"] is True
    status, body = await raw_post(f"{emulator.base_url}not-a-token/getMe")
    assert status == 401
    assert body == {"ok": False, "error_code": 401, "description": "Unauthorized"}


async def test_unknown_methods_answer_404_and_method_names_ignore_case(
    emulator: TelegramEmulator,
) -> None:
    status, body = await raw_post(f"{emulator.base_url}1:a/frobnicate")
    assert (status, body) == (404, {"ok": False, "error_code": 404, "description": "Not Found"})
    status, body = await raw_post(f"{emulator.base_url}1:a/GETME")
    assert status == 200 and body["result"]["username"] == emulator.bot.username


async def test_json_bodies_and_multipart_forms_with_json_fields_are_both_understood(
    emulator: TelegramEmulator,
) -> None:
    emulator.add_user(USER)
    keyboard = {"inline_keyboard": [[{"text": "Go", "callback_data": "go"}]]}
    status, body = await raw_post(
        f"{emulator.base_url}1:a/sendMessage",
        json={"chat_id": USER, "text": "json", "reply_markup": keyboard},
    )
    assert status == 200 and body["result"]["reply_markup"] == keyboard

    form = aiohttp.FormData()
    form.add_field("chat_id", str(USER))
    form.add_field("caption", "multipart")
    form.add_field("reply_markup", json.dumps(keyboard))
    form.add_field("document", b"%PDF-1.4", filename="paper.pdf", content_type="application/pdf")
    status, body = await raw_post(f"{emulator.base_url}1:a/sendDocument", data=form)
    assert status == 200
    assert body["result"]["document"]["file_name"] == "paper.pdf"
    assert emulator.sent_to(USER)[1].callback_data == ["go"]
    assert emulator.calls_of("sendDocument")[0].params["reply_markup"] == keyboard


# -- sending and validation ------------------------------------------------------------------


async def test_send_message_returns_a_message_ptb_parses_and_is_recorded(
    emulator: TelegramEmulator, tg_bot: Bot
) -> None:
    markup = InlineKeyboardMarkup([[InlineKeyboardButton("Next", callback_data="next")]])
    message = await tg_bot.send_message(USER, "Day 1: CSF leaks", reply_markup=markup)

    assert isinstance(message, Message)
    assert message.chat.id == USER and message.chat.type == "private"
    assert message.from_user is not None and message.from_user.id == emulator.bot.id
    assert message.reply_markup == markup
    [sent] = emulator.sent_to(USER)
    assert (sent.text, sent.callback_data, sent.message_id) == (
        "Day 1: CSF leaks",
        ["next"],
        message.message_id,
    )
    [call] = emulator.calls_of("sendMessage")
    assert call.ok and call.params["chat_id"] == USER and call.result["text"] == sent.text


async def test_html_text_length_is_counted_after_parsing_the_markup(
    emulator: TelegramEmulator, tg_bot: Bot
) -> None:
    visible = "a" * 4096
    message = await tg_bot.send_message(
        USER, f"<b>{visible[:100]}</b>{visible[100:]}", parse_mode="HTML"
    )
    assert message.text == visible
    assert [(e.type, e.offset, e.length) for e in message.entities] == [("bold", 0, 100)]

    escaped = await tg_bot.send_message(USER, "&lt;" * 4096, parse_mode="HTML")
    assert escaped.text == "<" * 4096

    with pytest.raises(BadRequest, match=r"(?i)message is too long"):
        await tg_bot.send_message(USER, f"<i>{visible}a</i>", parse_mode="HTML")


@pytest.mark.parametrize(
    ("markup", "error"),
    [
        ("<b>unclosed", 'can\'t find end tag corresponding to start tag "b"'),
        ("<foo>x</foo>", 'unsupported start tag "foo" at byte offset 0'),
        ("p < 0.05", 'unsupported start tag "" at byte offset 2'),
        ("<b>x</i>", 'unmatched end tag at byte offset 4, expected "</b>", found "</i>"'),
    ],
)
async def test_malformed_html_is_refused_as_cant_parse_entities(
    emulator: TelegramEmulator, tg_bot: Bot, markup: str, error: str
) -> None:
    with pytest.raises(BadRequest) as caught:
        await tg_bot.send_message(USER, markup, parse_mode="HTML")
    assert caught.value.message.lower() == f"can't parse entities: {error}".lower()


def test_entity_offsets_are_counted_in_utf16_code_units() -> None:
    formatted = format_text("  🧠 <b>Brain</b> &amp; <i>spine</i>  ", "HTML")
    assert formatted.text == "🧠 Brain & spine"
    assert [(e["type"], e["offset"], e["length"]) for e in formatted.entities] == [
        ("bold", 3, 5),
        ("italic", 11, 5),
    ]
    with pytest.raises(EntityParseError):
        format_text('<span class="x">no</span>', "HTML")


async def test_photo_caption_is_limited_to_1024_characters_after_parsing(
    emulator: TelegramEmulator, tg_bot: Bot
) -> None:
    image = png(640, 480)
    message = await tg_bot.send_photo(
        USER, image, caption=f"<b>{'c' * 1024}</b>", parse_mode="HTML"
    )
    assert message.caption == "c" * 1024
    assert (message.photo[-1].width, message.photo[-1].height) == (640, 480)

    with pytest.raises(BadRequest, match=r"(?i)caption is too long"):
        await tg_bot.send_photo(USER, image, caption="c" * 1025)
    with pytest.raises(BadRequest, match=r"(?i)IMAGE_PROCESS_FAILED"):
        await tg_bot.send_photo(USER, b"not an image", filename="x.jpg")


async def test_photos_by_url_need_no_network_and_unknown_file_ids_are_refused(
    emulator: TelegramEmulator, tg_bot: Bot
) -> None:
    by_url = await tg_bot.send_photo(USER, "https://example.org/csf-leak.jpg")
    again = await tg_bot.send_photo(USER, by_url.photo[-1].file_id)
    assert again.photo == by_url.photo
    with pytest.raises(BadRequest, match=r"(?i)wrong file identifier/http url specified"):
        await tg_bot.send_photo(USER, "no-such-file-id")


async def test_unknown_and_empty_chats_are_refused(emulator: TelegramEmulator, tg_bot: Bot) -> None:
    with pytest.raises(BadRequest, match=r"(?i)chat not found"):
        await tg_bot.send_message(999, "hello?")
    status, body = await raw_post(
        f"{emulator.base_url}1:a/sendMessage", data={"chat_id": "", "text": "x"}
    )
    assert (status, body["description"]) == (400, "Bad Request: chat_id is empty")


async def test_replying_to_a_missing_message_fails_unless_sending_without_reply(
    emulator: TelegramEmulator, tg_bot: Bot
) -> None:
    first = await tg_bot.send_message(USER, "Post 1/12")
    second = await tg_bot.send_message(
        USER, "Post 2/12", reply_parameters=ReplyParameters(first.message_id)
    )
    assert second.reply_to_message is not None
    assert second.reply_to_message.message_id == first.message_id
    assert emulator.sent_to(USER)[1].reply_to_message_id == first.message_id

    with pytest.raises(BadRequest, match=r"(?i)message to be replied not found"):
        await tg_bot.send_message(USER, "Post 3/12", reply_parameters=ReplyParameters(999))
    orphan = await tg_bot.send_message(
        USER, "Post 3/12", reply_parameters=ReplyParameters(999, allow_sending_without_reply=True)
    )
    assert orphan.reply_to_message is None


async def test_edits_and_deletes_follow_telegram_rules(
    emulator: TelegramEmulator, tg_bot: Bot
) -> None:
    markup = InlineKeyboardMarkup([[InlineKeyboardButton("Reveal", callback_data="reveal")]])
    message = await tg_bot.send_message(USER, "Question", reply_markup=markup)

    with pytest.raises(BadRequest, match=r"(?i)message is not modified"):
        await tg_bot.edit_message_text("Question", USER, message.message_id, reply_markup=markup)
    edited = await tg_bot.edit_message_text("Answer", USER, message.message_id)
    assert isinstance(edited, Message) and edited.edit_date is not None
    [current] = emulator.sent_to(USER)
    assert (current.text, current.reply_markup, current.edited) == ("Answer", None, True)
    with pytest.raises(BadRequest, match=r"(?i)no caption in the message"):
        await tg_bot.edit_message_caption(USER, message.message_id, caption="x")

    assert await tg_bot.delete_message(USER, message.message_id)
    assert emulator.sent_to(USER) == []
    with pytest.raises(BadRequest, match=r"(?i)message to delete not found"):
        await tg_bot.delete_message(USER, message.message_id)
    with pytest.raises(BadRequest, match=r"(?i)message to edit not found"):
        await tg_bot.edit_message_text("late", USER, message.message_id)


async def test_media_groups_upload_every_item_and_share_a_group_id(
    emulator: TelegramEmulator, tg_bot: Bot
) -> None:
    album = [InputMediaPhoto(png(10, 10), caption="axial"), InputMediaPhoto(png(20, 10))]
    messages = await tg_bot.send_media_group(USER, album)
    assert len(messages) == 2
    assert messages[0].media_group_id == messages[1].media_group_id is not None
    assert messages[0].caption == "axial"
    assert messages[1].photo[-1].width == 20


# -- polls ----------------------------------------------------------------------------------


async def test_quiz_answers_reach_a_poll_answer_handler_with_bot_api_10_fields(
    emulator: TelegramEmulator,
) -> None:
    emulator.add_user(USER, "Ana")
    answers: list[PollAnswer] = []
    polls: list[Poll] = []

    async def on_answer(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        assert update.poll_answer is not None
        answers.append(update.poll_answer)

    async def on_poll(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        assert update.poll is not None
        polls.append(update.poll)

    async with running_app(emulator, PollAnswerHandler(on_answer), PollHandler(on_poll)) as app:
        message = await app.bot.send_poll(
            USER,
            "Best first test for suspected spontaneous intracranial hypotension?",
            ["CT head", "Brain MRI with contrast", "Lumbar puncture"],
            type=Poll.QUIZ,
            correct_option_ids=[1],
            is_anonymous=False,
            explanation="MRI shows the <b>SEEPS</b> signs",
            explanation_parse_mode="HTML",
        )
        assert message.poll is not None
        poll = message.poll
        assert poll.correct_option_ids == (1,) and poll.members_only is False
        assert poll.allows_revoting is False and poll.explanation == "MRI shows the SEEPS signs"
        assert len({option.persistent_id for option in poll.options}) == 3

        returned = emulator.answer_poll(USER, poll.id, [1])
        assert returned is not None and "poll_answer" in returned
        await emulator.wait_for(lambda: answers and polls)

    [answer] = answers
    assert answer.poll_id == poll.id and answer.user is not None and answer.user.id == USER
    assert answer.option_ids == (1,)
    assert answer.option_persistent_ids == (poll.options[1].persistent_id,)
    assert polls[0].total_voter_count == 1 and polls[0].options[1].voter_count == 1
    with pytest.raises(EmulatorError, match="changing the answer"):
        emulator.answer_poll(USER, poll.id, [0])


async def test_anonymous_poll_votes_give_poll_updates_but_no_poll_answer(
    emulator: TelegramEmulator, tg_bot: Bot
) -> None:
    message = await tg_bot.send_poll(USER, "Headache worse upright?", ["Yes", "No"])
    assert message.poll is not None and message.poll.is_anonymous is True

    assert emulator.answer_poll(7, message.poll.id, [0]) is None
    updates = await tg_bot.get_updates()
    assert [u.poll is not None for u in updates] == [True]
    assert updates[0].poll is not None and updates[0].poll.options[0].voter_count == 1


@pytest.mark.parametrize(
    ("overrides", "error"),
    [
        ({"options": [f"o{i}" for i in range(13)]}, "1-12 options"),
        ({"question": "q" * 301}, "question length"),
        ({"correct_option_ids": [5]}, "correct option id"),
        ({"correct_option_ids": [1, 0]}, "increasing"),
        ({"explanation": "a\nb\nc\nd"}, "line feeds"),
        ({"open_period": 3}, "open_period"),
        ({"options": ["x" * 101, "y"]}, "POLL_OPTION_INVALID"),
    ],
)
async def test_poll_limits_follow_bot_api_10(
    emulator: TelegramEmulator, tg_bot: Bot, overrides: dict[str, Any], error: str
) -> None:
    arguments: dict[str, Any] = {
        "chat_id": USER,
        "question": "Which level?",
        "options": ["L1", "L2", "L3"],
        "type": Poll.QUIZ,
        "correct_option_ids": [0],
    }
    arguments.update(overrides)
    with pytest.raises(BadRequest, match=f"(?i){error}"):
        await tg_bot.send_poll(**arguments)


async def test_polls_may_have_one_to_twelve_options_and_channel_polls_are_anonymous(
    emulator: TelegramEmulator, tg_bot: Bot
) -> None:
    assert await tg_bot.send_poll(USER, "Ready?", ["Yes"])
    assert await tg_bot.send_poll(USER, "Pick", [str(i) for i in range(12)])
    emulator.add_chat(-100777, "channel", "Neuroradiology drip")
    with pytest.raises(BadRequest, match=r"(?i)non-anonymous polls"):
        await tg_bot.send_poll(-100777, "Vote", ["a", "b"], is_anonymous=False)


async def test_poll_question_media_comes_back_as_poll_media(
    emulator: TelegramEmulator, tg_bot: Bot
) -> None:
    message = await tg_bot.send_poll(
        USER,
        "Where is the leak?",
        ["C7-T1", "T4-T5"],
        type=Poll.QUIZ,
        correct_option_ids=[0],
        media=InputMediaPhoto(png(400, 300)),
        description="Dynamic CT myelography, prone",
        shuffle_options=True,
    )
    assert message.poll is not None and message.poll.media is not None
    assert message.poll.media.photo[-1].width == 400
    assert message.poll.description == "Dynamic CT myelography, prone"


async def test_timed_polls_close_when_the_emulator_clock_passes_the_close_date() -> None:
    clock = FakeClock(dt.datetime(2026, 3, 2, 8, 0, tzinfo=dt.UTC))
    async with TelegramEmulator(clock=clock) as emu, make_bot(emu) as bot:
        emu.add_user(USER)
        message = await bot.send_poll(USER, "Quick one", ["a", "b"], open_period=60)
        assert message.date == clock.current
        assert message.poll is not None and message.poll.close_date == clock.current + dt.timedelta(
            seconds=60
        )
        clock.advance(61)
        emu.close_expired_polls()

        assert emu.poll(message.poll.id).is_closed
        closed = [u["poll"] for u in emu.pending_updates if "poll" in u]
        assert closed and closed[-1]["is_closed"] is True
        with pytest.raises(EmulatorError, match="closed"):
            emu.answer_poll(USER, message.poll.id, [0])
        with pytest.raises(BadRequest, match=r"(?i)already been closed"):
            await bot.stop_poll(USER, message.message_id)


async def test_stop_poll_returns_the_final_poll(emulator: TelegramEmulator, tg_bot: Bot) -> None:
    message = await tg_bot.send_poll(USER, "Rate the thread", ["1", "2", "3"], is_anonymous=False)
    assert message.poll is not None
    emulator.answer_poll(USER, message.poll.id, 2)
    final = await tg_bot.stop_poll(USER, message.message_id)
    assert final.is_closed and final.options[2].voter_count == 1
    assert emulator.sent_to(USER)[0].poll == emulator.poll(final.id).to_json(in_message=True)


# -- users' side ----------------------------------------------------------------------------


async def test_pressing_a_button_reaches_the_callback_handler_and_the_answer_is_recorded(
    emulator: TelegramEmulator,
) -> None:
    emulator.add_user(USER)

    async def on_button(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        query = update.callback_query
        assert query is not None
        await query.answer("Noted")
        await query.edit_message_text(f"You chose {query.data}")

    markup = InlineKeyboardMarkup(
        [
            [
                InlineKeyboardButton("A", callback_data="a"),
                InlineKeyboardButton("B", callback_data="b"),
            ]
        ]
    )
    async with running_app(emulator, CallbackQueryHandler(on_button)) as app:
        message = await app.bot.send_message(USER, "Pick one", reply_markup=markup)
        with pytest.raises(EmulatorError, match="no button"):
            emulator.press_button(USER, message.message_id, "c")
        query_id = emulator.press_button(USER, message.message_id, "b")
        await emulator.wait_for_call("editMessageText")

    assert emulator.callback_answer(query_id) == {"text": "Noted"}
    [shown] = emulator.sent_to(USER)
    assert shown.text == "You chose b" and shown.reply_markup is None


async def test_forged_presses_carry_any_data_with_or_without_a_message(
    emulator: TelegramEmulator, tg_bot: Bot
) -> None:
    sent = await tg_bot.send_message(USER, "No buttons here")
    stored = emulator.message(USER, sent.message_id)
    under = emulator.press_forged(USER, "set:../../x", stored)
    inline = emulator.press_forged(USER, "anything")

    updates = await tg_bot.get_updates()
    first, second = (u.callback_query for u in updates)
    assert first is not None and second is not None
    assert (first.data, first.message.message_id) == ("set:../../x", sent.message_id)  # type: ignore[union-attr]
    assert second.data == "anything" and second.message is None and second.inline_message_id
    assert [first.id, second.id] == [under, inline]
    assert await second.answer()
    assert emulator.callback_query(inline).answered


async def test_an_edited_message_arrives_as_edited_message_with_its_command(
    emulator: TelegramEmulator, tg_bot: Bot
) -> None:
    original = emulator.send_message(USER, "/pause")
    edited = emulator.edit_message(USER, original, "/resume now")

    updates = await tg_bot.get_updates()
    assert updates[0].message is not None and updates[0].message.text == "/pause"
    change = updates[1].edited_message
    assert change is not None and change.message_id == original["message_id"]
    assert change.text == "/resume now" and change.edit_date is not None
    assert change.entities[0].type == "bot_command" and change.entities[0].length == 7
    assert edited["text"] == "/resume now"
    with pytest.raises(EmulatorError, match="sent no message"):
        emulator.edit_message(USER + 1, original, "not theirs")


async def test_commands_get_bot_command_entities_and_privacy_mode_filters_group_chatter(
    emulator: TelegramEmulator, tg_bot: Bot
) -> None:
    emulator.add_chat(GROUP, "supergroup", "Residents", bot_status="member")
    command = f"/quiz@{emulator.bot.username} now"
    emulator.send_message(7, command, chat_id=GROUP)
    emulator.send_message(7, "anyone for coffee?", chat_id=GROUP)

    updates = await tg_bot.get_updates()
    assert [u.message.text for u in updates if u.message] == [command]

    async def noop(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        return None

    assert CommandHandler("quiz", noop).check_update(updates[0])


async def test_long_polling_waits_for_updates_and_offset_confirms_them(
    emulator: TelegramEmulator, tg_bot: Bot
) -> None:
    waiting = asyncio.create_task(tg_bot.get_updates(timeout=5))
    await asyncio.sleep(0.05)
    assert not waiting.done()
    emulator.send_message(USER, "/start")
    updates = await asyncio.wait_for(waiting, 2)
    assert [u.message.text for u in updates if u.message] == ["/start"]

    assert await tg_bot.get_updates(offset=updates[-1].update_id + 1) == ()
    assert emulator.pending_updates == []


async def test_allowed_updates_leave_out_what_the_bot_did_not_ask_for(
    emulator: TelegramEmulator, tg_bot: Bot
) -> None:
    message = await tg_bot.send_poll(USER, "Q", ["a", "b"], is_anonymous=False)
    assert message.poll is not None
    await tg_bot.get_updates(allowed_updates=["message"])
    emulator.answer_poll(USER, message.poll.id, [0])
    emulator.send_message(USER, "hi")
    kinds = [next(k for k in u if k != "update_id") for u in emulator.pending_updates]
    assert kinds == ["message"]


async def test_document_uploads_can_be_fetched_with_get_file_and_downloaded(
    emulator: TelegramEmulator, tg_bot: Bot
) -> None:
    emulator.send_document(USER, "thread.txt", b"1/ CSF leaks...", "text/plain", caption="import")
    [update] = await tg_bot.get_updates()
    assert update.message is not None and update.message.document is not None
    assert update.message.caption == "import"
    file = await update.message.document.get_file()
    assert bytes(await file.download_as_bytearray()) == b"1/ CSF leaks..."

    sent = await tg_bot.send_document(USER, b"%PDF-1.7 slides", filename="slides.pdf")
    assert sent.document is not None and sent.document.file_name == "slides.pdf"
    fetched = await tg_bot.get_file(sent.document.file_id)
    assert bytes(await fetched.download_as_bytearray()) == b"%PDF-1.7 slides"


async def test_chat_members_administrators_and_chat_info_parse_in_ptb(
    emulator: TelegramEmulator, tg_bot: Bot
) -> None:
    emulator.add_chat(GROUP, "supergroup", "Residents")
    emulator.set_member(GROUP, 11, "creator")
    emulator.set_member(GROUP, 12, "member")

    info = await tg_bot.get_chat(GROUP)
    assert isinstance(info, ChatFullInfo) and info.title == "Residents"
    assert isinstance(await tg_bot.get_chat_member(GROUP, 11), ChatMemberOwner)
    assert (await tg_bot.get_chat_member(GROUP, 12)).status == "member"
    admins = await tg_bot.get_chat_administrators(GROUP)
    assert {type(a) for a in admins} == {ChatMemberOwner, ChatMemberAdministrator}

    assert await tg_bot.leave_chat(GROUP)
    with pytest.raises(Forbidden, match=r"(?i)not a member of the supergroup chat"):
        await tg_bot.send_message(GROUP, "still here?")


async def test_commands_are_stored_per_scope_and_language(
    emulator: TelegramEmulator, tg_bot: Bot
) -> None:
    everyone = [BotCommand("today", "Today's post"), BotCommand("quiz", "A quick quiz")]
    await tg_bot.set_my_commands(everyone)
    await tg_bot.set_my_commands(
        [BotCommand("heute", "Heutiger Beitrag")],
        scope=BotCommandScopeChat(USER),
        language_code="de",
    )
    assert await tg_bot.get_my_commands() == tuple(everyone)
    german = await tg_bot.get_my_commands(scope=BotCommandScopeChat(USER), language_code="de")
    assert [c.command for c in german] == ["heute"]
    await tg_bot.delete_my_commands()
    assert await tg_bot.get_my_commands() == ()
    with pytest.raises(BadRequest, match=r"(?i)BOT_COMMAND_INVALID"):
        await tg_bot.set_my_commands([BotCommand("Bad-Name", "x")])


async def test_the_menu_button_is_kept_per_private_chat_over_the_default(
    emulator: TelegramEmulator, tg_bot: Bot
) -> None:
    assert isinstance(await tg_bot.get_chat_menu_button(), MenuButtonCommands)
    console = MenuButtonWebApp("Open", WebAppInfo("https://bot.example.org/app/"))
    assert await tg_bot.set_chat_menu_button(menu_button=console)
    assert await tg_bot.get_chat_menu_button() == console
    assert await tg_bot.get_chat_menu_button(chat_id=USER) == console  # falls back on it
    assert emulator.menu_button(USER)["web_app"] == {"url": "https://bot.example.org/app/"}
    await tg_bot.set_chat_menu_button(chat_id=USER, menu_button=MenuButtonCommands())
    assert isinstance(await tg_bot.get_chat_menu_button(chat_id=USER), MenuButtonCommands)
    await tg_bot.set_chat_menu_button(menu_button=MenuButtonDefault())
    assert isinstance(await tg_bot.get_chat_menu_button(), MenuButtonCommands)
    # Telegram opens Mini Apps over HTTPS only, and menus belong to private chats.
    with pytest.raises(BadRequest, match=r"(?i)BUTTON_URL_INVALID"):
        await tg_bot.set_chat_menu_button(
            menu_button=MenuButtonWebApp("Open", WebAppInfo("http://bot.example.org/app/"))
        )
    with pytest.raises(BadRequest, match=r"(?i)chat not found"):
        await tg_bot.set_chat_menu_button(chat_id=GROUP, menu_button=console)


# -- faults and limits ----------------------------------------------------------------------


@pytest.mark.usefixtures("timedelta_periods")
@pytest.mark.parametrize(
    ("fault", "error", "text"),
    [
        ({"kind": "flood", "retry_after": 3}, RetryAfter, "retry in 0:00:03"),
        ({"kind": "forbidden"}, Forbidden, "bot was blocked by the user"),
        (
            {"kind": "bad_request", "description": "Bad Request: message thread not found"},
            BadRequest,
            "message thread not found",
        ),
        ({"kind": "server_error"}, NetworkError, "internal server error"),
        ({"kind": "server_error", "status": 502}, NetworkError, "bad gateway"),
    ],
)
async def test_each_fault_kind_maps_to_the_matching_ptb_exception(
    emulator: TelegramEmulator,
    tg_bot: Bot,
    fault: dict[str, Any],
    error: type[Exception],
    text: str,
) -> None:
    emulator.faults.add("sendMessage", chat_id=USER, **fault)
    with pytest.raises(error) as caught:
        await tg_bot.send_message(USER, "Day 3")
    assert text in str(caught.value).lower()
    if error is NetworkError:
        assert not isinstance(caught.value, BadRequest)
    if isinstance(caught.value, RetryAfter):
        assert caught.value.retry_after == dt.timedelta(seconds=3)

    assert (await tg_bot.send_message(USER, "Day 3")).text == "Day 3"
    assert [c.fault for c in emulator.calls_of("sendMessage")] == [fault["kind"], None]
    assert len(emulator.sent_to(USER)) == 1


async def test_bad_media_fault_refuses_a_photo_once(
    emulator: TelegramEmulator, tg_bot: Bot
) -> None:
    emulator.faults.add(kind="bad_media")
    await tg_bot.send_message(USER, "text is unaffected")
    with pytest.raises(BadRequest, match=r"(?i)wrong file identifier/http url specified"):
        await tg_bot.send_photo(USER, "https://example.org/mri.png")
    assert await tg_bot.send_photo(USER, "https://example.org/mri.png")


@pytest.mark.parametrize("delivered", [True, False])
async def test_timeout_fault_raises_timed_out_and_may_still_deliver(
    emulator: TelegramEmulator, delivered: bool
) -> None:
    emulator.add_user(USER)
    emulator.faults.add("sendMessage", kind="timeout", delay=2.0, apply=delivered)
    async with make_bot(emulator, read_timeout=0.2) as bot:
        with pytest.raises(TimedOut):
            await bot.send_message(USER, "Did this arrive?")
    assert len(emulator.sent_to(USER)) == (1 if delivered else 0)


async def test_migrated_groups_raise_chat_migrated_with_the_new_id(
    emulator: TelegramEmulator, tg_bot: Bot
) -> None:
    emulator.add_chat(-555, "group", "Journal club")
    emulator.set_member(-555, 11, "creator")
    emulator.migrate_group(-555, GROUP)
    with pytest.raises(ChatMigrated) as caught:
        await tg_bot.send_message(-555, "Tonight: blood patches")
    assert caught.value.new_chat_id == GROUP
    assert (await tg_bot.send_message(GROUP, "Tonight: blood patches")).chat.id == GROUP


async def test_blocked_users_give_forbidden_and_a_my_chat_member_update(
    emulator: TelegramEmulator, tg_bot: Bot
) -> None:
    emulator.block(USER)
    with pytest.raises(Forbidden, match=r"(?i)bot was blocked by the user"):
        await tg_bot.send_message(USER, "Day 4")
    [update] = await tg_bot.get_updates()
    assert update.my_chat_member is not None
    assert update.my_chat_member.new_chat_member.status == "kicked"


@pytest.mark.usefixtures("timedelta_periods")
async def test_rate_limits_answer_429_when_enforced() -> None:
    async with TelegramEmulator(enforce_limits=True) as emu, make_bot(emu) as bot:
        emu.add_user(USER)
        emu.add_chat(GROUP, "supergroup", "Residents")
        for n in range(3):  # the private-chat burst
            await bot.send_message(USER, f"burst {n}")
        with pytest.raises(RetryAfter) as private:
            await bot.send_message(USER, "one too many")
        for n in range(20):
            await bot.send_message(GROUP, f"group {n}")
        with pytest.raises(RetryAfter) as group:
            await bot.send_message(GROUP, "twenty-first")
        assert emu.flood_count == 2
    assert dt.timedelta(seconds=1) <= private.value.retry_after <= dt.timedelta(seconds=1)
    assert dt.timedelta(seconds=1) <= group.value.retry_after <= dt.timedelta(seconds=3)


async def test_no_429_at_all_when_limits_are_off(emulator: TelegramEmulator, tg_bot: Bot) -> None:
    await asyncio.gather(*(tg_bot.send_message(USER, f"msg {n}") for n in range(60)))
    assert emulator.flood_count == 0 and len(emulator.sent_to(USER)) == 60


def test_the_overall_bucket_allows_30_per_second_with_a_30_message_burst() -> None:
    now = [0.0]
    limiter = RateLimiter(RateLimits(), now=lambda: now[0])
    results = [limiter.check(user, "private") for user in range(1, 32)]
    assert results[:30] == [None] * 30 and results[30] == 1
    now[0] += 0.1  # three tokens back
    assert [limiter.check(user, "private") for user in range(100, 104)] == [None] * 3 + [1]


# -- webhooks -------------------------------------------------------------------------------


async def test_webhook_posts_updates_with_the_secret_header_and_retries_refusals(
    emulator: TelegramEmulator, tg_bot: Bot
) -> None:
    received: list[tuple[str | None, dict[str, Any]]] = []

    async def hook(request: web.Request) -> web.Response:
        received.append(
            (request.headers.get("X-Telegram-Bot-Api-Secret-Token"), await request.json())
        )
        return web.Response(status=500 if len(received) == 1 else 200)

    app = web.Application()
    app.router.add_post("/hook", hook)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    try:
        assert await tg_bot.set_webhook(f"http://127.0.0.1:{port}/hook", secret_token="s3cret")
        with pytest.raises(Conflict):
            await tg_bot.get_updates()
        sent = emulator.send_message(USER, "/today")
        await emulator.wait_for(lambda: len(received) == 2 and not emulator.pending_updates)
        info = await tg_bot.get_webhook_info()
    finally:
        await runner.cleanup()

    assert [secret for secret, _ in received] == ["s3cret", "s3cret"]
    assert received[0][1] == received[1][1] and received[1][1]["message"] == sent
    assert info.pending_update_count == 0 and "500" in (info.last_error_message or "")

    assert await tg_bot.delete_webhook()
    emulator.send_message(USER, "/quiz")
    assert [u.message.text for u in await tg_bot.get_updates() if u.message] == ["/quiz"]


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


async def test_ptb_webhook_updater_receives_updates_from_the_emulator(
    emulator: TelegramEmulator,
) -> None:
    emulator.add_user(USER)
    seen: list[str] = []

    async def on_start(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        assert update.message is not None and update.message.text is not None
        seen.append(update.message.text)

    app = (
        ApplicationBuilder()
        .token(emulator.token)
        .base_url(emulator.base_url)
        .base_file_url(emulator.base_file_url)
        .build()
    )
    app.add_handler(CommandHandler("start", on_start))
    port = free_port()
    async with app:
        await app.start()
        assert app.updater is not None
        await app.updater.start_webhook(
            listen="127.0.0.1",
            port=port,
            url_path="telegram",
            webhook_url=f"http://127.0.0.1:{port}/telegram",
            secret_token="drip-secret",
        )
        try:
            emulator.send_message(USER, "/start")
            await emulator.wait_for(lambda: seen)
        finally:
            await app.updater.stop()
            await app.stop()
    assert seen == ["/start"]
    assert emulator.webhook is not None and emulator.webhook.secret_token == "drip-secret"


# -- observing ------------------------------------------------------------------------------


async def test_bot_events_stream_what_the_bot_does_in_a_chat(
    emulator: TelegramEmulator, tg_bot: Bot
) -> None:
    seen: list[BotEvent] = []
    unsubscribe = emulator.on_bot_message(seen.append, chat_id=USER)
    stream = emulator.bot_events(USER)
    first: Awaitable[BotEvent] = asyncio.ensure_future(anext(stream))

    message = await tg_bot.send_message(USER, "Good morning")
    await tg_bot.send_chat_action(USER, "typing")
    await tg_bot.edit_message_text("Good morning!", USER, message.message_id)
    unsubscribe()
    await tg_bot.send_message(USER, "unseen by the callback")

    event = await asyncio.wait_for(first, 1)
    await stream.aclose()
    assert event.kind == "sent" and event.message is not None
    assert event.message.text == "Good morning!"  # the live message, now edited
    assert [e.kind for e in seen] == ["sent", "chat_action", "edited"]
    assert seen[1].detail == {"action": "typing"}


async def test_wait_for_call_times_out_naming_the_recent_calls(
    emulator: TelegramEmulator, tg_bot: Bot
) -> None:
    await tg_bot.send_message(USER, "hello")
    with pytest.raises(TimeoutError, match="sendMessage"):
        await emulator.wait_for_call("sendPoll", timeout=0.05)
    [call] = await emulator.wait_for_call("sendMessage", chat_id=USER)
    assert call.result["text"] == "hello"
    emulator.reset_calls()
    assert emulator.calls == [] and emulator.calls_of("sendMessage") == []


async def test_wait_for_resolves_as_soon_as_the_condition_holds(
    emulator: TelegramEmulator, tg_bot: Bot
) -> None:
    async def later() -> None:
        await asyncio.sleep(0.02)
        await tg_bot.send_message(USER, "ping")

    task = asyncio.create_task(later())
    sent = await emulator.wait_for(lambda: emulator.sent_to(USER), timeout=2)
    await task
    assert [m.text for m in sent] == ["ping"]
