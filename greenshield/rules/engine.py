"""The incremental rule core shared by the batch checker and the stream worker.

Feed events and registry records one at a time, in any order; :meth:`RuleCore.advance`
tells which verdicts changed as of an instant (``as_of`` is the only "now"). A parcel's
lifecycle and the per-parcel packs: docs/adr/0009-rule-core-lifecycle.md.
"""

from __future__ import annotations

import heapq
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass

from greenshield.rules.catalog import RULES
from greenshield.rules.model import TERMINAL, Event, ParcelKey, RegistryRecord, Violation
from greenshield.rules.pack import RulePack
from greenshield.rules.registry import Registry
from greenshield.rules.timestamps import Instant, add_seconds
from greenshield.rules.view import ParcelView, Rule


@dataclass(frozen=True, slots=True)
class Change:
    """A verdict change: ``opened``, ``updated`` (same key, new details) or ``retracted``."""

    kind: str
    violation: Violation


class Parcel:
    """The events of one parcel, ``(enterprise_id, waybill_no)`` (contract §8.1), kept sorted lazily."""

    __slots__ = ("events", "sorted")

    def __init__(self) -> None:
        self.events: list[Event] = []
        self.sorted = True

    def add(self, event: Event) -> None:
        events = self.events
        if events and self.sorted:
            last = events[-1]
            if event.at <= last.at and event.order() < last.order():  # the full key only on a tie or worse
                self.sorted = False
        events.append(event)

    def up_to(self, as_of: Instant) -> list[Event]:
        if not self.sorted:
            self.events.sort(key=Event.order)
            self.sorted = True
        events = self.events
        if events and events[-1].at > as_of:
            return [e for e in events if e.at <= as_of]
        return events


def references(event: Event) -> Iterator[tuple[str, str]]:
    """The registry entities an event's verdict depends on."""
    if event.staff_id is not None:
        yield "staff", event.staff_id
    if event.device_id is not None:
        yield ("xray_machine" if event.type == "xray" else "vehicle"), event.device_id
    a = event.acceptance
    if a is not None:
        if a.inspector_id is not None:
            yield "staff", a.inspector_id
        if a.contract_customer_id is not None:
            yield "contract_customer", a.contract_customer_id


#: a parcel's pack from its enterprise and the instant of its first event (in §3.1 order)
PackFor = Callable[[str, Instant], RulePack]


