"""What a rule sees of one parcel: its events in §3.1 order up to ``as_of``, the registry, the pack."""

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


@dataclass(frozen=True, slots=True)
class ParcelView:
    """A parcel's events (sorted, none after ``as_of``) with the context every rule may read."""

    events: list[Event]
    registry: Registry
    pack: RulePack
    as_of: Instant

    def first_acceptance(self) -> Event | None:
        return next((e for e in self.events if e.type == "acceptance"), None)

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
