"""The delivery engine: one repeating job claims due drips from the database and sends them.

The database is the schedule. Each installment is written to the outbox (`Delivery`) before
anything is sent; each message is marked sent right after Telegram accepts it (in the
dispatcher, within `GROUP_COMMIT_WINDOW`), and before the next one to that chat goes out. A
crash between those two moments is the one window: the message is sent again after the
restart (at-least-once), because skipping it could lose a post for good.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
import uuid
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from functools import partial
from typing import Any, TypeVar

from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine
from sqlmodel import Session
from sqlmodel.ext.asyncio.session import AsyncSession
from telegram import Bot, Message, ReplyParameters
from telegram.constants import ParseMode
from telegram.ext import Application

from bot.context import Context, Services
from bot.domain.drip import (
    END_ITEM,
    Installment,
    Position,
    next_thread,
    plan_installment,
    plan_thread_ids,
)
from bot.domain.reminders import should_pause
from bot.domain.review import review_horizon
from bot.domain.schedule import next_delivery_at
from bot.domain.timeparse import zone
from bot.outage import database_unavailable
from bot.quizzes import (
    add_due_reviews,
    idle_pause_html,
    pause_if_idle,
    record_poll,
    review_header_html,
    review_question,
    send_quiz_poll,
)
from bot.render import header_text, render_post, text_with_media_links, thread_end_text
from bot.sending import ChatPacer, Outcome, SendResult, send_safely
from content.models import Library, Thread
from storage import drip as q
from storage import quiz as q_quiz
from storage.db import session_scope
from storage.models import (
    DeliveryStatus,
    PollKind,
    Subscription,
    SubscriptionKind,
    SubscriptionStatus,
)

log = logging.getLogger(__name__)

RETRY_LATER = dt.timedelta(minutes=1)
# How long the dispatcher's group commit gathers write steps before it writes them (at
# once when every delivery under way is waiting on it). Each step of a fan-out then waits up
# to this long (a message's record, and so the next message to that chat; nothing a trainee
# would notice at one message a second per chat), and each group is several times larger:
# fewer transactions and statements per message.
GROUP_COMMIT_WINDOW = 0.02

T = TypeVar("T")


@dataclass(frozen=True)
class _Item:
    delivery_id: int
    thread_id: str
    item: str
    installment: int


@dataclass(frozen=True)
class _Target:
    subscription_id: int
    chat_id: int
    kind: str
    user_id: int | None
    plan_title: str | None
    pace: int
    owner: str | None = None  # the claim this delivery works under


@dataclass
class _Prepared:
    """A subscription's installment, ready to send (no items: nothing to send)."""

    target: _Target | None = None
    items: list[_Item] = field(default_factory=list)
    reply_to: int | None = None
    plan: q.ScheduleInputs | None = None  # what the next due time is computed from
    idle_pause: tuple[int, int] | None = None  # (chat, idle installments) to tell


_Step = tuple[str, Any, "asyncio.Future[Any]"]  # (kind, argument, the delivery's future)
# How an installment's last message is recorded with its finish: a plain mark (set-wise), or
# a write block that returns False when the installment stops there (see `_record`).
_LastRecord = q.Mark | Callable[[Session], bool]
_Outcome = tuple[Any, Exception | None]  # (result, error)


