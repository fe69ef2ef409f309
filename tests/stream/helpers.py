"""Helpers of the worker tests: send events, advance the clock, run a worker, read the store."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from greenshield.store import queries
from greenshield.store import schema as t
from greenshield.store.pipeline import Audit, open_audit
from greenshield.stream.control import send_advance
from greenshield.stream.metrics import WorkerMetrics
from greenshield.sdk.producer import GreenShieldProducer
from greenshield.sdk.sender import signer_for
from greenshield.stream.worker import Worker
from greenshield.rules.batch import BatchChecker
from greenshield.rules.pack import RulePack, default_pack
from greenshield.rules.timestamps import parse_instant
from greenshield.settings import Settings

SAMPLE = Path(__file__).resolve().parents[1] / "data" / "sample-day.jsonl"
SAMPLE_AS_OF = "2026-11-13T00:00:00+08:00"


def sample_lines() -> list[bytes]:
    return SAMPLE.read_bytes().splitlines()


def send_valid(settings: Settings, lines: Iterable[bytes]) -> int:
    """Send the lines the SDK accepts (it refuses invalid ones); how many were sent."""
    from greenshield.sdk.producer import InvalidEvent

    sent = 0
    producer = GreenShieldProducer(settings.kafka_bootstrap, None, events_topic=settings.events_topic,
                                   registry_topic=settings.registry_topic, security=settings.kafka_security,
                                   signer=signer_for(settings))
    try:
        for line in lines:
            try:
                sent += producer.send_line(line) is not None
            except InvalidEvent:
                pass
        producer.flush(timeout=120)
    finally:
        producer.close(timeout=10)
    return sent


def _client(settings: Settings) -> dict[str, Any]:
    """A raw client's options for the settings' broker and login."""
    from greenshield.sdk.clients import security_options

    return {"bootstrap_servers": settings.kafka_bootstrap, **security_options(settings.kafka_security)}


def send_raw(settings: Settings, topic: str, messages: Iterable[tuple[bytes | None, bytes]]) -> None:
    """Send ``(key, value)`` pairs as they are, past the SDK's validation (as a careless client would)."""
    from kafka import KafkaProducer

    producer = KafkaProducer(**_client(settings), acks="all",
                             max_request_size=2 * 1024 * 1024)
    try:
        for key, value in messages:
            producer.send(topic, key=key, value=value, headers=signed(settings, topic, value, []))
        producer.flush(timeout=60)
    finally:
        producer.close()


def advance(settings: Settings, as_of: str = SAMPLE_AS_OF) -> None:
    """The replay control message to every events partition."""
    from kafka import KafkaProducer

    producer = KafkaProducer(**_client(settings), acks="all")
    try:
        send_advance(producer, settings.events_topic, settings.events_partitions,
                     settings.control_key.reveal().encode(), as_of, "2026-11-29T00:00:00Z")
    finally:
        producer.close()


def batch_verdict(lines: Iterable[bytes], as_of: str = SAMPLE_AS_OF) -> set[tuple[str, str, str]]:
    """``check --as-of`` as a set of (waybill_no, rule_id, occurred_at)."""
    checker = BatchChecker(default_pack())
    checker.feed(lines)
    return {(v.waybill_no, v.rule_id, v.to_dict()["occurred_at"]) for v in checker.verdict(parse_instant(as_of))}


def open_violations(db_url: str) -> set[tuple[str, str, str]]:
    engine = sa.create_engine(db_url)
    try:
        with engine.connect() as conn:
            if not sa.inspect(conn).has_table(t.violations.name):
                return set()
            found = queries.list_violations(conn, True, None, None, None)
    finally:
        engine.dispose()
    return {(v["waybill_no"], v["rule_id"], v["occurred_at"]) for v in found}


def count_rows(db_url: str, table: sa.Table, *where: Any) -> int:
    """Rows of ``table``; 0 while the worker has not created the schema yet."""
    engine = sa.create_engine(db_url)
    try:
        with engine.connect() as conn:
            if not sa.inspect(conn).has_table(table.name):
                return 0
            return int(conn.execute(sa.select(sa.func.count()).select_from(table).where(*where)).scalar_one())
    finally:
        engine.dispose()


def stored_events(db_url: str) -> int:
    return count_rows(db_url, t.events)


def duplicate_keys(db_url: str) -> int:
    """Keys stored more than once (the unique constraint makes this 0; checked anyway)."""
    engine = sa.create_engine(db_url)
    e = t.events
    try:
        with engine.connect() as conn:
            q = sa.select(e.c.enterprise_id, e.c.event_id).group_by(e.c.enterprise_id, e.c.event_id) \
                .having(sa.func.count() > 1)
            return len(conn.execute(q).all())
    finally:
        engine.dispose()


class WorkerThread:
    """A worker running in a thread of the test process."""

    def __init__(self, settings: Settings, db_url: str, pack: RulePack | None = None) -> None:
        self.settings = settings
        self.db_url = db_url
        self.audit: Audit = open_audit(settings, db_url)
        self.metrics = WorkerMetrics()
        self.worker = Worker(settings, self.audit, pack or default_pack(), metrics=self.metrics)
        self.stop_event = threading.Event()
        self.error: BaseException | None = None
        self.thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        try:
            self.worker.run(self.stop_event)
        except BaseException as err:  # surfaced by stop()
            self.error = err

    def __enter__(self) -> WorkerThread:
        self.worker.start()
        self.thread.start()
        return self

    def stop(self) -> None:
        """Stop, close and surface any error of the worker thread; a second call does nothing."""
        if self.stop_event.is_set():
            return
        self.stop_event.set()
        self.thread.join(timeout=60)
        self.worker.close()
        self.audit.close()
        if self.error is not None:
            raise self.error

    def __exit__(self, *exc: Any) -> None:
        self.stop()


