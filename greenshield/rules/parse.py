"""Decoding and validation at the edge (contract §1, §2, §7): a line becomes a typed value or a Rejection.

The sender's personal data stops here: :func:`validate` reduces ``sender`` to the
two facts the rules need (complete? document well-formed?) and keeps nothing else.
"""

from __future__ import annotations

import json
import re
from decimal import Decimal
import sys
from collections.abc import Callable
from typing import Any, cast

import orjson

from greenshield.privacy import redact_event
from greenshield.rules.documents import document_well_formed, trim
from greenshield.rules.model import TYPE_RANK, Acceptance, Event, RegistryRecord, Rejection
from greenshield.rules.timestamps import Instant, TimestampError, local_date, parse_instant

JSON_WHITESPACE = b" \t\r\n"

_EVENT_ID = re.compile(r"[A-Za-z0-9._:-]{1,64}")
_WAYBILL = re.compile(r"[A-Z0-9]{8,32}")
_REGION = re.compile(r"[0-9]{6}")
FORMATS: dict[str, tuple[re.Pattern[str], str]] = {
    "enterprise": (re.compile(r"E[0-9]{7}"), "E + 7 digits"),
    "site": (re.compile(r"S[0-9]{8}"), "S + 8 digits"),
    "staff": (re.compile(r"P[0-9]{8}"), "P + 8 digits"),
    "xray_machine": (re.compile(r"X[0-9]{8}"), "X + 8 digits"),
    "vehicle": (re.compile(r"V[0-9]{8}"), "V + 8 digits"),
    "contract_customer": (re.compile(r"C[0-9]{8}"), "C + 8 digits"),
}
ENTITIES = frozenset(FORMATS) - {"enterprise"}
STATUSES = frozenset({"active", "suspended", "revoked", "blacklisted"})
VERIFIED_BY = frozenset({"id_reader", "face_match", "e_id", "manual"})
SENDER_FIELDS = ("name", "id_type", "id_number", "verified_by")


_i = sys.intern  # identifiers repeat across events: share one string each (memory per open parcel)


# the fields every parcel event has, in Event's positional order
Base = tuple[str, str, str, Instant, str, str, str, "str | None"]


class Invalid(Exception):
    """Raised inside validation; becomes a :class:`Rejection` with this message."""


def _holds_float(value: Any) -> bool:
    """Is there a float anywhere in a parsed value? (orjson gives floats for big integers too.)"""
    if type(value) is float:
        return True
    stack = [value]
    while stack:
        node = stack.pop()
        if type(node) is dict:
            node = node.values()
        elif type(node) is not list:
            continue
        for x in node:
            t = type(x)
            if t is float:
                return True
            if t is dict or t is list:
                stack.append(x)
    return False


def decode_plain(line: bytes) -> tuple[Any, bool]:
    """Parse one JSON text (UTF-8); ``plain`` is True when it holds no number but exact integers.

    orjson does the common case. A text holding any non-integer or big number, or one
    orjson refuses, is parsed again by the stdlib on strictly decoded UTF-8, with
    non-integers kept exact as ``Decimal`` (so ``1e0`` is not an int, §7) and
    NaN/Infinity refused. Raises :class:`Invalid` saying why a text is not JSON.
    """
    try:
        obj = orjson.loads(line)
    except orjson.JSONDecodeError:
        return _decode_exact(line), False
    if _holds_float(obj):
        return _decode_exact(line), False
    return obj, True


def decode(line: bytes) -> Any:
    """Parse one JSON text; see :func:`decode_plain`."""
    return decode_plain(line)[0]


def _decode_exact(line: bytes) -> Any:
    try:
        text = line.decode("utf-8")
    except UnicodeDecodeError as err:
        raise Invalid(f"not valid JSON: not UTF-8 at byte {err.start} ({err.reason})") from None
    try:
        return json.loads(text, parse_float=Decimal, parse_int=_int_literal, parse_constant=_no_constant)
    except json.JSONDecodeError as err:
        raise Invalid(f"not valid JSON: {err.msg} at line {err.lineno} column {err.colno} (char {err.pos})") from None
    except (ValueError, RecursionError) as err:
        raise Invalid(f"not valid JSON: {err or 'nested too deeply'}") from None


class HugeInt(Decimal):
    """An integer literal too long for ``int()`` (over 4,000 digits): still a JSON integer."""


def _int_literal(text: str) -> int | Decimal:
    return int(text) if len(text) <= 4000 else HugeInt(text)


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def _type_name(value: Any) -> str:
    if value is None:
        return "null"
    return {bool: "boolean", int: "integer", HugeInt: "integer", float: "number", Decimal: "number", str: "string",
            list: "array", dict: "object"}.get(type(value), type(value).__name__)


def _string(obj: dict[str, Any], name: str, required: bool = True) -> str | None:
    value = obj.get(name)
    if value is None:
        if required:
            raise Invalid(f"missing required field {name!r}")
        return None
    if type(value) is not str:
        raise Invalid(f"field {name!r}: expected a string, got {_type_name(value)}")
    return value