class _Writes:
    """Group commit: the short write steps of concurrent deliveries share a transaction.

    Each delivery awaits its own step, so every message is still recorded before the next
    one to that chat goes out. The steps handed in during one turn of the event loop run in
    one transaction, and the common ones (prepare an installment, record a message, schedule
    the next day) run set-wise: a few statements for the whole group instead of several
    each. If the group fails, it is rolled back and each step runs again in a transaction of
    its own, so one subscription's failure stays its own. `awaited`: each group is written
    through the database's asyncio driver, one group at a time, so the event loop goes on
    sending while the server answers.
    """

    def __init__(
        self,
        svc: Services,
        window: float = 0.0,
        senders: Callable[[], int] | None = None,
        awaited: bool = False,
    ) -> None:
        self._engine = svc.engine
        self._window = window
        self._senders = senders  # how many deliveries may hand in steps
        self._awaited = awaited
        self._async_engine: AsyncEngine | None = None  # made on the first awaited write
        self._queue: list[_Step] = []
        self._timer: asyncio.TimerHandle | None = None
        self._writing: asyncio.Future[list[_Outcome]] | None = None
        self._steps: dict[str, Callable[[Session, list[Any]], list[Any]]] = {
            "block": lambda session, blocks: [block(session) for block in blocks],
            "prepare": partial(_prepare_many, svc),
            "mark": q.mark_deliveries,
            "finish": partial(_finish_many, svc),
        }

    async def run(self, block: Callable[[Session], T]) -> T:
        """Run any write block in the next group."""
        result: T = await self._put("block", block)
        return result

    async def prepare(self, library: Library, subscription_id: int, owner: str) -> _Prepared:
        """`_prepare` under the claim `owner`."""
        result: _Prepared = await self._put("prepare", (library, subscription_id, owner))
        return result

    async def mark(self, mark: q.Mark) -> bool:
        """Record how one message went (nothing else to record): False if its row is gone."""
        result: bool = await self._put("mark", mark)
        return result

    async def finish(
        self,
        library: Library,
        subscription_id: int,
        plan: q.ScheduleInputs,
        owner: str | None,
        last: _LastRecord | None = None,
    ) -> None:
        """Record the `last` message, if given, and `_finish` the installment in the same
        transaction (unless recording it says the installment stops there)."""
        await self._put("finish", (library, subscription_id, plan, owner, last))

    async def _put(self, kind: str, argument: Any) -> Any:
        loop = asyncio.get_running_loop()
        future: asyncio.Future[Any] = loop.create_future()
        self._queue.append((kind, argument, future))
        if self._senders is not None and len(self._queue) >= self._senders():
            self._schedule(loop, 0.0)  # every delivery waits on this group: none can join
        elif len(self._queue) == 1:
            self._schedule(loop, self._window)
        return await future

    def _schedule(self, loop: asyncio.AbstractEventLoop, delay: float) -> None:
        if self._timer is not None:
            self._timer.cancel()
        self._timer = loop.call_later(delay, self._flush)

    async def close(self) -> None:
        """Write what is waiting now (shutdown: cancelled deliveries' writes still stand)."""
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        while self._writing is not None or self._queue:
            if self._writing is None:
                self._flush()
            if self._writing is not None:
                await asyncio.wait([self._writing])
        if self._async_engine is not None:
            await self._async_engine.dispose()
            self._async_engine = None

    def _flush(self) -> None:
        """Write the waiting group, or leave it for when the group being written is done."""
        self._timer = None
        if self._writing is not None or not self._queue:
            return
        group, self._queue = self._queue, []
        if not self._awaited:
            with Session(self._engine, expire_on_commit=False) as session:
                self._settle(group, self._write(session, group))
            return
        self._writing = asyncio.ensure_future(self._write_awaited(group))
        self._writing.add_done_callback(partial(self._written, group))

    def _written(self, group: list[_Step], writing: asyncio.Future[list[_Outcome]]) -> None:
        self._writing = None
        self._settle(group, writing.result())
        if self._queue and self._timer is None:  # its time came while this group was written
            self._flush()

    async def _write_awaited(self, group: list[_Step]) -> list[_Outcome]:
        """`_write` with the driver's round trips awaited on the event loop: the same code,
        run by SQLAlchemy's asyncio bridge. (A worker thread would contend for the GIL.)"""
        try:
            if self._async_engine is None:
                self._async_engine = create_async_engine(self._engine.url)
            async with AsyncSession(self._async_engine, expire_on_commit=False) as session:
                # sqlmodel's AsyncSession hands run_sync its own Session, typed as SQLAlchemy's.
                return await session.run_sync(self._write, group)  # type: ignore[arg-type]
        except Exception as exc:  # no connection: every step fails with the same error
            return [(None, exc)] * len(group)

    def _write(self, session: Session, group: list[_Step]) -> list[_Outcome]:
        """Each step's (result, error): all in one transaction, or each in its own if the
        group fails."""
        try:
            results = self._apply(session, group)
            session.commit()
            return [(result, None) for result in results]
        except Exception as exc:
            session.rollback()
            if len(group) == 1:
                return [(None, exc)]
        outcomes: list[_Outcome] = []
        for step in group:
            try:
                (result,) = self._apply(session, [step])
                session.commit()
            except Exception as own:
                session.rollback()
                outcomes.append((None, own))
            else:
                outcomes.append((result, None))
        return outcomes

    @staticmethod
    def _settle(group: list[_Step], outcomes: list[_Outcome]) -> None:
        for (_, _, future), (result, error) in zip(group, outcomes, strict=True):
            if future.done():  # the delivery was cancelled (shutdown); its writes stand
                continue
            if error is not None:
                future.set_exception(error)
            else:
                future.set_result(result)

    def _apply(self, session: Session, group: list[_Step]) -> list[Any]:
        """Run a group's steps, each kind set-wise; return their results in group order."""
        by_kind: dict[str, list[int]] = {}
        for index, (kind, _, _) in enumerate(group):
            by_kind.setdefault(kind, []).append(index)
        results: list[Any] = [None] * len(group)
        for kind, indexes in by_kind.items():
            done = self._steps[kind](session, [group[i][1] for i in indexes])
            for index, result in zip(indexes, done, strict=True):
                results[index] = result
        return results


