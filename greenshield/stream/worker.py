"""The stream worker: events and registry in, verdicts and the audit trail out; nothing lost, nothing counted twice.

One loop on a librdkafka consumer group; the sequencer runs in a thread of its own, and a
store-writer thread may run a batch's transaction while the loop polls the next::

    poll a batch  ->  decode (validate, redact, keyed digest)  ->  ONE store transaction:
      stored keys?  reload parcels  feed the rule cores  insert events, entries, rejects, changes
      publish changes and rejects (flushed)  COMMIT  ->  only now: commit the offsets (+ clocks)

Why the store is the only durable state, the order of commits, state rebuilding, failures and
poison rows: ``docs/adr/0008-stream-worker.md``; the loop and its threads: ``docs/adr/0006-worker-loop.md``.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from greenshield.store import intake_stream as sink
from greenshield.store.pipeline import Audit
from greenshield.store.sequencer import SequencerThread
from greenshield.sdk.sender import Verifier
from greenshield.stream.decode import (
    Candidate, Context, Control, Reject, decode_message, reject_message, violation_message)
from greenshield.stream.metrics import WorkerMetrics
from greenshield.stream.registry_feed import RegistryFeed
from greenshield.stream.partitions import Applied, Partitions
from greenshield.intake.classify import classify
from greenshield.intake.decisions import Duplicate, Fresh
from greenshield.stream.state import PartitionState
from greenshield.stream.writer import InFlight, StoreWriter, writer_thread_wanted
from greenshield.risk.credit import GradeBook
from greenshield.risk.model import RiskModel, default_model, load_model
from greenshield.rules.model import Event, RegistryRecord, Rejection
from greenshield.rules.pack import RulePack
from greenshield.settings import Settings
from greenshield.errors import StreamError

log = logging.getLogger("greenshield.worker")

HOUSEKEEPING_SECONDS = 1.0
RELEASE_SECONDS = 30.0  # each partition's quiet parcels are released this often (one partition at a time)
SEQUENCE_SECONDS = 5.0  # the loop's own sequencing, when the sequencer thread is off
SEQUENCER_THREAD_SECONDS = 1.0  # the sequencer thread's interval
PUBLISH_TIMEOUT = 60.0


#: garbage-collector thresholds of a worker process (CPython's defaults: 700, 10, 10)
GC_THRESHOLDS = (50_000, 20, 20)


def tune_gc() -> None:
    """Collect the worker process's garbage less often (one process-wide setting; the command calls it).

    A worker holds every open parcel's events; CPython's default thresholds run a
    young collection every 700 allocations, and each one scans what a batch left
    behind. Measured with ``benchmarks/stream_bench.py`` (the worker thread's CPU time
    over 60k events, two runs each): ≈ 10 s at the defaults, ≈ 8.5 s with this, ≈ 9 s
    with the collector off. Cycles are still collected, only less often.
    """
    import gc

    gc.set_threshold(*GC_THRESHOLDS)


class PublishError(StreamError, RuntimeError):
    """An output message was not acknowledged; the batch is retried."""


@dataclass
class Batch:
    """What one poll brought, decoded: candidates and rejects in arrival order."""

    items: list[Candidate | Reject] = field(default_factory=list)
    controls: list[Control] = field(default_factory=list)
    decoded_controls: list[tuple[Any, Control]] = field(default_factory=list)  # (tp, control) to apply
    view: Any = None  # the assignment and partition states it was decoded against
    offsets: dict[Any, int] = field(default_factory=dict)
    consumed: Counter[tuple[str, str]] = field(default_factory=Counter)
    messages: int = 0


@dataclass
class Outcome:
    """What a committed batch (or the committed parts of a bisected one) did, for metrics and tests."""

    fresh: list[Candidate] = field(default_factory=list)
    duplicates: list[Candidate] = field(default_factory=list)
    rejects: list[Reject] = field(default_factory=list)
    changes: list[dict[str, Any]] = field(default_factory=list)
    late: int = 0  # registry records reached in this transaction
    refused: int = 0  # rows the store refused, now rejects
    grades: Applied | None = None  # stored grades applied in this transaction

    def merge(self, other: Outcome) -> None:
        self.fresh += other.fresh
        self.duplicates += other.duplicates
        self.rejects += other.rejects
        self.changes += other.changes
        self.late += other.late
        self.refused += other.refused
        self.grades = other.grades or self.grades


def _dbapi(err: BaseException) -> bool:
    """A driver's own exception (PostgreSQL's COPY path raises psycopg errors unwrapped)."""
    import sqlite3

    try:
        import psycopg
    except ImportError:  # pragma: no cover - psycopg is a dependency
        return isinstance(err, sqlite3.Error)
    return isinstance(err, (psycopg.Error, sqlite3.Error))


def _from_store(err: BaseException) -> bool:
    from sqlalchemy.exc import SQLAlchemyError

    return isinstance(err, SQLAlchemyError) or _dbapi(err)


def _outage(err: BaseException) -> bool:
    """The store, the broker or the network failed: wait and retry the batch (never a reject).

    Kafka errors come from librdkafka (the consumers: ``KafkaException``) and from
    kafka-python (the producer and the start-up admin client: ``KafkaError``).
    """
    from confluent_kafka import KafkaException
    from kafka.errors import KafkaError
    from sqlalchemy.exc import SQLAlchemyError

    from greenshield.stream.consumer import CommitFailed

    return isinstance(err, (SQLAlchemyError, KafkaError, KafkaException, CommitFailed, PublishError, TimeoutError,
                            OSError)) or _dbapi(err)


def _content_error(err: BaseException) -> bool:
    """Did the store (or the per-batch work) fail because of what a row holds, not because it is unavailable?"""
    import sqlite3

    from sqlalchemy.exc import DataError, DBAPIError, IntegrityError, StatementError

    if isinstance(err, (DataError, IntegrityError, sqlite3.DataError, sqlite3.IntegrityError)):
        return True
    if isinstance(err, StatementError) and not isinstance(err, DBAPIError):
        return True  # raised while binding a value (e.g. a string the driver cannot encode)
    if _dbapi(err):  # SQLSTATE class 22 data exception, 23 integrity constraint violation
        return str(getattr(err, "sqlstate", None) or "")[:2] in ("22", "23")
    return isinstance(err, Exception) and not _outage(err)


def _refusal(err: BaseException) -> str:
    """``<sqlstate> <class>`` of a store error (or the exception class): never the message, which holds values."""
    orig = getattr(err, "orig", None)
    code = getattr(orig, "sqlstate", None) or getattr(orig, "sqlite_errorname", None)
    name = type(orig if orig is not None else err).__name__
    return f"{code} {name}" if code else name


class _Rebalance:
    """Remembers revoked (or lost) partitions: their state is dropped and rebuilt from the store."""

    def __init__(self) -> None:
        self.revoked: set[Any] = set()

    def on_revoked(self, revoked: set[Any]) -> None:
        self.revoked.update(revoked)


def _rebalance_listener() -> Any:
    """The consumer's revocation callback and what it saw (see :class:`_Rebalance`)."""
    return _Rebalance()


