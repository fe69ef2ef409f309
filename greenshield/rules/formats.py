"""The contract's fields and their formats (§1.1-§1.3, revision 2 §8.2), shared by validation and redaction.

:data:`TOP_FIELDS` says which top-level members each ``type`` has; anything else is
an extra field. :func:`plain_ok` says whether a value passes its own field's format,
i.e. may be kept in plain text in a reject payload.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from greenshield.rules.timestamps import TimestampError, parse_instant

EVENT_ID = re.compile(r"[A-Za-z0-9._:-]{1,64}")
WAYBILL = re.compile(r"[A-Z0-9]{8,32}")
REGION = re.compile(r"[0-9]{6}")
FORMATS: dict[str, tuple[re.Pattern[str], str]] = {
    "enterprise": (re.compile(r"E[0-9]{7}"), "E + 7 digits"),
    "site": (re.compile(r"S[0-9]{8}"), "S + 8 digits"),
    "staff": (re.compile(r"P[0-9]{8}"), "P + 8 digits"),
    "xray_machine": (re.compile(r"X[0-9]{8}"), "X + 8 digits"),
    "vehicle": (re.compile(r"V[0-9]{8}"), "V + 8 digits"),
    "contract_customer": (re.compile(r"C[0-9]{8}"), "C + 8 digits"),
    # revision 2 §8.2: a person record's id is the regulator's decision reference, never a document number
    "person": (re.compile(r"[A-Za-z0-9-]{1,32}"), "1-32 chars of [A-Za-z0-9-]"),
}
ENTITIES = frozenset(FORMATS) - {"enterprise"}
STATUSES = frozenset({"active", "suspended", "revoked", "blacklisted"})
PERSON_STATUSES = ("active", "blacklisted")  # revision 2 §8.2: blacklisted, or active (lifted)
VERIFIED_BY = frozenset({"id_reader", "face_match", "e_id", "manual"})
SENDER_FIELDS = ("name", "id_type", "id_number", "verified_by")
INSPECTION_FIELDS = ("inspector_id", "inspected_at", "result", "category")
PERSON_FIELDS = ("id_type", "id_number")

COMMON = ("v", "event_id", "type", "enterprise_id", "occurred_at")
PARCEL = COMMON + ("waybill_no", "site_id", "staff_id")
TOP_FIELDS: dict[str, tuple[str, ...]] = {
    "acceptance": PARCEL + ("sender", "contract_customer_id", "inspection", "origin_region",
                            "destination_region", "weight_g"),
    "xray": PARCEL + ("machine_id", "result", "image_ref"),
    "manual_check": PARCEL + ("result",),
    "interception": PARCEL + ("reason", "report_no"),
    "sort_scan": PARCEL,
    "depart": PARCEL + ("vehicle_id", "to_site_id"),
    "arrive": PARCEL + ("vehicle_id", "from_site_id"),
    "delivery": PARCEL + ("method",),
    "registry": COMMON + ("entity", "id", "status", "person"),
}
# a line whose type is unknown: every member any type has
ANY_FIELDS = tuple(dict.fromkeys(f for fields in TOP_FIELDS.values() for f in fields))
FREE_TEXT = frozenset({"image_ref", "reason", "report_no", "category"})
OBJECTS = frozenset({"sender", "inspection", "person"})

RESULTS = frozenset({"clear", "suspicious", "prohibited", "cleared", "passed", "refused"})
METHODS = frozenset({"hand", "locker", "station"})


def _timestamp_ok(value: str) -> bool:
    try:
        parse_instant(value)
    except TimestampError:
        return False
    return True


def _pattern(p: re.Pattern[str]) -> Callable[[str], bool]:
    return lambda s: p.fullmatch(s) is not None


def _registry_id_ok(value: str) -> bool:
    """A registry ``id`` plain in a reject payload: one of the fixed formats only. A person's decision
    reference (any 1-32 of ``[A-Za-z0-9-]``) is masked there, since a document number would pass it."""
    return any(p.fullmatch(value) for k, (p, _) in FORMATS.items() if k in ENTITIES and k != "person")


_ID = {kind: _pattern(p) for kind, (p, _) in FORMATS.items()}
STRING_CHECKS: dict[str, Callable[[str], bool]] = {
    "event_id": _pattern(EVENT_ID),
    "type": lambda s: s in TOP_FIELDS,
    "enterprise_id": _ID["enterprise"],
    "occurred_at": _timestamp_ok,
    "inspected_at": _timestamp_ok,
    "waybill_no": _pattern(WAYBILL),
    "site_id": _ID["site"],
    "to_site_id": _ID["site"],
    "from_site_id": _ID["site"],
    "staff_id": _ID["staff"],
    "inspector_id": _ID["staff"],
    "contract_customer_id": _ID["contract_customer"],
    "machine_id": _ID["xray_machine"],
    "vehicle_id": _ID["vehicle"],
    "origin_region": _pattern(REGION),
    "destination_region": _pattern(REGION),
    "result": lambda s: s in RESULTS,
    "method": lambda s: s in METHODS,
    "entity": lambda s: s in ENTITIES,
    "id": _registry_id_ok,
    "status": lambda s: s in STATUSES,
}
_SMALL_INT = 10**6


def plain_ok(name: str, value: Any) -> bool:
    """May this value of field ``name`` stay plain in a reject payload? Only when it has its field's format.

    Free text (``category``, ``reason``, ...) never does; ``v`` and ``weight_g`` are plain as
    integers (``v`` a small one, so that no long digit string is echoed); ``null`` always is.
    """
    if value is None:
        return True
    if name == "v":
        return type(value) is int and -_SMALL_INT < value < _SMALL_INT
    if name == "weight_g":
        return type(value) is int and 0 < value < 10**18
    check = STRING_CHECKS.get(name)
    return check is not None and type(value) is str and len(value) <= 64 and check(value)
