"""Delivery from the outbox to a real HTTP receiver on 127.0.0.1, with the store (no broker: messages are
routed as the notifier routes a batch): signatures, order, backoff through an outage, parking and redrive,
pause, every attempt a leaf that ``audit verify`` covers."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from tests.share.sharekit import Receiver, copy, department, subscribe, topic_values, route_values, wait_until

from greenshield.store import schema as t
from greenshield.store.database import Store
from greenshield.store.verify import verify
from greenshield.settings import Settings
from greenshield.store import outbox
from greenshield.notifier.service import Deliverer


class Running:
    """A deliverer ticking on its own thread (as the notifier's delivery loop)."""

    def __init__(self, settings: Settings, store: Store) -> None:
        self.deliverer = Deliverer(settings, store)
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._loop, daemon=True)
        self.thread.start()

    def _loop(self) -> None:
        while not self.stop.is_set():
            self.deliverer.tick()
            self.stop.wait(0.01)

    def close(self) -> None:
        self.stop.set()
        self.thread.join()
        self.deliverer.close()


def _attempts(store: Store, sub_id: str) -> list[dict[str, Any]]:
    with store.read() as conn:
        return outbox.attempts_of(conn, sub_id)


def _states(store: Store, sub_id: str) -> dict[str, int]:
    with store.read() as conn:
        return outbox.backlog(conn, sub_id)


def test_messages_arrive_signed_in_order_once_each(world: tuple[Settings, Store], receiver: Receiver) -> None:
    settings, store = world
    values = topic_values(store)
    sub = subscribe(store, department(store, "all"), receiver.url)
    assert route_values(store, values) == len(values) > 50
    assert route_values(store, values) == len(values)  # a batch read again (a crash before the offset commit) ...
    assert sum(_states(store, sub.id).values()) == len(values)  # ... adds nothing
    running = Running(settings, store)
    try:
        assert wait_until(lambda: len(receiver.got) >= len(values), 60)
    finally:
        running.close()
    bodies = receiver.verified(sub.secret)
    assert [(b["data"]["enterprise_id"], b["data"]["waybill_no"], b["data"]["rule_id"], b["data"]["seq"])
            for b in bodies] == [(v["enterprise_id"], v["waybill_no"], v["rule_id"], v["seq"]) for v in values]
    assert len(set(receiver.ids())) == len(values)
    assert {b["type"] for b in bodies} <= {"violation.opened", "violation.updated", "violation.retracted"}
    assert _states(store, sub.id) == {"delivered": len(values)}


def test_an_outage_backs_off_then_delivers_in_order(world: tuple[Settings, Store], receiver: Receiver) -> None:
    settings, store = world
    values = topic_values(store)[:20]
    sub = subscribe(store, department(store, "all"), receiver.url)
    receiver.stop()
    route_values(store, values)
    running = Running(settings, store)
    try:
        assert wait_until(lambda: len(_attempts(store, sub.id)) >= 3, 30)
        receiver.start()
        assert wait_until(lambda: len(receiver.got) >= len(values), 30)
    finally:
        running.close()
    with store.read() as conn:
        tried = outbox.attempts_of(conn, sub.id)
    first = [a for a in tried if a["message_id"] == tried[0]["message_id"]]
    assert [a["outcome"] for a in first][-1] == "delivered" and len(first) >= 3
    assert all(a["status"] is None and a["error"] for a in first[:-1])  # connection refused, no HTTP answer
    gaps = [b["at_ms"] - a["at_ms"] for a, b in zip(first, first[1:])]
    assert gaps[1] >= 0.5 * 100 * 0.9 and gaps[-1] >= gaps[0] * 0.9  # 50 ms, then 100, 200 ... (jitter 0.5)
    assert receiver.ids() == [m for m in dict.fromkeys(a["message_id"] for a in tried if a["outcome"] == "delivered")]
    assert receiver.verified(sub.secret)


def test_the_limit_parks_the_message_and_the_queue_behind_it_until_redrive(
        world: tuple[Settings, Store], receiver: Receiver) -> None:
    settings, store = world
    values = topic_values(store)[:5]
    sub = subscribe(store, department(store, "all"), receiver.url)
    receiver.status = 503
    route_values(store, values)
    running = Running(settings, store)
    try:
        assert wait_until(lambda: _states(store, sub.id).get("parked") == 1, 30)
        with store.read() as conn:
            parked = outbox.get(conn, sub.id)
            tried = outbox.attempts_of(conn, sub.id)
        assert parked is not None and parked.state == "parked" and "HTTP 503" in (parked.reason or "")
        assert [a["outcome"] for a in tried] == ["failed"] * 5 + ["parked"] and {a["status"] for a in tried} == {503}
        assert _states(store, sub.id) == {"parked": 1, "pending": 4}  # the rest wait behind it: order holds
        receiver.status = 200
        assert outbox.change(store, sub.id, "redrive").state == "active"
        assert wait_until(lambda: len(receiver.got) == len(values), 30)
    finally:
        running.close()
    first = topic_values(store)[0]
    assert receiver.verified(sub.secret)[0]["data"]["waybill_no"] == first["waybill_no"]
    assert _states(store, sub.id) == {"delivered": 5}


def test_a_paused_subscription_keeps_its_backlog(world: tuple[Settings, Store], receiver: Receiver) -> None:
    settings, store = world
    values = topic_values(store)[:10]
    sub = subscribe(store, department(store, "all"), receiver.url)
    outbox.change(store, sub.id, "pause")
    route_values(store, values)  # still queued while paused
    running = Running(settings, store)
    try:
        assert not wait_until(lambda: bool(receiver.got), 1.0)
        assert _states(store, sub.id) == {"pending": 10}
        outbox.change(store, sub.id, "resume")
        assert wait_until(lambda: len(receiver.got) == 10, 30)
    finally:
        running.close()
    assert [b["data"]["seq"] for b in receiver.verified(sub.secret)] == [v["seq"] for v in values]


def test_every_attempt_is_a_leaf_that_verify_covers(world: tuple[Settings, Store], receiver: Receiver) -> None:
    settings, store = world
    sub = subscribe(store, department(store, "all"), receiver.url)
    route_values(store, topic_values(store)[:3])
    running = Running(settings, store)
    try:
        assert wait_until(lambda: len(receiver.got) == 3, 30)
    finally:
        running.close()
    with store.read() as conn:
        leaves = conn.execute(sa.select(sa.func.count()).select_from(t.audit_log)
                              .where(t.audit_log.c.kind == "delivery")).scalar_one()
    assert leaves == 3
    from greenshield.translog.keys import signing_key
    from greenshield.store.audit_log import Policy, Sequencer

    Sequencer(store, signing_key(settings), Policy(10_000, 3600)).integrate(close=True)
    public = signing_key(settings).public_key()
    assert verify(store, public).ok
    with store.write() as conn:  # a delivery rewritten after the fact (another callback) is found
        d = t.deliveries
        first = conn.execute(sa.select(d.c.id, d.c.doc).order_by(d.c.id)).first()
        assert first is not None
        conn.execute(d.update().where(d.c.id == first.id)
                     .values(doc=first.doc.replace(receiver.url, "https://elsewhere.example/")))
    report = verify(store, public)
    assert not report.ok and any("delivery" in f.message for f in report.findings)
