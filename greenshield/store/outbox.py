"""Subscriptions, the notifier's outbox and its delivery leaves, in the audit store.

A subscription belongs to a department token and lives ``active`` -> ``paused`` /
``parked`` -> ``active`` ... -> ``deleted``. Its outbox holds one row per message
(``(subscription, message id)`` is unique, so enqueueing again after a crash adds
nothing) and is sent in row order, the oldest ``pending`` row first and alone. Every
attempt writes a ``deliveries`` row, an audit-log leaf (kind ``delivery``), in the same
transaction as the outbox's new state: after a failed attempt the row waits its
backoff; after the limit it is ``parked`` and so is its subscription (the rows behind
it wait, so the order holds), until ``redrive`` queues it again.
"""

from __future__ import annotations

import hashlib
import secrets
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from greenshield.errors import ShareError
from greenshield.share.scope import Scope, from_doc
from greenshield.share.webhooks import Backoff, new_secret
from greenshield.store import schema as t, sharing_tables as st
from greenshield.store.audit_log import append
from greenshield.store.database import Store, insert_ignoring_conflicts
from greenshield.store.tokens import Token, api_tokens
from greenshield.translog.entries import canonical, loads, record_entry

STATES = ("active", "paused", "parked", "deleted")
ACTIONS = {"pause": ("active",), "resume": ("paused",), "delete": ("active", "paused", "parked")}


class SubscriptionError(ShareError, ValueError):
    """A subscription that cannot be made or changed; the message says why."""


@dataclass(frozen=True)
class Subscription:
    id: str
    token_id: str
    callback: str
    filter: Scope
    state: str
    reason: str | None
    created_ms: int
    secret: str = field(repr=False, default="")

    @property
    def pull(self) -> bool:
        """A pull subscription (no callback): the department reads ``GET /v1/feed`` instead."""
        return not self.callback

    def public(self) -> dict[str, Any]:
        """What the API and the CLI show (never the secret)."""
        return {"id": self.id, "token_id": self.token_id, "callback": self.callback, "filter": self.filter.to_doc(),
                "state": self.state, "reason": self.reason, "created_ms": self.created_ms}


@dataclass(frozen=True)
class Pending:
    """An outbox row about to be sent."""

    row_id: int
    subscription_id: str
    message_id: str
    body: str
    attempts: int
    created_ms: int = 0


def now_ms() -> int:
    return time.time_ns() // 1_000_000


def create(store: Store, token: Token, callback: str, wanted: Scope, clock_ms: int | None = None) -> Subscription:
    """A new active subscription of a department token, its filter inside the token's scope."""
    if token.role != "department" or token.scope is None or not token.active:
        raise SubscriptionError("only an active department token subscribes")
    problems = wanted.within(token.scope)
    if problems:
        raise SubscriptionError("the filter is outside the department's scope: " + "; ".join(problems))
    at = clock_ms if clock_ms is not None else now_ms()
    sub = Subscription("sub_" + secrets.token_hex(8), token.id, callback, wanted.narrowed(token.scope), "active",
                       None, at, new_secret())
    with store.write() as conn:
        conn.execute(st.subscriptions.insert().values(
            id=sub.id, token_id=sub.token_id, callback=sub.callback, filter=canonical(sub.filter.to_doc()).decode(),
            secret=sub.secret, state=sub.state, reason=None, created_ms=at, updated_ms=at))
    return sub


def listing(conn: Connection, token_id: str | None = None, live: bool = False) -> list[Subscription]:
    """Subscriptions, oldest first: of one token, or all; ``live``: not deleted, and of an unrevoked token."""
    s = st.subscriptions
    query = sa.select(s).order_by(s.c.created_ms, s.c.id)
    if token_id is not None:
        query = query.where(s.c.token_id == token_id)
    if live:
        query = (query.join(api_tokens, api_tokens.c.id == s.c.token_id)
                 .where(s.c.state != "deleted", api_tokens.c.revoked_ms.is_(None)))
    return [_subscription(r) for r in conn.execute(query)]


def get(conn: Connection, sub_id: str) -> Subscription | None:
    row = conn.execute(sa.select(st.subscriptions).where(st.subscriptions.c.id == sub_id)).first()
    return _subscription(row) if row is not None else None


def _subscription(row: Any) -> Subscription:
    m = row._mapping
    return Subscription(m["id"], m["token_id"], m["callback"], from_doc(loads(m["filter"])), m["state"], m["reason"],
                        int(m["created_ms"]), m["secret"])


