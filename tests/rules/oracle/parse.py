"""Decoding and validation at the edge (contract §1, §2, §7): a line becomes a typed value or a Rejection.

The sender's personal data stops here: :func:`validate` reduces ``sender`` to the
two facts the rules need (complete? document well-formed?) and keeps nothing else,
and a registry record's ``person`` (revision 2 §8.2) to its keyed hash and masked number.
Total: any bytes give an accepted value or a Rejection, never a raise; a reason
names the field and the fault, never echoes a string value, and is at most
:data:`MAX_REASON` characters; a rejected line's payload is masked
(:func:`greenshield.rules.privacy.redact_rejected`). :func:`decode_stored` re-reads the
store's own documents with the same parser.
"""

from __future__ import annotations

import json
import re
import secrets
import sys
from collections.abc import Callable
from decimal import Decimal
from json.decoder import scanstring  # type: ignore[attr-defined]
from typing import Any, cast

import orjson

from .privacy import id_hash, mask_id_number, redact_rejected
from greenshield.rules.documents import DOCUMENTS, document_well_formed, trim
from greenshield.rules.formats import (
    ENTITIES, EVENT_ID as _EVENT_ID, FORMATS, PERSON_STATUSES, REGION as _REGION, SENDER_FIELDS, STATUSES,
    VERIFIED_BY, WAYBILL as _WAYBILL,
)
from greenshield.rules.model import TYPE_RANK, Acceptance, Event, RegistryRecord, Rejection
from .timestamps import Instant, TimestampError, local_date, parse_instant

JSON_WHITESPACE = b" \t\r\n"
MAX_REASON = 300  # characters: a reason is a sentence, never a copy of the input

__all__ = ["ENTITIES", "FORMATS", "SENDER_FIELDS", "STATUSES", "VERIFIED_BY", "Invalid", "HugeInt", "decode",
           "decode_plain", "decode_stored", "facts_of", "is_blank", "parse_line", "parse_line_plain", "restore",
           "sender_facts", "validate"]


_i = sys.intern  # identifiers repeat across events: share one string each (memory per open parcel)


# the fields every parcel event has, in Event's positional order
Base = tuple[str, str, str, Instant, str, str, str, "str | None"]


