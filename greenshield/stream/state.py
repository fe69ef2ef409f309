"""The rule state of one events partition: a RuleCore, its stream clock, and when parcels may leave memory.

Every event of a parcel lands on one partition, so each partition's state is independent;
every partition's core receives every registry record, in the registry topic's order. A
parcel leaves memory once its deadlines have passed and it was quiet for ``release_after``
seconds of stream time, and is reloaded from the store if an event for it comes later
(:meth:`PartitionState.reload`; docs/adr/0008-stream-worker.md, "State").
"""

from __future__ import annotations

import functools
from collections.abc import Iterable

from greenshield.rules.engine import Change, PackFor, RuleCore
from greenshield.rules.model import Event, ParcelKey, RegistryRecord, Violation
from greenshield.rules.pack import RulePack
from greenshield.rules.timestamps import Instant
from greenshield.stream.watermark import PartitionClock


@functools.lru_cache(maxsize=1 << 16)
def partition_of(waybill: str, partitions: int) -> int:
    """The events partition of a waybill, as Kafka's default partitioner (murmur2) places its key."""
    from kafka.partitioner.default import murmur2

    return int(murmur2(waybill.encode()) & 0x7FFFFFFF) % partitions


class PartitionState:
    """Rule core + clock of one events partition."""

    def __init__(self, partition: int, pack: RulePack, clock: PartitionClock,
                 registry: Iterable[RegistryRecord], release_after: int, pack_for: PackFor | None = None) -> None:
        self.partition = partition
        self.core = RuleCore(pack, pack_for=pack_for)
        self.clock = clock
        self.release_after = release_after
        for record in registry:
            self.core.add_record(record)

    def knows(self, parcel: ParcelKey) -> bool:
        """Is the parcel in memory (so a new event needs no reload first)?"""
        return parcel in self.core.parcels

    def reload(self, events: Iterable[Event], verdicts: dict[ParcelKey, dict[str, Violation]]) -> None:
        """Take back stored parcels (after a restart, a rebalance or a release) with their stored verdicts."""
        for event in events:
            self.core.finalised.discard(event.parcel)
            self.core.add_event(event)
            self.clock.saw_event(event.at)
        for parcel, found in verdicts.items():
            self.core.verdicts[parcel] = dict(found)

    def add_event(self, event: Event) -> None:
        """A new accepted parcel event (its parcel is in memory or was just reloaded)."""
        self.core.finalised.discard(event.parcel)
        self.core.add_event(event)
        self.clock.saw_event(event.at)

    def add_record(self, record: RegistryRecord) -> None:
        self.core.add_record(record)

    def advance(self) -> tuple[Instant | None, list[Change]]:
        """Evaluate up to the watermark; the verdict changes since last time."""
        mark = self.clock.watermark()
        if mark is None:
            return None, []
        return mark, self.core.advance(mark, finalise=False)

    def release_quiet(self) -> int:
        """Free parcels whose deadlines have all passed and that were quiet for ``release_after``; how many."""
        mark = self.clock.mark
        if mark is None:
            return 0
        horizon = (mark[0] - self.release_after, mark[1])
        core = self.core
        quiet = []
        for key, parcel in core.parcels.items():
            events = parcel.up_to(mark)
            if len(events) < len(parcel.events) or not events or events[-1].at > horizon:
                continue
            if any(d > mark for d in core.deadlines(events)):
                continue
            quiet.append(key)
        for key in quiet:
            core.release(key)
            core.verdicts.pop(key, None)  # stored; a reload brings it back
            core.finalised.discard(key)   # a later event reloads the parcel instead (see add_event)
        return len(quiet)