def change(store: Store, sub_id: str, action: str, owner: str | None = None) -> Subscription:
    """``pause``, ``resume``, ``delete`` or ``redrive`` a subscription (``owner``: it must be that token's)."""
    with store.write() as conn:
        sub = get(conn, sub_id)
        if sub is None or (owner is not None and sub.token_id != owner):
            raise SubscriptionError(f"no subscription {sub_id}")
        if action == "redrive":
            _redrive(conn, sub)
            state = "active" if sub.state in ("active", "parked") else sub.state
        elif sub.state not in ACTIONS[action]:
            raise SubscriptionError(f"subscription {sub_id} is {sub.state}: cannot {action} it")
        else:
            state = {"pause": "paused", "resume": "active", "delete": "deleted"}[action]
        if action == "delete":
            o = st.outbox
            conn.execute(o.update().where(o.c.subscription_id == sub_id, o.c.state.in_(("pending", "parked")))
                         .values(state="dropped", reason="subscription deleted"))
        conn.execute(st.subscriptions.update().where(st.subscriptions.c.id == sub_id)
                     .values(state=state, reason=None if state == "active" else sub.reason, updated_ms=now_ms()))
        found = get(conn, sub_id)
    assert found is not None
    return found


def _redrive(conn: Connection, sub: Subscription) -> int:
    o = st.outbox
    return int(conn.execute(o.update().where(o.c.subscription_id == sub.id, o.c.state == "parked")
                            .values(state="pending", attempts=0, next_ms=0, reason=None)).rowcount)


def enqueue(conn: Connection, store: Store, rows: Sequence[tuple[str, str, str, str]], clock_ms: int) -> None:
    """Queue ``(subscription id, message id, type, body)`` rows; one already queued is left as it is."""
    if rows:
        conn.execute(insert_ignoring_conflicts(store, st.outbox), [
            {"subscription_id": s, "message_id": m, "type": ty, "body": b, "state": "pending", "attempts": 0,
             "next_ms": 0, "reason": None, "created_ms": clock_ms} for s, m, ty, b in rows])


def due(conn: Connection, clock_ms: int, busy: Iterable[str] = (), only: str | None = None) -> list[Pending]:
    """The head of each active subscription's queue whose backoff has passed (not those in ``busy``;
    ``only``: of that subscription alone)."""
    o, s = st.outbox, st.subscriptions
    pending = sa.select(o.c.subscription_id, sa.func.min(o.c.id).label("head")).where(o.c.state == "pending")
    if only is not None:
        pending = pending.where(o.c.subscription_id == only)
    heads = pending.group_by(o.c.subscription_id).subquery()
    query = (sa.select(o.c.id, o.c.subscription_id, o.c.message_id, o.c.body, o.c.attempts, o.c.created_ms)
             .join(heads, heads.c.head == o.c.id).join(s, s.c.id == o.c.subscription_id)
             .join(api_tokens, api_tokens.c.id == s.c.token_id)
             .where(s.c.state == "active", s.c.callback != "", api_tokens.c.revoked_ms.is_(None),
                    o.c.next_ms <= clock_ms)
             .order_by(o.c.id))
    skip = set(busy)
    return [Pending(int(r[0]), r[1], r[2], r[3], int(r[4]), int(r[5])) for r in conn.execute(query)
            if r[1] not in skip]


def backlog(conn: Connection, sub_id: str) -> dict[str, int]:
    """How many of a subscription's messages are in each outbox state."""
    o = st.outbox
    rows = conn.execute(sa.select(o.c.state, sa.func.count()).where(o.c.subscription_id == sub_id)
                        .group_by(o.c.state))
    return {str(k): int(v) for k, v in rows}


def gauges(conn: Connection) -> tuple[int, int]:
    """``(parked subscriptions, pending rows of active subscriptions)``: the notifier's gauges (a paused
    subscription's backlog waits by choice, a parked one's is counted by the first)."""
    o, s = st.outbox, st.subscriptions
    parked = conn.execute(sa.select(sa.func.count()).select_from(s).where(s.c.state == "parked")).scalar_one()
    pending = conn.execute(sa.select(sa.func.count()).select_from(o.join(s, s.c.id == o.c.subscription_id))
                           .where(o.c.state == "pending", s.c.state == "active")).scalar_one()
    return int(parked), int(pending)


def backlog_done(store: Store, sub_id: str) -> bool:
    """True when nothing of the subscription waits to be sent (none pending)."""
    with store.read() as conn:
        return backlog(conn, sub_id).get("pending", 0) == 0


@dataclass(frozen=True)
class Attempt:
    """The outcome of one HTTP delivery: a status (None: no answer) and an error text (no personal data)."""

    status: int | None
    error: str | None
    at_ms: int

    @property
    def ok(self) -> bool:
        return self.status is not None and 200 <= self.status < 300


