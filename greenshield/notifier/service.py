"""``greenshield notifier``: violations in from Kafka, signed webhooks out, every attempt a leaf.

Two loops in one process, so that sharing never slows the worker::

    intake (the main thread)                       delivery (a thread, a pool of senders)
    poll gs.violations.v1 (its own group)          each active subscription's oldest pending row whose
    + stored blacklistings and warnings since        backoff has passed, one per subscription in flight
      a cursor; match each message to the live       (order kept); POST it, signed (Standard Webhooks)
      subscriptions (filter and scope)             ONE store transaction: the attempt as a leaf, the row
    ONE store transaction: outbox rows (+ cursors)   delivered / retried later / parked (and its subscription)
    COMMIT, then commit the Kafka offsets

A crash before the offset commit re-reads the batch (the outbox's unique (subscription, message id) adds
nothing twice); one between a POST and its record re-sends it, same id and body: at least once (``webhook-id``).
"""

from __future__ import annotations

import http.client
import logging
import random
import threading
import time
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

import orjson

from greenshield.notifier.metrics import NotifierMetrics
from greenshield.settings import Settings
from greenshield.share import messages
from greenshield.share.messages import Message
from greenshield.share.webhooks import Backoff, headers
from greenshield.store import outbox
from greenshield.store.database import DATABASE_ERRORS, Store
from greenshield.store.outbox import Attempt, Pending, Subscription
from greenshield.store.sharing_feed import ChangeKey, origins, stored_changes, stored_messages
from greenshield.store.tokens import Token, list_tokens

if TYPE_CHECKING:
    from sqlalchemy.engine import Connection

log = logging.getLogger("greenshield.notifier")
POLL_MS = 500
MAX_RECORDS = 2000
GAUGES_EVERY = 5.0  # seconds between two counts of the parked subscriptions and the pending rows


def backoff_of(settings: Settings) -> Backoff:
    return Backoff(settings.notify_retry_base_ms, settings.notify_retry_cap_ms, settings.notify_max_attempts)


# --------------------------------------------------------------------------- matching


def matches(message: Message, subs: Sequence[Subscription], scopes: dict[str, Token]) -> list[Subscription]:
    """The live subscriptions that receive ``message``: its filter and its token's scope admit it."""
    out = []
    for sub in subs:
        token = scopes.get(sub.token_id)
        if token is None or token.scope is None or not token.active:
            continue
        if sub.filter.admits(message.facts) and token.scope.admits(message.facts):
            out.append(sub)
    return out


def route(conn: Connection, store: Store, batch: Sequence[Message], clock_ms: int,
          tally: Counter[str] | None = None) -> int:
    """Queue each message for every subscription that receives it; returns the rows offered (``tally``: counted
    by message type)."""
    subs = outbox.listing(conn, live=True)
    tokens = {tok.id: tok for tok in list_tokens(conn) if tok.role == "department"}
    rows = [(sub.id, m.id, m.type, m.body) for m in batch for sub in matches(m, subs, tokens)]
    outbox.enqueue(conn, store, rows, clock_ms)
    if tally is not None:
        tally.update(ty for _, _, ty, _ in rows)
    return len(rows)


def change_key(value: Mapping[str, Any]) -> ChangeKey:
    return (str(value["enterprise_id"]), str(value["waybill_no"]), str(value["rule_id"]), int(value["seq"]))


def violation_messages(conn: Connection, values: Sequence[dict[str, Any]]) -> list[Message]:
    regions = origins(conn, {(str(v["enterprise_id"]), str(v["waybill_no"])) for v in values})
    return [messages.violation(v, regions[(str(v["enterprise_id"]), str(v["waybill_no"]))]) for v in values]


def decode(raw: bytes | None) -> dict[str, Any] | None:
    """A violations-topic value, or None (logged) when it is not one: the worker is its only writer."""
    try:
        value = orjson.loads(raw or b"")
        if isinstance(value, dict) and {"change", "seq", "enterprise_id", "waybill_no", "rule_id"} <= set(value):
            return value
    except orjson.JSONDecodeError:
        pass
    log.warning("event=notifier_bad_message bytes=%d", len(raw or b""))
    return None


# --------------------------------------------------------------------------- delivery


