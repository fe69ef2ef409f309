"""Faults on the real broker: none of them may lose an event or count one twice.

Each test ends the same way: every accepted event is stored exactly once, and
after the clock is advanced the open violations equal the batch verdict.
"""

from __future__ import annotations

import os
import signal
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from greenshield.store import schema as t
from greenshield.devtools.process import stop_child
from greenshield.settings import Settings
from tests.support.stream import kafka_client

from .conftest import consume_all, unique_settings
from .helpers import (
    WorkerThread, advance, batch_verdict, count_rows, duplicate_keys, multiplied_day, open_violations,
    sample_lines, send_raw, send_valid, spawn_worker, stored_events, wait_until)

pytestmark = [pytest.mark.kafka, pytest.mark.slow]

Pipeline = Callable[..., tuple[Settings, str]]


def _stop(proc: subprocess.Popen[bytes]) -> None:
    stop_child(proc, timeout=60)


def _assert_complete(settings: Settings, db: str, lines: list[bytes], log: Path | None = None) -> None:
    """Advance the clock; then the verdict is the batch one and each event is stored once."""
    advance(settings)
    want = batch_verdict(lines)
    ok = wait_until(lambda: open_violations(db) == want and stored_events(db) == len(lines), timeout=240)
    detail = log.read_text()[-3000:] if log is not None and log.exists() else ""
    assert ok, f"stored={stored_events(db)}/{len(lines)} diff={open_violations(db) ^ want}\n{detail}"
    assert duplicate_keys(db) == 0


def test_kill_9_mid_stream_then_restart(pipeline: Pipeline, tmp_path: Path) -> None:
    """SIGKILL while batches are in flight; a new worker finishes the stream with nothing lost or doubled."""
    settings, db = pipeline(worker_batch_size=500)
    lines = multiplied_day(60)
    log = tmp_path / "worker.log"
    first = spawn_worker(settings, db, log)
    try:
        sender = threading.Thread(target=send_valid, args=(settings, lines), daemon=True)
        sender.start()
        assert wait_until(lambda: stored_events(db) >= 2000, timeout=120), log.read_text()[-3000:]
        first.send_signal(signal.SIGKILL)
        first.wait(timeout=30)
        sender.join(timeout=120)
        at_kill = stored_events(db)
        assert at_kill < len(lines), "the worker finished before the kill: not mid-stream"
    finally:
        _stop(first)
    second = spawn_worker(settings, db, log)
    try:
        _assert_complete(settings, db, lines, log)
    finally:
        _stop(second)


def test_poison_messages_are_rejected_once_each_and_the_stream_goes_on(pipeline: Pipeline) -> None:
    """Invalid JSON, a 900 kB junk payload and a wrong schema: three rejects, every valid event stored."""
    settings, db = pipeline()
    lines = sample_lines()
    half = len(lines) // 2
    poison = [(b"WB00000001", b'{"v": 1, "type": "xray",'), (b"WB00000002", os.urandom(900_000)),
              (b"WB00000003", b'{"v": 1, "event_id": "p-1", "type": "xray", "enterprise_id": "E1000001", '
                              b'"occurred_at": "2026-11-11T08:00:00Z", "waybill_no": "WB00000003", '
                              b'"site_id": "S00000001", "machine_id": "X00000001", "result": "maybe"}')]
    with WorkerThread(settings, db):
        send_valid(settings, lines[:half])
        send_raw(settings, settings.events_topic, poison)
        send_valid(settings, lines[half:])
        _assert_complete(settings, db, lines)
        assert wait_until(lambda: count_rows(db, t.rejects) == 3)
    rejects = consume_all(settings.kafka_bootstrap, settings.rejects_topic, 1, expected=4, timeout=5)
    reasons = sorted(__import__("orjson").loads(m.value)["reason"][:20] for m in rejects)
    assert len(rejects) == 3, reasons
    assert count_rows(db, t.rejects) == 3


class _Outage:
    """Every statement on the store's engine fails while ``down`` (as when the server is unreachable)."""

    def __init__(self, engine: sa.engine.Engine) -> None:
        self.down = False
        self.failures = 0
        sa.event.listen(engine, "before_cursor_execute", self._check)

    def _check(self, *args: Any) -> None:
        if self.down:
            self.failures += 1
            raise sa.exc.OperationalError("store", None, ConnectionError("store unavailable (test outage)"))