def _formatted(obj: dict[str, Any], name: str, kind: str, required: bool = True) -> str | None:
    value = _string(obj, name, required)
    if value is not None:
        pattern, desc = FORMATS[kind]
        if pattern.fullmatch(value) is None:
            raise Invalid(f"field {name!r}: {value[:40]!r} is not {desc}")
    return value


def _matching(obj: dict[str, Any], name: str, pattern: re.Pattern[str], desc: str) -> str:
    value = _string(obj, name)
    assert value is not None  # required fields never come back None
    if pattern.fullmatch(value) is None:
        raise Invalid(f"field {name!r}: {value[:40]!r} is not {desc}")
    return value


def _choice(obj: dict[str, Any], name: str, allowed: tuple[str, ...]) -> str:
    value = _string(obj, name)
    if value is None or value not in allowed:
        raise Invalid(f"field {name!r}: {str(value)[:40]!r} is not one of {', '.join(allowed)}")
    return value


def _timestamp(obj: dict[str, Any], name: str) -> tuple[tuple[int, str], str]:
    text = _string(obj, name)
    assert text is not None
    try:
        return parse_instant(text), text
    except TimestampError as err:
        raise Invalid(f"field {name!r}: {err}") from None


def _object(obj: dict[str, Any], name: str) -> dict[str, Any] | None:
    value = obj.get(name)
    if value is not None and type(value) is not dict:
        raise Invalid(f"field {name!r}: expected an object, got {_type_name(value)}")
    return value


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
    sender = _object(obj, "sender")
    customer = _formatted(obj, "contract_customer_id", "contract_customer", required=False)
    inspection = _object(obj, "inspection")
    inspector = result = None
    if inspection is not None:
        inspector = _formatted(inspection, "inspector_id", "staff", required=False)
        _timestamp(inspection, "inspected_at")
        result = _choice(inspection, "result", ("passed", "refused"))
        _string(inspection, "category")
    origin = _matching(obj, "origin_region", _REGION, "a 6-digit region code")
    destination = _matching(obj, "destination_region", _REGION, "a 6-digit region code")
    weight = obj.get("weight_g")
    if weight is None:
        raise Invalid("missing required field 'weight_g'")
    if (type(weight) is not int and type(weight) is not HugeInt) or weight <= 0:
        raise Invalid(f"field 'weight_g': expected an integer > 0, got {_type_name(weight)} {str(weight)[:20]}")
    complete, document_ok = facts if facts is not None else sender_facts(sender, base[4])
    info = Acceptance(complete, document_ok, customer, inspection is not None, inspector, result,
                      origin, destination)
    return Event(*base, acceptance=info)


def _xray(obj: dict[str, Any], base: Base) -> Event:
    machine = _formatted(obj, "machine_id", "xray_machine")
    result = _choice(obj, "result", ("clear", "suspicious", "prohibited"))
    _string(obj, "image_ref", required=False)
    return Event(*base, device_id=_i(machine), result=result)  # type: ignore[arg-type]


def _manual_check(obj: dict[str, Any], base: Base) -> Event:
    return Event(*base, result=_choice(obj, "result", ("cleared", "prohibited")))


def _interception(obj: dict[str, Any], base: Base) -> Event:
    _string(obj, "reason")
    _string(obj, "report_no", required=False)
    return Event(*base)


def _sort_scan(obj: dict[str, Any], base: Base) -> Event:
    return Event(*base)


def _depart(obj: dict[str, Any], base: Base) -> Event:
    vehicle = _formatted(obj, "vehicle_id", "vehicle", required=False)
    return Event(*base, device_id=vehicle and _i(vehicle), other_site_id=_i(_formatted(obj, "to_site_id", "site")))  # type: ignore[arg-type]


def _arrive(obj: dict[str, Any], base: Base) -> Event:
    vehicle = _formatted(obj, "vehicle_id", "vehicle", required=False)
    return Event(*base, device_id=vehicle and _i(vehicle), other_site_id=_i(_formatted(obj, "from_site_id", "site")))  # type: ignore[arg-type]


def _delivery(obj: dict[str, Any], base: Base) -> Event:
    return Event(*base, result=_choice(obj, "method", ("hand", "locker", "station")))


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


def _registry(obj: dict[str, Any], enterprise: str, event_id: str, at: Any, text: str) -> RegistryRecord:
    entity = _string(obj, "entity")
    if entity not in ENTITIES:
        raise Invalid(f"field 'entity': {str(entity)[:40]!r} is not one of {', '.join(sorted(ENTITIES))}")
    ident = _formatted(obj, "id", entity)
    status = _choice(obj, "status", tuple(sorted(STATUSES)))
    return RegistryRecord(enterprise, event_id, at, text, entity, ident, status)  # type: ignore[arg-type]


