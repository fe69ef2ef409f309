"""The sequencer in a thread of its own: Merkle integration and checkpoint signing off the worker's loop.

The worker used to call :meth:`Sequencer.integrate` from its loop every 5 s; a
large step stalled every event behind it (docs/adr/0006-worker-loop.md). This
thread integrates every ``interval`` seconds on its own connections (the engine's
pool gives each thread its own). It only ever takes the sequencer's transaction,
never a writer's, so it cannot deadlock with the worker: on SQLite the two queue
on the database lock, on PostgreSQL it waits for the writers in flight
(:meth:`Store.committed_high_water`).

On SQLite it also takes the WAL checkpoints: the store's connections no longer
checkpoint when they commit (``wal_autocheckpoint=0``, so a batch's COMMIT never
copies the WAL into the database file and syncs it), and the thread runs a
``PASSIVE`` checkpoint after each step, which never blocks a writer.
A failed step (the store is away) is logged and retried at the next one.
"""

from __future__ import annotations

import logging
import threading
import time
from typing import Any

import sqlalchemy as sa

from greenshield.store.audit_log import Integrated, Sequencer

log = logging.getLogger("greenshield.audit")


def _no_autocheckpoint(dbapi_connection: Any, _record: Any) -> None:
    cur = dbapi_connection.cursor()
    cur.execute("PRAGMA wal_autocheckpoint=0")
    cur.close()


class SequencerThread:
    """Runs ``sequencer.integrate()`` every ``interval`` seconds until :meth:`stop`."""

    def __init__(self, sequencer: Sequencer, interval: float = 1.0, wal_checkpoints: bool = True) -> None:
        self.sequencer = sequencer
        self.interval = interval
        store = sequencer.store
        self.wal_checkpoints = wal_checkpoints and store.is_sqlite and store.engine.url.database not in (None, "", ":memory:")
        self.steps = 0  # integrate() calls that returned
        self.added = 0  # entries integrated
        self.signed = 0  # checkpoints signed
        self.failures = 0
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> SequencerThread:
        if self.wal_checkpoints:
            engine = self.sequencer.store.engine
            if not sa.event.contains(engine, "connect", _no_autocheckpoint):
                sa.event.listen(engine, "connect", _no_autocheckpoint)
            engine.pool.dispose()  # connections opened from now on leave checkpoints to this thread
        self._thread = threading.Thread(target=self._run, name="greenshield-sequencer", daemon=True)
        self._thread.start()
        return self

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def stop(self, timeout: float = 60.0) -> None:
        """Stop after the step in progress (the caller's :meth:`Audit.close` integrates what is left and signs)."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)
            if self._thread.is_alive():
                log.warning("event=sequencer_thread_still_running timeout=%.0fs", timeout)
        if self.wal_checkpoints:
            self.checkpoint_wal()  # what the last steps left in the WAL

    def _run(self) -> None:
        delay = self.interval
        while not self._stop.wait(delay):
            try:
                done = self.step()
            except Exception as err:  # the store is away: the worker pauses on its own; try again later
                self.failures += 1
                log.warning("event=sequencer_step_failed error=%r", err)
                delay = min(max(delay * 2, self.interval), 10.0)
                continue
            delay = self.interval
            for cp in done.checkpoints:
                log.info("event=checkpoint tree_size=%d root=%s", cp.tree_size, cp.root_hash.hex())

    def step(self) -> Integrated:
        """One integration (and, on SQLite, a passive WAL checkpoint)."""
        t0 = time.perf_counter()
        done = self.sequencer.integrate()
        self.steps += 1
        self.added += done.added
        self.signed += len(done.checkpoints)
        if self.wal_checkpoints:
            self.checkpoint_wal()
        log.debug("event=sequenced added=%d seconds=%.3f", done.added, time.perf_counter() - t0)
        return done

    def checkpoint_wal(self) -> None:
        try:  # outside any transaction (a read transaction would hold the checkpoint back at its snapshot)
            raw = self.sequencer.store.engine.raw_connection()
            try:
                cur = raw.cursor()
                cur.execute("PRAGMA wal_checkpoint(PASSIVE)")
                cur.close()
            finally:
                raw.close()
        except Exception as err:
            log.warning("event=wal_checkpoint_failed error=%r", err)