def post(url: str, heads: dict[str, str], body: bytes, timeout: float) -> Attempt:
    """One POST, redirects not followed; the status, or the error's kind (never a body)."""
    parts = urlsplit(url)
    at = outbox.now_ms()
    kind = http.client.HTTPSConnection if parts.scheme == "https" else http.client.HTTPConnection
    conn = kind(parts.hostname or "", parts.port, timeout=timeout)
    try:
        path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
        conn.request("POST", path, body=body, headers={**heads, "user-agent": "greenshield-notifier"})
        response = conn.getresponse()
        response.read(65536)
        return Attempt(response.status, None if 200 <= response.status < 300 else f"HTTP {response.status}", at)
    except (OSError, http.client.HTTPException) as err:
        return Attempt(None, type(err).__name__, at)
    finally:
        conn.close()


Sender = Callable[[str, dict[str, str], bytes, float], Attempt]


class Deliverer:
    """Sends each active subscription's queue in order, one message in flight per subscription."""

    def __init__(self, settings: Settings, store: Store, send: Sender = post, rng: random.Random | None = None,
                 metrics: NotifierMetrics | None = None) -> None:
        self.settings, self.store, self.send = settings, store, send
        self.metrics = metrics or NotifierMetrics()
        self.backoff = backoff_of(settings)
        self.rng = rng or random.Random()
        self._busy: set[str] = set()
        self._lock = threading.Lock()
        self._pool = ThreadPoolExecutor(max(1, settings.notify_senders), thread_name_prefix="gs-send")

    def tick(self) -> int:
        """Start every delivery that is due; returns how many started."""
        with self._lock:
            busy = set(self._busy)
        with self.store.read() as conn:
            items = outbox.due(conn, outbox.now_ms(), busy)
            subs = {s.id: s for s in outbox.listing(conn, live=True) if not s.pull}
        started = 0
        for item in items:
            sub = subs.get(item.subscription_id)
            if sub is None:
                continue
            with self._lock:
                self._busy.add(sub.id)
            self._pool.submit(self._deliver, item, sub)
            started += 1
        return started

    def _deliver(self, item: Pending, sub: Subscription) -> None:
        """Send ``item``, then the subscription's next ones while they are delivered and due (in order)."""
        try:
            current: Pending | None = item
            while current is not None and self._send_one(current, sub) == "delivered":
                with self.store.read() as conn:
                    nxt = outbox.due(conn, outbox.now_ms(), only=sub.id)
                current = nxt[0] if nxt else None
        except Exception:  # a store outage: the row stays pending and is tried again
            log.exception("event=notifier_attempt_failed subscription=%s", sub.id)
            time.sleep(1.0)
        finally:
            with self._lock:
                self._busy.discard(sub.id)

    def _send_one(self, item: Pending, sub: Subscription) -> str:
        body = item.body.encode()
        attempt = self.send(sub.callback, headers(sub.secret, item.message_id, int(time.time()), body), body,
                            float(self.settings.notify_timeout_seconds))
        answered_ms = outbox.now_ms()
        delay = self.backoff.delay_ms(item.attempts + 1, self.rng)
        outcome = outbox.record(self.store, item, sub, attempt, self.backoff, delay)
        self.metrics.attempt(attempt.status, attempt.error, outcome, item.created_ms, answered_ms)
        log.info("event=notifier_attempt subscription=%s message=%s attempt=%d outcome=%s status=%s",
                 sub.id, item.message_id, item.attempts + 1, outcome, attempt.status)
        return outcome

    def refresh_gauges(self) -> None:
        """Count the parked subscriptions and the pending rows now (a redrive elsewhere shows here)."""
        with self.store.read() as conn:
            parked, pending = outbox.gauges(conn)
        self.metrics.parked_subscriptions.set(parked)
        self.metrics.pending.set(pending)

    def idle(self) -> bool:
        with self._lock:
            return not self._busy

    def close(self) -> None:
        self._pool.shutdown(wait=True)


