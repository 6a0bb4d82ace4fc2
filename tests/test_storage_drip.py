"""The delivery engine's queries, on SQLite and on PostgreSQL."""

from __future__ import annotations

import datetime as dt
import threading

import pytest
from sqlalchemy.engine import Engine
from sqlmodel import Session, select

from storage.db import make_engine, session_scope
from storage.drip import (
    Finish,
    Mark,
    ScheduleInputs,
    add_deliveries,
    advance_subscriptions,
    claim_due,
    finish_installments,
    hold_lease,
    insert_deliveries,
    mark_deliveries,
    pending_deliveries,
    release_all_leases,
    release_leases,
    renew_leases,
)
from storage.models import Delivery, DeliveryStatus, Subscription, SubscriptionStatus

NOW = dt.datetime(2026, 1, 5, 8, 0, tzinfo=dt.UTC)
LEASE = dt.timedelta(minutes=2)


def add_subscribers(
    engine: Engine, count: int, *, due: dt.datetime = NOW, **fields: object
) -> None:
    with session_scope(engine) as session:
        for i in range(count):
            session.add(
                Subscription(
                    chat_id=10_000 + i,
                    status=SubscriptionStatus.active,
                    plan_id="csf-leaks",
                    next_due_at=due,
                    **fields,
                )
            )


def test_claims_only_active_due_unleased_subscriptions(engine: Engine) -> None:
    add_subscribers(engine, 3)
    add_subscribers(engine, 1, due=NOW + dt.timedelta(days=1))
    with session_scope(engine) as session:
        session.add(Subscription(chat_id=1, status=SubscriptionStatus.paused, next_due_at=NOW))
    with session_scope(engine) as session:
        first = claim_due(session, NOW, 10, LEASE)
    with session_scope(engine) as session:
        again = claim_due(session, NOW, 10, LEASE)
    assert len(first) == 3 and again == []
    with session_scope(engine) as session:  # once the lease runs out, it can be claimed again
        assert sorted(
            claim_due(session, NOW + LEASE + dt.timedelta(seconds=1), 10, LEASE)
        ) == sorted(first)


def test_claims_the_most_overdue_first_up_to_the_limit(engine: Engine) -> None:
    add_subscribers(engine, 2, due=NOW)
    add_subscribers(engine, 1, due=NOW - dt.timedelta(hours=1))
    with session_scope(engine) as session:
        oldest = session.exec(select(Subscription).where(Subscription.next_due_at < NOW)).one()
        assert claim_due(session, NOW, 1, LEASE) == [oldest.id]


def test_released_leases_can_be_claimed_at_once(engine: Engine) -> None:
    add_subscribers(engine, 2)
    with session_scope(engine) as session:
        claim_due(session, NOW, 10, LEASE)
    with session_scope(engine) as session:
        assert release_all_leases(session) == 2
    with session_scope(engine) as session:
        assert len(claim_due(session, NOW, 10, LEASE)) == 2


def test_a_claim_gives_back_only_its_own_leases_and_they_are_due_at_once(
    engine: Engine,
) -> None:
    add_subscribers(engine, 3)
    with session_scope(engine) as session:
        mine = claim_due(session, NOW, 2, LEASE, owner="stopping")
        theirs = claim_due(session, NOW, 2, LEASE, owner="other")
    # One of "mine" ran out and was taken over by "other": that lease is no longer ours.
    taken = mine[0]
    with session_scope(engine) as session:
        assert hold_lease(session, taken, "stopping", NOW, until=NOW)
    with session_scope(engine) as session:
        assert claim_due(session, NOW + dt.timedelta(seconds=1), 10, LEASE, "other") == [taken]
        release_leases(session, [(i, "stopping") for i in mine])
    with session_scope(engine) as session:
        leased = {
            s.id: (s.lease_owner, s.next_due_at)
            for s in session.exec(select(Subscription))
            if s.lease_until is not None
        }
        assert leased == {taken: ("other", NOW), theirs[0]: ("other", NOW)}
        # Given back: due as before, and claimable at once by anyone.
        assert claim_due(session, NOW, 10, LEASE, "next") == [mine[1]]


