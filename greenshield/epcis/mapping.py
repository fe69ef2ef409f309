"""Stored parcel events to EPCIS 2.0 ``ObjectEvent``s and documents (pure; the table is in docs/epcis.md).

Input is an event as the trace queries return it (redacted, contract §6): only
identifiers and enumerated values are carried over, never the sender (not even
masked) nor free text (an interception's reason, an inspection's category).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import Any

from greenshield.epcis.hashid import event_hash_id

EPCIS_CONTEXT = "https://ref.gs1.org/standards/epcis/2.0.0/epcis-context.jsonld"
NAMESPACE = "https://greenshield.example/epcis/"
ID_BASE = "https://greenshield.example/id/"
CONTEXT: list[Any] = [EPCIS_CONTEXT, {"gs": NAMESPACE}]

# our event type → (CBV bizStep, disposition by result (None: any result), does the parcel stay at the site)
STEPS: dict[str, tuple[str, dict[str | None, str | None], bool]] = {
    "acceptance": ("accepting", {None: "in_progress", "refused": "non_conformant"}, True),
    "xray": ("inspecting", {"clear": "conformant", "suspicious": "in_progress", "prohibited": "non_conformant"}, True),
    "manual_check": ("inspecting", {"cleared": "conformant", "prohibited": "non_conformant"}, True),
    "interception": ("holding", {None: "non_conformant"}, True),
    "sort_scan": ("staging_outbound", {None: "in_progress"}, True),
    "depart": ("departing", {None: "in_transit"}, False),
    "arrive": ("arriving", {None: "in_progress"}, True),
    "delivery": ("receiving", {None: None}, True),
}
_OFFSET = re.compile(r"([+-]\d{2}:\d{2}|[Zz])$")


def parcel_uri(enterprise_id: str, waybill_no: str) -> str:
    """A parcel (contract §8.1: one enterprise's waybill) as an EPC in our private URI namespace."""
    return f"{ID_BASE}parcel/{enterprise_id}/{waybill_no}"


def site_uri(site_id: str) -> str:
    return f"{ID_BASE}site/{site_id}"


def time_zone_offset(occurred_at: str) -> str:
    """The ``±hh:mm`` offset an RFC 3339 timestamp was written with (``Z`` is ``+00:00``)."""
    found = _OFFSET.search(occurred_at)
    if found is None:
        raise ValueError("occurred_at has no offset")
    return "+00:00" if found.group(1) in ("Z", "z") else found.group(1)


def _disposition(ev: Mapping[str, Any]) -> str | None:
    _, by_result, _ = STEPS[ev["type"]]
    result = ev.get("result")
    if ev["type"] == "acceptance":
        inspection = ev.get("inspection")
        result = inspection.get("result") if isinstance(inspection, dict) else None
    return by_result.get(result, by_result.get(None))


def _extensions(ev: Mapping[str, Any]) -> dict[str, Any]:
    """Who and with what (EPCIS has no "who"; 可倒查 needs it), in the ``gs:`` namespace."""
    out: dict[str, Any] = {"gs:enterpriseID": ev["enterprise_id"], "gs:eventRef": ev["event_id"]}
    if ev.get("staff_id"):
        out["gs:staffID"] = ev["staff_id"]
    for key, name in (("machine_id", "gs:machineID"), ("vehicle_id", "gs:vehicleID"), ("method", "gs:deliveryMethod")):
        if ev.get(key):
            out[name] = ev[key]
    if ev["type"] in ("xray", "manual_check") and ev.get("result"):
        out["gs:result"] = ev["result"]
    inspection = ev.get("inspection") if ev["type"] == "acceptance" else None
    if isinstance(inspection, dict):
        if isinstance(inspection.get("inspector_id"), str):
            out["gs:inspectorID"] = inspection["inspector_id"]
        if inspection.get("result") in ("passed", "refused"):
            out["gs:inspectionResult"] = inspection["result"]
    return out


def object_event(ev: Mapping[str, Any]) -> dict[str, Any]:
    """The EPCIS 2.0 ObjectEvent of one stored parcel event, its ``eventID`` the CBV 2.0 event hash ID."""
    biz_step, _, stays = STEPS[ev["type"]]
    out: dict[str, Any] = {
        "type": "ObjectEvent",
        "eventTime": ev["occurred_at"],
        "eventTimeZoneOffset": time_zone_offset(ev["occurred_at"]),
        "epcList": [parcel_uri(ev["enterprise_id"], ev["waybill_no"])],
        "action": "ADD" if ev["type"] == "acceptance" else "OBSERVE",
        "bizStep": biz_step,
    }
    disposition = _disposition(ev)
    if disposition:
        out["disposition"] = disposition
    out["readPoint"] = {"id": site_uri(ev["site_id"])}
    if stays and not (ev["type"] == "delivery" and ev.get("method") == "hand"):
        out["bizLocation"] = {"id": site_uri(ev["site_id"])}
    if ev["type"] == "depart" and ev.get("to_site_id"):
        out["destinationList"] = [{"type": "location", "destination": site_uri(ev["to_site_id"])}]
    if ev["type"] == "arrive" and ev.get("from_site_id"):
        out["sourceList"] = [{"type": "location", "source": site_uri(ev["from_site_id"])}]
    out.update(_extensions(ev))
    return {"eventID": event_hash_id(out, CONTEXT), **out}


def document(events: Iterable[Mapping[str, Any]], created: str, extra: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """An EPCISDocument of the parcel events (other types are skipped), created at ``created`` (RFC 3339)."""
    return {
        "@context": CONTEXT,
        "type": "EPCISDocument",
        "schemaVersion": "2.0",
        "creationDate": created,
        **(extra or {}),
        "epcisBody": {"eventList": [object_event(ev) for ev in events if ev.get("type") in STEPS]},
    }