def _committed(settings: Settings) -> dict[int, int | None]:
    from kafka import KafkaConsumer, TopicPartition

    consumer = KafkaConsumer(**kafka_client(settings.kafka_bootstrap), group_id=settings.worker_group,
                             enable_auto_commit=False)
    try:
        return {p: consumer.committed(TopicPartition(settings.events_topic, p))
                for p in range(settings.events_partitions)}
    finally:
        consumer.close()


def test_store_unavailable_for_30_seconds_pauses_without_committing_then_resumes(pipeline: Pipeline) -> None:
    """While the store fails nothing is stored and no offset moves; afterwards the stream completes."""
    settings, db = pipeline()
    lines = sample_lines()
    half = len(lines) // 2
    with WorkerThread(settings, db) as running:
        outage = _Outage(running.audit.store.engine)
        send_valid(settings, lines[:half])
        parcel_events = sum(b'"registry"' not in line for line in lines[:half])
        assert wait_until(lambda: stored_events(db) == half)
        assert wait_until(lambda: sum(v or 0 for v in _committed(settings).values()) == parcel_events)
        before = _committed(settings)
        outage.down = True
        send_valid(settings, lines[half:])
        unavailable = wait_until(lambda: _gauge(running, "greenshield_store_unavailable") == 1.0, timeout=30)
        time.sleep(30)  # the outage itself: the scenario is "unavailable for 30 s"
        assert unavailable and outage.failures > 0
        assert stored_events(db) == half
        assert _committed(settings) == before
        outage.down = False
        _assert_complete(settings, db, lines)
        assert _gauge(running, "greenshield_store_unavailable") == 0.0


def _gauge(running: WorkerThread, name: str) -> float | None:
    for metric in running.metrics.registry.collect():
        for sample in metric.samples:
            if sample.name == name:
                return float(sample.value)
    return None


def _events_partitions(running: WorkerThread) -> set[int]:
    topic = running.settings.events_topic
    return {tp.partition for tp in running.worker.consumer.assignment() if tp.topic == topic}


def test_two_workers_share_six_partitions_and_one_takes_over_when_the_other_stops(pipeline: Pipeline) -> None:
    """Two workers split the partitions; after one stops the other owns all six and finishes the stream."""
    settings, db = pipeline()
    lines = multiplied_day(5)
    half = len(lines) // 2
    one, two = WorkerThread(settings, db), WorkerThread(settings, db)
    with one, two:
        assert wait_until(lambda: len(_events_partitions(one)) == 3 and len(_events_partitions(two)) == 3,
                          timeout=60)
        send_valid(settings, lines[:half])
        assert wait_until(lambda: stored_events(db) == half)
        one.stop()
        send_valid(settings, lines[half:])
        assert wait_until(lambda: _events_partitions(two) == set(range(6)), timeout=60)
        _assert_complete(settings, db, lines)


@pytest.fixture
def own_broker(kafka_bootstrap: str, tmp_path: Path, free_ports: tuple[int, int]) -> Iterator[Any]:
    """A broker of this test's own (ports, data dir), which the test may stop and start; secure like the suite's."""
    from greenshield.devtools import kafka_broker as broker

    cfg = broker.BrokerConfig(data_dir=tmp_path / "kafka", cache_dir=Settings().kafka_cache_dir,
                              port=free_ports[0], controller_port=free_ports[1], secure=True)
    broker.up(cfg, ready_timeout=180)
    try:
        yield cfg
    finally:
        broker.down(cfg, timeout=60)


def test_the_worker_resumes_on_its_own_after_the_broker_restarts(own_broker: Any, tmp_path: Path) -> None:
    """Stop the broker mid-stream and start it again: the worker reconnects and completes the stream."""
    from greenshield.devtools import kafka_broker as broker
    from greenshield.stream.topics import admin_client, create_topics, topic_specs

    settings = unique_settings(own_broker.bootstrap, data_dir=tmp_path / "data", backstop_idle_seconds=0,
                               kafka_security=own_broker.client_security())
    admin = admin_client(settings)
    try:
        create_topics(admin, topic_specs(settings))
    finally:
        admin.close()
    db = f"sqlite:///{tmp_path / 'store.db'}"
    lines = sample_lines()
    half = len(lines) // 2
    with WorkerThread(settings, db):
        send_valid(settings, lines[:half])
        assert wait_until(lambda: stored_events(db) == half)
        broker.down(own_broker, timeout=60)
        time.sleep(3)  # the broker stays down a moment while the worker keeps polling
        broker.up(own_broker, ready_timeout=180)
        send_valid(settings, lines[half:])
        _assert_complete(settings, db, lines)