async def dispatch_job(context: Context) -> None:
    """JobQueue entry point: deliver everything that is due.

    The job is paused while it runs: a fan-out outlasts many intervals, and the scheduler
    would otherwise log a skipped run at each of them. A database outage is logged once
    when it starts and once when it ends (`bot.outage`), not with a traceback every tick.
    """
    svc: Services = context.bot_data.services
    job = context.job
    if job is not None:
        job.enabled = False
    try:
        await dispatch_due(context.application)
    except Exception as exc:
        if not database_unavailable(exc):
            raise
        svc.outages.failed(exc, "the dispatcher")
    else:
        svc.outages.succeeded()
    finally:
        if job is not None and not svc.stopping.is_set():
            job.enabled = True


def stop_delivering(app: Application) -> None:
    """Shut the delivery engine down (on SIGTERM/SIGINT, before the application waits for
    its jobs): claim nothing more and give back what was claimed but not started; each
    delivery under way ends after the message in flight, within SHUTDOWN_GRACE_SECONDS."""
    svc: Services = app.bot_data.services
    if not svc.stopping.is_set():
        log.info(
            "stopping: no new deliveries; the messages in flight get %s s to finish",
            svc.settings.shutdown_grace_seconds,
        )
        svc.stopping.set()


async def dispatch_due(app: Application, now: dt.datetime | None = None) -> int:
    """Claim due subscriptions and deliver them until none are left, or until the engine
    is told to stop (`stop_delivering`); return how many."""
    svc: Services = app.bot_data.services
    if svc.stopping.is_set():
        return 0
    settings = svc.settings
    lease = dt.timedelta(seconds=settings.dispatch_lease_seconds)
    claimed: deque[tuple[int, str]] = deque()
    running: dict[asyncio.Future[None], tuple[int, str]] = {}  # with (subscription, owner)
    more_due = True
    handled = 0
    writes = _Writes(
        svc,
        GROUP_COMMIT_WINDOW,
        senders=lambda: len(running),
        # A server's round trips are waits the event loop can spend sending; SQLite's work
        # is the process's own CPU, with nothing to wait for.
        awaited=svc.engine.dialect.name != "sqlite",
    )

    async def one(subscription_id: int, owner: str) -> None:
        try:
            await deliver_subscription(app.bot, svc, subscription_id, writes, owner)
        except Exception as exc:  # one trainee's failure must not stop everyone else's drip
            if database_unavailable(exc):
                svc.outages.failed(exc, f"delivering subscription {subscription_id}")
            else:
                log.exception("delivering subscription %s failed", subscription_id)

    stopping: asyncio.Future[Any] = asyncio.ensure_future(svc.stopping.wait())
    try:
        while not svc.stopping.is_set():
            # Claim the next batch before this one runs dry, so the senders never wait for
            # the slowest subscriber of a batch (a paced batch would otherwise end at a trickle).
            if more_due and len(claimed) < settings.dispatch_concurrency:
                owner = uuid.uuid4().hex  # each claim its own token: see storage.drip.hold_lease
                with session_scope(svc.engine) as session:
                    ids = q.claim_due(
                        session, now or svc.now(), settings.dispatch_batch_size, lease, owner
                    )
                claimed.extend((i, owner) for i in ids)
                more_due = len(ids) == settings.dispatch_batch_size
            while claimed and len(running) < settings.dispatch_concurrency:
                sub_id, owner = claimed.popleft()
                running[asyncio.create_task(one(sub_id, owner))] = (sub_id, owner)
            if not running:
                return handled
            done, _ = await asyncio.wait([*running, stopping], return_when=asyncio.FIRST_COMPLETED)
            for task in done:
                if running.pop(task, None) is not None:  # not `stopping`
                    handled += 1
        # Stopping: what was claimed but not started is due again at once, for any process;
        # each delivery under way stops after its message in flight (deliver_subscription).
        given_back, under_way = len(claimed), len(running)
        _release(svc, list(claimed))
        claimed.clear()
        if running:
            finished, _ = await asyncio.wait(running, timeout=settings.shutdown_grace_seconds)
            for task in finished:
                del running[task]
            handled += len(finished)
        log.info(
            "delivery stopped: %d claimed subscriptions given back, %d stopped after their "
            "message in flight, %d cut short by the grace",
            given_back,
            under_way - len(running),
            len(running),
        )
        return handled
    finally:
        stopping.cancel()
        for task in running:  # past the grace, or an error: cut short
            task.cancel()
        if running:
            await asyncio.wait(running)
        await writes.close()
        if svc.stopping.is_set():
            # Their message in flight may have gone out unrecorded: it is sent again by
            # whoever takes them over (the documented window), at once rather than after
            # the lease.
            _release(svc, list(running.values()))


