"""The worker's loop (issue 16): the sequencer in its own thread, and the store-writer thread's invariants."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import orjson
import pytest
import sqlalchemy as sa

from greenshield.store import schema as t
from greenshield.store.audit_log import Policy, Sequencer, append
from greenshield.store.sequencer import SequencerThread
from greenshield.store.database import Store
from tests.support.store import isolated_schema
from greenshield.stream.writer import AUTO_ON, writer_thread_wanted
from greenshield.settings import Settings

from .helpers import WorkerThread, add_poison_constraint, count_rows, duplicate_keys, sample_lines, send_valid, stored_events, wait_until

Pipeline = Callable[..., tuple[Settings, str]]


# ---------------------------------------------------------------- settings

def test_the_writer_thread_setting_is_auto_on_or_off() -> None:
    auto = Settings.from_env({})
    assert auto.worker_writer_thread == "auto" and auto.worker_sequencer_thread is True
    assert writer_thread_wanted(auto, is_sqlite=False) is AUTO_ON["postgresql"]
    assert writer_thread_wanted(auto, is_sqlite=True) is AUTO_ON["sqlite"]
    on = Settings.from_env({"GREENSHIELD_WORKER_WRITER_THREAD": "ON"})
    assert writer_thread_wanted(on, is_sqlite=True)
    off = Settings.from_env({"GREENSHIELD_WORKER_WRITER_THREAD": "off"})
    assert not writer_thread_wanted(off, is_sqlite=False)
    with pytest.raises(ValueError, match="GREENSHIELD_WORKER_WRITER_THREAD"):
        Settings.from_env({"GREENSHIELD_WORKER_WRITER_THREAD": "sometimes"})
    assert not Settings.from_env({"GREENSHIELD_WORKER_SEQUENCER_THREAD": "false"}).worker_sequencer_thread


# ---------------------------------------------------------------- the sequencer thread, without Kafka

@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> Any:
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'store.db'}"
    else:
        with isolated_schema(request.getfixturevalue("pg_url")) as url:
            yield url


def _write(store: Store, n: int, tag: int) -> None:
    with store.write() as conn:
        ids = store.allocate_ids(conn, n)
        append(conn, ((i, "event", f"entry {tag}.{i}".encode()) for i in ids), store)


def test_the_sequencer_thread_integrates_and_signs_while_writers_write_and_stops_cleanly(store_url: str) -> None:
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    store = Store.open(store_url)
    try:
        thread = SequencerThread(Sequencer(store, Ed25519PrivateKey.generate(), Policy(entries=25, seconds=3600)),
                                 interval=0.02).start()
        for k in range(20):  # 20 writer transactions of 10 entries while it runs
            _write(store, 10, k)
            time.sleep(0.01)
        assert wait_until(lambda: thread.added == 200, timeout=30), thread.added
        assert thread.running and thread.failures == 0
        assert thread.signed >= 8  # the first at once (no checkpoint yet), then every 25 entries
        if store.is_sqlite:  # the worker's connections leave WAL checkpoints to the thread
            with store.engine.connect() as conn:
                assert conn.exec_driver_sql("PRAGMA wal_autocheckpoint").scalar() == 0
        thread.stop(timeout=10)
        assert not thread.running
        steps = thread.steps
        _write(store, 5, 99)
        time.sleep(0.1)
        assert thread.steps == steps  # stopped means stopped
        with store.read() as conn:
            state = conn.execute(sa.select(t.audit_state)).one()
            sizes = conn.execute(sa.select(t.checkpoints.c.tree_size).order_by(t.checkpoints.c.id)).scalars().all()
        assert state.tree_size == 200 and len(sizes) == thread.signed
        assert all(b - a == 25 for a, b in zip(sizes[1:], sizes[2:])) and sizes[-1] > 175, sizes
    finally:
        store.close()


# ---------------------------------------------------------------- the worker with the writer thread on

SCAN = {"v": 1, "type": "sort_scan", "enterprise_id": "E1000001", "occurred_at": "2026-11-11T10:00:00+08:00",
        "site_id": "S00000001", "staff_id": "P00000001"}


class Recorder:
    """Wraps a worker's store transactions and offset queueing, and checks their order."""

    def __init__(self, running: WorkerThread, slow: float) -> None:
        self.worker = w = running.worker
        self.lock = threading.Lock()
        self.stored: dict[tuple[str, int], int] = {}  # (topic, partition) -> end offset of committed items
        self.violations: list[str] = []
        self.queued = 0
        self.in_commit = 0
        self.overlapped = 0  # polls while a store transaction was running in the writer thread
        self.threads: set[str] = set()
        commit, queue, poll = w._commit, w._queue_offsets, w._poll

        def recording_commit(items: list[Any]) -> Any:
            with self.lock:
                self.in_commit += 1
            self.threads.add(threading.current_thread().name)
            try:
                time.sleep(slow)  # a slow store: the next poll has time to run beside it
                out = commit(items)
            finally:
                with self.lock:
                    self.in_commit -= 1
            with self.lock:
                for i in items:
                    key = (i.topic, i.partition)
                    self.stored[key] = max(self.stored.get(key, 0), i.offset + 1)
            return out

        def recording_queue(offsets: dict[Any, int]) -> None:
            with self.lock:
                for tp, offset in offsets.items():
                    if offset > self.stored.get((tp.topic, tp.partition), 0):
                        self.violations.append(f"{tp.topic}[{tp.partition}] offset {offset} queued before "
                                               f"its store commit (stored to {self.stored.get((tp.topic, tp.partition))})")
                self.queued += 1
            queue(offsets)

        def recording_poll() -> Any:
            with self.lock:
                if self.in_commit:
                    self.overlapped += 1
            return poll()

        w._commit, w._queue_offsets, w._poll = recording_commit, recording_queue, recording_poll  # type: ignore[method-assign]