class RuleCore:
    """Per-parcel state plus the registry; memory grows with open parcels only.

    Every parcel is keyed by :data:`~greenshield.rules.model.ParcelKey`: events of one
    waybill from two enterprises are two parcels, judged apart (contract §8.1).
    """

    def __init__(self, pack: RulePack, rules: dict[str, Rule] | None = None,
                 track_references: bool = True, pack_for: PackFor | None = None) -> None:
        """``track_references=False`` skips the index that lets a late registry record
        re-evaluate parcels: for callers that evaluate only once everything is in."""
        self._chosen = RULES if rules is None else rules
        self.pack = pack
        self.pack_for = pack_for
        self._rules: dict[int, tuple[RulePack, list[tuple[str, Rule, str]]]] = {}
        self.rules = self.rules_of(pack)
        self.registry = Registry()
        self.parcels: dict[ParcelKey, Parcel] = {}
        self.verdicts: dict[ParcelKey, dict[str, Violation]] = {}
        self.finalised: set[ParcelKey] = set()
        self._refs: dict[tuple[str, str], set[ParcelKey]] = {}
        self._dirty: set[ParcelKey] = set()
        self._deadlines: list[tuple[Instant, ParcelKey]] = []
        self._track = track_references

    def add_event(self, event: Event) -> bool:
        """Take a parcel event; False when its parcel was already finalised (too late to count)."""
        key = (event.enterprise_id, event.waybill_no)  # event.parcel, without the property call
        if key in self.finalised:
            return False
        parcel = self.parcels.get(key)
        if parcel is None:
            parcel = self.parcels[key] = Parcel()
            parcel.events.append(event)
        else:
            parcel.add(event)
        self._dirty.add(key)
        if self._track:
            for ref in references(event):
                self._refs.setdefault(ref, set()).add(key)
        return True

    def add_record(self, record: RegistryRecord) -> None:
        """Take a registry version; the open parcels that name its entity are re-evaluated
        (for a ``person`` record: those naming any staff id that person held)."""
        self.registry.add(record)
        for key in self.registry.reach(record):
            self._dirty.update(self._refs.get(key, ()))

    def evaluate(self, key: ParcelKey, as_of: Instant) -> dict[str, Violation]:
        """The parcel's violations once every event up to ``as_of`` is known."""
        parcel = self.parcels.get(key)
        events = parcel.up_to(as_of) if parcel is not None else []
        if not events:
            return {}
        (enterprise, waybill) = key
        pack = self.pack if self.pack_for is None else self.pack_for(enterprise, events[0].at)
        view = ParcelView(events, self.registry, pack, as_of)
        found: dict[str, Violation] = {}
        for rule_id, rule, severity in self.rules_of(pack):
            hit = rule(view)
            if hit is not None:
                found[rule_id] = Violation(waybill, rule_id, enterprise, severity, hit.at,
                                           hit.evidence, hit.message, pack.label)
        return found

    def rules_of(self, pack: RulePack) -> list[tuple[str, Rule, str]]:
        """The enabled rules of a pack with their severities (kept per pack object)."""
        kept = self._rules.get(id(pack))
        if kept is None or kept[0] is not pack:
            chosen = self._chosen
            kept = self._rules[id(pack)] = (pack, [(rid, fn, pack.severity[rid]) for rid, fn in chosen.items()
                                                   if rid in pack.enabled])
        return kept[1]

    def revisit(self, enterprise_id: str) -> int:
        """Re-evaluate the enterprise's open parcels at the next :meth:`advance` (its grade changed); how many."""
        keys = [k for k in self.parcels if k[0] == enterprise_id]
        self._dirty.update(keys)
        return len(keys)

    def advance(self, as_of: Instant, finalise: bool = True) -> list[Change]:
        """Re-evaluate what may have changed up to ``as_of``; return the verdict changes.

        With ``finalise``, parcels whose verdict can no longer change are released.
        """
        while self._deadlines and self._deadlines[0][0] <= as_of:
            self._dirty.add(heapq.heappop(self._deadlines)[1])
        dirty, self._dirty = self._dirty, set()
        changes: list[Change] = []
        for key in sorted(dirty):  # (enterprise_id, waybill_no)
            if key in self.parcels:
                changes.extend(self._publish(key, self.evaluate(key, as_of)))
                self._schedule(key, as_of, finalise)
        return changes

    def _publish(self, key: ParcelKey, new: dict[str, Violation]) -> Iterable[Change]:
        old = self.verdicts.get(key, {})
        for rule_id, v in new.items():
            before = old.get(rule_id)
            if before is None:
                yield Change("opened", v)
            elif before != v:
                yield Change("updated", v)
        for rule_id, v in old.items():
            if rule_id not in new:
                yield Change("retracted", v)
        if new:
            self.verdicts[key] = new
        else:
            self.verdicts.pop(key, None)

    def _schedule(self, key: ParcelKey, as_of: Instant, finalise: bool) -> None:
        """Wake the parcel at its next deadline, or when the clock reaches an event not yet counted."""
        parcel = self.parcels[key]
        events = parcel.up_to(as_of)
        upcoming = [d for d in self.deadlines(events) if d > as_of]
        if len(events) < len(parcel.events):
            upcoming.append(parcel.events[len(events)].at)
        if upcoming:
            heapq.heappush(self._deadlines, (min(upcoming), key))
        elif finalise and any(e.type in TERMINAL for e in events):
            self.release(key)

    def deadlines(self, events: list[Event]) -> Iterator[Instant]:
        """Every instant at which a deadline rule could fire for these events."""
        d = self.pack.deadlines
        if events:
            yield add_seconds(events[0].at, d["TR-1"])
        for e in events:
            if e.type == "acceptance":
                yield add_seconds(e.at, d["XR-4"])
            elif e.result == "prohibited":
                yield add_seconds(e.at, d["PH-2"])

    def release(self, key: ParcelKey) -> None:
        """Drop a finalised parcel's state; its published verdict stays in :attr:`verdicts`."""
        parcel = self.parcels.pop(key)
        self.finalised.add(key)
        self._dirty.discard(key)
        if not self._track:
            return
        for event in parcel.events:
            for ref in references(event):
                holders = self._refs.get(ref)
                if holders is not None:
                    holders.discard(key)
                    if not holders:
                        del self._refs[ref]

    def open_violations(self) -> Iterator[Violation]:
        for found in self.verdicts.values():
            yield from found.values()
