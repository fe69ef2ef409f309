"""The fast path of validation: a well-formed event checked with one regex over its joined identifiers.

:func:`fast_validate` returns None whenever anything is unusual, and the explaining
validator (:mod:`greenshield.rules.validator`) then decides; docs/adr/0003-fast-decode.md.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from greenshield.rules.exact_json import Invalid
from greenshield.rules.formats import (
    ENTITIES,
    EVENT_ID as _EVENT_ID,
    FORMATS,
    PERSON_STATUSES,
    REGION as _REGION,
    STATUSES,
    WAYBILL as _WAYBILL,
)
from greenshield.rules.model import Acceptance, Event, RegistryRecord
from greenshield.rules.person import person_of
from greenshield.rules.timestamps import SHAPE as TIMESTAMP_SHAPE, TimestampError, instant_of_shaped
from greenshield.rules.validator import PARCEL_TYPES, Base, intern as _i, sender_facts


def _shape(*parts: str) -> Callable[[str], re.Match[str] | None]:
    """One ``fullmatch`` for several fields joined by NUL: each part is a field's format.

    No format admits a NUL, so a match holds exactly the joined NULs and every field
    matched its own format, whole.
    """
    return re.compile("\x00".join(f"(?:{p})" for p in parts)).fullmatch


_P = {kind: pattern.pattern for kind, (pattern, _) in FORMATS.items()}
_BASE = _shape(_EVENT_ID.pattern, _P["enterprise"], _WAYBILL.pattern, _P["site"], _P["staff"], TIMESTAMP_SHAPE)
_MOVE = _shape(_P["vehicle"], _P["site"])
_XRAY_MACHINE = re.compile(_P["xray_machine"]).fullmatch
_ACCEPTED = _shape(_REGION.pattern, _REGION.pattern, _P["contract_customer"])
_INSPECTED = _shape(_REGION.pattern, _REGION.pattern, _P["contract_customer"], _P["staff"], TIMESTAMP_SHAPE)
# placeholders for an absent optional identifier: any value of its format does
_NO_STAFF, _NO_VEHICLE, _NO_CUSTOMER = "P00000000", "V00000000", "C00000000"
_XRAY_RESULTS = frozenset(("clear", "suspicious", "prohibited"))
_CHECK_RESULTS = frozenset(("cleared", "prohibited"))
_INSPECTION_RESULTS = frozenset(("passed", "refused"))
_METHODS = frozenset(("hand", "locker", "station"))

Getter = Callable[[str], Any]


def _fast_acceptance(obj: dict[str, Any], get: Getter, base: Base) -> Event | None:
    sender, customer, inspection = get("sender"), get("contract_customer_id"), get("inspection")
    origin, destination, weight = get("origin_region"), get("destination_region"), get("weight_g")
    if ((sender is not None and type(sender) is not dict) or type(origin) is not str
            or type(destination) is not str or type(weight) is not int or weight <= 0):
        return None
    if customer is None:
        customer_s = _NO_CUSTOMER
    elif type(customer) is str:
        customer_s = customer
    else:
        return None
    inspector = result = None
    if inspection is None:
        if _ACCEPTED(f"{origin}\x00{destination}\x00{customer_s}") is None:
            return None
    elif type(inspection) is dict:
        iget = inspection.get
        inspector, inspected, result = iget("inspector_id"), iget("inspected_at"), iget("result")
        if (type(inspected) is not str or type(result) is not str or result not in _INSPECTION_RESULTS
                or type(iget("category")) is not str):
            return None
        if inspector is None:
            inspector_s = _NO_STAFF
        elif type(inspector) is str:
            inspector_s = inspector
        else:
            return None
        if _INSPECTED(f"{origin}\x00{destination}\x00{customer_s}\x00{inspector_s}\x00{inspected}") is None:
            return None
        try:
            instant_of_shaped(inspected)
        except TimestampError:
            return None
    else:
        return None
    complete, document_ok = sender_facts(sender, base[4])
    return Event(*base, acceptance=Acceptance(complete, document_ok, customer, inspection is not None, inspector,
                                              result, origin, destination))


def _fast_xray(obj: dict[str, Any], get: Getter, base: Base) -> Event | None:
    machine, result, image = get("machine_id"), get("result"), get("image_ref")
    if (type(machine) is not str or type(result) is not str or result not in _XRAY_RESULTS
            or (image is not None and type(image) is not str) or _XRAY_MACHINE(machine) is None):
        return None
    return Event(*base, device_id=_i(machine), result=result)


def _fast_manual_check(obj: dict[str, Any], get: Getter, base: Base) -> Event | None:
    result = get("result")
    if type(result) is not str or result not in _CHECK_RESULTS:
        return None
    return Event(*base, result=result)


def _fast_interception(obj: dict[str, Any], get: Getter, base: Base) -> Event | None:
    report = get("report_no")
    if type(get("reason")) is not str or (report is not None and type(report) is not str):
        return None
    return Event(*base)


def _fast_sort_scan(obj: dict[str, Any], get: Getter, base: Base) -> Event | None:
    return Event(*base)


def _fast_move(get: Getter, base: Base, other: str) -> Event | None:
    vehicle, site = get("vehicle_id"), get(other)
    if vehicle is None:
        vehicle_s = _NO_VEHICLE
    elif type(vehicle) is str:
        vehicle_s = vehicle
    else:
        return None
    if type(site) is not str or _MOVE(f"{vehicle_s}\x00{site}") is None:
        return None
    return Event(*base, device_id=vehicle and _i(vehicle), other_site_id=_i(site))


def _fast_depart(obj: dict[str, Any], get: Getter, base: Base) -> Event | None:
    return _fast_move(get, base, "to_site_id")


def _fast_arrive(obj: dict[str, Any], get: Getter, base: Base) -> Event | None:
    return _fast_move(get, base, "from_site_id")


def _fast_delivery(obj: dict[str, Any], get: Getter, base: Base) -> Event | None:
    method = get("method")
    if type(method) is not str or method not in _METHODS:
        return None
    return Event(*base, result=method)


_RECORD = _shape(_EVENT_ID.pattern, _P["enterprise"], TIMESTAMP_SHAPE)
_ID_OK = {kind: re.compile(pattern).fullmatch for kind, pattern in _P.items() if kind in ENTITIES}
_STATUSES = {kind: frozenset(PERSON_STATUSES if kind == "person" else STATUSES) for kind in ENTITIES}


def _fast_registry(obj: dict[str, Any], get: Getter) -> RegistryRecord | None:
    """A well-formed registry record (contract §1.3, revision 2 §8.2), or None (then the validator decides)."""
    v, eid, ent, text = get("v"), get("event_id"), get("enterprise_id"), get("occurred_at")
    entity, ident, status = get("entity"), get("id"), get("status")
    if (type(v) is not int or v != 1 or type(eid) is not str or type(ent) is not str or type(text) is not str
            or type(entity) is not str or type(ident) is not str or type(status) is not str):
        return None
    id_ok = _ID_OK.get(entity)
    if (id_ok is None or id_ok(ident) is None or status not in _STATUSES[entity]
            or _RECORD(f"{eid}\x00{ent}\x00{text}") is None):
        return None
    try:
        at = instant_of_shaped(text)
        person = person_of(obj, text, False) if entity == "staff" or entity == "person" else None
    except (TimestampError, Invalid):
        return None
    if entity == "person" and person is None:
        return None
    hashed, masked = person if person is not None else (None, None)
    return RegistryRecord(ent, eid, at, text, entity, ident, status, person=hashed, person_masked=masked)


_FAST_TYPES: dict[str, Callable[[dict[str, Any], Getter, Base], Event | None]] = {
    "acceptance": _fast_acceptance,
    "xray": _fast_xray,
    "manual_check": _fast_manual_check,
    "interception": _fast_interception,
    "sort_scan": _fast_sort_scan,
    "depart": _fast_depart,
    "arrive": _fast_arrive,
    "delivery": _fast_delivery,
}
assert set(_FAST_TYPES) == set(PARCEL_TYPES)


def fast_validate(obj: Any) -> Event | RegistryRecord | None:
    """The common case, checked inline: a well-formed parcel event.

    Returns ``None`` whenever anything is unusual; :func:`validate_or_raise` then decides
    and explains. It never accepts what :func:`validate_or_raise` would reject, and what
    it accepts is the event :func:`validate_or_raise` would build
    (tests/rules/test_fast_decode.py pins both against the earlier decoder, kept as an oracle).
    """
    if type(obj) is not dict:
        return None
    get = obj.get
    kind = get("type")
    build = _FAST_TYPES.get(kind) if type(kind) is str else None
    if build is None:
        return _fast_registry(obj, get) if kind == "registry" else None
    v, eid, ent, wb, site, staff, text = (get("v"), get("event_id"), get("enterprise_id"), get("waybill_no"),
                                          get("site_id"), get("staff_id"), get("occurred_at"))
    if (type(v) is not int or v != 1 or type(eid) is not str or type(ent) is not str or type(wb) is not str
            or type(site) is not str or type(text) is not str):
        return None
    if staff is None:
        staff_s = _NO_STAFF
    elif type(staff) is str:
        staff_s = staff
    else:
        return None
    if _BASE(f"{eid}\x00{ent}\x00{wb}\x00{site}\x00{staff_s}\x00{text}") is None:
        return None
    try:
        at = instant_of_shaped(text)
    except TimestampError:
        return None
    assert type(kind) is str
    return build(obj, get, (_i(ent), eid, kind, at, text, _i(wb), _i(site), staff and _i(staff)))
