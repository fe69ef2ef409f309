"""The rule states of the events partitions a worker owns, kept in step with the store.

Every method that touches the store takes the caller's connection, so it runs in
the worker's one transaction per batch. A partition's state is rebuilt from the
store when the partition is assigned (:meth:`Partitions.build`): the stored
events of every parcel ``(enterprise_id, waybill_no)`` (contract §8.1; it lives on its waybill's partition) with an event within the longest deadline before its saved
watermark, with their stored open violations. Anything older comes back on
demand: an event for a parcel not in memory, or a registry record naming an
entity of one, reloads that parcel from the store first (:meth:`Partitions.reload`).
A grade stored meanwhile (``greenshield credit``) is followed by :class:`GradeFollower`.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

from greenshield.risk.credit import GradeBook
from greenshield.rules.model import Event, ParcelKey, RegistryRecord
from greenshield.rules.pack import RulePack
from greenshield.settings import Settings
from greenshield.store import graded, intake_stream as sink
from greenshield.store.database import Store
from greenshield.store.positions import latest_event_id
from greenshield.stream.state import PartitionState, partition_of
from greenshield.stream.watermark import PartitionClock

log = logging.getLogger("greenshield.worker")


class Partitions:
    """Partition number -> :class:`PartitionState`, plus registry records still to be reached."""

    def __init__(self, settings: Settings, pack: RulePack, store: Store, registry: list[RegistryRecord],
                 book: GradeBook | None = None) -> None:
        self.settings = settings
        self.grades = GradeFollower(book) if book is not None and book.tightens else None
        self.pack = pack
        self.store = store
        self.registry = registry  # every registry record so far, in topic order (shared with the feed)
        self.count = settings.events_partitions
        self.longest = max(pack.deadlines.values(), default=0)
        self.states: dict[int, PartitionState] = {}
        self.late: list[RegistryRecord] = []

    def new_clock(self) -> PartitionClock:
        s = self.settings
        return PartitionClock(s.allowed_lateness_seconds, s.backstop_idle_seconds, max_future=s.max_future_seconds)

    def keep(self, assigned: set[int], revoked: set[int]) -> set[int]:
        """Drop states no longer owned (or revoked meanwhile); return the partitions to build."""
        for p in list(self.states):
            if p not in assigned or p in revoked:
                del self.states[p]
        return assigned - set(self.states)

    def build(self, clocks: dict[int, PartitionClock]) -> None:
        """New states for these partitions (clocks as saved with the offsets), parcels loaded from the store."""
        marks = [c.mark for c in clocks.values()]
        since = min(m[0] for m in marks if m) - self.longest - 1 if all(marks) else -(1 << 62)
        with self.store.read() as conn:
            parcels = {k for k in sink.parcels_since(conn, since) if partition_of(k[1], self.count) in clocks}
            events = sink.parcel_events(conn, parcels)
            verdicts = sink.open_violations(conn, parcels)
        for p, clock in clocks.items():
            self.states[p] = PartitionState(p, self.pack, clock, self.registry, self.settings.release_after_seconds,
                                            self.grades.book if self.grades is not None else None)
        self._distribute(events, verdicts, lambda k: partition_of(k[1], self.count))
        if self.grades is not None:
            self.grades.rebuilt()
        log.info("event=rebuilt partitions=%s parcels=%d events=%d", sorted(clocks), len(parcels), len(events))

    def on_record(self, record: RegistryRecord) -> None:
        """A new registry record: every core takes it; parcels out of memory are reached at the next batch."""
        for state in self.states.values():
            state.add_record(record)
        if self.states:
            self.late.append(record)

    def reach_late_records(self, conn: Any) -> int:
        """Reload stored parcels that the pending registry records may change; how many records were handled.

        The caller removes that many from :attr:`late` once its transaction commits.
        """
        records = list(self.late)
        wanted: dict[ParcelKey, PartitionState] = {}
        registry = next(iter(self.states.values())).core.registry if self.states else None
        for record in records:
            reach = registry.reach(record) if registry is not None else [(record.entity, record.id)]
            for entity, ident in reach:  # a person record reaches every staff id of that person (§8.2)
                for k in sink.parcels_referencing(conn, entity, ident, record.at[0]):
                    state = self.states.get(partition_of(k[1], self.count))
                    if state is not None and not state.knows(k):
                        wanted[k] = state
        self.reload(conn, wanted)
        return len(records)

    def prepare(self, conn: Any, events: list[tuple[int, Event]]) -> None:
        """Reload the stored parcels of new events ``(partition, event)`` that are not in memory.

        Call it before the new events are inserted (so only the stored ones come back).
        It changes memory only to match what the store holds, so a transaction that
        fails after it leaves the states consistent.
        """
        unknown: dict[ParcelKey, PartitionState] = {}
        states = self.states
        for p, e in events:
            state = states[p]
            parcel = e.parcel
            if parcel not in state.core.parcels:  # state.knows(parcel), inline: once per event
                unknown[parcel] = state
        if unknown:
            self.reload(conn, {k: unknown[k] for k in sink.stored_parcels(conn, unknown)})

    def add(self, events: list[tuple[int, Event]]) -> None:
        """New parcel events into their cores (after :meth:`prepare`)."""
        states = self.states
        for p, e in events:
            states[p].add_event(e)

    def feed(self, conn: Any, events: list[tuple[int, Event]]) -> None:
        """New parcel events ``(partition, event)`` into their cores; parcels not in memory are reloaded first."""
        self.prepare(conn, events)
        self.add(events)

    def reload(self, conn: Any, wanted: dict[ParcelKey, PartitionState]) -> None:
        """Stored events and open violations of parcels not in memory, into the given states."""
        if not wanted:
            return
        verdicts = sink.open_violations(conn, wanted)
        events = sink.parcel_events(conn, wanted)
        self._distribute(events, verdicts, lambda k: wanted[k].partition)

    def _distribute(self, events: list[Event], verdicts: dict[ParcelKey, Any], where: Any) -> None:
        by_partition: dict[int, list[Event]] = {}
        for e in events:
            by_partition.setdefault(where(e.parcel), []).append(e)
        for p, evs in by_partition.items():
            mine = {e.parcel for e in evs}
            self.states[p].reload(evs, {k: v for k, v in verdicts.items() if k in mine})

    def evaluate(self, conn: Any) -> list[dict[str, Any]]:
        """Advance every partition to its watermark and record the verdict changes in the store."""
        written: list[dict[str, Any]] = []
        for state in self.states.values():
            mark, changes = state.advance()
            if not changes or mark is None:
                continue
            found = {ch.violation.parcel: state.core.verdicts.get(ch.violation.parcel, {}) for ch in changes}
            written.extend(sink.record_verdicts(conn, self.store, found, mark))
        return written

    def tick(self, wall: float) -> bool:
        """Move idle partitions' backstops; True when any moved."""
        return any([state.clock.tick(wall) for state in self.states.values()])

    def release_quiet(self) -> int:
        return sum(state.release_quiet() for state in self.states.values())


