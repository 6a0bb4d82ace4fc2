"""Webhook mode: the real Application behind bot.webhook, with the emulator posting updates."""

from __future__ import annotations

import asyncio
import datetime as dt
import socket
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import aiohttp
import pytest
from sqlalchemy.engine import Engine
from sqlmodel import select
from telegram import Update
from telegram.ext import Application, ApplicationHandlerStop, TypeHandler

from bot.app import build_application
from bot.clock import VirtualClock
from bot.emulator import TelegramEmulator
from bot.webhook import (
    SECRET_HEADER,
    Claim,
    WebhookConfigError,
    WebhookServer,
    claim_update,
    finish_update,
    prune_processed_updates,
    release_update,
    serve_webhook,
    webhook_path,
    webhook_secret,
)
from storage.db import session_scope
from storage.models import ProcessedUpdate, Subscription, SubscriptionStatus
from tests.harness import ADMIN_ID, START, settings_for

SECRET = "s3cret-for-tests_0123456789"
USER = 5551


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _webhook_settings(emulator: TelegramEmulator, engine: Engine, port: int, **extra: Any) -> Any:
    url = engine.url.render_as_string(hide_password=False)
    return settings_for(
        emulator,
        url,
        webhook_url=f"http://127.0.0.1:{port}/telegram",
        webhook_listen="127.0.0.1",
        webhook_port=port,
        webhook_secret=SECRET,
        **extra,
    )


@asynccontextmanager
async def running_bot(
    emulator: TelegramEmulator,
    engine: Engine,
    *,
    port: int | None = None,
    shutdown_timeout: float = 5.0,
    **extra: Any,
) -> AsyncIterator[WebhookServer]:
    emulator.add_user(USER, "Ada")
    settings = _webhook_settings(emulator, engine, port or _free_port(), **extra)
    app = build_application(
        settings, engine=engine, clock=VirtualClock(START), start_dispatcher=False
    )
    async with serve_webhook(app, settings, shutdown_timeout=shutdown_timeout) as server:
        yield server


def _update(update_id: int, text: str = "/help", user_id: int = USER) -> dict[str, Any]:
    user = {"id": user_id, "is_bot": False, "first_name": "Ada"}
    return {
        "update_id": update_id,
        "message": {
            "message_id": update_id,
            "date": int(START.timestamp()),
            "chat": {"id": user_id, "type": "private", "first_name": "Ada"},
            "from": user,
            "text": text,
            "entities": [{"type": "bot_command", "offset": 0, "length": len(text.split()[0])}],
        },
    }


async def _post(server: WebhookServer, body: Any, secret: str | None = SECRET) -> int:
    headers = {SECRET_HEADER: secret} if secret is not None else {}
    url = f"http://127.0.0.1:{server.port}/telegram"
    async with aiohttp.ClientSession() as http, http.post(url, json=body, headers=headers) as r:
        await r.read()
        return r.status


async def test_updates_posted_by_telegram_are_answered(
    emulator: TelegramEmulator, sqlite_engine: Engine
) -> None:
    async with running_bot(emulator, sqlite_engine) as server:
        hook = emulator.webhook
        assert hook is not None and hook.url.endswith("/telegram")
        assert hook.secret_token == SECRET
        assert "poll_answer" in (emulator.allowed_updates or [])
        emulator.send_message(USER, "/help")
        await emulator.wait_for_call("sendMessage", chat_id=USER)
        await emulator.wait_for(lambda: not emulator.pending_updates)
        assert "tweetdrip" in emulator.sent_to(USER)[-1].content
        assert server.handled == 1


async def test_requests_without_the_secret_token_are_refused(
    emulator: TelegramEmulator, sqlite_engine: Engine
) -> None:
    async with running_bot(emulator, sqlite_engine) as server:
        assert await _post(server, _update(10), secret=None) == 403
        assert await _post(server, _update(11), secret="wrong") == 403
        assert server.handled == 0
        assert emulator.calls_of("sendMessage") == []


async def test_a_redelivered_update_is_handled_once(
    emulator: TelegramEmulator, sqlite_engine: Engine
) -> None:
    async with running_bot(emulator, sqlite_engine) as server:
        assert await _post(server, _update(20)) == 200
        assert await _post(server, _update(20)) == 200
        assert server.handled == 1
        assert len(emulator.calls_of("sendMessage")) == 1