@pytest.mark.kafka
def test_with_the_writer_thread_a_poison_row_is_one_reject_and_no_offset_moves_before_its_store_commit(
        pipeline: Pipeline) -> None:
    settings, db = pipeline(worker_writer_thread="on", worker_batch_size=40)
    lines = sample_lines()
    half = len(lines) // 2
    poison = orjson.dumps({**SCAN, "waybill_no": "POISON0001", "event_id": "poison-1"})
    with WorkerThread(settings, db) as running:
        rec = Recorder(running, slow=0.02)
        add_poison_constraint(db)
        send_valid(settings, lines[:half] + [poison] + lines[half:])
        assert wait_until(lambda: stored_events(db) == len(lines) and count_rows(db, t.rejects) == 1), \
            (stored_events(db), count_rows(db, t.rejects))
        assert wait_until(lambda: rec.queued > 3)
        sequencer = running.worker._sequencer_thread
        assert sequencer is not None and sequencer.running
        # the sequencer thread integrates the entries while the worker runs (not only on close)
        assert wait_until(lambda: count_rows(db, t.audit_state, t.audit_state.c.tree_size > 0) == 1, timeout=30)
    assert running.error is None
    assert not sequencer.running  # run() stopped it
    assert rec.violations == []
    assert rec.overlapped > 0, "the next batch was never polled while a store transaction ran"
    assert any(name.startswith("greenshield-store-writer") for name in rec.threads), rec.threads
    assert duplicate_keys(db) == 0
    engine = sa.create_engine(db)
    try:
        with engine.connect() as conn:
            reasons = conn.execute(sa.select(t.rejects.c.reason)).scalars().all()
            entries = conn.execute(sa.select(sa.func.count()).select_from(t.audit_log)).scalar_one()
            tree = conn.execute(sa.select(t.audit_state.c.tree_size)).scalar_one()
    finally:
        engine.dispose()
    assert len(reasons) == 1 and reasons[0].startswith("store refused the row: "), reasons
    assert tree == entries  # Audit.close() sequenced the rest


@pytest.mark.kafka
def test_with_the_writer_thread_a_store_outage_loses_nothing_and_counts_nothing_twice(pipeline: Pipeline) -> None:
    """The writer thread's transaction fails as if the store went away: the worker recovers, every event once."""
    settings, db = pipeline(worker_writer_thread="on", worker_batch_size=60)
    lines = sample_lines()
    with WorkerThread(settings, db) as running:
        w = running.worker
        commit, failures = w._commit, [0]

        def flaky(items: list[Any]) -> Any:
            if failures[0] < 3 and len(items) > 10:
                failures[0] += 1
                raise sa.exc.OperationalError("INSERT", {}, ConnectionError("store went away"))
            return commit(items)

        w._commit = flaky  # type: ignore[method-assign]
        send_valid(settings, lines)
        assert wait_until(lambda: stored_events(db) == len(lines)), stored_events(db)
    assert running.error is None and failures[0] == 3
    assert duplicate_keys(db) == 0 and count_rows(db, t.rejects) == 0


@pytest.mark.kafka
def test_the_loop_without_its_threads_still_sequences(pipeline: Pipeline) -> None:
    settings, db = pipeline(worker_sequencer_thread=False, worker_writer_thread="off")
    lines = sample_lines()[:200]
    with WorkerThread(settings, db) as running:
        send_valid(settings, lines)
        assert wait_until(lambda: stored_events(db) == len(lines))
        assert running.worker._sequencer_thread is None and running.worker._writer is None
        assert wait_until(lambda: count_rows(db, t.audit_state, t.audit_state.c.tree_size > 0) == 1, timeout=30)