@dataclass(frozen=True)
class Applied:
    """The stored grades one transaction applied: the caller keeps them once it commits."""

    signature: tuple[int, int]
    ids: frozenset[int]


class GradeFollower:
    """Keeps the worker's grade book equal to the stored grades and re-evaluates what a new grade reaches.

    Checked in every batch's transaction and once a second when idle (a cheap count and
    max of the grade ids). A new grade re-evaluates, at each partition's watermark, the
    enterprise's parcels in memory and its stored parcels with an event from the grade's
    period end on (reloaded, like those a late registry record reaches). After a restart
    or a rebuild, the grades older than the newest stored event count as applied; the
    others are applied again (harmless: an unchanged verdict records nothing).
    """

    def __init__(self, book: GradeBook) -> None:
        self.book = book
        self.signature: tuple[int, int] | None = None
        self.applied: frozenset[int] | None = None

    def moved(self, conn: Any) -> bool:
        return graded.signature(conn) != self.signature

    def apply(self, conn: Any, parts: Partitions) -> Applied | None:
        """Refresh the book; reload and revisit what the grades not applied yet reach (None: nothing new)."""
        sig = graded.signature(conn)
        if sig == self.signature:
            return None
        grades = graded.stored_grades(conn)
        applied = self.applied if self.applied is not None else self._before_restart(conn, grades)
        self.book.replace(graded.rows(grades))
        new = [g for g in grades if g.id not in applied]
        wanted: dict[ParcelKey, PartitionState] = {}
        for g in new:
            for state in parts.states.values():
                state.core.revisit(g.enterprise_id)
        for k in graded.reach(conn, new) if new else ():
            owner = parts.states.get(partition_of(k[1], parts.count))
            if owner is not None and not owner.knows(k):
                wanted[k] = owner
        parts.reload(conn, wanted)
        if new:
            log.info("event=grades_applied grades=%d parcels_reloaded=%d", len(new), len(wanted))
        return Applied(sig, applied | {g.id for g in new})

    def rebuilt(self) -> None:
        """Partitions were (re)built from the store: judge what is applied as after a restart."""
        self.signature, self.applied = None, None

    def done(self, applied: Applied | None) -> None:
        """The transaction that applied these committed."""
        if applied is not None:
            self.signature, self.applied = applied.signature, applied.ids

    @staticmethod
    def _before_restart(conn: Any, grades: list[graded.StoredGrade]) -> frozenset[int]:
        newest = latest_event_id(conn)
        return frozenset(g.id for g in grades if g.id < newest)
