"""What a rule sees of one parcel: its events in §3.1 order up to ``as_of``, the registry, the pack.

Facts several rules need (the acceptances, the types present, the prohibited findings,
the staff each event names with their status) are derived once per view, on first use, and shared.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from greenshield.rules.model import Event
from greenshield.rules.pack import RulePack
from greenshield.rules.registry import Registry
from greenshield.rules.timestamps import Instant


@dataclass(frozen=True, slots=True)
class Hit:
    """A rule's finding: when it holds (§5 ``occurred_at``), the evidence, a message."""

    at: Instant
    evidence: tuple[str, ...]
    message: str


#: one person an event names: (the event, its role ``staff_id``/``inspector_id``, the staff id, its status then)
Responsible = tuple[Event, str, "str | None", "str | None"]


class ParcelView:
    """A parcel's events (sorted, none after ``as_of``) with the context every rule may read."""

    __slots__ = ("events", "registry", "pack", "as_of", "_acceptances", "_types", "_responsible", "_prohibited")

    def __init__(self, events: list[Event], registry: Registry, pack: RulePack, as_of: Instant) -> None:
        self.events = events
        self.registry = registry
        self.pack = pack
        self.as_of = as_of
        self._acceptances: list[Event] | None = None
        self._types: frozenset[str] | None = None
        self._responsible: list[Responsible] | None = None
        self._prohibited: list[Event] | None = None

    def acceptances(self) -> list[Event]:
        """The ``acceptance`` events, in order."""
        found = self._acceptances
        if found is None:
            found = self._acceptances = [e for e in self.events if e.type == "acceptance"]
        return found

    def types(self) -> frozenset[str]:
        """The event types present."""
        found = self._types
        if found is None:
            found = self._types = frozenset([e.type for e in self.events])
        return found

    def prohibited(self) -> list[Event]:
        """The prohibited findings (an ``xray`` or ``manual_check`` with the result ``prohibited``), in order."""
        found = self._prohibited
        if found is None:
            found = self._prohibited = [e for e in self.events if e.result == "prohibited"
                                        and (e.type == "xray" or e.type == "manual_check")]
        return found

    def responsible(self) -> list[Responsible]:
        """Each person every event names, in order: its staff, and an inspected acceptance's inspector;
        with the staff status at the event (None where no staff id is named)."""
        found = self._responsible
        if found is None:
            status = self.registry.status
            found = []
            for e in self.events:
                staff = e.staff_id
                found.append((e, "staff_id", staff, status("staff", staff, e.at) if staff is not None else None))
                a = e.acceptance
                if a is not None and a.inspected:
                    staff = a.inspector_id
                    found.append((e, "inspector_id", staff,
                                  status("staff", staff, e.at) if staff is not None else None))
            self._responsible = found
        return found

    def first_acceptance(self) -> Event | None:
        found = self.acceptances()
        return found[0] if found else None

    def staff_status(self, ident: str | None, at: Instant) -> str:
        return self.registry.status("staff", ident, at)

    def active(self, entity: str, ident: str | None, at: Instant) -> bool:
        return self.registry.is_active(entity, ident, at)

    def deadline(self, rule_id: str) -> int:
        return self.pack.deadlines[rule_id]

    def in_xray_scope(self) -> bool:
        """X-ray scope (§4): ``all``, or only parcels whose first acceptance crosses provinces."""
        if self.pack.xray_scope == "all":
            return True
        first = self.first_acceptance()
        if first is None or first.acceptance is None:
            return False
        facts = first.acceptance
        return facts.origin_region[:2] != facts.destination_region[:2]


Rule = Callable[[ParcelView], Hit | None]


def first_hit(view: ParcelView, test: Callable[[Event], str | None]) -> Hit | None:
    """The first event (in order) for which ``test`` returns a message."""
    for event in view.events:
        message = test(event)
        if message is not None:
            return Hit(event.at, (event.event_id,), message)
    return None