def _release(svc: Services, leases: list[tuple[int, str]]) -> None:
    if not leases:
        return
    try:
        with session_scope(svc.engine) as session:
            q.release_leases(session, leases)
    except Exception as exc:  # the leases run out on their own
        if not database_unavailable(exc):
            raise
        svc.outages.failed(exc, "releasing leases")


async def deliver_now(app: Application, subscription_id: int) -> bool:
    """Claim one subscription, if it is due and no dispatcher holds it, and deliver it
    under that claim (the same lease, outbox and records as a dispatch pass); False if it
    was not claimed here."""
    svc: Services = app.bot_data.services
    if svc.stopping.is_set():
        return False
    lease = dt.timedelta(seconds=svc.settings.dispatch_lease_seconds)
    owner = uuid.uuid4().hex
    with session_scope(svc.engine) as session:
        claimed = q.claim_due(session, svc.now(), 1, lease, owner, subscription_id)
    if not claimed:
        return False
    writes = _Writes(svc)
    try:
        await deliver_subscription(app.bot, svc, subscription_id, writes, owner)
    finally:
        await writes.close()
    return True


async def deliver_subscription(
    bot: Bot,
    svc: Services,
    subscription_id: int,
    writes: _Writes | None = None,
    owner: str | None = None,
) -> None:
    """Send the pending installment of one subscription, planning it first if needed.

    `owner` is the claim it was leased under; without one the lease is not checked. When
    the engine is stopping, it ends after the message in flight and gives the lease back:
    the rest stays in the outbox, for whoever claims the subscription next.
    """
    writes = writes or _Writes(svc)
    library = svc.library()
    lease = dt.timedelta(seconds=svc.settings.dispatch_lease_seconds)
    if svc.stopping.is_set():
        await _give_back(writes, subscription_id, owner)
        return
    if owner is None:
        ready = await writes.run(
            lambda session: _prepare(session, svc, library, subscription_id, None)
        )
    else:
        ready = await writes.prepare(library, subscription_id, owner)
    if ready.idle_pause is not None:
        await _tell_idle_pause(bot, svc, *ready.idle_pause)
        return
    target, reply_to = ready.target, ready.reply_to
    if target is None or not ready.items:
        return
    renew_lease_at = svc.now() + lease / 2

    last: _LastRecord | None = None  # the last message's record, written with the finish
    for index, item in enumerate(ready.items):
        if svc.stopping.is_set():
            await _give_back(writes, subscription_id, owner)
            return
        result = await _send_item(bot, svc, library, target, item, reply_to)
        now = svc.now()
        moved_to = result.chat_id
        migrated = moved_to is not None and moved_to != target.chat_id
        if moved_to is not None and migrated:
            target = replace(target, chat_id=moved_to)  # the group became a supergroup
        lease_until = None
        if now >= renew_lease_at:
            lease_until, renew_lease_at = now + lease, now + lease / 2
        just_a_mark = not migrated and lease_until is None and _only_a_mark(result)
        if index == len(ready.items) - 1 and result.outcome in (Outcome.sent, Outcome.failed):
            # The last message: recorded in the same write as the finish below.
            last = (
                _mark(item, result, now)
                if just_a_mark
                else partial(_record, library, target, item, result, now, migrated, lease_until)
            )
            go_on = True
        elif just_a_mark:
            go_on = await writes.mark(_mark(item, result, now))
        else:
            go_on = await writes.run(
                partial(_record, library, target, item, result, now, migrated, lease_until)
            )
        if result.outcome == Outcome.blocked:
            log.info("subscription %s: chat %s blocked the bot", subscription_id, target.chat_id)
        elif result.outcome == Outcome.failed:
            log.warning("subscription %s: %s refused: %s", subscription_id, item.item, result.error)
        if not go_on:
            return
        if isinstance(result.value, Message):
            reply_to = result.value.message_id

    assert ready.plan is not None  # set whenever there are items
    await writes.finish(library, subscription_id, ready.plan, owner, last)


async def _give_back(writes: _Writes, subscription_id: int, owner: str | None) -> None:
    """Release the lease of a delivery cut short by a shutdown."""
    if owner is not None:
        await writes.run(lambda session: q.release_leases(session, [(subscription_id, owner)]))