def _validate(obj: Any, facts: tuple[bool, bool] | None = None) -> Event | RegistryRecord:
    if type(obj) is not dict:
        raise Invalid(f"expected a JSON object, got {_type_name(obj)}")
    v = obj.get("v")
    if v is None:
        raise Invalid("missing required field 'v'")
    if type(v) is not int and type(v) is not HugeInt:
        raise Invalid(f"field 'v': expected an integer, got {_type_name(v)}")
    if v != 1:
        raise Invalid(f"unknown contract version v={str(v)[:20]}")
    event_id = _matching(obj, "event_id", _EVENT_ID, "1-64 chars of [A-Za-z0-9._:-]")
    kind = cast(str, _string(obj, "type"))
    enterprise = cast(str, _formatted(obj, "enterprise_id", "enterprise"))
    at, text = _timestamp(obj, "occurred_at")
    if kind == "registry":
        return _registry(obj, enterprise, event_id, at, text)
    build = PARCEL_TYPES.get(kind)
    if build is None:
        raise Invalid(f"field 'type': unknown type {str(kind)[:40]!r}")
    waybill = _matching(obj, "waybill_no", _WAYBILL, "8-32 chars of [A-Z0-9]")
    site = cast(str, _formatted(obj, "site_id", "site"))
    staff = _formatted(obj, "staff_id", "staff", required=False)
    base: Base = (_i(enterprise), event_id, kind, at, text, _i(waybill), _i(site), staff and _i(staff))
    return build(obj, base) if facts is None or kind != "acceptance" else _acceptance(obj, base, facts)


_ID = {kind: pattern.fullmatch for kind, (pattern, _) in FORMATS.items()}
_SITE, _STAFF, _ENTERPRISE = _ID["site"], _ID["staff"], _ID["enterprise"]
_EVENT_ID_OK, _WAYBILL_OK = _EVENT_ID.fullmatch, _WAYBILL.fullmatch
_FAST_TYPES = PARCEL_TYPES


def _fast(obj: Any) -> Event | None:
    """The common case, checked inline: a well-formed parcel event.

    Returns ``None`` whenever anything is unusual; :func:`_validate` then decides
    and explains. It never accepts what :func:`_validate` would reject.
    """
    if type(obj) is not dict:
        return None
    get = obj.get
    v, eid, ent, wb, site, staff, text = (get("v"), get("event_id"), get("enterprise_id"), get("waybill_no"),
                                          get("site_id"), get("staff_id"), get("occurred_at"))
    if (type(v) is not int or v != 1 or type(eid) is not str or type(ent) is not str or type(wb) is not str
            or type(site) is not str or type(text) is not str or not _EVENT_ID_OK(eid)
            or not _ENTERPRISE(ent) or not _WAYBILL_OK(wb) or not _SITE(site)
            or (staff is not None and (type(staff) is not str or not _STAFF(staff)))):
        return None
    kind = get("type")
    build = _FAST_TYPES.get(kind) if type(kind) is str else None
    if build is None:
        return None
    assert type(kind) is str
    try:
        at = parse_instant(text)
        return build(obj, (_i(ent), eid, kind, at, text, _i(wb), _i(site), staff and _i(staff)))
    except (TimestampError, Invalid):
        return None


def validate(obj: Any) -> Event | RegistryRecord | Rejection:
    """A parsed JSON value as an accepted event or record, or a Rejection with its reason."""
    fast = _fast(obj)
    if fast is not None:
        return fast
    try:
        return _validate(obj)
    except Invalid as err:
        return Rejection(str(err), payload=redact_event(obj) if type(obj) is dict else None)


def restore(doc: Any, sender_complete: bool, sender_document_ok: bool) -> Event | RegistryRecord:
    """Rebuild a stored, already redacted event, trusting the sender facts decided at intake.

    Only for the system's own store: input from outside always goes through :func:`validate`.
    """
    return _validate(doc, (sender_complete, sender_document_ok))


def facts_of(item: Event | RegistryRecord) -> tuple[bool, bool]:
    """The sender facts to store beside a redacted event, for :func:`restore`."""
    a = item.acceptance if isinstance(item, Event) else None
    return (a.sender_complete, a.sender_document_ok) if a is not None else (False, False)


def parse_line(line: bytes) -> tuple[Any, Event | RegistryRecord | Rejection]:
    """Decode and validate one line; the parsed value comes back too, for de-duplication."""
    obj, item, _ = parse_line_plain(line)
    return obj, item


def parse_line_plain(line: bytes) -> tuple[Any, Event | RegistryRecord | Rejection, bool]:
    """:func:`parse_line`, plus whether the value is *plain* (see :func:`decode_plain`)."""
    try:
        obj, plain = decode_plain(line)
    except Invalid as err:
        return None, Rejection(str(err)), False
    return obj, validate(obj), plain


def is_blank(line: bytes) -> bool:
    """Contract §7: a line of JSON whitespace only is skipped, not rejected."""
    return not line.strip(JSON_WHITESPACE)
