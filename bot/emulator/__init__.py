"""A local fake of the Telegram Bot API, served over real HTTP on 127.0.0.1.

The real python-telegram-bot stack (HTTPX, rate limiter, error mapping, Updater) talks
to it through ``base_url``/``base_file_url``; tests, benchmarks and the terminal sandbox
play the users' side with ``send_message``, ``press_button``, ``answer_poll``, etc.

What it emulates:

- the methods tweetdrip uses (getMe, getUpdates with real long polling, webhooks with
  secret token and retries, commands, the menu button (a chat's or the default, a Web
  App only over HTTPS), sendMessage/Photo/Document/MediaGroup/Poll,
  sendChatAction, edits, deleteMessage, answerCallbackQuery, stopPoll, getChat,
  getChatMember, getChatAdministrators, getFile and file downloads, leaveChat,
  close, logOut), with Telegram's JSON objects as PTB 22.8 (Bot API 10.0) parses them;
- Telegram's validation: text/caption lengths after HTML parsing, HTML errors, poll
  limits, unknown chats, missing reply targets, blocked users, kicked bots, migrated
  groups, "message is not modified";
- updates: messages with ``bot_command`` entities, callback queries, poll answers
  (only for non-anonymous polls) and poll updates, ``my_chat_member``, privacy mode in
  groups, ``allowed_updates`` filtering;
- scripted faults (429, 403, 400, 5xx, timeouts that may or may not have delivered,
  bad media) and, optionally, Telegram's flood limits.

What it does not: inline mode, payments, business connections, forum topics, stickers,
video/audio/voice, editing media, forwarding/copying, reactions, chat administration
beyond reading members, MarkdownV2 parsing (text is counted as sent), downloading photo
URLs (they get placeholder sizes), HTTPS-only webhooks (plain http on 127.0.0.1 is
accepted), concurrent webhook connections (updates are posted one at a time, in
order), and Telegram's exact wording for every error (the common ones are verbatim;
rarer poll/album errors are close paraphrases).
"""

from bot.emulator.faults import Fault, FaultKind, FaultPlan
from bot.emulator.formatting import EntityParseError, FormattedText, format_text
from bot.emulator.limits import RateLimiter, RateLimits
from bot.emulator.models import (
    ApiError,
    BotEvent,
    BotProfile,
    Call,
    CallbackQueryRecord,
    Chat,
    EmulatorError,
    PollState,
    StoredFile,
    StoredMessage,
    User,
    WebhookConfig,
)
from bot.emulator.server import TelegramEmulator

__all__ = [
    "ApiError",
    "BotEvent",
    "BotProfile",
    "Call",
    "CallbackQueryRecord",
    "Chat",
    "EmulatorError",
    "EntityParseError",
    "Fault",
    "FaultKind",
    "FaultPlan",
    "FormattedText",
    "PollState",
    "RateLimiter",
    "RateLimits",
    "StoredFile",
    "StoredMessage",
    "TelegramEmulator",
    "User",
    "WebhookConfig",
    "format_text",
]
