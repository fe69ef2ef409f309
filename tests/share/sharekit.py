"""Helpers of the sharing tests: a real HTTP receiver, a seeded day's violation changes, departments."""

from __future__ import annotations

import dataclasses
import threading
import time
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import orjson
import sqlalchemy as sa
from standardwebhooks import Webhook

from greenshield.store import schema as t
from greenshield.store import tokens
from greenshield.translog.entries import loads
from greenshield.store.database import Store
from greenshield.settings import Settings
from greenshield.store import outbox
from greenshield.share.scope import parse
from tests.support.day import copy_store


@dataclasses.dataclass
class Received:
    headers: dict[str, str]
    body: bytes
    at: float
    ok: bool | None = None  # verified on arrival (with Receiver.secret set), as a real receiver does


class Receiver:
    """A threaded HTTP server on 127.0.0.1 that keeps every POST; it can answer an error, or be down."""

    def __init__(self) -> None:
        self.got: list[Received] = []
        self.status = 200
        self.secret: str | None = None  # when set, each message is verified as it arrives (tolerance 5 min)
        self.lock = threading.Lock()
        self.port = 0
        self._server: ThreadingHTTPServer | None = None
        self.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/hook"

    def start(self) -> None:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 (http.server's name)
                body = self.rfile.read(int(self.headers.get("content-length", "0")))
                status = receiver.status
                if status == 200:
                    heads = {k.lower(): v for k, v in self.headers.items()}
                    ok = None
                    if receiver.secret is not None:
                        try:
                            Webhook(receiver.secret).verify(body, heads)
                            ok = True
                        except Exception:
                            ok = False
                    with receiver.lock:
                        receiver.got.append(Received(heads, body, time.monotonic(), ok))
                self.send_response(status)
                self.send_header("content-length", "0")
                self.end_headers()

            def log_message(self, *_: Any) -> None:
                pass

        ThreadingHTTPServer.allow_reuse_address = True
        self._server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        self.port = self._server.server_address[1]
        threading.Thread(target=self._server.serve_forever, daemon=True).start()

    def stop(self) -> None:
        """Down: connections are refused until :meth:`start`."""
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def ids(self) -> list[str]:
        with self.lock:
            return [r.headers["webhook-id"] for r in self.got]

    def verified(self, secret: str) -> list[dict[str, Any]]:
        """Every received body, each checked with the standardwebhooks verifier (on arrival if it was, else now;
        a bad one raises)."""
        hook = Webhook(secret)
        with self.lock:
            got = list(self.got)
        out = []
        for r in got:
            if r.ok is None or secret != self.secret:
                out.append(hook.verify(r.body, r.headers))
            elif r.ok:
                out.append(orjson.loads(r.body))
            else:
                raise AssertionError(f"message {r.headers.get('webhook-id')} did not verify on arrival")
        return out


def copy(seeded: Path, into: Path, **changes: Any) -> Settings:
    """A copy of the seeded day in ``into``; its settings, with fast retries and local http allowed, and ``changes``."""
    fast = {"notify_allow_local_http": True, "notify_retry_base_ms": 50, "notify_retry_cap_ms": 400,
            "notify_max_attempts": 6, "notify_timeout_seconds": 5, **changes}
    return dataclasses.replace(copy_store(seeded, into), **fast)


def topic_values(store: Store) -> list[dict[str, Any]]:
    """Every stored violation change as the worker publishes it (``violation_message``'s value), in order."""
    c = t.violation_changes
    out, last = [], {}
    with store.read() as conn:
        for row in conn.execute(sa.select(c).order_by(c.c.id)):
            key = (row.enterprise_id, row.waybill_no, row.rule_id)
            before = last.get(key)
            kind = ("retracted" if row.status == "retracted" else
                    "opened" if before in (None, "retracted") else "updated")
            last[key] = row.status
            out.append({"v": 1, "change": kind, "seq": int(row.seq), **loads(row.doc)})
    return out


def department(store: Store, scope: str, label: str = "dept") -> tokens.Token:
    tokens.ensure_tables(store)
    token, _ = tokens.create(store, "department", label=label, scope=parse(scope))
    return token


def subscribe(store: Store, token: tokens.Token, url: str, wanted: str = "all") -> outbox.Subscription:
    return outbox.create(store, token, url, parse(wanted))


def wait_until(condition: Callable[[], bool], timeout: float = 60.0, interval: float = 0.05) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(interval)
    return condition()


def publish(settings: Settings, values: list[dict[str, Any]]) -> None:
    """Send violation changes to the settings' violations topic, keyed by waybill like the worker."""
    from kafka import KafkaProducer

    from greenshield.sdk.clients import security_options

    producer = KafkaProducer(bootstrap_servers=settings.kafka_bootstrap, acks="all",
                             **security_options(settings.kafka_security))
    try:
        for v in values:
            producer.send(settings.violations_topic, key=str(v["waybill_no"]).encode(), value=orjson.dumps(v))
        producer.flush(60)
    finally:
        producer.close()


def route_values(store: Store, values: list[dict[str, Any]]) -> int:
    """Queue violations-topic values as the notifier's intake does; the rows offered."""
    from greenshield.notifier.service import route, violation_messages

    with store.write() as conn:
        return route(conn, store, violation_messages(conn, values), outbox.now_ms())


class Record:
    """A violations-topic record as kafka-python gives it (value and timestamp only)."""

    def __init__(self, value: bytes, timestamp: int | None = None) -> None:
        self.value, self.timestamp = value, int(time.time() * 1000) if timestamp is None else timestamp


class OnePollConsumer:
    """One poll's worth of records, then nothing; counts commits."""

    def __init__(self, records: list[Record]) -> None:
        self.records, self.commits = records, 0

    def poll(self, timeout_ms: int, max_records: int) -> dict[str, list[Record]]:
        out, self.records = ({"tp": self.records} if self.records else {}), []
        return out

    def commit(self) -> None:
        self.commits += 1