def test_a_claim_can_take_just_one_due_subscription(engine: Engine) -> None:
    add_subscribers(engine, 2)
    add_subscribers(engine, 1, due=NOW + dt.timedelta(hours=1))
    with session_scope(engine) as session:
        first, second, later = session.exec(select(Subscription.id).order_by(Subscription.id))
        assert first is not None and later is not None
        assert claim_due(session, NOW, 1, LEASE, "a", subscription_id=later) == []  # not due
        assert claim_due(session, NOW, 10, LEASE, "a", subscription_id=second) == [second]
        assert claim_due(session, NOW, 10, LEASE, "b", subscription_id=second) == []  # leased
        assert claim_due(session, NOW, 10, LEASE, "b") == [first]


def test_an_outbox_item_is_never_written_twice(engine: Engine) -> None:
    add_subscribers(engine, 1)
    with session_scope(engine) as session:
        sub_id = session.exec(select(Subscription.id)).one()
        assert sub_id is not None
        add_deliveries(session, sub_id, "csf-leak-blood-patch", ["h1", "p1", "p2"], 1)
    with session_scope(engine) as session:
        add_deliveries(session, sub_id, "csf-leak-blood-patch", ["p2", "p3"], 2)
    with session_scope(engine) as session:
        items = [d.item for d in pending_deliveries(session, sub_id)]
        assert items == ["h1", "p1", "p2", "p3"]
        assert len(session.exec(select(Delivery)).all()) == 4


def test_concurrent_claims_never_share_a_subscription(database_url: str) -> None:
    """Two processes' claims on PostgreSQL skip each other's locked rows (SQLite serialises)."""
    engines = [make_engine(database_url) for _ in range(2)]
    add_subscribers(engines[0], 400)
    results: list[list[int]] = [[], []]
    barrier = threading.Barrier(2)

    def worker(index: int) -> None:
        barrier.wait()
        while True:
            with Session(engines[index], expire_on_commit=False) as session:
                ids = claim_due(session, NOW, 25, LEASE)
                session.commit()
            if not ids:
                return
            results[index].extend(ids)

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    for e in engines:
        e.dispose()
    claimed = results[0] + results[1]
    assert len(claimed) == 400 and len(set(claimed)) == 400
    if database_url.startswith("postgresql"):
        assert results[0] and results[1], "both processes should have got work"


@pytest.mark.parametrize("count", [0, 1])
def test_claiming_nothing_changes_nothing(engine: Engine, count: int) -> None:
    add_subscribers(engine, count, due=NOW + dt.timedelta(days=1))
    with session_scope(engine) as session:
        assert claim_due(session, NOW, 10, LEASE) == []
        assert all(s.lease_until is None for s in session.exec(select(Subscription)).all())


def test_a_lease_is_held_only_by_its_claim_and_only_until_it_runs_out(engine: Engine) -> None:
    add_subscribers(engine, 1)
    later = NOW + LEASE + dt.timedelta(seconds=1)
    with session_scope(engine) as session:
        (sub_id,) = claim_due(session, NOW, 10, LEASE, owner="first")
        assert hold_lease(session, sub_id, "first", NOW, NOW + LEASE)
        assert not hold_lease(session, sub_id, "someone-else", NOW, NOW + LEASE)
    with session_scope(engine) as session:  # the first claim stalled past its lease...
        assert claim_due(session, later, 10, LEASE, owner="second") == [sub_id]
    with session_scope(engine) as session:  # ...and finds it taken over
        assert not hold_lease(session, sub_id, "first", later, later + LEASE)
        assert hold_lease(session, sub_id, "second", later, later + LEASE)


def test_a_group_renews_only_the_leases_its_claims_still_hold(engine: Engine) -> None:
    add_subscribers(engine, 3)
    later = NOW + LEASE + dt.timedelta(seconds=1)
    with session_scope(engine) as session:
        first, second, third = claim_due(session, NOW, 10, LEASE, owner="a")
    with session_scope(engine) as session:  # claim "a" stalled past its lease; "b" took over
        assert claim_due(session, later, 10, LEASE, owner="b") == [first, second, third]
        expired = later - dt.timedelta(seconds=1)  # and the third's lease has run out since
        assert hold_lease(session, third, "b", later, expired)
    until = later + LEASE
    claims = [(first, "a"), (first, "b"), (second, "b"), (third, "b")]
    with session_scope(engine) as session:
        rows = renew_leases(session, claims, later, until)
    assert {i: r.lease_owner for i, r in rows.items()} == {first: "b", second: "b"}
    with session_scope(engine) as session:
        leases = {s.id: s.lease_until for s in session.exec(select(Subscription))}
    assert leases[first] == leases[second] == until
    assert leases[third] == expired  # no longer held: not renewed


