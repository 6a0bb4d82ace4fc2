"""People first: replies go ahead of scheduled sends in one send budget, floods are cut short,
and the limits Telegram enforces still hold (bot/lanes.py, bot/ratelimit.py)."""

from __future__ import annotations

import asyncio
import datetime as dt
from typing import Any

from sqlalchemy.engine import Engine
from telegram import Update
from telegram.ext import ExtBot

from bot.emulator import RateLimits, TelegramEmulator
from bot.emulator.methods import SENDING_METHODS
from bot.lanes import SLOW_DOWN, Lane, UpdateProcessor, as_reply, current_lane
from bot.ratelimit import LaneRateLimiter, LocalBudget, SlotGate
from storage.db import session_scope
from storage.models import Subscription, SubscriptionStatus
from tests.harness import START, start_harness

FIRST_TRAINEE = 300_000
PERSON, BYSTANDER, FLOODER = 7001, 7002, 7003


def add_due_trainees(engine: Engine, count: int) -> list[int]:
    """`count` active trainees on the CSF track, due now; return their chat ids."""
    chats = list(range(FIRST_TRAINEE, FIRST_TRAINEE + count))
    with session_scope(engine) as session:
        session.add_all(
            Subscription(
                chat_id=chat,
                user_id=chat,
                status=SubscriptionStatus.active,
                plan_id="csf-leaks",
                pace=1,
                next_due_at=START - dt.timedelta(minutes=1),
            )
            for chat in chats
        )
    return chats


def sends(emulator: TelegramEmulator) -> list[tuple[int, str]]:
    """Every message that reached a chat, in the order the emulator took them: (chat, text)."""
    return [
        (int(c.params["chat_id"]), str(c.params.get("text") or c.params.get("caption") or ""))
        for c in emulator.calls
        if c.method in SENDING_METHODS and c.ok
    ]


async def test_a_reply_goes_out_before_the_fan_out_already_queued(
    emulator: TelegramEmulator, engine: Engine
) -> None:
    """Mid fan-out (sixty-odd sends waiting for the budget), /help is the next message sent;
    on PostgreSQL through the budget shared with other processes."""
    trainees = add_due_trainees(engine, 100)
    emulator.add_users(trainees)
    async with start_harness(emulator, engine, rate_limit=True, send_budget_per_second=50) as h:
        fan_out = asyncio.create_task(h.dispatch())
        await emulator.wait_for(lambda: len(sends(emulator)) >= 20, timeout=30)
        emulator.send_message(PERSON, "/help")
        await emulator.wait_for_call("sendMessage", chat_id=PERSON, timeout=30)
        await fan_out
    order = sends(emulator)
    reply = next(i for i, (chat, _) in enumerate(order) if chat == PERSON)
    bulk_before = sum(1 for chat, _ in order[:reply] if chat != PERSON)
    # Sends already granted a slot when /help came may still land first; no more than that.
    assert bulk_before <= 20 + 3, f"/help waited behind {bulk_before - 20} fan-out sends"
    assert len(order) - reply - 1 >= 150, "the fan-out should still have been under way"
    assert len(order) == 2 * len(trainees) + 1  # and every message went out once


async def test_next_delivers_ahead_of_the_fan_out_already_queued(
    emulator: TelegramEmulator, sqlite_engine: Engine
) -> None:
    """/next starts its delivery in the background, as the person's reply all the same."""
    trainees = add_due_trainees(sqlite_engine, 100)
    emulator.add_users(trainees)
    with session_scope(sqlite_engine) as session:
        session.add(
            Subscription(
                chat_id=PERSON,
                user_id=PERSON,
                status=SubscriptionStatus.active,
                plan_id="csf-leaks",
                pace=1,
                next_due_at=START + dt.timedelta(days=1),
            )
        )
    async with start_harness(
        emulator, sqlite_engine, rate_limit=True, send_budget_per_second=50
    ) as h:
        fan_out = asyncio.create_task(h.dispatch())
        await emulator.wait_for(lambda: len(sends(emulator)) >= 20, timeout=30)
        emulator.send_message(PERSON, "/next")
        await emulator.wait_for_call("sendPhoto", chat_id=PERSON, timeout=30)  # the post
        await fan_out
    order = sends(emulator)
    header = next(i for i, (chat, _) in enumerate(order) if chat == PERSON)
    bulk_before = sum(1 for chat, _ in order[:header] if chat != PERSON)
    assert bulk_before <= 20 + 3, f"/next waited behind {bulk_before - 20} fan-out sends"
    assert len(order) - header - 2 >= 150, "the fan-out should still have been under way"


