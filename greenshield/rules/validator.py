"""The explaining validator (contract §1, §2): a parsed value as an event or record, or :class:`Invalid` saying why.

The sender's personal data stops here: :func:`sender_facts` reduces ``sender`` to the
two facts the rules need (complete? document well-formed?).
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from typing import Any, cast

from greenshield.rules.documents import document_well_formed, trim
from greenshield.rules.exact_json import HugeInt, Invalid
from greenshield.rules.fields import (
    choice_field,
    formatted_field,
    matching_field,
    object_field,
    string_field,
    timestamp_field,
)
from greenshield.rules.formats import (
    ENTITIES,
    EVENT_ID as _EVENT_ID,
    PERSON_STATUSES,
    REGION as _REGION,
    SENDER_FIELDS,
    STATUSES,
    VERIFIED_BY,
    WAYBILL as _WAYBILL,
)
from greenshield.rules.model import TYPE_RANK, Acceptance, Event, RegistryRecord
from greenshield.rules.person import PERSON_INVALID, person_of
from greenshield.rules.reasons import describe, type_name
from greenshield.rules.timestamps import Instant, local_date

intern = sys.intern  # identifiers repeat across events: share one string each (memory per open parcel)

# the fields every parcel event has, in Event's positional order
Base = tuple[str, str, str, Instant, str, str, str, "str | None"]


def sender_facts(sender: dict[str, Any] | None, occurred_at: str) -> tuple[bool, bool]:
    """(complete, document well-formed) of a ``sender``; incomplete senders are never rejected."""
    if sender is None:
        return False, False
    for name in SENDER_FIELDS:
        value = sender.get(name)
        if type(value) is not str or not trim(value):
            return False, False
    if trim(sender["verified_by"]) not in VERIFIED_BY:
        return False, False
    ok = document_well_formed(sender["id_type"], sender["id_number"], local_date(occurred_at))
    return True, ok


def _acceptance(obj: dict[str, Any], base: Base, facts: tuple[bool, bool] | None = None) -> Event:
    sender = object_field(obj, "sender")
    customer = formatted_field(obj, "contract_customer_id", "contract_customer", required=False)
    inspection = object_field(obj, "inspection")
    inspector = result = None
    if inspection is not None:
        inspector = formatted_field(inspection, "inspector_id", "staff", required=False)
        timestamp_field(inspection, "inspected_at")
        result = choice_field(inspection, "result", ("passed", "refused"))
        string_field(inspection, "category")
    origin = matching_field(obj, "origin_region", _REGION, "a 6-digit region code")
    destination = matching_field(obj, "destination_region", _REGION, "a 6-digit region code")
    weight = obj.get("weight_g")
    if weight is None:
        raise Invalid("missing required field 'weight_g'")
    if (type(weight) is not int and type(weight) is not HugeInt) or weight <= 0:
        raise Invalid(f"field 'weight_g': expected an integer > 0, got {describe(weight)}")
    complete, document_ok = facts if facts is not None else sender_facts(sender, base[4])
    info = Acceptance(complete, document_ok, customer, inspection is not None, inspector, result,
                      origin, destination)
    return Event(*base, acceptance=info)


def _xray(obj: dict[str, Any], base: Base) -> Event:
    machine = formatted_field(obj, "machine_id", "xray_machine")
    result = choice_field(obj, "result", ("clear", "suspicious", "prohibited"))
    string_field(obj, "image_ref", required=False)
    return Event(*base, device_id=intern(machine), result=result)  # type: ignore[arg-type]


def _manual_check(obj: dict[str, Any], base: Base) -> Event:
    return Event(*base, result=choice_field(obj, "result", ("cleared", "prohibited")))


def _interception(obj: dict[str, Any], base: Base) -> Event:
    string_field(obj, "reason")
    string_field(obj, "report_no", required=False)
    return Event(*base)


def _sort_scan(obj: dict[str, Any], base: Base) -> Event:
    return Event(*base)


def _depart(obj: dict[str, Any], base: Base) -> Event:
    vehicle = formatted_field(obj, "vehicle_id", "vehicle", required=False)
    other = formatted_field(obj, "to_site_id", "site")
    return Event(*base, device_id=vehicle and intern(vehicle), other_site_id=intern(other))  # type: ignore[arg-type]


def _arrive(obj: dict[str, Any], base: Base) -> Event:
    vehicle = formatted_field(obj, "vehicle_id", "vehicle", required=False)
    other = formatted_field(obj, "from_site_id", "site")
    return Event(*base, device_id=vehicle and intern(vehicle), other_site_id=intern(other))  # type: ignore[arg-type]


def _delivery(obj: dict[str, Any], base: Base) -> Event:
    return Event(*base, result=choice_field(obj, "method", ("hand", "locker", "station")))


PARCEL_TYPES: dict[str, Callable[[dict[str, Any], Base], Event]] = {
    "acceptance": _acceptance,
    "xray": _xray,
    "manual_check": _manual_check,
    "interception": _interception,
    "sort_scan": _sort_scan,
    "depart": _depart,
    "arrive": _arrive,
    "delivery": _delivery,
}
assert set(PARCEL_TYPES) == set(TYPE_RANK)


def _registry(obj: dict[str, Any], enterprise: str, event_id: str, at: Any, text: str,
              stored: bool = False) -> RegistryRecord:
    entity = string_field(obj, "entity")
    if entity not in ENTITIES:
        raise Invalid(f"field 'entity': {describe(entity)} is not one of {', '.join(sorted(ENTITIES))}")
    ident = formatted_field(obj, "id", entity)
    status = choice_field(obj, "status", PERSON_STATUSES if entity == "person" else tuple(sorted(STATUSES)))
    # a person on another entity's record is an extra field: kept redacted, ignored
    person = person_of(obj, text, stored) if entity in ("staff", "person") else None
    if entity == "person" and person is None:
        raise Invalid(f"{PERSON_INVALID}: missing required field 'person'")
    hashed, masked = person if person is not None else (None, None)
    return RegistryRecord(enterprise, event_id, at, text, entity, ident, status,  # type: ignore[arg-type]
                          person=hashed, person_masked=masked)


def validate_or_raise(obj: Any, facts: tuple[bool, bool] | None = None) -> Event | RegistryRecord:
    """A parsed value as an event or record, or :class:`Invalid` with the reason; ``facts`` (a stored doc's
    sender facts) mark a redacted doc of the store's own, whose sender and person were decided at intake."""
    if type(obj) is not dict:
        raise Invalid(f"expected a JSON object, got {type_name(obj)}")
    v = obj.get("v")
    if v is None:
        raise Invalid("missing required field 'v'")
    if type(v) is not int and type(v) is not HugeInt:
        raise Invalid(f"field 'v': expected an integer, got {type_name(v)}")
    if v != 1:
        raise Invalid(f"unknown contract version v={describe(v)}")
    event_id = matching_field(obj, "event_id", _EVENT_ID, "1-64 chars of [A-Za-z0-9._:-]")
    kind = cast(str, string_field(obj, "type"))
    enterprise = cast(str, formatted_field(obj, "enterprise_id", "enterprise"))
    at, text = timestamp_field(obj, "occurred_at")
    if kind == "registry":
        return _registry(obj, enterprise, event_id, at, text, stored=facts is not None)
    build = PARCEL_TYPES.get(kind)
    if build is None:
        raise Invalid(f"field 'type': unknown type ({describe(kind)})")
    waybill = matching_field(obj, "waybill_no", _WAYBILL, "8-32 chars of [A-Z0-9]")
    site = cast(str, formatted_field(obj, "site_id", "site"))
    staff = formatted_field(obj, "staff_id", "staff", required=False)
    base: Base = (intern(enterprise), event_id, kind, at, text, intern(waybill), intern(site),
                  staff and intern(staff))
    return build(obj, base) if facts is None or kind != "acceptance" else _acceptance(obj, base, facts)