def record(store: Store, item: Pending, sub: Subscription, attempt: Attempt, backoff: Backoff,
           delay_ms: int) -> str:
    """Write one attempt (a leaf) and the outbox's new state; returns the outcome."""
    number = item.attempts + 1
    outcome = "delivered" if attempt.ok else ("parked" if backoff.exhausted(number) else "failed")
    reason = None if attempt.ok else f"attempt {number}: {attempt.error or f'HTTP {attempt.status}'}"
    doc = {"subscription_id": sub.id, "message_id": item.message_id, "attempt": number, "at_ms": attempt.at_ms,
           "outcome": outcome, "token_id": sub.token_id, "callback": sub.callback,
           "body_sha256": hashlib.sha256(item.body.encode()).hexdigest(), "status": attempt.status,
           "error": attempt.error}
    with store.write() as conn:
        row = {k: doc[k] for k in ("subscription_id", "message_id", "attempt", "at_ms", "outcome")}
        (entry_id,) = store.allocate_ids(conn, 1)
        row.update(id=entry_id, doc=canonical(doc).decode())
        conn.execute(t.deliveries.insert().values(**row))
        append(conn, [(entry_id, "delivery", record_entry("delivery", row))], store)
        _after(conn, item, outcome, number, reason, attempt.at_ms + delay_ms)
    return outcome


def _after(conn: Connection, item: Pending, outcome: str, number: int, reason: str | None, next_ms: int) -> None:
    o, s = st.outbox, st.subscriptions
    state = {"delivered": "delivered", "parked": "parked", "failed": "pending"}[outcome]
    conn.execute(o.update().where(o.c.id == item.row_id, o.c.state == "pending")
                 .values(state=state, attempts=number, next_ms=next_ms, reason=reason))
    if outcome == "parked":
        conn.execute(s.update().where(s.c.id == item.subscription_id, s.c.state == "active")
                     .values(state="parked", reason=f"message {item.message_id} parked after {reason}",
                             updated_ms=now_ms()))


def feed(store: Store, sub: Subscription, after: int, limit: int, clock_ms: int | None = None
         ) -> list[tuple[int, str, str]]:
    """A pull subscription's messages after outbox row ``after``: ``(row id, message id, body)``, in order.

    Each one served is recorded as an attempt (outcome ``served``, a leaf) and marked delivered; reading
    from the same cursor again serves the same messages with the same ids (at least once).
    """
    o = st.outbox
    if sub.state != "active":
        return []
    with store.read() as conn:
        rows = conn.execute(sa.select(o.c.id, o.c.message_id, o.c.body, o.c.attempts)
                            .where(o.c.subscription_id == sub.id, o.c.id > after, o.c.state != "dropped")
                            .order_by(o.c.id).limit(limit)).all()
    if not rows:
        return []
    at = clock_ms if clock_ms is not None else now_ms()
    with store.write() as conn:
        ids = store.allocate_ids(conn, len(rows))
        leaves = []
        for entry_id, (row_id, msg, body, attempts) in zip(ids, rows):
            doc = {"subscription_id": sub.id, "message_id": msg, "attempt": int(attempts) + 1, "at_ms": at,
                   "outcome": "served", "token_id": sub.token_id, "callback": "",
                   "body_sha256": hashlib.sha256(body.encode()).hexdigest(), "status": None, "error": None}
            row = {k: doc[k] for k in ("subscription_id", "message_id", "attempt", "at_ms", "outcome")}
            row.update(id=entry_id, doc=canonical(doc).decode())
            conn.execute(t.deliveries.insert().values(**row))
            leaves.append((entry_id, "delivery", record_entry("delivery", row)))
            conn.execute(o.update().where(o.c.id == row_id).values(state="delivered", attempts=int(attempts) + 1))
        append(conn, leaves, store)
    return [(int(r[0]), str(r[1]), str(r[2])) for r in rows]


def attempts_of(conn: Connection, sub_id: str) -> list[dict[str, Any]]:
    """Every recorded attempt to a subscription, in order (the proof of what was sent when)."""
    d = t.deliveries
    return [loads(doc) for doc in conn.execute(sa.select(d.c.doc).where(d.c.subscription_id == sub_id)
                                               .order_by(d.c.id)).scalars()]


def cursor(conn: Connection, name: str) -> int:
    value = conn.execute(sa.select(st.notifier_cursors.c.value).where(st.notifier_cursors.c.name == name)).scalar()
    return int(value) if value is not None else 0


def set_cursor(conn: Connection, store: Store, name: str, value: int) -> None:
    c = st.notifier_cursors
    if conn.execute(c.update().where(c.c.name == name).values(value=value)).rowcount == 0:
        conn.execute(insert_ignoring_conflicts(store, c), [{"name": name, "value": value}])