def _only_a_mark(result: SendResult[Message]) -> bool:
    """Whether recording this outcome is just marking its outbox row (no poll to record,
    nothing to change on the subscription)."""
    if result.outcome not in (Outcome.sent, Outcome.failed):
        return False
    return not (isinstance(result.value, Message) and result.value.poll is not None)


def _mark(item: _Item, result: SendResult[Message], now: dt.datetime) -> q.Mark:
    message = result.value
    return q.Mark(
        item.delivery_id,
        DeliveryStatus.sent if result.outcome == Outcome.sent else DeliveryStatus.failed,
        now,
        message_id=message.message_id if isinstance(message, Message) else None,
        error=result.error,
    )


def _prepare_many(
    svc: Services, session: Session, requests: list[tuple[Library, int, str]]
) -> list[_Prepared]:
    """`_prepare` for a group of (library, subscription, owner), set-wise for the common
    case: an active subscription whose next installment is planned now, with no reviews
    due and no idle pause. Every other case goes through `_prepare`, one by one."""
    now = svc.now()
    lease = dt.timedelta(seconds=svc.settings.dispatch_lease_seconds)
    # Renew the leases still held (a claimed batch may have waited its turn) and read them.
    rows = q.renew_leases(session, [(s, o) for _, s, o in requests], now, now + lease)
    prepared: list[_Prepared | None] = [None] * len(requests)
    active: list[int] = []
    for index, (_, sub_id, owner) in enumerate(requests):
        row = rows.get(sub_id)
        if row is None or row.lease_owner != owner or row.status != SubscriptionStatus.active:
            prepared[index] = _Prepared()  # lease lost, subscription gone or not active
        else:
            active.append(index)

    pending = q.pending_items_of(session, [requests[i][1] for i in active])
    threshold = svc.settings.idle_installments_before_pause
    planned: dict[int, Installment] = {}
    for index in active:
        library, sub_id, _ = requests[index]
        row = rows[sub_id]
        if sub_id in pending or (
            row.kind == SubscriptionKind.trainee and should_pause(row.idle_installments, threshold)
        ):
            continue  # a resumed installment, or an idle pause
        installment = plan_installment(
            library,
            plan_thread_ids(library, row.plan_kind, row.plan_id),
            Position(row.thread_index, row.next_post),
            row.pace,
            row.installments_sent + 1,
        )
        if installment is not None:  # None: the plan is done
            planned[index] = installment

    # Due reviews ride along: trainees who may have some are planned one by one.
    horizon = max(
        (review_horizon(now, rows[requests[i][1]].timezone) for i in planned), default=now
    )
    reviewing = q_quiz.users_with_cards_due(
        session,
        {
            user_id
            for i in planned
            if (user_id := rows[requests[i][1]].user_id) is not None
            and rows[requests[i][1]].kind == SubscriptionKind.trainee
        },
        horizon,
    )
    existing, last_seq = q.outbox_state(
        session,
        [requests[i][1] for i in planned],
        [item for installment in planned.values() for item in installment.items],
    )
    outbox: list[dict[str, object]] = []
    for index, installment in list(planned.items()):
        sub_id = requests[index][1]
        row = rows[sub_id]
        if (row.kind == SubscriptionKind.trainee and row.user_id in reviewing) or any(
            (sub_id, installment.thread_id, item) in existing for item in installment.items
        ):
            del planned[index]  # reviews to add, or items written before: one by one
            continue
        first_seq = last_seq.get(sub_id, 0) + 1
        outbox.extend(
            {
                "subscription_id": sub_id,
                "thread_id": installment.thread_id,
                "item": item,
                "seq": first_seq + offset,
                "installment": installment.number,
            }
            for offset, item in enumerate(installment.items)
        )
    if planned:
        written = q.insert_deliveries(session, outbox)
        q.advance_subscriptions(
            session,
            [
                {
                    "subscription_id": sub_id,
                    "thread_index": installment.next.thread_index,
                    "next_post": installment.next.next_post,
                    "installments_sent": installment.number,
                    # every installment counts as idle until the trainee acts
                    "idle_installments": row.idle_installments
                    + (row.kind == SubscriptionKind.trainee),
                }
                for index, installment in planned.items()
                for sub_id in [requests[index][1]]
                for row in [rows[sub_id]]
            ],
        )
        start = 0
        for index, installment in planned.items():
            library, sub_id, owner = requests[index]
            row = rows[sub_id]
            items = [_Item(*w) for w in written[start : start + len(installment.items)]]
            start += len(installment.items)
            target = _Target(
                sub_id,
                row.chat_id,
                row.kind,
                row.user_id,
                _plan_title(library, row.plan_kind, row.plan_id),
                row.pace,
                owner,
            )
            plan = q.ScheduleInputs(
                status=row.status,
                plan_kind=row.plan_kind,
                plan_id=row.plan_id,
                thread_index=installment.next.thread_index,
                next_post=installment.next.next_post,
                timezone=row.timezone,
                delivery_time=row.delivery_time,
            )
            prepared[index] = _Prepared(target, items, None, plan)  # opens with its header
    return [
        ready if ready is not None else _prepare(session, svc, *requests[index])
        for index, ready in enumerate(prepared)
    ]