class Invalid(ValueError):
    """Raised inside validation; becomes a :class:`Rejection` with this message (a ValueError, so that
    callers of :func:`decode_stored` that catch ValueError for a corrupted text catch it too)."""


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
    NaN/Infinity refused; nesting deeper than the stdlib's recursion limit is parsed by
    :func:`_parse_deep` (a line is never rejected for its nesting alone). A text whose
    strings or keys hold a lone surrogate (``"\\ud800"``) is not Unicode text (I-JSON,
    RFC 7493 §2.1; RFC 8259 §8.2): orjson refuses it, and so does this function. Raises
    :class:`Invalid` saying why a text is not JSON; never anything else.
    """
    try:
        obj = orjson.loads(line)
    except orjson.JSONDecodeError:
        obj = _decode_exact(line)
        if _ESCAPED_SURROGATE.search(line) is not None:  # only \\u escapes can make one (UTF-8 cannot)
            bad = _lone_surrogate(obj)
            if bad is not None:
                raise Invalid(f"not valid JSON: lone surrogate \\u{ord(bad):04x} in a string "
                              "(I-JSON, RFC 7493 §2.1)") from None
        return obj, False
    if _holds_float(obj):
        return _decode_exact(line), False
    return obj, True


def decode(line: bytes) -> Any:
    """Parse one JSON text; see :func:`decode_plain`."""
    return decode_plain(line)[0]


def decode_stored(text: str | bytes) -> Any:
    """Re-read a document the system stored itself (a canonical doc or payload), exactly and safely.

    The same parser as :func:`decode_plain`: integers of any length (over 4,000 digits as
    :class:`HugeInt`), exact decimals, any nesting, never ``ValueError`` or
    ``RecursionError``. Unlike input, a stored text is trusted to be the store's own, so
    lone surrogates (in docs stored before they were refused) are read back, not refused.
    Raises :class:`Invalid` only for a text that is not JSON at all (a corrupted store).
    """
    line = text.encode("utf-8", "surrogatepass") if isinstance(text, str) else text
    try:
        obj = orjson.loads(line)
    except orjson.JSONDecodeError:
        try:
            return _decode_exact(line.decode("utf-8", "surrogatepass"))
        except UnicodeDecodeError as err:
            raise Invalid(f"not valid JSON: not UTF-8 at byte {err.start} ({err.reason})") from None
    return _decode_exact(line) if _holds_float(obj) else obj


_ESCAPED_SURROGATE = re.compile(rb"\\u[dD][89a-fA-F]")


def _first_lone(text: str) -> str | None:
    if text.isascii():
        return None
    try:
        text.encode("utf-8")
    except UnicodeEncodeError as err:
        return text[err.start]
    return None


def _lone_surrogate(value: Any) -> str | None:
    """The first lone surrogate in any string or key of a parsed value (iterative: any depth)."""
    stack = [value]
    while stack:
        node = stack.pop()
        kind = type(node)
        if kind is str:
            bad = _first_lone(node)
            if bad is not None:
                return bad
        elif kind is dict:
            for k, v in node.items():
                bad = _first_lone(k)
                if bad is not None:
                    return bad
                stack.append(v)
        elif kind is list:
            stack.extend(node)
    return None


def _decode_exact(line: bytes | str) -> Any:
    if isinstance(line, bytes):
        try:
            text = line.decode("utf-8")
        except UnicodeDecodeError as err:
            raise Invalid(f"not valid JSON: not UTF-8 at byte {err.start} ({err.reason})") from None
    else:
        text = line
    try:
        return json.loads(text, parse_float=Decimal, parse_int=_int_literal, parse_constant=_no_constant)
    except json.JSONDecodeError as err:
        raise Invalid(f"not valid JSON: {err.msg} at line {err.lineno} column {err.colno} (char {err.pos})") from None
    except RecursionError:
        return _parse_deep(text)
    except ValueError as err:
        raise Invalid(f"not valid JSON: {err}") from None


_WS = re.compile(r"[ \t\n\r]*")
_NUMBER = re.compile(r"(-?(?:0|[1-9][0-9]*))(\.[0-9]+)?([eE][-+]?[0-9]+)?")
_LITERALS = {"true": True, "false": False, "null": None}


def _skip(text: str, pos: int) -> int:
    """The position after the JSON whitespace at ``pos``."""
    m = _WS.match(text, pos)
    return m.end() if m is not None else pos


def _fail(msg: str, pos: int) -> Invalid:
    return Invalid(f"not valid JSON: {msg} at char {pos}")


def _atom(text: str, pos: int) -> tuple[Any, int]:
    """A string, number or literal at ``pos`` (after whitespace), and the position after it."""
    c = text[pos:pos + 1]
    if c == '"':
        try:
            found: tuple[str, int] = scanstring(text, pos + 1, True)
            return found
        except json.JSONDecodeError as err:
            raise _fail(err.msg.removesuffix(" at"), err.pos) from None
    m = _NUMBER.match(text, pos)
    if m is not None:
        whole, frac, exp = m.groups()
        number = _int_literal(whole) if not frac and not exp else Decimal(m.group())
        return number, m.end()
    for word, literal in _LITERALS.items():
        if text.startswith(word, pos):
            return literal, pos + len(word)
    if text.startswith(("NaN", "Infinity", "-Infinity"), pos):
        raise Invalid("not valid JSON: NaN and Infinity are not JSON")
    raise _fail("Expecting value", pos)


def _key(text: str, pos: int) -> tuple[str, int]:
    pos = _skip(text, pos)
    if text[pos:pos + 1] != '"':
        raise _fail("Expecting property name enclosed in double quotes", pos)
    key, pos = _atom(text, pos)
    pos = _skip(text, pos)
    if text[pos:pos + 1] != ":":
        raise _fail("Expecting ':' delimiter", pos)
    return key, pos + 1


def _parse_deep(text: str) -> Any:
    """The stdlib's reading of a JSON text (the same numbers, strings and errors) without recursion.

    Only for texts nested deeper than the stdlib's recursion limit; linear in the text.
    """
    stack: list[tuple[Any, str | None]] = []  # open containers, each with its pending key
    pos = _skip(text, 0)
    while True:
        c = text[pos:pos + 1]
        if c == "{" or c == "[":
            pos = _skip(text, pos + 1)
            if text[pos:pos + 1] == ("}" if c == "{" else "]"):
                value: Any = {} if c == "{" else []
                pos += 1
            elif c == "{":
                key, pos = _key(text, pos)
                stack.append(({}, key))
                pos = _skip(text, pos)
                continue
            else:
                stack.append(([], None))
                continue
        else:
            value, pos = _atom(text, pos)
        while True:  # a value is complete: put it in its container, close what closes
            pos = _skip(text, pos)
            if not stack:
                if pos != len(text):
                    raise _fail("Extra data", pos)
                return value
            container, pending = stack[-1]
            if pending is None:
                container.append(value)
            else:
                container[pending] = value
            c = text[pos:pos + 1]
            close = "]" if pending is None else "}"
            if c == ",":
                if pending is None:
                    pos = _skip(text, pos + 1)
                else:
                    next_key, pos = _key(text, pos + 1)
                    stack[-1] = (container, next_key)
                    pos = _skip(text, pos)
                break
            if c != close:
                raise _fail(f"Expecting ',' delimiter or '{close}'", pos)
            stack.pop()
            value, pos = container, pos + 1


class HugeInt(Decimal):
    """An integer literal too long for ``int()`` (over 4,000 digits): still a JSON integer."""


def _int_literal(text: str) -> int | Decimal:
    return int(text) if len(text) <= 4000 else HugeInt(text)


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def _describe(value: Any) -> str:
    """A value as a reason may show it: its JSON type and size; only small integers and literals as they are.

    Reasons go to reject files, topics, the store and logs, so they never echo a string
    (any of them may be personal data, and may be megabytes long).
    """
    kind = type(value)
    if value is None or kind is bool:
        return "null" if value is None else "true" if value else "false"
    if kind is int and -10**6 < value < 10**6:
        return str(value)
    if kind is int:
        try:
            return f"an integer of {len(str(abs(value)))} digits"
        except ValueError:  # over CPython's int-to-string limit (never from the parser: HugeInt)
            return "an integer of over 4300 digits"
    if kind is HugeInt:
        return f"an integer of {len(value.as_tuple().digits)} digits"
    if kind is str:
        return f"a string of {len(value)} characters"
    if kind is list:
        return f"an array of {len(value)} items"
    if kind is dict:
        return f"an object of {len(value)} members"
    return "a number"


def bounded(reason: str) -> str:
    """A reason cut to :data:`MAX_REASON` characters (a safety net: reasons are built short)."""
    return reason if len(reason) <= MAX_REASON else reason[:MAX_REASON - 3] + "..."


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
            raise Invalid(f"field {name!r}: {_describe(value)} is not {desc}")
    return value


def _matching(obj: dict[str, Any], name: str, pattern: re.Pattern[str], desc: str) -> str:
    value = _string(obj, name)
    assert value is not None  # required fields never come back None
    if pattern.fullmatch(value) is None:
        raise Invalid(f"field {name!r}: {_describe(value)} is not {desc}")
    return value


def _choice(obj: dict[str, Any], name: str, allowed: tuple[str, ...]) -> str:
    value = _string(obj, name)
    if value is None or value not in allowed:
        raise Invalid(f"field {name!r}: {_describe(value)} is not one of {', '.join(allowed)}")
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
        raise Invalid(f"field 'weight_g': expected an integer > 0, got {_describe(weight)}")
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


#: the key of the rule core's person hashes when the caller has none (``check``, the worker's registry
#: feed): they are only compared with each other, never written; the store keeps the configured key's
PROCESS_KEY = secrets.token_bytes(32)
_PERSON_INVALID = "person_invalid"


def _person_string(person: dict[str, Any], name: str) -> str:
    value = person.get(name)
    if type(value) is not str or not trim(value):
        got = _describe(value) if type(value) is str else _type_name(value)
        raise Invalid(f"{_PERSON_INVALID}: field 'person.{name}': expected a non-empty string, got {got}")
    return value


def _person(obj: dict[str, Any], text: str, stored: bool) -> tuple[str | None, str | None] | None:
    """A record's ``person`` (revision 2 §8.2) as (keyed hash, masked number); None when it has none.

    From input it must be a well-formed document (RN-2's test, on the record's date), else
    ``person_invalid``; a stored (redacted) person gives back the hash kept at intake.
    """
    person = obj.get("person")
    if person is None:
        return None
    if type(person) is not dict:
        raise Invalid(f"{_PERSON_INVALID}: field 'person': expected an object, got {_type_name(person)}")
    if stored:
        h, masked = person.get("id_hash"), person.get("id_number_masked")
        return (h if type(h) is str else None), (masked if type(masked) is str else None)
    kind, number = _person_string(person, "id_type"), _person_string(person, "id_number")
    if trim(kind) not in DOCUMENTS:
        raise Invalid(f"{_PERSON_INVALID}: field 'person.id_type': {_describe(kind)} is not a known document type")
    if not document_well_formed(kind, number, local_date(text)):
        raise Invalid(f"{_PERSON_INVALID}: field 'person.id_number': {_describe(number)} is not well-formed "
                      "for its id_type")
    return id_hash(PROCESS_KEY, kind, number), mask_id_number(trim(number))


def _registry(obj: dict[str, Any], enterprise: str, event_id: str, at: Any, text: str,
              stored: bool = False) -> RegistryRecord:
    entity = _string(obj, "entity")
    if entity not in ENTITIES:
        raise Invalid(f"field 'entity': {_describe(entity)} is not one of {', '.join(sorted(ENTITIES))}")
    ident = _formatted(obj, "id", entity)
    status = _choice(obj, "status", PERSON_STATUSES if entity == "person" else tuple(sorted(STATUSES)))
    # a person on another entity's record is an extra field: kept redacted, ignored
    person = _person(obj, text, stored) if entity in ("staff", "person") else None
    if entity == "person" and person is None:
        raise Invalid(f"{_PERSON_INVALID}: missing required field 'person'")
    hashed, masked = person if person is not None else (None, None)
    return RegistryRecord(enterprise, event_id, at, text, entity, ident, status,  # type: ignore[arg-type]
                          person=hashed, person_masked=masked)


def _validate(obj: Any, facts: tuple[bool, bool] | None = None) -> Event | RegistryRecord:
    if type(obj) is not dict:
        raise Invalid(f"expected a JSON object, got {_type_name(obj)}")
    v = obj.get("v")
    if v is None:
        raise Invalid("missing required field 'v'")
    if type(v) is not int and type(v) is not HugeInt:
        raise Invalid(f"field 'v': expected an integer, got {_type_name(v)}")
    if v != 1:
        raise Invalid(f"unknown contract version v={_describe(v)}")
    event_id = _matching(obj, "event_id", _EVENT_ID, "1-64 chars of [A-Za-z0-9._:-]")
    kind = cast(str, _string(obj, "type"))
    enterprise = cast(str, _formatted(obj, "enterprise_id", "enterprise"))
    at, text = _timestamp(obj, "occurred_at")
    if kind == "registry":
        return _registry(obj, enterprise, event_id, at, text, stored=facts is not None)
    build = PARCEL_TYPES.get(kind)
    if build is None:
        raise Invalid(f"field 'type': unknown type ({_describe(kind)})")
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
        return Rejection(bounded(str(err)), payload=redact_rejected(obj) if type(obj) is dict else None)


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
        return None, Rejection(bounded(str(err))), False
    return obj, validate(obj), plain


def is_blank(line: bytes) -> bool:
    """Contract §7: a line of JSON whitespace only is skipped, not rejected."""
    return not line.strip(JSON_WHITESPACE)