WORKER_TOPICS = ("events", "registry", "violations", "rejects")  # it reads two and writes two; nothing else


class Worker:
    """Consumes the events and registry topics into the audit store; see the module docstring."""

    def __init__(self, settings: Settings, audit: Audit, pack: RulePack, *, bootstrap: str | None = None,
                 metrics: WorkerMetrics | None = None, wall: Callable[[], float] = time.time,
                 model: RiskModel | None = None) -> None:
        """``model``: whose ``[credit.tighten]`` a stored grade applies (default: the settings' risk model)."""
        self.settings = settings
        self.audit = audit
        self.pack = pack
        self.bootstrap = bootstrap or settings.kafka_bootstrap
        self.metrics = metrics or WorkerMetrics()
        self.wall = wall
        self.key = audit.hmac_key
        self.control_key = settings.control_key.reveal().encode()
        self._rebalance = _rebalance_listener()
        self._pending: dict[Any, Any] = {}
        self._next_offsets: dict[Any, int] = {}
        self._last = {"housekeeping": 0.0, "release": 0.0, "sequence": 0.0}
        self.consumer: Any = None
        self.producer: Any = None
        self.registry: RegistryFeed | None = None
        if model is None:
            model = load_model(settings.risk_model_file) if settings.risk_model_file else default_model()
        self.parts = Partitions(settings, pack, audit.store, [], GradeBook(pack, model))
        sender = Verifier(settings.sender_key.reveal().encode()) if settings.sender_key else None
        self.ctx = Context(self.key, settings.registry_topic, settings.events_topic, self.control_key,
                           settings.events_partitions, sender)
        self._fed = False  # the rule cores took events of a transaction not yet committed
        self._writer: StoreWriter | None = None  # the store-writer thread (run() starts it when wanted)
        self._inflight: InFlight[Outcome] | None = None  # the batch whose transaction it runs
        self._sequencer_thread: SequencerThread | None = None
        self._released = -1  # the partition whose quiet parcels were released last

    # ----------------------------------------------------------------- lifecycle

    def start(self) -> None:
        """Check the topics (raising TopicsError with what is wrong), connect, and read the registry."""
        from greenshield.sdk.clients import librdkafka
        from greenshield.stream.consumer import StreamConsumer, feed_config, worker_config
        from greenshield.stream.topics import admin_client, require_topics, topic_specs

        s = self.settings
        admin = admin_client(s, self.bootstrap, "greenshield-worker-admin")
        try:
            require_topics(admin, [t for t in topic_specs(s) if t.role in WORKER_TOPICS])
        finally:
            admin.close()
        self.consumer = StreamConsumer(worker_config(s, self.bootstrap, "greenshield-worker"))
        self.consumer.subscribe([s.events_topic, s.registry_topic], self._rebalance.on_revoked)
        from greenshield.stream.output import OutputProducer, output_config

        # librdkafka, as the consumer (ADR 0005): acks=all, idempotent, flushed before the store commit
        self.producer = OutputProducer(output_config(librdkafka(self.bootstrap, "greenshield-worker",
                                                                s.kafka_security)))
        reader = StreamConsumer(feed_config(s, self.bootstrap, "greenshield-worker-registry"))
        self.registry = RegistryFeed(reader, s.registry_topic, s.registry_partitions)
        self.parts.registry = self.registry.records
        self.registry.listener = self._on_record
        self.registry.catch_up(timeout=120.0)
        log.info("event=started group=%s registry_records=%d", s.worker_group, len(self.registry.records))

    def _on_record(self, record: RegistryRecord) -> None:
        self.metrics.labels.admit(record.enterprise_id)
        self.parts.on_record(record)

    def run(self, stop: threading.Event) -> None:
        """Work until ``stop`` is set; recover from store and Kafka failures on the way.

        Starts the sequencer thread and the store-writer thread (as the settings say) and
        stops them before it returns; the caller's :meth:`Audit.close` signs the last checkpoint.
        """
        s = self.settings
        if s.worker_sequencer_thread:
            self._sequencer_thread = SequencerThread(self.audit.sequencer, SEQUENCER_THREAD_SECONDS).start()
        if writer_thread_wanted(s, self.audit.store.is_sqlite):
            self._writer = StoreWriter()
        log.info("event=loop sequencer_thread=%s writer_thread=%s", self._sequencer_thread is not None,
                 self._writer is not None)
        try:
            while not stop.is_set():
                try:
                    self.step()
                except Exception as err:
                    self._abandon()  # nothing of the failed step may still be running
                    if not _outage(err):
                        raise
                    self._recover(err, stop)
            self.drain()
        finally:
            self._abandon()
            if self._writer is not None:
                self._writer.close()
                self._writer = None
            if self._sequencer_thread is not None:
                self._sequencer_thread.stop()
                self._sequencer_thread = None

    def drain(self) -> int:
        """Finish the batch the writer thread holds (store commit, then offsets); how many messages."""
        try:
            return self._finish()
        except Exception as err:  # stopping: its offsets stay uncommitted, the batch is redelivered
            self._abandon()
            log.warning("event=drain_failed error=%r", err)
            return 0

    def _abandon(self) -> None:
        """Wait for the writer thread's transaction to end and forget it (its offsets are not committed)."""
        flight, self._inflight = self._inflight, None
        if flight is not None:
            flight.wait()

    def close(self) -> None:
        """Commit what is pending and leave the group (the caller closes the audit store)."""
        self.drain()
        try:
            if self._pending and self.consumer is not None:
                self._commit_pending()
        except Exception as err:  # closing must not fail on a broker that is gone
            log.warning("event=close_commit_failed error=%r", err)
        for client in (self.consumer, self.producer, self.registry):
            if client is not None:
                try:
                    client.close()
                except Exception as err:
                    log.warning("event=close_failed client=%s error=%r", type(client).__name__, err)

    # ----------------------------------------------------------------- the loop

    def step(self) -> int:
        """One poll and its batch; returns how many messages were processed (their store commit done)."""
        assert self.registry is not None, "start() first"
        if self._writer is not None:
            return self._step_pipelined(self._writer)
        self._commit_pending()
        records = self._poll()
        # registry versions sent before these events were read apply to them: fewer violations
        # opened on stale reference data and retracted a moment later. Idle, too: a poll(0) there
        # left a fetch parked at the broker (up to its 500 ms max wait) that the next catch-up's
        # ListOffsets, on the same connection, queued behind (ADR 0006: up to 460 ms)
        self.registry.catch_up(timeout=30.0)
        self._reconcile()
        self.metrics.ready.set(1 if self.parts.states else 0)
        processed = self._process(records) if records else 0
        self._housekeeping()
        return processed

    def _step_pipelined(self, writer: StoreWriter) -> int:
        """:meth:`step` with the writer thread: batch N's transaction runs while N+1 is polled and decoded.

        Everything the transaction uses (registry feed, partition states, housekeeping,
        offsets) is touched only once it has ended (:meth:`_finish`). The early decode is
        pure but for the clocks' arrival times; it is redone if the assignment or the
        partition states changed meanwhile (a rebalance, a rebuild after a refused row).
        """
        assert self.registry is not None
        self._commit_pending()
        records = self._poll()
        ahead = self._decode(records) if records and self._inflight is not None else None
        processed = self._finish()
        self.registry.catch_up(timeout=30.0)  # see step()
        self._reconcile()
        self.metrics.ready.set(1 if self.parts.states else 0)
        self._housekeeping()
        if records:
            batch = ahead if ahead is not None and ahead.view == self._view() else self._decode(records)
            self._apply_controls(batch)
            if batch.offsets:
                items = batch.items
                self._inflight = writer.submit(batch, lambda: self._commit(items))
        return processed

    def _finish(self) -> int:
        """Wait for the writer thread's batch; bisect it if the store refused a row; then its offsets."""
        flight, self._inflight = self._inflight, None
        if flight is None:
            return 0
        batch = flight.what
        assert isinstance(batch, Batch)
        try:
            outcome = flight.result()
        except Exception as err:
            outcome = self._store(batch, failed=err)  # an outage raises on to run(), as inline
        # the store transactions have committed: only now may the offsets move (see the module docstring)
        self.metrics.commit_seconds.observe(time.monotonic() - flight.started)
        self._queue_offsets(batch.offsets)
        self._commit_pending()
        self._count(batch, outcome)
        return batch.messages

    def _view(self) -> tuple[frozenset[Any], tuple[tuple[int, int], ...]]:
        return (frozenset(self.consumer.assignment()),
                tuple((p, id(state)) for p, state in self.parts.states.items()))

    def _poll(self) -> dict[Any, list[Any]]:
        size = self.settings.worker_batch_size
        records: dict[Any, list[Any]] = self.consumer.poll(size, self.settings.worker_batch_wait_ms / 1000)
        total = sum(len(v) for v in records.values())
        while 0 < total < size:
            more = self.consumer.poll(size - total, 0)
            if not more:
                break
            for tp, msgs in more.items():
                records.setdefault(tp, []).extend(msgs)
                total += len(msgs)
        return records

    def _reconcile(self) -> None:
        """Make the partition states match the assignment (rebuilding revoked or new ones from the store)."""
        from greenshield.stream.consumer import TP

        topic = self.settings.events_topic
        assigned = {tp.partition for tp in self.consumer.assignment() if tp.topic == topic}
        revoked = {tp.partition for tp in self._rebalance.revoked if tp.topic == topic}
        self._rebalance.revoked.clear()
        missing = self.parts.keep(assigned, revoked)
        if not missing:
            return
        clocks = {}
        saved = self.consumer.committed([TP(topic, p) for p in missing])
        for p in missing:
            clocks[p] = clock = self.parts.new_clock()
            clock.restore(saved.get(TP(topic, p), (None, None))[1])  # the clock saved with the offsets
            clock.saw_message(self.wall())  # idle from now on, as far as the backstop is concerned
        self.parts.build(clocks)

    # ----------------------------------------------------------------- one batch

    def _process(self, records: dict[Any, list[Any]]) -> int:
        batch = self._decode(records)
        self._apply_controls(batch)
        if not batch.offsets:
            return 0
        started = time.monotonic()
        outcome = self._store(batch)
        # the store transactions have committed: only now may the offsets move (see the module docstring)
        self.metrics.commit_seconds.observe(time.monotonic() - started)
        self._queue_offsets(batch.offsets)
        self._commit_pending()
        self._count(batch, outcome)
        return batch.messages

    def _decode(self, records: dict[Any, list[Any]]) -> Batch:
        """Decode a poll (pure but for the clocks' arrival times); control messages wait for :meth:`_apply_controls`.

        Hot path (once per message): per-partition work is done once per partition.
        """
        s, batch, now, ctx = self.settings, Batch(), self.wall(), self.ctx
        assigned = self.consumer.assignment()
        batch.view = self._view()
        items, controls = batch.items, batch.decoded_controls
        consumed: dict[tuple[str, str], int] = {}
        for tp, messages in records.items():
            if not messages:
                continue
            if tp not in assigned or (tp.topic == s.events_topic and tp.partition not in self.parts.states):
                continue  # revoked meanwhile: the new owner reads these
            state = self.parts.states.get(tp.partition) if tp.topic == s.events_topic else None
            if state is not None:
                state.clock.saw_message(now)  # the same arrival time for every message of the poll
            batch.messages += len(messages)
            batch.offsets[tp] = messages[-1].offset + 1
            topic, partition = tp.topic, tp.partition
            for m in messages:
                got = decode_message(topic, partition, m.offset, m.key, m.value, m.headers, ctx)
                if got is None:
                    continue
                kind = type(got)
                if kind is Candidate:
                    item = got.item  # type: ignore[union-attr]
                    label = (item.type if type(item) is Event else "registry", item.enterprise_id)
                elif kind is Control:
                    controls.append((tp, got))  # type: ignore[arg-type]
                    continue
                else:
                    label = (got.type, got.enterprise)  # type: ignore[union-attr]
                items.append(got)  # type: ignore[arg-type]
                consumed[label] = consumed.get(label, 0) + 1
        batch.consumed.update(consumed)
        return batch

    def _apply_controls(self, batch: Batch) -> None:
        """The batch's control messages move their partitions' clocks (before its transaction)."""
        events = self.settings.events_topic
        for tp, got in batch.decoded_controls:
            self._control(batch, self.parts.states.get(tp.partition) if tp.topic == events else None, got)

    def _control(self, batch: Batch, state: PartitionState | None, got: Control) -> None:
        batch.consumed[("control", "system")] += 1
        if state is None:
            return
        if not batch.controls:
            assert self.registry is not None
            self.registry.catch_up()  # every registry record sent before the control applies
        batch.controls.append(got)
        state.clock.advance_to(got.advance.as_of)
        log.info("event=clock_advanced partition=%d as_of=%s", got.partition, got.advance.as_of_text)

    # ----------------------------------------------------------------- storing, with poison rows found

    def _store(self, batch: Batch, failed: BaseException | None = None) -> Outcome:
        """Commit the batch; on a content error, bisect it and turn each row the store refuses into a reject.

        ``failed``: the batch's first transaction already ran (in the writer thread) and failed so.
        """
        if failed is None:
            try:
                return self._commit(batch.items)
            except Exception as err:
                failed = err
        if not _content_error(failed):
            raise failed
        first = failed
        log.warning("event=batch_refused error=%s items=%d; bisecting to find the row(s)",
                    _refusal(first), len(batch.items))
        self._after_failure(batch)
        total, refused = Outcome(), list[Candidate | Reject]()
        mid = len(batch.items) // 2
        for half in (batch.items[:mid], batch.items[mid:]):
            self._bisect(batch, half, total, refused)
        if not _from_store(first) and len(refused) == len(batch.items):
            log.error("event=batch_all_internal items=%d error=%s", len(batch.items), _refusal(first))
        if refused:
            last = self._commit(refused)
            last.refused = len(refused)
            total.merge(last)
        return total

    def _bisect(self, batch: Batch, items: list[Candidate | Reject], total: Outcome,
                refused: list[Candidate | Reject]) -> None:
        if not items:
            return
        try:
            total.merge(self._commit(items))
            return
        except Exception as err:
            if not _content_error(err):
                raise
            self._after_failure(batch)
            if len(items) == 1:
                refused.append(self._refused(items[0], err))
                return
        mid = len(items) // 2
        self._bisect(batch, items[:mid], total, refused)
        self._bisect(batch, items[mid:], total, refused)

    def _refused(self, item: Candidate | Reject, err: BaseException) -> Reject:
        """The reject that replaces a row the store refused (no payload: it may be what was refused)."""
        database = _from_store(err)
        what = "row" if isinstance(item, Candidate) else "reject"
        reason = f"store refused the {what}: {_refusal(err)}" if database else f"internal: {_refusal(err)}"
        log.warning("event=row_refused topic=%s partition=%d offset=%d error=%s", item.topic, item.partition,
                    item.offset, _refusal(err), exc_info=not database)
        if isinstance(item, Candidate):
            return Reject(item.topic, item.partition, item.offset, Rejection(reason, None, item.key), 0, None,
                          _kind(item), item.item.enterprise_id, internal=not database)
        return Reject(item.topic, item.partition, item.offset, Rejection(reason), item.size, item.sha256,
                      item.type, item.enterprise, internal=not database)

    def _after_failure(self, batch: Batch) -> None:
        """After a rolled-back transaction: if the rule cores took its events, rebuild them from the store."""
        if not self._fed:
            return
        self._fed = False
        self.parts.states.clear()
        self._reconcile()
        for c in batch.controls:  # the batch's control messages are not redelivered: apply them again
            state = self.parts.states.get(c.partition)
            if state is not None:
                state.clock.advance_to(c.advance.as_of)

    def _commit(self, items: list[Candidate | Reject]) -> Outcome:
        """One store transaction for ``items`` (with its output messages published before the commit)."""
        with self.audit.store.write() as conn:
            outcome = self._apply(conn, items)
            self._publish(outcome.changes, outcome.rejects)
        self._fed = False
        del self.parts.late[:outcome.late]
        if self.parts.grades is not None:
            self.parts.grades.done(outcome.grades)
        return outcome

    def _apply(self, conn: Any, items: list[Candidate | Reject]) -> Outcome:
        """Everything of ``items`` inside the store transaction ``conn``.

        Rows are inserted before the rule cores take the new events, so a row the store
        refuses leaves memory as it was (see :meth:`_after_failure` for the rest).
        """
        store, outcome = self.audit.store, Outcome()
        candidates: list[Candidate] = []
        rejects = outcome.rejects
        for i in items:
            (candidates if type(i) is Candidate else rejects).append(i)  # type: ignore[arg-type]
        fresh, duplicates = outcome.fresh, outcome.duplicates
        for d in classify(candidates, sink.stored_digests(conn, (c.key for c in candidates))):
            c = d.candidate
            kind = type(d)
            if kind is Fresh:
                fresh.append(c)
            elif kind is Duplicate:
                duplicates.append(c)
            else:  # a conflicting duplicate: its payload is the redacted document
                rejects.append(Reject(c.topic, c.partition, c.offset, Rejection(d.reason, c.doc, c.key), 0,  # type: ignore[union-attr]
                                      None, _kind(c), c.item.enterprise_id))
        outcome.late = self.parts.reach_late_records(conn)
        outcome.grades = self.parts.grades.apply(conn, self.parts) if self.parts.grades is not None else None
        events = [(c.partition, c.item) for c in fresh if type(c.item) is Event]
        self.parts.prepare(conn, events)
        sink.store_events(conn, store, fresh)
        sink.store_rejects(conn, store, [_reject_row(r) for r in outcome.rejects])
        self._fed = bool(events) or outcome.grades is not None
        self.parts.add(events)
        outcome.changes = self.parts.evaluate(conn)
        return outcome

    def _publish(self, changes: list[dict[str, Any]], rejects: list[Reject]) -> None:
        if not changes and not rejects:
            return
        s, futures = self.settings, []
        for change in changes:
            key, value = violation_message(change)
            futures.append(self.producer.send(s.violations_topic, key=key, value=value))
        for r in rejects:
            key, value = reject_message(r)
            futures.append(self.producer.send(s.rejects_topic, key=key, value=value))
        self.producer.flush(timeout=PUBLISH_TIMEOUT)  # every delivery reported (acks=all), or the timeout
        failed = [f for f in futures if not f.is_done or f.failed()]
        if failed:
            raise PublishError(f"{len(failed)} output message(s) not acknowledged: {failed[0].exception!r}")

    # ----------------------------------------------------------------- offsets

    def _queue_offsets(self, offsets: dict[Any, int]) -> None:
        for tp, offset in offsets.items():
            state = self.parts.states.get(tp.partition) if tp.topic == self.settings.events_topic else None
            meta = state.clock.to_metadata() if state is not None else ""
            self._pending[tp] = (offset, meta)
            self._next_offsets[tp] = offset

    def _commit_pending(self) -> None:
        """Commit offsets whose batches the store has committed; on failure keep them for the next try."""
        if not self._pending:
            return
        from confluent_kafka import KafkaException

        from greenshield.stream.consumer import CommitFailed

        pending, self._pending = self._pending, {}
        assigned = self.consumer.assignment()
        mine = {tp: om for tp, om in pending.items() if tp in assigned}
        if not mine:
            return
        try:
            self.consumer.commit(mine)
        except CommitFailed as err:  # the partitions moved: the new owner's store check covers them
            log.warning("event=commit_failed reason=rebalance error=%r", err)
        except KafkaException as err:
            log.warning("event=commit_failed error=%r", err)
            for tp, om in mine.items():
                self._pending.setdefault(tp, om)

    # ----------------------------------------------------------------- time and memory

    def _housekeeping(self) -> None:
        now_mono, now = time.monotonic(), self.wall()
        if now_mono - self._last["housekeeping"] < HOUSEKEEPING_SECONDS:
            return
        self._last["housekeeping"] = now_mono
        if self.parts.tick(now) or self.parts.late or self._grades_moved():
            with self.audit.store.write() as conn:
                late = self.parts.reach_late_records(conn)
                grades = self.parts.grades.apply(conn, self.parts) if self.parts.grades is not None else None
                changes = self.parts.evaluate(conn)
                self._publish(changes, [])
            del self.parts.late[:late]
            if self.parts.grades is not None:
                self.parts.grades.done(grades)
            self._count_changes(changes)
        states = self.parts.states
        if states and now_mono - self._last["release"] >= RELEASE_SECONDS / len(states):
            # one partition at a time: a scan of every open parcel at once stalled the loop (ADR 0006)
            self._last["release"] = now_mono
            order = sorted(states)
            self._released = next((p for p in order if p > self._released), order[0])
            states[self._released].release_quiet()
        sequencer = self._sequencer_thread
        if (sequencer is None or not sequencer.running) and now_mono - self._last["sequence"] >= SEQUENCE_SECONDS:
            self._last["sequence"] = now_mono
            self.audit.sequencer.integrate()
        self._gauges(now)

    def _grades_moved(self) -> bool:
        """Was a grade stored since the last look (the worker's states are built)?"""
        if self.parts.grades is None or not self.parts.states:
            return False
        with self.audit.store.read() as conn:
            return self.parts.grades.moved(conn)

    def _gauges(self, now: float) -> None:
        for tp, position in self._next_offsets.items():
            high = self.consumer.highwater(tp)
            if high is not None:
                self.metrics.lag.labels(tp.topic, str(tp.partition)).set(max(high - position, 0))
        for p, state in self.parts.states.items():
            if state.clock.mark is not None:
                self.metrics.watermark_age.labels(str(p)).set(now - state.clock.mark[0])

    # ----------------------------------------------------------------- failures

    def _recover(self, err: BaseException, stop: threading.Event) -> None:
        """Drop the in-memory state, go back to the committed offsets, wait for the store, go on."""
        import sqlalchemy as sa

        log.warning("event=batch_failed error=%r; pausing until the store and Kafka answer", err)
        self.metrics.store_unavailable.set(1)
        self.metrics.ready.set(0)
        self.parts.states.clear()
        self._fed = False
        delay = 0.5
        while not stop.is_set():
            try:
                with self.audit.store.read() as conn:
                    conn.execute(sa.text("SELECT 1"))
                self._commit_pending()
                for tp, (saved, _) in self.consumer.committed(self.consumer.assignment()).items():
                    self.consumer.seek(tp, saved)  # None: nothing committed, from the beginning
                break
            except Exception as again:  # still down: keep waiting, never commit meanwhile
                log.info("event=still_unavailable error=%r retry_in=%.1fs", again, delay)
                stop.wait(delay)
                delay = min(delay * 2, 5.0)
        self.metrics.store_unavailable.set(0)
        log.info("event=resumed")

    # ----------------------------------------------------------------- metrics

    def _count(self, batch: Batch, outcome: Outcome) -> None:
        """The batch's metrics: counted per distinct (type, enterprise), labels looked up once per distinct value."""
        m, labels = self.metrics, self.metrics.labels
        admit = labels.admit
        for ent in {c.item.enterprise_id for c in outcome.fresh} | {c.item.enterprise_id for c in outcome.duplicates}:
            admit(ent)

        def counted(metric: Any, found: dict[tuple[str, str], int]) -> None:
            bounded: dict[tuple[str, str], int] = {}
            for (kind, ent), n in found.items():
                key = (labels.type(kind), labels.enterprise(ent))
                bounded[key] = bounded.get(key, 0) + n
            for (kind, ent), n in bounded.items():
                metric.labels(kind, ent).inc(n)

        caps = {p: state.clock.future_cap() for p, state in self.parts.states.items()}
        accepted: dict[tuple[str, str], int] = {}
        future: dict[str, int] = {}
        dropped: dict[str, int] = {}
        for c in outcome.fresh:
            item = c.item
            if type(item) is Event:
                label = (item.type, item.enterprise_id)
                cap = caps.get(c.partition)
                if cap is not None and item.at > cap:
                    future[item.enterprise_id] = future.get(item.enterprise_id, 0) + 1
            else:
                label = ("registry", item.enterprise_id)
            accepted[label] = accepted.get(label, 0) + 1
            if c.dropped:
                dropped[label[0]] = dropped.get(label[0], 0) + c.dropped
        duplicated: dict[tuple[str, str], int] = {}
        for c in outcome.duplicates:
            label = (_kind(c), c.item.enterprise_id)
            duplicated[label] = duplicated.get(label, 0) + 1
        rejected: dict[tuple[str, str], int] = {}
        internal = 0
        for r in outcome.rejects:
            label = (r.type, r.enterprise)
            rejected[label] = rejected.get(label, 0) + 1
            internal += r.internal
        counted(m.consumed, batch.consumed)
        counted(m.accepted, accepted)
        counted(m.duplicated, duplicated)
        counted(m.rejected, rejected)
        bounded_future: dict[str, int] = {}
        for ent, n in future.items():
            bounded_ent = labels.enterprise(ent)
            bounded_future[bounded_ent] = bounded_future.get(bounded_ent, 0) + n
        for ent, n in bounded_future.items():
            m.future_dated.labels(ent).inc(n)
        if internal:
            m.internal_errors.inc(internal)
        if outcome.refused:
            m.store_refused.inc(outcome.refused)
        bounded_dropped: dict[str, int] = {}
        for kind, n in dropped.items():
            bounded_kind = labels.type(kind)
            bounded_dropped[bounded_kind] = bounded_dropped.get(bounded_kind, 0) + n
        for kind, n in bounded_dropped.items():
            m.fields_dropped.labels(kind).inc(n)
        self._count_changes(outcome.changes)

    def _count_changes(self, changes: list[dict[str, Any]]) -> None:
        for change in changes:
            rule = change["doc"]["rule_id"]
            if change["kind"] == "retracted":
                self.metrics.retracted.labels(rule).inc()
            elif change["kind"] == "opened":
                self.metrics.opened.labels(rule).inc()


def _kind(c: Candidate) -> str:
    return c.item.type if isinstance(c.item, Event) else "registry"


def _reject_row(r: Reject) -> dict[str, Any]:
    """The ``rejects`` row of ``r``; a masked payload that cannot be encoded is left out (never a failed batch)."""
    try:
        return sink.reject_row(r.source, r.offset, r.rejection)
    except (ValueError, TypeError, RecursionError) as err:
        reason = f"{r.rejection.reason} (masked payload not stored: {type(err).__name__})"
        return sink.reject_row(r.source, r.offset, Rejection(reason, None, r.rejection.key))