def test_marking_a_group_reports_the_items_that_are_gone(engine: Engine) -> None:
    add_subscribers(engine, 1)
    with session_scope(engine) as session:
        sub_id = session.exec(select(Subscription.id)).one()
        assert sub_id is not None
        ids = [d[0] for d in add_deliveries(session, sub_id, "t", ["h1", "p1", "p2"], 1)]
    with session_scope(engine) as session:
        session.delete(session.get(Delivery, ids[1]))
    with session_scope(engine) as session:
        marks = [
            Mark(ids[0], DeliveryStatus.sent, NOW, message_id=7),
            Mark(ids[1], DeliveryStatus.sent, NOW, message_id=8),
            Mark(ids[2], DeliveryStatus.failed, NOW, error="Bad Request: " + "x" * 600),
        ]
        assert mark_deliveries(session, marks) == [True, False, True]
    with session_scope(engine) as session:
        sent, refused = (session.get(Delivery, i) for i in (ids[0], ids[2]))
        assert sent is not None and refused is not None
        assert (sent.status, sent.message_id, sent.sent_at, sent.attempts) == (
            DeliveryStatus.sent,
            7,
            NOW,
            1,
        )
        assert (refused.status, refused.sent_at, len(refused.error or "")) == (
            DeliveryStatus.failed,
            None,
            500,
        )


def test_a_group_of_installments_is_written_and_scheduled_in_order(engine: Engine) -> None:
    add_subscribers(engine, 3)
    with session_scope(engine) as session:
        first, second, third = claim_due(session, NOW, 10, LEASE, owner="a")
        # Outbox rows come back in the order given, whatever order the database writes them.
        rows = [
            {"subscription_id": sub, "thread_id": "t", "item": item, "seq": seq, "installment": 1}
            for sub in (third, first)
            for seq, item in enumerate(["h5", "p5"], start=1)
        ]
        written = insert_deliveries(session, rows)
        assert [(w[2], w[3]) for w in written] == [("h5", 1), ("p5", 1)] * 2
        assert [w[0] for w in written] == [
            session.exec(
                select(Delivery.id).where(
                    Delivery.subscription_id == r["subscription_id"], Delivery.item == r["item"]
                )
            ).one()
            for r in rows
        ]
        advance_subscriptions(
            session,
            [
                {
                    "subscription_id": sub,
                    "thread_index": 0,
                    "next_post": 5 + sub,
                    "installments_sent": 1,
                    "idle_installments": 1,
                }
                for sub in (first, third)
            ],
        )
    with session_scope(engine) as session:
        subs = {s.id: s for s in session.exec(select(Subscription))}
        plans = {s: ScheduleInputs.of(subs[s]) for s in (first, second, third)}
        assert (subs[first].next_post, subs[second].next_post) == (5 + first, 0)
        # The second trainee changed their delivery time while their installment went out.
        subs[second].delivery_time = "09:30"
        session.add(subs[second])
    tomorrow = NOW + dt.timedelta(days=1)
    finishes = [Finish(s, plans[s], "active", tomorrow, "a", NOW) for s in (first, second, third)]
    with session_scope(engine) as session:
        assert finish_installments(session, [finishes[0], finishes[2]]) is True
        assert finish_installments(session, [finishes[1]]) is False
    with session_scope(engine) as session:
        subs = {s.id: s for s in session.exec(select(Subscription))}
    assert [(subs[s].next_due_at, subs[s].lease_until) for s in (first, third)] == [
        (tomorrow, None)
    ] * 2
    assert (subs[second].next_due_at, subs[second].lease_until) == (NOW, NOW + LEASE)