class Notifier:
    """The intake loop (Kafka + stored feeds) and the delivery loop of one process."""

    def __init__(self, settings: Settings, store: Store, consumer: Any, send: Sender = post,
                 metrics: NotifierMetrics | None = None) -> None:
        self.settings, self.store, self.consumer = settings, store, consumer
        self.metrics = metrics or NotifierMetrics()
        self.deliverer = Deliverer(settings, store, send, metrics=self.metrics)
        self.stopping = threading.Event()
        self.queued = threading.Event()  # set after an intake committed rows: the delivery loop looks at once

    def intake(self) -> int:
        """One poll of the violations and the stored feeds into the outbox; offsets committed after the store."""
        polled = self.consumer.poll(timeout_ms=POLL_MS, max_records=MAX_RECORDS)
        records = [r for batch in polled.values() for r in batch]
        values = [v for r in records if (v := decode(r.value)) is not None]
        self.await_stored(values)
        tally: Counter[str] = Counter()
        with self.store.read() as conn:
            upto = self.store.committed_high_water(conn)
        with self.store.write() as conn:
            after = {name: outbox.cursor(conn, name) for name in ("blacklistings", "warnings")}
            stored, cursors = stored_messages(conn, after, upto)
            offered = route(conn, self.store, [*violation_messages(conn, values), *stored], outbox.now_ms(), tally)
            for name, value in cursors.items():
                if value != after[name]:
                    outbox.set_cursor(conn, self.store, name, value)
        self._count_intake(records, tally)
        if offered:
            self.queued.set()
        if polled:
            self.consumer.commit()
        return offered

    def await_stored(self, values: Sequence[dict[str, Any]]) -> int:
        """Wait (at most ``notify_store_wait_ms``) until the store holds each change; the number still missing.

        The worker publishes a batch's violations just before its store transaction commits, so the
        notifier can read a change before the events behind it are visible; the parcel's region (a
        department's scope) is read from those events, and would be missing. A change still not stored
        after the wait (its transaction rolled back; the worker judges the batch again) is routed as read.
        """
        keys = {change_key(v) for v in values}
        deadline = time.monotonic() + self.settings.notify_store_wait_ms / 1000
        while keys:
            with self.store.read() as conn:
                keys -= stored_changes(conn, keys)
            if not keys or time.monotonic() >= deadline or self.stopping.is_set():
                break
            time.sleep(0.02)
        if keys:
            log.warning("event=notifier_changes_not_stored count=%d waited_ms=%d", len(keys),
                        self.settings.notify_store_wait_ms)
        return len(keys)

    def _count_intake(self, records: Sequence[Any], tally: Counter[str]) -> None:
        for kind, n in tally.items():
            self.metrics.queued.labels(self.metrics.queued_type(kind)).inc(n)
        done_ms = outbox.now_ms()
        for r in records:
            stamp = getattr(r, "timestamp", None)
            if isinstance(stamp, int) and stamp > 0:
                self.metrics.intake_seconds.observe(max(0.0, (done_ms - stamp) / 1000))

    def run(self) -> None:
        """Until :attr:`stopping` is set: intake on this thread, delivery on another."""
        from greenshield.sdk.clients import kafka_errors

        broker_errors = kafka_errors()
        thread = threading.Thread(target=self._deliver_loop, name="gs-deliver", daemon=True)
        thread.start()
        try:
            while not self.stopping.is_set():
                try:
                    self.intake()
                except broker_errors as err:  # a broker restart: kafka-python reconnects; uncommitted is re-read
                    log.warning("event=notifier_kafka_error error=%r", err)
                    time.sleep(1.0)
                except DATABASE_ERRORS as err:  # a store outage: nothing committed, the batch comes again
                    log.warning("event=notifier_store_error error=%s", type(err).__name__)
                    self._rewind()
                    time.sleep(1.0)
        finally:
            self.stopping.set()
            self.queued.set()
            thread.join()
            self.deliverer.close()

    def _rewind(self) -> None:
        """Seek back to the committed offsets, so a batch the store refused is read again."""
        for tp in self.consumer.assignment():
            committed = self.consumer.committed(tp)
            if committed is None:
                self.consumer.seek_to_beginning(tp)
            else:
                self.consumer.seek(tp, committed)

    def _deliver_loop(self) -> None:
        counted = 0.0
        while not self.stopping.is_set():
            self.queued.clear()
            try:
                if time.monotonic() - counted >= GAUGES_EVERY:
                    self.deliverer.refresh_gauges()
                    counted = time.monotonic()
                started = self.deliverer.tick()
            except DATABASE_ERRORS as err:
                log.warning("event=notifier_store_error error=%s", type(err).__name__)
                started = 0
            self.queued.wait(0.02 if started else 0.1)

