"""The worker's periodic work between batches: clocks and late records, quiet parcels released, sequencing, gauges."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

from greenshield.stream.counting import count_changes

if TYPE_CHECKING:
    from greenshield.stream.worker import Worker

HOUSEKEEPING_SECONDS = 1.0
RELEASE_SECONDS = 30.0  # each partition's quiet parcels are released this often (one partition at a time)
SEQUENCE_SECONDS = 5.0  # the loop's own sequencing, when the sequencer thread is off


class Housekeeping:
    """When each periodic task last ran, and which partition's quiet parcels were released last."""

    def __init__(self) -> None:
        self.last = {"housekeeping": 0.0, "release": 0.0, "sequence": 0.0}
        self.released = -1

    def run(self, w: Worker) -> None:
        """What is due: verdicts the clocks, late records or stored grades move; a release; sequencing; gauges."""
        now_mono, now = time.monotonic(), w.wall()
        if now_mono - self.last["housekeeping"] < HOUSEKEEPING_SECONDS:
            return
        self.last["housekeeping"] = now_mono
        parts = w.parts
        if parts.tick(now) or parts.late or _grades_moved(w):
            with w.audit.store.write() as conn:
                late = parts.reach_late_records(conn)
                grades = parts.grades.apply(conn, parts) if parts.grades is not None else None
                changes = parts.evaluate(conn)
                w._publish(changes, [])
            del parts.late[:late]
            if parts.grades is not None:
                parts.grades.done(grades)
            count_changes(w.metrics, changes)
        states = parts.states
        if states and now_mono - self.last["release"] >= RELEASE_SECONDS / len(states):
            # one partition at a time: a scan of every open parcel at once stalled the loop (ADR 0006)
            self.last["release"] = now_mono
            order = sorted(states)
            self.released = next((p for p in order if p > self.released), order[0])
            states[self.released].release_quiet()
        sequencer = w._sequencer_thread
        if (sequencer is None or not sequencer.running) and now_mono - self.last["sequence"] >= SEQUENCE_SECONDS:
            self.last["sequence"] = now_mono
            w.audit.sequencer.integrate()
        gauges(w, now)


def _grades_moved(w: Worker) -> bool:
    """Was a grade stored since the last look (the worker's states are built)?"""
    if w.parts.grades is None or not w.parts.states:
        return False
    with w.audit.store.read() as conn:
        return w.parts.grades.moved(conn)


def gauges(w: Worker, now: float) -> None:
    """The lag of every partition read and the age of every events partition's watermark."""
    for tp, position in w.offsets.next.items():
        high = w.consumer.highwater(tp)
        if high is not None:
            w.metrics.lag.labels(tp.topic, str(tp.partition)).set(max(high - position, 0))
    for p, state in w.parts.states.items():
        if state.clock.mark is not None:
            w.metrics.watermark_age.labels(str(p)).set(now - state.clock.mark[0])
