"""A bot killed mid fan-out on SQLite and started again loses no post and repeats at most one."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from bot.domain.drip import Position, plan_installment, plan_thread_ids
from bot.emulator import TelegramEmulator
from bot.library import load_current_library
from storage.db import make_engine
from storage.migrate import upgrade
from storage.models import PlanKind
from tests.test_scaleout import (
    FIRST_CHAT,
    BotProcess,
    add_due_trainees,
    assert_each_post_went_out_once,
    bot_environment,
    successful_sends,
    wait_until_delivered,
)


def first_installment_size(engine: object, pace: int) -> int:
    library = load_current_library(engine)  # type: ignore[arg-type]
    thread_ids = plan_thread_ids(library, PlanKind.track, "csf-leaks")
    installment = plan_installment(library, thread_ids, Position(0, 0), pace, 1)
    assert installment is not None
    return len(installment.items)


async def test_a_bot_killed_mid_fan_out_and_restarted_delivers_everything_once(
    tmp_path: Path,
) -> None:
    url = f"sqlite:///{tmp_path / 'tweetdrip.db'}"
    engine = make_engine(url)
    upgrade(engine)
    trainees, pace = 300, 2
    items_each = first_installment_size(engine, pace)
    async with TelegramEmulator() as emulator:
        chats = list(range(FIRST_CHAT, FIRST_CHAT + trainees))
        emulator.add_users(chats)
        add_due_trainees(engine, trainees, pace=pace, due=dt.datetime.now(dt.UTC))
        env = bot_environment(emulator, url)
        first = BotProcess(env, tmp_path / "first.log", webhook=False)
        try:
            half = trainees * items_each // 2
            await emulator.wait_for(lambda: successful_sends(emulator) >= half, 120)
        finally:
            first.kill()
        assert successful_sends(emulator) < trainees * items_each, "killed too late to matter"

        # The restart releases the dead process's leases at once (SQLite: one process).
        second = BotProcess(env, tmp_path / "second.log", webhook=False)
        try:
            await wait_until_delivered(engine, [second], timeout=120)
        finally:
            assert second.terminate() == 0, second.output()[-3000:]
    assert_each_post_went_out_once(emulator, engine, chats, items_each=items_each, killed=1)
    engine.dispose()