async def test_garbage_is_refused_with_400(
    emulator: TelegramEmulator, sqlite_engine: Engine
) -> None:
    async with running_bot(emulator, sqlite_engine) as server:
        assert await _post(server, {"hello": "world"}) == 400
        assert await _post(server, [1, 2]) == 400


def _blocking_first_handler(app: Application, gate: asyncio.Event, entered: asyncio.Event) -> None:  # type: ignore[type-arg]
    async def wait_at_gate(update: Update, _context: Any) -> None:
        entered.set()
        await gate.wait()
        raise ApplicationHandlerStop

    app.add_handler(TypeHandler(Update, wait_at_gate), group=-100)  # before everything


async def test_the_webhook_answers_only_after_the_update_was_handled(
    emulator: TelegramEmulator, sqlite_engine: Engine
) -> None:
    gate, entered = asyncio.Event(), asyncio.Event()
    async with running_bot(emulator, sqlite_engine) as server:
        _blocking_first_handler(server.application, gate, entered)
        response = asyncio.create_task(_post(server, _update(30)))
        await asyncio.wait_for(entered.wait(), 10)
        await asyncio.sleep(0)  # let the response go out, if it wrongly would
        assert not response.done()
        gate.set()
        assert await response == 200


async def test_a_redelivery_during_handling_waits_and_is_not_handled_again(
    emulator: TelegramEmulator, sqlite_engine: Engine
) -> None:
    gate, entered = asyncio.Event(), asyncio.Event()
    async with running_bot(emulator, sqlite_engine) as server:
        _blocking_first_handler(server.application, gate, entered)
        first = asyncio.create_task(_post(server, _update(50)))
        await asyncio.wait_for(entered.wait(), 10)
        again = asyncio.create_task(_post(server, _update(50)))
        await asyncio.sleep(0.05)  # give the redelivery time to arrive; it must not return
        assert not again.done()
        gate.set()
        assert await first == 200 and await again == 200
        assert server.handled == 1


async def test_an_update_cut_short_by_shutdown_is_redelivered_and_handled_once(
    emulator: TelegramEmulator, sqlite_engine: Engine
) -> None:
    gate, entered = asyncio.Event(), asyncio.Event()
    port = _free_port()
    async with running_bot(emulator, sqlite_engine, port=port, shutdown_timeout=0.2) as server:
        _blocking_first_handler(server.application, gate, entered)
        emulator.send_message(USER, "/help")
        await asyncio.wait_for(entered.wait(), 10)
        # Leaving the block shuts the process down mid-update: no answer goes to Telegram.
    assert emulator.pending_updates, "the unanswered update must stay with Telegram"
    with session_scope(sqlite_engine) as session:
        assert session.exec(select(ProcessedUpdate)).all() == []  # the claim was released

    async with running_bot(emulator, sqlite_engine, port=port) as server:
        await emulator.wait_for(lambda: not emulator.pending_updates, timeout=10)
        await emulator.wait_for_call("sendMessage", chat_id=USER)
        assert server.handled == 1
    assert len(emulator.calls_of("sendMessage")) == 1


async def test_the_answer_does_not_wait_for_work_the_update_detached(
    emulator: TelegramEmulator, sqlite_engine: Engine
) -> None:
    """/broadcast is answered while its sends go on in the background; a redelivery of the
    update is acknowledged without broadcasting again."""
    trainee = 5552
    with session_scope(sqlite_engine) as session:
        session.add(
            Subscription(
                chat_id=trainee, user_id=trainee, status=SubscriptionStatus.active, plan_id="csf"
            )
        )
    emulator.add_users([trainee, ADMIN_ID])

    def broadcast_finished() -> bool:
        edits = emulator.calls_of("editMessageText")
        return any("Broadcast finished" in str(c.params.get("text")) for c in edits)

    async with running_bot(emulator, sqlite_engine) as server:
        # Telegram takes a second to answer the send to the trainee.
        emulator.faults.add("sendMessage", chat_id=trainee, kind="timeout", delay=1.0, apply=True)
        update = _update(60, "/broadcast Journal club moves to Friday", user_id=ADMIN_ID)
        assert await _post(server, update) == 200
        assert not broadcast_finished(), "Telegram's answer waited for the broadcast"
        await emulator.wait_for(broadcast_finished, timeout=10)
        assert await _post(server, update) == 200  # Telegram redelivers it
        assert server.handled == 1
    assert [m.content for m in emulator.sent_to(trainee)] == ["Journal club moves to Friday"]


