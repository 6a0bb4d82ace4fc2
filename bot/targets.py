"""Ask Telegram whether the bot can publish into a group or channel (for /schedule and the
`tweetdrip schedule add` command alike)."""

from __future__ import annotations

from telegram import Bot, ChatMemberAdministrator
from telegram.constants import ChatMemberStatus, ChatType
from telegram.error import BadRequest, Forbidden, NetworkError, TimedOut

from bot.domain.admin import ChatKind, PublishTarget


class TargetError(Exception):
    """The bot cannot publish into that chat; the message says what to do about it."""


async def check_publish_target(bot: Bot, chat: int | str) -> PublishTarget:
    """Ask Telegram whether the bot can post into `chat` (getChat, getChatMember for itself)."""
    shown = str(chat)
    try:
        info = await bot.get_chat(chat)
    except Forbidden:
        raise TargetError(
            f"I am not a member of {shown}. Add me to it as an admin, then schedule again."
        ) from None
    except BadRequest as exc:
        raise TargetError(
            f"I can't find the chat {shown} ({exc.message}). Add me to the group or channel "
            "as an admin first, and check the id or @username."
        ) from None
    except (TimedOut, NetworkError) as exc:
        raise TargetError(f"Telegram did not answer ({exc.message}); try again.") from None
    if info.type == ChatType.PRIVATE:
        raise TargetError(
            f"{shown} is a private chat. Schedules go into groups and channels; "
            "trainees subscribe themselves with /start."
        )
    title = info.title or (f"@{info.username}" if info.username else str(info.id))
    kind: ChatKind = "channel" if info.type == ChatType.CHANNEL else "group"
    try:
        member = await bot.get_chat_member(info.id, bot.id)
    except Forbidden:
        raise TargetError(f"I am not a member of {title}. Add me as an admin first.") from None
    except BadRequest as exc:
        raise TargetError(f"I can't check my rights in {title} ({exc.message}).") from None
    except (TimedOut, NetworkError) as exc:
        raise TargetError(f"Telegram did not answer ({exc.message}); try again.") from None
    if member.status in (ChatMemberStatus.LEFT, ChatMemberStatus.BANNED):
        raise TargetError(f"I am not in {title} any more. Add me back as an admin first.")
    if member.status not in (ChatMemberStatus.ADMINISTRATOR, ChatMemberStatus.OWNER):
        raise TargetError(
            f"I am in {title} but not an admin. Make me an admin"
            + (" with the right to post messages" if kind == "channel" else "")
            + ", then schedule again."
        )
    if (
        kind == "channel"
        and isinstance(member, ChatMemberAdministrator)
        and not member.can_post_messages
    ):
        raise TargetError(
            f"I am an admin of {title} but can't post messages there. "
            "Give me the “Post messages” right, then schedule again."
        )
    return PublishTarget(info.id, title, kind)