def wait_until(condition: Any, timeout: float = 90.0, interval: float = 0.25) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(interval)
    return bool(condition())


def multiplied_day(copies: int) -> list[bytes]:
    """The sample day's registry once, and its parcels ``copies`` times under new waybills and event ids."""
    import orjson

    out: list[bytes] = []
    parcels: list[dict[str, Any]] = []
    for line in sample_lines():
        doc = orjson.loads(line)
        if doc["type"] == "registry":
            out.append(line)
        else:
            parcels.append(doc)
    for k in range(copies):
        for doc in parcels:
            out.append(orjson.dumps({**doc, "waybill_no": f"{doc['waybill_no']}K{k:03d}",
                                     "event_id": f"{doc['event_id']}.{k}"}))
    return out


def worker_env(settings: Settings) -> dict[str, str]:
    """The environment that makes ``greenshield worker`` use these settings."""
    import os

    from .conftest import CONTROL_KEY, HMAC_KEY, SENDER_KEY

    return {**os.environ, "GREENSHIELD_KAFKA_HOST": settings.kafka_host,
            "GREENSHIELD_KAFKA_PORT": str(settings.kafka_port), "GREENSHIELD_TOPIC_PREFIX": settings.topic_prefix,
            "GREENSHIELD_CONTROL_KEY": CONTROL_KEY, "GREENSHIELD_HMAC_KEY": HMAC_KEY,
            "GREENSHIELD_SENDER_KEY": SENDER_KEY,
            "GREENSHIELD_DATA_DIR": str(settings.data_dir), "GREENSHIELD_WORKER_GROUP": settings.worker_group,
            "GREENSHIELD_BACKSTOP_IDLE_SECONDS": str(settings.backstop_idle_seconds),
            "GREENSHIELD_WORKER_BATCH_SIZE": str(settings.worker_batch_size),
            "GREENSHIELD_LOG_LEVEL": "INFO"}


def spawn_worker(settings: Settings, db_url: str, log: Path) -> Any:
    """``greenshield worker`` as a child process (so a test can kill -9 it)."""
    import subprocess
    import sys

    out = open(log, "ab")
    return subprocess.Popen([sys.executable, "-m", "greenshield.commands.worker", "--db", db_url,
                             "--metrics-port", "0"], env=worker_env(settings), stdout=out, stderr=subprocess.STDOUT,
                            cwd=Path(__file__).resolve().parents[2])


Header = tuple[str | bytes, bytes | None]


def send_records(settings: Settings, topic: str,
                 records: Iterable[tuple[bytes | None, bytes | None, list[Header], int | None]]) -> None:
    """Send ``(key, value, headers, partition)`` exactly as given (non-UTF-8 header names, null header
    values: see :mod:`tests.ingest.raw_producer`), lingering so consecutive records share a record batch.

    A valid parcel event on the events topic without a ``gs-sender`` header is signed as its own
    enterprise (what every real producer does), so it is judged on what else it carries.
    """
    from .raw_producer import send_messages

    messages = [(topic, partition, key, value, signed(settings, topic, value, headers))
                for key, value, headers, partition in records]
    send_messages(settings.kafka_bootstrap, messages, linger_ms=200, security=dict(settings.kafka_security))


def signed(settings: Settings, topic: str, value: bytes | None, headers: Iterable[Header]) -> list[Header]:
    """``headers`` plus the sender headers of ``value`` when it is a valid parcel event not yet signed."""
    from greenshield.sdk.sender import Signer
    from greenshield.rules.model import Event
    from greenshield.rules.parse import parse_line_plain

    headers = list(headers)
    if topic != settings.events_topic or value is None or any(k == "gs-sender" for k, _ in headers):
        return headers
    _, item, _ = parse_line_plain(value)
    if not isinstance(item, Event):
        return headers
    return headers + Signer.system(settings.sender_key.reveal().encode()).headers(item.enterprise_id, value)


Parcelled = set[tuple[str, str, str, str, tuple[str, ...]]]


def batch_verdict_by_parcel(lines: Iterable[bytes], as_of: str = SAMPLE_AS_OF) -> Parcelled:
    """``check --as-of`` as (enterprise_id, waybill_no, rule_id, occurred_at, evidence): contract §8.1's identity."""
    checker = BatchChecker(default_pack())
    checker.feed(lines)
    return {(v.enterprise_id, v.waybill_no, v.rule_id, v.to_dict()["occurred_at"], v.evidence)
            for v in checker.verdict(parse_instant(as_of))}


def open_violations_by_parcel(db_url: str) -> Parcelled:
    engine = sa.create_engine(db_url)
    try:
        with engine.connect() as conn:
            if not sa.inspect(conn).has_table(t.violations.name):
                return set()
            found = queries.list_violations(conn, True, None, None, None)
    finally:
        engine.dispose()
    return {(v["enterprise_id"], v["waybill_no"], v["rule_id"], v["occurred_at"], tuple(v["evidence"]))
            for v in found}


def add_poison_constraint(db: str) -> None:
    """Make the store refuse one row, an event of waybill ``POISON0001`` (a CHECK on PostgreSQL, a trigger on SQLite)."""
    engine = sa.create_engine(db)
    try:
        with engine.begin() as conn:
            if engine.dialect.name == "postgresql":
                conn.exec_driver_sql("ALTER TABLE events ADD CONSTRAINT poison CHECK (waybill_no <> 'POISON0001')")
            else:
                conn.exec_driver_sql("CREATE TRIGGER poison BEFORE INSERT ON events WHEN NEW.waybill_no = "
                                     "'POISON0001' BEGIN SELECT RAISE(ABORT, 'poison'); END")
    finally:
        engine.dispose()
