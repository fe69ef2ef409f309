"""Typed values of the rule core: events, registry records, violations, rejections."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from greenshield.rules.timestamps import Instant, format_utc

# contract §3.1: the type rank that breaks ties at the same instant
TYPE_RANK: dict[str, int] = {
    "acceptance": 0,
    "xray": 1,
    "manual_check": 2,
    "interception": 3,
    "sort_scan": 4,
    "depart": 5,
    "arrive": 6,
    "delivery": 7,
}
#: contract §8.1: a parcel is ``(enterprise_id, waybill_no)``; the same waybill of two enterprises is two parcels
ParcelKey = tuple[str, str]
DOWNSTREAM = frozenset({"sort_scan", "depart", "arrive", "delivery"})
TERMINAL = frozenset({"delivery", "interception"})


class Acceptance:
    """What the rules need of an ``acceptance``; the sender is already reduced to two flags."""

    __slots__ = (
        "sender_complete", "sender_document_ok", "contract_customer_id",
        "inspected", "inspector_id", "inspection_result", "origin_region", "destination_region",
    )

    def __init__(
        self, sender_complete: bool, sender_document_ok: bool, contract_customer_id: str | None,
        inspected: bool, inspector_id: str | None, inspection_result: str | None,
        origin_region: str, destination_region: str,
    ) -> None:
        self.sender_complete = sender_complete
        self.sender_document_ok = sender_document_ok
        self.contract_customer_id = contract_customer_id
        self.inspected = inspected
        self.inspector_id = inspector_id
        self.inspection_result = inspection_result
        self.origin_region = origin_region
        self.destination_region = destination_region


class Event:
    """One accepted parcel event (contract §1.2), free of personal data.

    ``device_id`` is the ``machine_id`` of an ``xray`` or the ``vehicle_id`` of a
    ``depart``/``arrive``; ``other_site_id`` is ``to_site_id``/``from_site_id``.
    """

    __slots__ = (
        "enterprise_id", "event_id", "type", "rank", "at", "occurred_at", "waybill_no",
        "site_id", "staff_id", "device_id", "result", "other_site_id", "acceptance",
    )

    def __init__(
        self, enterprise_id: str, event_id: str, type: str, at: Instant, occurred_at: str,
        waybill_no: str, site_id: str, staff_id: str | None, device_id: str | None = None,
        result: str | None = None, other_site_id: str | None = None,
        acceptance: Acceptance | None = None,
    ) -> None:
        self.enterprise_id = enterprise_id
        self.event_id = event_id
        self.type = type
        self.rank = TYPE_RANK[type]
        self.at = at
        self.occurred_at = occurred_at
        self.waybill_no = waybill_no
        self.site_id = site_id
        self.staff_id = staff_id
        self.device_id = device_id
        self.result = result
        self.other_site_id = other_site_id
        self.acceptance = acceptance

    @property
    def parcel(self) -> ParcelKey:
        """The parcel this event belongs to (contract §8.1)."""
        return (self.enterprise_id, self.waybill_no)

    def order(self) -> tuple[Instant, int, str, str]:
        """The §3.1 sort key; the enterprise tie-break of §7 is moot within one parcel (§8.1), kept harmless."""
        return (self.at, self.rank, self.event_id, self.enterprise_id)

    def __repr__(self) -> str:
        return f"Event({self.type} {self.waybill_no} {self.event_id} @{self.occurred_at})"


@dataclass(frozen=True, slots=True)
class RegistryRecord:
    """A registry record (contract §1.3); ``seq`` is its arrival position, the tie-break.

    ``person`` (revision 2 §8.2, ``staff`` and ``person`` records) is the keyed hash of the
    person's normalised ID number, ``person_masked`` its masked form; the plain number is
    never kept.
    """

    enterprise_id: str
    event_id: str
    at: Instant
    occurred_at: str
    entity: str
    id: str
    status: str
    seq: int = 0
    person: str | None = None
    person_masked: str | None = None


@dataclass(frozen=True, slots=True)
class Violation:
    """One flagged ``(enterprise_id, waybill_no, rule_id)`` (contract §8.1), as contract §5 outputs it."""

    waybill_no: str
    rule_id: str
    enterprise_id: str
    severity: str
    at: Instant
    evidence: tuple[str, ...]
    message: str
    rule_pack: str

    @property
    def key(self) -> tuple[str, str, str]:
        """The violation's identity (contract §8.1)."""
        return (self.enterprise_id, self.waybill_no, self.rule_id)

    @property
    def parcel(self) -> ParcelKey:
        return (self.enterprise_id, self.waybill_no)

    def to_dict(self) -> dict[str, Any]:
        return {
            "waybill_no": self.waybill_no,
            "rule_id": self.rule_id,
            "enterprise_id": self.enterprise_id,
            "severity": self.severity,
            "occurred_at": format_utc(self.at),
            "evidence": list(self.evidence),
            "message": self.message,
            "rule_pack": self.rule_pack,
        }


@dataclass(frozen=True, slots=True)
class Rejection:
    """An input kept out of every rule (contract §2), with where and why."""

    reason: str
    payload: dict[str, Any] | None = None
    key: tuple[str, str] | None = None
