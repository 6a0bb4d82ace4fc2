"""Queries of the delivery engine: claim due subscriptions, keep the outbox, release."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass, fields

from sqlalchemy import (
    Column,
    Connection,
    Row,
    and_,
    bindparam,
    func,
    insert,
    literal,
    or_,
    update,
)
from sqlalchemy import select as sa_select
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.sql.selectable import TableValuedAlias
from sqlmodel import Session, col, select

from storage.db import InList
from storage.models import Delivery, DeliveryStatus, Subscription, SubscriptionStatus, utcnow

_T = Subscription.__table__  # type: ignore[attr-defined]
_D = Delivery.__table__  # type: ignore[attr-defined]

# The statements the engine runs for every message or installment are built once: building
# and caching a statement costs more than running it on SQLite.
_PENDING = (
    select(Delivery.id, Delivery.thread_id, Delivery.item, Delivery.installment)
    .where(
        col(Delivery.subscription_id) == bindparam("subscription_id"),
        col(Delivery.status) == DeliveryStatus.pending,
    )
    .order_by(col(Delivery.seq))
)
# For add_deliveries, in one round trip: the rows of the items asked about, and the row with
# the highest seq of the subscription.
_EXISTING_AND_LAST = select(Delivery.thread_id, Delivery.item, Delivery.seq).where(
    col(Delivery.subscription_id) == bindparam("subscription_id"),
    or_(
        and_(
            col(Delivery.thread_id) == bindparam("thread_id"),
            InList(_D.c.item, "items"),
        ),
        col(Delivery.seq)
        == select(func.max(Delivery.seq))
        .where(col(Delivery.subscription_id) == bindparam("subscription_id"))
        .scalar_subquery(),
    ),
)
_INSERT = insert(Delivery).returning(
    col(Delivery.id),
    col(Delivery.thread_id),
    col(Delivery.item),
    col(Delivery.installment),
    sort_by_parameter_order=True,
)
_LAST_SEQ = select(func.max(Delivery.seq)).where(
    col(Delivery.subscription_id) == bindparam("subscription_id")
)


@dataclass(frozen=True)
class ScheduleInputs:
    """What the next due time of a subscription is computed from."""

    status: str
    plan_kind: str
    plan_id: str | None
    thread_index: int
    next_post: int
    timezone: str
    delivery_time: str

    @classmethod
    def of(cls, sub: Subscription) -> ScheduleInputs:
        return cls(**{name: getattr(sub, name) for name in _SCHEDULE_INPUTS})

    def as_old(self) -> dict[str, object]:
        """The parameters of the guarded UPDATEs below: old_status, old_plan_kind, ..."""
        return {f"old_{name}": getattr(self, name) for name in _SCHEDULE_INPUTS}


_SCHEDULE_INPUTS = tuple(f.name for f in fields(ScheduleInputs))
_FINISH = (
    update(Subscription)
    .where(
        col(Subscription.id) == bindparam("subscription_id"),
        *(
            Subscription.__table__.c[name].is_not_distinct_from(bindparam(f"old_{name}"))  # type: ignore[attr-defined]
            for name in _SCHEDULE_INPUTS
        ),
    )
    .values(
        status=bindparam("new_status"),
        next_due_at=bindparam(
            "new_next_due_at",
            type_=Subscription.__table__.c.next_due_at.type,  # type: ignore[attr-defined]
        ),
        lease_until=None,
    )
)
# Lease conditions: this claim (`owner`) still holds the subscription at `now`.
_LEASE_HELD = (
    col(Subscription.lease_owner) == bindparam("owner"),
    col(Subscription.lease_until)
    >= bindparam("now", type_=Subscription.__table__.c.lease_until.type),  # type: ignore[attr-defined]
)
_FINISH_LEASED = _FINISH.where(*_LEASE_HELD)
_HOLD = (
    update(Subscription)
    .where(col(Subscription.id) == bindparam("subscription_id"), *_LEASE_HELD)
    .values(
        lease_until=bindparam("until", type_=Subscription.__table__.c.lease_until.type)  # type: ignore[attr-defined]
    )
)
_RELEASE = (
    update(Subscription)
    .where(
        col(Subscription.id) == bindparam("subscription_id"),
        col(Subscription.lease_owner) == bindparam("owner"),
    )
    .values(lease_until=None, lease_owner=None)
)
_LEASED = select(Subscription).where(
    col(Subscription.id) == bindparam("subscription_id"), *_LEASE_HELD
)
_MARK = (
    update(Delivery)
    .where(col(Delivery.id) == bindparam("delivery_id"))
    .values(
        status=bindparam("status"),
        attempts=col(Delivery.attempts) + 1,
        message_id=bindparam("message_id"),
        error=bindparam("error"),
        sent_at=func.coalesce(
            bindparam("sent_at", type_=Delivery.__table__.c.sent_at.type),  # type: ignore[attr-defined]
            col(Delivery.sent_at),
        ),
    )
)


# Set-based statements for a group of deliveries (bot/dispatch.py's group commit).
_RENEW_MANY = (
    update(Subscription)
    .where(
        InList(_T.c.id, "ids"),
        InList(_T.c.lease_owner, "owners"),
        col(Subscription.lease_until) >= bindparam("now", type_=_T.c.lease_until.type),
    )
    .values(lease_until=bindparam("until", type_=_T.c.lease_until.type))
    .returning(*_T.c)
)
_PENDING_MANY = (
    sa_select(_D.c.subscription_id, _D.c.id, _D.c.thread_id, _D.c.item, _D.c.installment)
    .where(
        InList(_D.c.subscription_id, "ids"),
        _D.c.status == DeliveryStatus.pending,
    )
    .order_by(_D.c.subscription_id, _D.c.seq)
)
_LAST_SEQ_MANY = (
    sa_select(_D.c.subscription_id, func.max(_D.c.seq))
    .where(InList(_D.c.subscription_id, "ids"))
    .group_by(_D.c.subscription_id)
)
_EXISTING_MANY = sa_select(_D.c.subscription_id, _D.c.thread_id, _D.c.item).where(
    InList(_D.c.subscription_id, "ids"),
    InList(_D.c.item, "items"),
)
# What advance_subscriptions sets, besides the subscription it sets it on.
_POSITION = ("thread_index", "next_post", "installments_sent", "idle_installments")
_ADVANCE = (
    update(Subscription)
    .where(col(Subscription.id) == bindparam("subscription_id"))
    .values({name: bindparam(name) for name in _POSITION})
)
_GONE = sa_select(_D.c.id).where(InList(_D.c.id, "ids"))


def _rows(**columns: Column[object]) -> TableValuedAlias:
    """PostgreSQL: a group's parameters as a derived table `v`, one array per name, typed like
    the given column: `unnest(:a, :b) AS v(a, b)`. A statement over a group is then one round
    trip, where an executemany sends one statement per row."""
    arrays = (bindparam(name, type_=ARRAY(column.type)) for name, column in columns.items())
    return func.unnest(*arrays).table_valued(*columns).render_derived(name="v")


def _set_wise(connection: Connection) -> bool:
    return connection.dialect.name == "postgresql"


def _arrays(rows: Sequence[dict[str, object]]) -> dict[str, list[object]]:
    """executemany parameters (a dict per row) as `_rows` takes them (a list per name)."""
    return {name: [row[name] for row in rows] for name in rows[0]}


_MARKS = _rows(
    delivery_id=_D.c.id,
    status=_D.c.status,
    message_id=_D.c.message_id,
    error=_D.c.error,
    sent_at=_D.c.sent_at,
)
_MARK_SET = (
    update(Delivery)
    .where(_D.c.id == _MARKS.c.delivery_id)
    .values(
        status=_MARKS.c.status,
        attempts=_D.c.attempts + 1,
        message_id=_MARKS.c.message_id,
        error=_MARKS.c.error,
        sent_at=func.coalesce(_MARKS.c.sent_at, _D.c.sent_at),
    )
    .returning(_D.c.id)
)
_OUTBOX = _rows(
    subscription_id=_D.c.subscription_id,
    thread_id=_D.c.thread_id,
    item=_D.c.item,
    seq=_D.c.seq,
    installment=_D.c.installment,
)
_INSERT_SET = (
    insert(Delivery)
    .from_select(
        [*_OUTBOX.c.keys(), "status", "attempts", "created_at"],
        sa_select(
            *_OUTBOX.c,
            bindparam("status", type_=_D.c.status.type),
            literal(0),
            bindparam("created_at", type_=_D.c.created_at.type),
        ),
    )
    .returning(_D.c.id, _D.c.thread_id, _D.c.item, _D.c.installment, _D.c.subscription_id)
)
_POSITIONS = _rows(subscription_id=_T.c.id, **{name: _T.c[name] for name in _POSITION})
_ADVANCE_SET = (
    update(Subscription)
    .where(_T.c.id == _POSITIONS.c.subscription_id)
    .values({name: _POSITIONS.c[name] for name in _POSITION})
)
_FINISHES = _rows(
    subscription_id=_T.c.id,
    **{f"old_{name}": _T.c[name] for name in _SCHEDULE_INPUTS},
    new_status=_T.c.status,
    new_next_due_at=_T.c.next_due_at,
    owner=_T.c.lease_owner,
    now=_T.c.lease_until,
)
_FINISH_SET = (
    update(Subscription)
    .where(
        _T.c.id == _FINISHES.c.subscription_id,
        *(_T.c[name].is_not_distinct_from(_FINISHES.c[f"old_{name}"]) for name in _SCHEDULE_INPUTS),
        _T.c.lease_owner == _FINISHES.c.owner,
        _T.c.lease_until >= _FINISHES.c.now,
    )
    .values(
        status=_FINISHES.c.new_status,
        next_due_at=_FINISHES.c.new_next_due_at,
        lease_until=None,
    )
)


@dataclass(frozen=True)
class Mark:
    """How one outbox item went, for `mark_deliveries`."""

    delivery_id: int
    status: DeliveryStatus
    now: dt.datetime
    message_id: int | None = None
    error: str | None = None

    def params(self) -> dict[str, object]:
        return {
            "delivery_id": self.delivery_id,
            "status": self.status,
            "message_id": self.message_id,
            "error": self.error[:500] if self.error else None,
            "sent_at": self.now if self.status == DeliveryStatus.sent else None,
        }


@dataclass(frozen=True)
class Finish:
    """The end of an installment, for `finish_installments` (see `finish_installment`)."""

    subscription_id: int
    expected: ScheduleInputs
    status: str
    next_due_at: dt.datetime | None
    owner: str
    now: dt.datetime


def claim_due(
    session: Session,
    now: dt.datetime,
    limit: int,
    lease: dt.timedelta,
    owner: str | None = None,
    subscription_id: int | None = None,
) -> list[int]:
    """Lease up to `limit` due subscriptions (or just `subscription_id`, if it is due) to the
    claim `owner` and return their ids.

    One UPDATE ... WHERE id IN (SELECT ...) RETURNING statement, so two processes can never
    claim the same row; on PostgreSQL rows another process is claiming are skipped, not
    waited for (FOR UPDATE SKIP LOCKED).
    """
    only = () if subscription_id is None else (col(Subscription.id) == subscription_id,)
    due = (
        select(Subscription.id)
        .where(
            Subscription.status == SubscriptionStatus.active,
            col(Subscription.next_due_at) <= now,
            or_(col(Subscription.lease_until).is_(None), col(Subscription.lease_until) < now),
            *only,
        )
        .order_by(col(Subscription.next_due_at))
        .limit(limit)
        .with_for_update(skip_locked=True)
        .scalar_subquery()
    )
    claimed = session.execute(
        update(Subscription)
        .where(col(Subscription.id).in_(due))
        .values(lease_until=now + lease, lease_owner=owner)
        .returning(col(Subscription.id))
    )
    return sorted(int(i) for i in claimed.scalars().all())


def release_leases(session: Session, leases: Sequence[tuple[int, str]]) -> None:
    """Give up the leases that the given (subscription, owner) claims still hold: those
    subscriptions are due again at once, to any dispatcher (their due time is kept)."""
    if leases:
        session.connection().execute(
            _RELEASE, [{"subscription_id": s, "owner": o} for s, o in leases]
        )


def release_all_leases(session: Session) -> int:
    """Forget every lease: safe only when this is the one process using the database."""
    result = session.execute(
        update(Subscription)
        .where(col(Subscription.lease_until).is_not(None))
        .values(lease_until=None, lease_owner=None)
    )
    return int(getattr(result, "rowcount", 0) or 0)


def pending_deliveries(session: Session, subscription_id: int) -> Sequence[Delivery]:
    return session.exec(
        select(Delivery)
        .where(
            Delivery.subscription_id == subscription_id,
            Delivery.status == DeliveryStatus.pending,
        )
        .order_by(col(Delivery.seq))
    ).all()


def pending_items(session: Session, subscription_id: int) -> list[tuple[int, str, str, int]]:
    """The pending outbox of one subscription as (id, thread, item, installment), in order."""
    rows = session.connection().execute(_PENDING, {"subscription_id": subscription_id})
    return [(r[0], r[1], r[2], r[3]) for r in rows]


def last_sent_message_id(session: Session, subscription_id: int, installment: int) -> int | None:
    """The message a resumed installment should reply to, so it still reads as a thread."""
    return session.exec(
        select(Delivery.message_id)
        .where(
            Delivery.subscription_id == subscription_id,
            Delivery.installment == installment,
            Delivery.status == DeliveryStatus.sent,
        )
        .order_by(col(Delivery.seq).desc())
        .limit(1)
    ).first()


def next_seq(session: Session, subscription_id: int) -> int:
    last = session.connection().execute(_LAST_SEQ, {"subscription_id": subscription_id})
    return int(last.scalar() or 0) + 1


def add_deliveries(
    session: Session, subscription_id: int, thread_id: str, items: list[str], installment: int
) -> list[tuple[int, str, str, int]]:
    """Write an installment to the outbox; an item already recorded is never written again.

    Returns what was written, as `pending_items` would list it.
    """
    connection = session.connection()
    found = connection.execute(
        _EXISTING_AND_LAST,
        {"subscription_id": subscription_id, "thread_id": thread_id, "items": items},
    ).all()
    existing = {item for thread, item, _ in found if thread == thread_id and item in items}
    seq = max((row[2] for row in found), default=0) + 1
    rows = []
    created = utcnow()
    for item in items:
        if item in existing:
            continue
        rows.append(
            {
                "subscription_id": subscription_id,
                "thread_id": thread_id,
                "item": item,
                "seq": seq,
                "installment": installment,
                "status": DeliveryStatus.pending,
                "attempts": 0,
                "created_at": created,
            }
        )
        seq += 1
    if not rows:
        return []
    # Core, not ORM objects: no flush, no identity map, one executemany that returns the ids.
    written = connection.execute(_INSERT, rows)
    return [(r[0], r[1], r[2], r[3]) for r in written]  # type: ignore[misc]  # ids are set


def hold_lease(
    session: Session, subscription_id: int, owner: str, now: dt.datetime, until: dt.datetime
) -> bool:
    """Extend the claim `owner` holds until `until`; False if it ran out or was taken over.

    A claimed batch may wait its turn, and a slow send may outlast a lease: whoever finds
    its lease gone stops, so two dispatchers never work on one subscription.
    """
    result = session.connection().execute(
        _HOLD, {"subscription_id": subscription_id, "owner": owner, "now": now, "until": until}
    )
    return bool(getattr(result, "rowcount", 0))


def leased_subscription(
    session: Session, subscription_id: int, owner: str, now: dt.datetime
) -> Subscription | None:
    """The subscription, if the claim `owner` still holds its lease at `now`."""
    return session.exec(
        _LEASED, params={"subscription_id": subscription_id, "owner": owner, "now": now}
    ).first()


def renew_leases(
    session: Session, leases: Sequence[tuple[int, str]], now: dt.datetime, until: dt.datetime
) -> dict[int, Row]:
    """Extend the leases that the given (subscription, owner) claims still hold until
    `until`, in one statement; return those subscriptions' rows by id.

    A row comes back under the owner that holds it, which may be another of `leases`' claims
    (a subscription claimed again after its first lease ran out): compare `lease_owner`.
    """
    rows = session.connection().execute(
        _RENEW_MANY,
        {
            "ids": sorted({i for i, _ in leases}),
            "owners": sorted({o for _, o in leases}),
            "now": now,
            "until": until,
        },
    )
    return {row.id: row for row in rows}


def pending_items_of(
    session: Session, subscription_ids: Sequence[int]
) -> dict[int, list[tuple[int, str, str, int]]]:
    """`pending_items` of several subscriptions in one query; those with none are left out."""
    found: dict[int, list[tuple[int, str, str, int]]] = {}
    rows = session.connection().execute(_PENDING_MANY, {"ids": list(subscription_ids)})
    for sub_id, *item in rows:
        found.setdefault(sub_id, []).append((item[0], item[1], item[2], item[3]))
    return found


def outbox_state(
    session: Session, subscription_ids: Sequence[int], items: Sequence[str]
) -> tuple[set[tuple[int, str, str]], dict[int, int]]:
    """For planning several installments at once: which of `items` each subscription's
    outbox already holds, as (subscription, thread, item), and its highest seq."""
    connection = session.connection()
    ids = list(subscription_ids)
    existing = connection.execute(_EXISTING_MANY, {"ids": ids, "items": sorted(set(items))})
    last = connection.execute(_LAST_SEQ_MANY, {"ids": ids})
    return {(r[0], r[1], r[2]) for r in existing}, {r[0]: int(r[1]) for r in last}


def insert_deliveries(
    session: Session, rows: list[dict[str, object]]
) -> list[tuple[int, str, str, int]]:
    """Write outbox rows in one statement; return them as `pending_items` lists them, in the
    order given."""
    created = utcnow()
    connection = session.connection()
    if _set_wise(connection) and rows:
        params = {**_arrays(rows), "status": DeliveryStatus.pending, "created_at": created}
        # RETURNING's order is not promised: put the rows back in order by their unique key.
        found = {
            (r[4], r[1], r[2]): (r[0], r[1], r[2], r[3])
            for r in connection.execute(_INSERT_SET, params)
        }
        return [found[(r["subscription_id"], r["thread_id"], r["item"])] for r in rows]
    written = connection.execute(
        _INSERT,
        [
            {"status": DeliveryStatus.pending, "attempts": 0, "created_at": created, **r}
            for r in rows
        ],
    )
    return [(r[0], r[1], r[2], r[3]) for r in written]  # type: ignore[misc]  # ids are set


def advance_subscriptions(session: Session, positions: list[dict[str, object]]) -> None:
    """Set the plan position, installment count and idle count of several subscriptions."""
    connection = session.connection()
    if _set_wise(connection) and positions:
        connection.execute(_ADVANCE_SET, _arrays(positions))
    else:
        connection.execute(_ADVANCE, positions)


def mark_deliveries(session: Session, marks: Sequence[Mark]) -> list[bool]:
    """Record how outbox items went (status, attempts + 1, message id, error, sent time),
    in one statement; False for an item that is gone."""
    if not marks:
        return []
    connection = session.connection()
    if _set_wise(connection):
        kept = set(connection.execute(_MARK_SET, _arrays([m.params() for m in marks])).scalars())
        return [m.delivery_id in kept for m in marks]
    result = connection.execute(_MARK, [m.params() for m in marks])
    if connection.dialect.supports_sane_multi_rowcount and result.rowcount == len(marks):
        return [True] * len(marks)
    still_there = set(connection.execute(_GONE, {"ids": [m.delivery_id for m in marks]}).scalars())
    return [m.delivery_id in still_there for m in marks]


def finish_installments(session: Session, finishes: Sequence[Finish]) -> bool:
    """`finish_installment` under each claim's lease, in one statement; True if every one
    of them was written (otherwise the caller finishes each on its own)."""
    if not finishes:
        return True
    connection = session.connection()
    rows = [
        {
            **f.expected.as_old(),
            "subscription_id": f.subscription_id,
            "new_status": f.status,
            "new_next_due_at": f.next_due_at,
            "owner": f.owner,
            "now": f.now,
        }
        for f in finishes
    ]
    if _set_wise(connection):
        return bool(connection.execute(_FINISH_SET, _arrays(rows)).rowcount == len(rows))
    result = connection.execute(_FINISH_LEASED, rows)
    return bool(connection.dialect.supports_sane_multi_rowcount) and result.rowcount == len(rows)


def finish_installment(
    session: Session,
    subscription_id: int,
    expected: ScheduleInputs,
    status: str,
    next_due_at: dt.datetime | None,
    lease: tuple[str, dt.datetime] | None = None,
) -> bool:
    """Release the lease and set the next due time, only if the subscription still has the
    `expected` status, plan, position, time zone and delivery time, and, given a `lease`
    (owner, now), only while that claim holds it; False if not."""
    params = {
        **expected.as_old(),
        "subscription_id": subscription_id,
        "new_status": status,
        "new_next_due_at": next_due_at,
    }
    if lease is not None:
        params["owner"], params["now"] = lease
    result = session.connection().execute(_FINISH if lease is None else _FINISH_LEASED, params)
    return bool(getattr(result, "rowcount", 0))


def update_subscription(session: Session, subscription_id: int, **values: object) -> bool:
    """Set columns of one subscription without loading it; False if it is gone."""
    result = session.connection().execute(
        update(Subscription).where(col(Subscription.id) == subscription_id).values(values)
    )
    return bool(getattr(result, "rowcount", 0))
