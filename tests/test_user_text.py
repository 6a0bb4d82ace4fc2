"""Names and titles from Telegram are stored clean: no control characters, on either database."""

from __future__ import annotations

from sqlalchemy import select

from storage.db import session_scope
from storage.models import GroupPlayer, GroupSession, Subscription
from storage.text import clean_text
from tests.harness import ADMIN_ID, Harness

TRAINEE = 501
PLAYER = 502
GROUP = -1001000000301
HOSTILE = "Ada\x00 Love\x07lace\n\ud800"


def test_clean_text_drops_control_characters_and_keeps_what_people_write() -> None:
    assert clean_text(HOSTILE, 100) == "Ada Lovelace"
    assert clean_text("  Dr\tO’Brien 👩\u200d⚕️ ", 100) == "Dr O’Brien 👩\u200d⚕️"
    assert clean_text("\x00\x1f\x7f", 100) == ""
    assert clean_text("Ångström " * 30, 18) == "Ångström Ångström"


async def test_a_name_with_nul_and_control_characters_subscribes_and_plays(
    pg_harness: Harness,
) -> None:
    h = pg_harness
    h.emulator.add_user(TRAINEE, HOSTILE)
    h.emulator.add_user(PLAYER, "Bo\x00b", last_name="\x1b[31m")
    h.emulator.add_chat(GROUP, "supergroup", "Resi\x00dents\x0b")

    await h.send(TRAINEE, "/start")
    assert "Hi Ada Lovelace, welcome" in h.messages(TRAINEE)[0].content
    await h.send(TRAINEE, "/groupquiz csf-leak-blood-patch", chat_id=GROUP)
    lobby = h.last_message(GROUP)
    await h.press(PLAYER, lobby, next(d for d in lobby.callback_data if "join" in d))
    await h.send(ADMIN_ID, f"/schedule csf-leak-blood-patch {GROUP} 2026-02-01 08:00")
    assert "Scheduled" in h.last_message(ADMIN_ID).content

    with session_scope(h.engine) as session:
        names = session.execute(select(Subscription.name).order_by(Subscription.id)).scalars()
        assert list(names) == ["Ada Lovelace", "Residents"]
        assert session.execute(select(GroupSession.starter_name)).scalar_one() == "Ada Lovelace"
        players = session.execute(select(GroupPlayer.name).order_by(GroupPlayer.id)).scalars()
        assert list(players) == ["Ada Lovelace", "Bob [31m"]