def test_an_update_claimed_by_a_process_that_died_is_taken_over_after_its_lease(
    sqlite_engine: Engine,
) -> None:
    lease = dt.timedelta(minutes=5)
    with session_scope(sqlite_engine) as session:
        assert claim_update(session, 40, START, lease) == Claim.new
    with session_scope(sqlite_engine) as session:
        assert claim_update(session, 40, START + dt.timedelta(minutes=1), lease) == Claim.busy
    with session_scope(sqlite_engine) as session:
        assert claim_update(session, 40, START + dt.timedelta(minutes=6), lease) == Claim.new
        finish_update(session, 40, START + dt.timedelta(minutes=6))
    with session_scope(sqlite_engine) as session:
        assert claim_update(session, 40, START + dt.timedelta(minutes=7), lease) == Claim.done


def test_claims_and_pruning_work_on_both_databases(engine: Engine) -> None:
    lease = dt.timedelta(minutes=5)
    with session_scope(engine) as session:
        for update_id in (1, 2, 3):
            assert claim_update(session, update_id, START, lease) == Claim.new
        finish_update(session, 1, START)
        finish_update(session, 2, START + dt.timedelta(days=3))
        release_update(session, 1)  # a finished update is never released
    with session_scope(engine) as session:
        removed = prune_processed_updates(session, START + dt.timedelta(days=2))
        left = {row.update_id: row.lease_until for row in session.exec(select(ProcessedUpdate))}
    assert removed == 1
    assert set(left) == {2, 3}  # the recent one, and the one still being handled
    assert left[2] is None and left[3] is not None


async def test_healthz_reports_database_and_telegram(
    emulator: TelegramEmulator, sqlite_engine: Engine
) -> None:
    async with running_bot(emulator, sqlite_engine) as server:
        server.health.telegram_ttl = 0
        url = f"http://127.0.0.1:{server.port}/healthz"
        async with aiohttp.ClientSession() as http:
            async with http.get(url) as response:
                body = await response.json()
                assert response.status == 200
            assert body["status"] == "ok"
            assert body["database"]["ok"] and body["telegram"]["ok"]
            assert body["telegram"]["detail"] == f"@{emulator.bot.username}"

            await emulator.stop()  # Telegram becomes unreachable
            async with http.get(url) as response:
                body = await response.json()
                assert response.status == 503
            assert body["database"]["ok"] and not body["telegram"]["ok"]


def test_webhook_settings_are_explained_when_wrong() -> None:
    from bot.settings import Settings

    base = {"telegram_bot_token": "123:abc"}
    with pytest.raises(WebhookConfigError, match="WEBHOOK_URL"):
        webhook_path(Settings(_env_file=None, **base))  # type: ignore[call-arg]
    with pytest.raises(WebhookConfigError, match="WEBHOOK_URL"):
        webhook_path(Settings(_env_file=None, webhook_url="bot.example.org", **base))  # type: ignore[call-arg]
    with pytest.raises(WebhookConfigError, match="WEBHOOK_SECRET"):
        webhook_secret(Settings(_env_file=None, webhook_secret="has spaces", **base))  # type: ignore[call-arg]
    derived = webhook_secret(Settings(_env_file=None, **base))  # type: ignore[call-arg]
    assert derived == webhook_secret(Settings(_env_file=None, **base))  # type: ignore[call-arg]
    assert "123:abc" not in derived


async def test_webhook_mode_runs_the_same_start_up_and_shutdown_as_polling(
    emulator: TelegramEmulator, sqlite_engine: Engine
) -> None:
    finished: list[str] = []

    async def background_work() -> None:
        await asyncio.sleep(0.2)
        finished.append("announcement")

    async with running_bot(emulator, sqlite_engine) as server:
        # Start-up: the command menus are published, as `run_polling` does.
        assert emulator.calls_of("setMyCommands")
        server.application.bot_data.services.spawn(background_work())
    # Shutdown: work the bot had detached is finished, not dropped.
    assert finished == ["announcement"]