async def test_a_flooding_user_is_throttled_and_others_are_not_held_up(
    emulator: TelegramEmulator, sqlite_engine: Engine
) -> None:
    flood = 60
    async with start_harness(
        emulator, sqlite_engine, rate_limit=True, private_chat_interval_seconds=0.2
    ) as h:
        for _ in range(flood):
            emulator.send_message(FLOODER, "/help")
        emulator.send_message(BYSTANDER, "/help")
        await h.settle()
        order = sends(emulator)
        to_flooder = [text for chat, text in order if chat == FLOODER]
        answers = [text for text in to_flooder if text != SLOW_DOWN]
        assert to_flooder.count(SLOW_DOWN) == 1
        assert 1 <= len(answers) < flood // 2
        bystander = next(i for i, (chat, _) in enumerate(order) if chat == BYSTANDER)
        last_flooder_answer = max(i for i, (chat, _) in enumerate(order) if chat == FLOODER)
        assert bystander < last_flooder_answer, "the bystander waited for the flooder's backlog"
        assert not any("went wrong" in text for _, text in order)

        # Calm again (the whole allowance back after 8 x 0.2 s): answered, not warned again.
        await asyncio.sleep(2.0)
        await h.send(FLOODER, "/help")
        later = [text for chat, text in sends(emulator)[len(order) :] if chat == FLOODER]
        assert len(later) == 1 and later[0] != SLOW_DOWN


async def test_group_limits_still_hold_under_the_lane_limiter() -> None:
    """A burst to one group is spread out by the group limit (scaled down here to 5 a second)
    so an emulator enforcing it (with one message of slack for the trip) never answers 429."""
    limits = RateLimits(group_per_minute=300, group_burst=6)
    limiter = LaneRateLimiter(
        LocalBudget(1000), group_max_rate=5, group_time_period=1, max_retries=0
    )
    async with TelegramEmulator(enforce_limits=True, limits=limits) as emulator:
        group = emulator.add_chat(-100_777, "group", title="Journal club")
        bot = ExtBot(emulator.token, base_url=emulator.base_url, rate_limiter=limiter)
        async with bot:
            await asyncio.gather(*(bot.send_message(group.id, f"m{n}") for n in range(12)))
    assert emulator.flood_count == 0
    assert len(emulator.calls_of("sendMessage")) == 12


async def test_replies_take_turns_between_chats_and_go_before_bulk() -> None:
    """The gate's order, slot by slot: replies first, one chat at a time; then bulk, in order."""
    tokens: asyncio.Queue[None] = asyncio.Queue()

    class Budget:
        async def reserve(self, count: int) -> list[float]:
            for _ in range(count):
                await tokens.get()
            return [asyncio.get_running_loop().time()] * count  # due at once

    gate, served = SlotGate(Budget()), []

    async def send(name: str, lane: Lane, chat: int) -> None:
        await gate.enter(lane, chat)
        served.append(name)

    names = [("bulk1", Lane.bulk, 1), ("a1", Lane.reply, 10), ("a2", Lane.reply, 10)]
    names += [("a3", Lane.reply, 10), ("b1", Lane.reply, 20), ("bulk2", Lane.bulk, 2)]
    tasks = [asyncio.create_task(send(*n)) for n in names]
    await asyncio.sleep(0)  # everyone is waiting at the gate
    for _ in names:
        tokens.put_nowait(None)
    await asyncio.gather(*tasks)
    assert served == ["a1", "b1", "a2", "a3", "bulk1", "bulk2"]


async def test_only_the_task_handling_a_person_is_in_the_reply_lane() -> None:
    """What a handler sends is a reply; what it spawns to carry on, or a job, is bulk, unless
    it says it continues the person's action."""
    seen: dict[str, Lane] = {}
    spawned: list[asyncio.Task[Any]] = []

    async def lane_of(name: str) -> None:
        seen[name] = current_lane()

    async def handler() -> None:
        await lane_of("handler")
        spawned.append(asyncio.create_task(lane_of("spawned")))
        spawned.append(asyncio.create_task(as_reply(lane_of("continued"))))

    update = Update.de_json({"update_id": 1}, None)
    await UpdateProcessor().process_update(update, handler())
    await asyncio.gather(*spawned)
    await lane_of("job")
    assert seen == {
        "handler": Lane.reply,
        "spawned": Lane.bulk,
        "continued": Lane.reply,
        "job": Lane.bulk,
    }
