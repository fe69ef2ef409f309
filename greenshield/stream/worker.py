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
from collections.abc import Callable
from typing import Any

from greenshield.intake.classify import classify
from greenshield.intake.decisions import Duplicate, Fresh
from greenshield.risk.credit import GradeBook
from greenshield.risk.model import RiskModel, default_model, load_model
from greenshield.rules.model import Event, RegistryRecord, Rejection
from greenshield.rules.pack import RulePack
from greenshield.sdk.sender import Verifier
from greenshield.settings import Settings
from greenshield.store import intake_stream as sink
from greenshield.store.failures import ping
from greenshield.store.pipeline import Audit
from greenshield.store.sequencer import SequencerThread
from greenshield.stream import catch_up, poison
from greenshield.stream.batch import Batch, Outcome, decode_batch, item_kind, poll_batch, reject_row
from greenshield.stream.counting import count_batch
from greenshield.stream.decode import Candidate, Context, Control, Reject
from greenshield.stream.failures import outage
from greenshield.stream.housekeeping import Housekeeping
from greenshield.stream.metrics import WorkerMetrics
from greenshield.stream.offsets import Offsets
from greenshield.stream.partitions import Partitions
from greenshield.stream.publish import publish
from greenshield.stream.registry_feed import RegistryFeed
from greenshield.stream.state import PartitionState
from greenshield.stream.writer import InFlight, StoreWriter, writer_thread_wanted

log = logging.getLogger("greenshield.worker")

SEQUENCER_THREAD_SECONDS = 1.0  # the sequencer thread's interval


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
        self._rebalance = catch_up.Rebalance()
        self.offsets = Offsets()
        self._housekeeper = Housekeeping()
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

    # ----------------------------------------------------------------- lifecycle

    def start(self) -> None:
        """Check the topics (raising TopicsError with what is wrong), connect, and read the registry."""
        s = self.settings
        self.consumer, self.producer, self.registry = catch_up.connect(s, self.bootstrap, self._rebalance)
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
                    if not outage(err):
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
            if self.offsets.pending and self.consumer is not None:
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
        return poll_batch(self.consumer, self.settings.worker_batch_size, self.settings.worker_batch_wait_ms / 1000)

    def _reconcile(self) -> None:
        """Make the partition states match the assignment (rebuilding revoked or new ones from the store)."""
        catch_up.reconcile(self.consumer, self._rebalance, self.parts, self.settings.events_topic, self.wall)

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
        """Decode a poll (pure but for the clocks' arrival times); control messages wait for :meth:`_apply_controls`."""
        now, assigned = self.wall(), self.consumer.assignment()
        return decode_batch(records, assigned, self._view(), self.settings.events_topic, self.parts.states,
                            self.ctx, now)

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
        return poison.store_batch(batch.items, lambda items: self._commit(items), lambda: self._after_failure(batch),
                                  failed)

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
                                      None, item_kind(c), c.item.enterprise_id))
        outcome.late = self.parts.reach_late_records(conn)
        outcome.grades = self.parts.grades.apply(conn, self.parts) if self.parts.grades is not None else None
        events = [(c.partition, c.item) for c in fresh if type(c.item) is Event]
        self.parts.prepare(conn, events)
        sink.store_events(conn, store, fresh)
        sink.store_rejects(conn, store, [reject_row(r) for r in outcome.rejects])
        self._fed = bool(events) or outcome.grades is not None
        self.parts.add(events)
        outcome.changes = self.parts.evaluate(conn)
        return outcome

    def _publish(self, changes: list[dict[str, Any]], rejects: list[Reject]) -> None:
        publish(self.producer, self.settings, changes, rejects)

    # ----------------------------------------------------------------- offsets, time and memory

    def _queue_offsets(self, offsets: dict[Any, int]) -> None:
        self.offsets.queue(offsets, self.settings.events_topic, self.parts.states)

    def _commit_pending(self) -> None:
        """Commit offsets whose batches the store has committed; on failure keep them for the next try."""
        self.offsets.commit(self.consumer)

    def _housekeeping(self) -> None:
        self._housekeeper.run(self)

    # ----------------------------------------------------------------- failures

    def _recover(self, err: BaseException, stop: threading.Event) -> None:
        """Drop the in-memory state, go back to the committed offsets, wait for the store, go on."""
        log.warning("event=batch_failed error=%r; pausing until the store and Kafka answer", err)
        self.metrics.store_unavailable.set(1)
        self.metrics.ready.set(0)
        self.parts.states.clear()
        self._fed = False
        delay = 0.5
        while not stop.is_set():
            try:
                ping(self.audit.store)
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
        count_batch(self.metrics, self.parts.states, batch, outcome)