def _finish_many(
    svc: Services,
    session: Session,
    requests: list[tuple[Library, int, q.ScheduleInputs, str | None, _LastRecord | None]],
) -> list[None]:
    """Record each installment's last message, then `_finish` them (in one statement when
    every claim still holds its lease and nothing changed while sending).

    One write for both: a crash between the last record and the finish would leave an
    installment all sent but still due, and the next one would go out at the restart.
    """
    now = svc.now()
    marks = [last for *_, last in requests if isinstance(last, q.Mark)]
    kept = dict(zip([m.delivery_id for m in marks], q.mark_deliveries(session, marks), strict=True))
    leased: list[tuple[Library, int, q.ScheduleInputs, str]] = []
    for library, sub_id, plan, owner, last in requests:
        if isinstance(last, q.Mark) and not kept[last.delivery_id]:
            continue  # the subscription was deleted meanwhile (its outbox went with it)
        if last is not None and not isinstance(last, q.Mark) and not last(session):
            continue  # blocked, deleted or taken over: the installment stops here
        if owner is None:
            _finish(session, library, sub_id, plan, now)
        else:
            leased.append((library, sub_id, plan, owner))
    finishes = []
    for library, sub_id, plan, owner in leased:
        status, next_due_at = _next_schedule(plan, library, now)
        finishes.append(q.Finish(sub_id, plan, status, next_due_at, owner, now))
    if finishes and not q.finish_installments(session, finishes):
        # Some changed: each on its own (for those already written the lease is gone, so
        # `_finish` leaves them alone).
        for library, sub_id, plan, owner in leased:
            _finish(session, library, sub_id, plan, now, owner)
    return [None] * len(requests)


def _prepare(
    session: Session, svc: Services, library: Library, subscription_id: int, owner: str | None
) -> _Prepared:
    """Load the pending installment of a subscription, planning the next one if none is."""
    now = svc.now()
    lease = dt.timedelta(seconds=svc.settings.dispatch_lease_seconds)
    if owner is None:
        sub = session.get(Subscription, subscription_id)
    else:
        # The batch may have waited its turn: go on only while this claim still holds the
        # lease, and renew it for the installment ahead (written with the other changes).
        sub = q.leased_subscription(session, subscription_id, owner, now)
        if sub is not None:
            sub.lease_until = now + lease
    if sub is None or sub.status != SubscriptionStatus.active:
        return _Prepared()
    items = [_Item(*row) for row in q.pending_items(session, subscription_id)]
    planned = False
    if not items:
        if pause_if_idle(sub, svc.settings.idle_installments_before_pause):
            session.add(sub)
            return _Prepared(idle_pause=(sub.chat_id, sub.idle_installments))
        items = _plan_next(session, sub, library, svc)
        planned = True
    if not items:
        return _Prepared()
    target = _Target(
        subscription_id,
        sub.chat_id,
        sub.kind,
        sub.user_id,
        _plan_title(library, sub.plan_kind, sub.plan_id),
        sub.pace,
        owner,
    )
    # A new installment opens with its header, sent as no reply; a resumed one goes on
    # from the last message of it that went out.
    reply_to = (
        None
        if planned and items[0].item.startswith("h")
        else q.last_sent_message_id(session, subscription_id, items[0].installment)
    )
    return _Prepared(target, items, reply_to, q.ScheduleInputs.of(sub))


def _record(
    library: Library,
    target: _Target,
    item: _Item,
    result: SendResult[Message],
    now: dt.datetime,
    migrated: bool,
    lease_until: dt.datetime | None,
    session: Session,
) -> bool:
    """Record how one message went; False when the installment stops here."""
    sub_id = target.subscription_id
    if migrated:
        q.update_subscription(session, sub_id, chat_id=target.chat_id)
    if result.outcome == Outcome.blocked:
        q.update_subscription(
            session, sub_id, status=SubscriptionStatus.blocked, next_due_at=None, lease_until=None
        )
        return False
    if result.outcome == Outcome.retry_later:
        q.update_subscription(session, sub_id, next_due_at=now + RETRY_LATER, lease_until=None)
        return False
    message = result.value
    if not q.mark_deliveries(session, [_mark(item, result, now)])[0]:
        return False  # the subscription was deleted meanwhile (its outbox went with it)
    if isinstance(message, Message):
        _record_quiz(session, library, target, item, message, now)
    if lease_until is not None and target.owner is not None:
        # Taken over after a stall longer than the lease: the new holder goes on from here.
        return q.hold_lease(session, sub_id, target.owner, now, lease_until)
    return True


