"""The worker's store-writer thread: batch N's store transaction runs while batch N+1 is polled and decoded.

One thread, one batch in flight. The worker hands it ``_commit(items)`` (the whole
transaction: lookups, rule cores, inserts, publishing, COMMIT) and keeps polling and
decoding meanwhile; it waits for the result before it touches anything the
transaction uses (registry, partition states, housekeeping, offsets). Offsets move
only after that result, so "offsets only after the store commit" still holds; a
failure comes back to the worker's thread, which bisects a content error or
recovers from an outage exactly as without the thread.

Where it could pay (docs/adr/0006-worker-loop.md): on PostgreSQL the transaction
waits for the server a third of its time, and the GIL is free meanwhile; on SQLite
``sqlite3`` releases and retakes the GIL for every row, so a busy decoding thread
makes rows wait. Measured here it won on neither, so ``auto`` is off (:data:`AUTO_ON`).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Generic, TypeVar

from greenshield.settings import Settings

T = TypeVar("T")


#: where ``auto`` turns the thread on: the stores on which it was measured to win; neither has so far
#: (the runs are in ADR 0006), so ``auto`` is off for both until a measurement says otherwise.
AUTO_ON = {"sqlite": False, "postgresql": False}


def writer_thread_wanted(settings: Settings, is_sqlite: bool) -> bool:
    """``GREENSHIELD_WORKER_WRITER_THREAD``: on, off, or auto (see :data:`AUTO_ON`)."""
    mode = settings.worker_writer_thread
    if mode not in ("auto", "on", "off"):
        raise ValueError(f"worker_writer_thread={mode!r}: expected auto, on or off")
    return mode == "on" or (mode == "auto" and AUTO_ON["sqlite" if is_sqlite else "postgresql"])


class InFlight(Generic[T]):
    """One submitted transaction: what it was for, its future, when it started."""

    def __init__(self, what: object, future: Future[T]) -> None:
        self.what = what
        self.future = future
        self.started = time.monotonic()

    def result(self) -> T:
        """Wait for it; re-raises the transaction's exception in the caller's thread."""
        return self.future.result()

    def wait(self) -> None:
        """Wait for it to end, whatever the outcome (after a failure elsewhere: nothing may still run)."""
        try:
            self.future.result()
        except BaseException:  # the caller is recovering from another error; this one changes nothing
            pass


class StoreWriter:
    """A single-thread executor for the worker's store transactions."""

    def __init__(self) -> None:
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="greenshield-store-writer")

    def submit(self, what: object, fn: Callable[[], T]) -> InFlight[T]:
        return InFlight(what, self._pool.submit(fn))

    def close(self) -> None:
        self._pool.shutdown(wait=True)