def _finish(
    session: Session,
    library: Library,
    subscription_id: int,
    plan: q.ScheduleInputs,
    now: dt.datetime,
    owner: str | None = None,
) -> None:
    """After the installment: schedule the next one and release the lease."""
    # One guarded UPDATE when this claim still holds the lease and nothing the next due
    # time depends on changed while sending (the plan was read from an active subscription).
    status, next_due_at = _next_schedule(plan, library, now)
    lease = None if owner is None else (owner, now)
    if q.finish_installment(session, subscription_id, plan, status, next_due_at, lease):
        return
    if owner is not None and not q.hold_lease(session, subscription_id, owner, now, now):
        return  # another dispatcher holds it now and will schedule it
    sub = session.get(Subscription, subscription_id)
    if sub is not None:
        _schedule_next(sub, library, now)
        session.add(sub)


async def _tell_idle_pause(bot: Bot, svc: Services, chat_id: int, idle: int) -> None:
    html = idle_pause_html(idle)
    await send_safely(
        lambda c: bot.send_message(c, html, parse_mode=ParseMode.HTML), chat_id, pacer=svc.pacer
    )


def _plan_next(session: Session, sub: Subscription, library: Library, svc: Services) -> list[_Item]:
    thread_ids = plan_thread_ids(library, sub.plan_kind, sub.plan_id)
    position = Position(sub.thread_index, sub.next_post)
    installment = plan_installment(
        library, thread_ids, position, sub.pace, sub.installments_sent + 1
    )
    if installment is None:
        sub.status = SubscriptionStatus.finished
        sub.next_due_at = sub.lease_until = None
        session.add(sub)
        return []
    written = q.add_deliveries(
        session,
        sub.id,  # type: ignore[arg-type]
        installment.thread_id,
        installment.items,
        installment.number,
    )
    # Due reviews ride along, and every installment counts as idle until the trainee acts.
    reviews = add_due_reviews(
        session, library, sub, installment.number, svc.now(), svc.settings.max_reviews_per_day
    )
    if sub.kind == SubscriptionKind.trainee:
        sub.idle_installments += 1
    sub.thread_index, sub.next_post = installment.next.thread_index, installment.next.next_post
    sub.installments_sent = installment.number
    session.add(sub)
    session.flush()
    if not reviews:  # nothing was pending before: the outbox now holds just what was written
        return [_Item(*row) for row in written]
    return [_Item(*row) for row in q.pending_items(session, sub.id)]  # type: ignore[arg-type]


def _next_schedule(
    inputs: q.ScheduleInputs, library: Library, now: dt.datetime
) -> tuple[SubscriptionStatus, dt.datetime | None]:
    """After an installment of an active drip: the next local delivery time, never a backlog,
    or finished when nothing is left."""
    thread_ids = plan_thread_ids(library, inputs.plan_kind, inputs.plan_id)
    if next_thread(library, thread_ids, Position(inputs.thread_index, inputs.next_post)) is None:
        return SubscriptionStatus.finished, None
    return SubscriptionStatus.active, next_delivery_at(inputs.timezone, inputs.delivery_time, now)


def _schedule_next(sub: Subscription, library: Library, now: dt.datetime) -> None:
    sub.lease_until = None
    if sub.status == SubscriptionStatus.active:
        sub.status, sub.next_due_at = _next_schedule(q.ScheduleInputs.of(sub), library, now)


def _plan_title(library: Library, plan_kind: str, plan_id: str | None) -> str | None:
    if plan_kind == "track" and plan_id in library.tracks:
        return library.tracks[plan_id].title
    return None


async def _send_item(
    bot: Bot,
    svc: Services,
    library: Library,
    target: _Target,
    item: _Item,
    reply_to: int | None,
) -> SendResult[Message]:
    thread = library.threads.get(item.thread_id)
    if thread is None:
        return SendResult(
            Outcome.failed, error=f"thread {item.thread_id} is no longer in the library"
        )
    reply = ReplyParameters(reply_to, allow_sending_without_reply=True) if reply_to else None
    pacer = svc.pacer

    async def text(chat_id: int, html: str, with_reply: bool = True) -> Message:
        return await bot.send_message(
            chat_id,
            html,
            parse_mode=ParseMode.HTML,
            reply_parameters=reply if with_reply else None,
            link_preview_options=None,
        )

    kind, _, key = item.item.partition(":")
    if item.item.startswith("h"):
        first = int(item.item[1:])
        last = _installment_last_post(thread, first, target.pace)
        html = header_text(item.installment, thread, first, last)
        return await send_safely(
            lambda c: text(c, html, with_reply=False), target.chat_id, pacer=pacer
        )
    if item.item.startswith("p"):
        return await _send_post(bot, thread, int(item.item[1:]), target.chat_id, reply, pacer)
    if kind == "q":
        question = next((x for x in thread.quiz if x.id == key), None)
        if question is None:
            return SendResult(Outcome.failed, error=f"question {key} is no longer in {thread.id}")
        anonymous = target.kind == SubscriptionKind.channel
        return await send_safely(
            lambda c: send_quiz_poll(bot, c, question, is_anonymous=anonymous, reply_to=reply_to),
            target.chat_id,
            pacer=pacer,
        )
    if item.item == END_ITEM:
        html = _end_text(library, thread, target, svc)
        return await send_safely(lambda c: text(c, html), target.chat_id, pacer=pacer)
    if kind == "rh":
        with session_scope(svc.engine) as session:
            html = review_header_html(session, target.subscription_id, item.installment)
        return await send_safely(lambda c: text(c, html), target.chat_id, pacer=pacer)
    if kind == "r":
        with session_scope(svc.engine) as session:
            review, problem = review_question(session, library, item.item)
        if review is None:
            return SendResult(Outcome.failed, error=problem)
        return await send_safely(
            lambda c: send_quiz_poll(bot, c, review, reply_to=reply_to),
            target.chat_id,
            pacer=pacer,
        )
    return SendResult(Outcome.failed, error=f"unknown delivery item {item.item!r}")


async def _send_post(
    bot: Bot,
    thread: Thread,
    number: int,
    chat_id: int,
    reply: ReplyParameters | None,
    pacer: ChatPacer | None,
) -> SendResult[Message]:
    rendered = render_post(thread, number)

    async def as_text(c: int, html: str) -> Message:
        return await bot.send_message(c, html, parse_mode=ParseMode.HTML, reply_parameters=reply)

    if rendered.photo is None:
        return await send_safely(
            lambda c: as_text(c, text_with_media_links(rendered)), chat_id, pacer=pacer
        )
    photo = rendered.photo

    async def as_photo(c: int) -> Message:
        return await bot.send_photo(
            c, photo, caption=rendered.text, parse_mode=ParseMode.HTML, reply_parameters=reply
        )

    result = await send_safely(as_photo, chat_id, pacer=pacer)
    if result.outcome == Outcome.failed:
        # Telegram refused the image (gone, too big, wrong type): the words still go out.
        log.info(
            "image of %s post %s refused (%s); sending text with a link",
            thread.id,
            number,
            result.error,
        )
        return await send_safely(
            lambda c: as_text(c, text_with_media_links(rendered)),
            result.chat_id or chat_id,
            pacer=pacer,
        )
    return result


def _installment_last_post(thread: Thread, first: int, pace: int) -> int:
    return len(thread.posts) if pace <= 0 else min(first + pace - 1, len(thread.posts))


def _end_text(library: Library, thread: Thread, target: _Target, svc: Services) -> str:
    with session_scope(svc.engine) as session:
        sub = session.get(Subscription, target.subscription_id)
        if sub is None:
            return thread_end_text(thread, None, None, target.plan_title)
        thread_ids = plan_thread_ids(library, sub.plan_kind, sub.plan_id)
        upcoming = next_thread(library, thread_ids, Position(sub.thread_index, sub.next_post))
        when = None
        if upcoming is not None:
            instant = next_delivery_at(sub.timezone, sub.delivery_time, svc.now())
            when = instant.astimezone(zone(sub.timezone))
    return thread_end_text(thread, upcoming, when, target.plan_title)


def _record_quiz(
    session: Session,
    library: Library,
    target: _Target,
    item: _Item,
    message: Message,
    now: dt.datetime,
) -> None:
    if message.poll is None:
        return
    thread = library.threads[item.thread_id]
    if item.item.startswith("q:"):
        question = next(x for x in thread.quiz if x.id == item.item[2:])
        kind = PollKind.channel if target.kind == SubscriptionKind.channel else PollKind.drip
    elif item.item.startswith("r:"):
        review, _problem = review_question(session, library, item.item)
        if review is None:
            return
        question, kind = review, PollKind.review
    else:
        return
    record_poll(
        session,
        message,
        thread,
        question,
        kind,
        now,
        user_id=target.user_id,
        subscription_id=target.subscription_id,
    )
