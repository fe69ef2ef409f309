"""Personal data of contract §6: masked display forms, the keyed hash of an ID number, and redaction.

Redaction is a projection onto the contract's fields (§1.1-§1.3, revision 2 §8.2):
whatever else a value holds (unknown members at the top level or inside ``sender``,
``inspection`` or ``person``, case- or space-variant keys) is dropped, never kept in
plain text; :func:`extra_fields` counts what was dropped. The duplicate digest is
computed over the original value, not over this projection (contract §7).
"""

from __future__ import annotations

import hmac
from typing import Any

from greenshield.rules.documents import DOCUMENTS, trim
from greenshield.rules.formats import (
    ANY_FIELDS,
    INSPECTION_FIELDS,
    PERSON_FIELDS,
    SENDER_FIELDS,
    TOP_FIELDS,
    VERIFIED_BY,
    plain_ok,
)

PERSONAL_FIELDS = ("name", "id_number")
_MASK_STARS = 31


def mask_id_number(number: str) -> str:
    """First 3 and last 2 characters, the rest ``*``; only the last one when shorter than 8."""
    if len(number) < 8:
        return "*" * (len(number) - 1) + number[-1:]
    return number[:3] + "*" * (len(number) - 5) + number[-2:]


def mask_name(name: str) -> str:
    """The first character, the rest ``*``."""
    return name[:1] + "*" * (len(name) - 1)


def mask_text(text: str) -> str:
    """A mask for a string that may be any personal datum: at most its first character, never more.

    The first character is all that both masks of §6 show (a name's first one; an ID
    number's first three), and only from 8 characters on; beyond 32, the length is said.
    """
    n = len(text)
    if n < 8:
        return "*" * n
    shown = text[0] + "*" * min(n - 1, _MASK_STARS)
    return shown if n <= _MASK_STARS + 1 else f"{shown}...({n} characters)"


def id_hash(key: bytes, id_type: str, id_number: str) -> str:
    """HMAC-SHA-256 of the normalised (trimmed) type and number, lowercase hex.

    Total: a lone surrogate (never accepted from input, see ``parse.decode_plain``) is
    hashed as its ``surrogatepass`` bytes rather than raising.
    """
    message = f"{trim(id_type)}\x1f{trim(id_number)}".encode("utf-8", "surrogatepass")
    return hmac.digest(key, message, "sha256").hex()  # one-shot, in C: the value of hmac.new(...).hexdigest()


def _known(value: Any, allowed: Any) -> Any:
    """A sender or person's ``id_type`` / ``verified_by``: plain when one of its values, else masked."""
    if value is None or (type(value) is str and trim(value) in allowed):
        return value
    return mask_text(value) if type(value) is str else None


def _identity(doc: Any, out: dict[str, Any], key: bytes | None) -> dict[str, Any]:
    """The masked ID number (and its keyed hash) of a ``sender`` or ``person``, added to ``out``."""
    number, kind = doc.get("id_number"), doc.get("id_type")
    if type(number) is str:
        out["id_number_masked"] = mask_id_number(trim(number))
        if key is not None and type(kind) is str:
            out["id_hash"] = id_hash(key, kind, number)
    return out


def redact_sender(sender: Any, key: bytes | None = None) -> Any:
    """A ``sender`` reduced to ``id_type`` and ``verified_by`` (plain only when known values) and the
    masked name and ID number (and the keyed hash when ``key`` is given); nothing else is kept."""
    if type(sender) is not dict:
        return None if sender is None else "<redacted>"
    out: dict[str, Any] = {}
    for field, allowed in (("id_type", DOCUMENTS), ("verified_by", VERIFIED_BY)):
        if field in sender:
            out[field] = _known(sender[field], allowed)
    name = sender.get("name")
    if type(name) is str:
        out["name_masked"] = mask_name(trim(name))
    return _identity(sender, out, key)


def redact_person(person: Any, key: bytes | None = None) -> Any:
    """A registry record's ``person`` (revision 2 §8.2) masked like a sender: type, masked number, hash."""
    if type(person) is not dict:
        return None if person is None else "<redacted>"
    out: dict[str, Any] = {}
    if "id_type" in person:
        out["id_type"] = _known(person["id_type"], DOCUMENTS)
    return _identity(person, out, key)


def _json_type(value: Any) -> str:
    return "array" if type(value) is list else "object" if type(value) is dict else "number"


def _strict(name: str, value: Any) -> Any:
    """A reject payload's value: plain when it has its field's format (or is a boolean), else masked."""
    if plain_ok(name, value) or type(value) is bool:
        return value
    if type(value) is str:
        return mask_text(value)
    return f"<{_json_type(value)}>"


def _inspection(inspection: Any, strict: bool) -> Any:
    if type(inspection) is not dict:
        return None if inspection is None else "<redacted>"
    if strict:
        return {k: _strict(k, inspection[k]) for k in INSPECTION_FIELDS if k in inspection}
    return {k: inspection[k] for k in INSPECTION_FIELDS if k in inspection}


_FIELD_SETS = {kind: frozenset(fields) for kind, fields in TOP_FIELDS.items()}


def _fields(obj: dict[str, Any]) -> tuple[str, ...]:
    kind = obj.get("type")
    return (TOP_FIELDS.get(kind) if type(kind) is str else None) or ANY_FIELDS


def _nested(out: dict[str, Any], key: bytes | None, strict: bool) -> dict[str, Any]:
    """``sender``, ``inspection`` and ``person`` of a projection, redacted in place."""
    if "sender" in out:
        out["sender"] = redact_sender(out["sender"], key)
    if "inspection" in out:
        out["inspection"] = _inspection(out["inspection"], strict)
    if "person" in out:
        out["person"] = redact_person(out["person"], key)
    return out


def redact_event(obj: Any, key: bytes | None = None) -> Any:
    """The stored, served and published form of an accepted event: its contract fields only.

    ``sender`` and ``person`` are masked (and hashed when ``key`` is given); every other
    contract field is kept as it is, so :func:`greenshield.rules.parse.restore` rebuilds the
    same event. Meant for validated events; for anything else use :func:`redact_rejected`.
    Not a dict: ``None``.
    """
    if type(obj) is not dict:
        return None
    kind = obj.get("type")
    names = _FIELD_SETS.get(kind) if type(kind) is str else None
    if names is not None and obj.keys() <= names:  # the common case: nothing to drop at the top level
        if kind != "acceptance" and kind != "registry":
            return obj  # no nested object to redact: shared, as before
        return _nested(dict(obj), key, False)
    return _nested({k: obj[k] for k in _fields(obj) if k in obj}, key, False)


def redact_counting(obj: Any, key: bytes | None = None) -> tuple[Any, int]:
    """:func:`redact_event` and the number of members it dropped (:func:`extra_fields`), in one pass."""
    if type(obj) is not dict:
        return None, 0
    kind = obj.get("type")
    names = _FIELD_SETS.get(kind) if type(kind) is str else None
    if names is not None and obj.keys() <= names:  # the common case, as in redact_event
        if kind != "acceptance" and kind != "registry":
            return obj, 0
        out = dict(obj)
    else:
        out = {k: obj[k] for k in _fields(obj) if k in obj}
    dropped = len(obj) - len(out) + _nested_extra(out)
    return _nested(out, key, False), dropped


def redact_rejected(obj: Any, key: bytes | None = None) -> Any:
    """The payload of a rejected line: its contract fields only, each plain only when it has its format.

    Any other string (a failed identifier, free text such as ``category``) is masked by
    :func:`mask_text`, any other number or container replaced by ``"<number>"``,
    ``"<array>"`` or ``"<object>"``: an ID number put in any field never stays plain.
    """
    if type(obj) is not dict:
        return None
    out = {k: obj[k] if k in _OBJECTS else _strict(k, obj[k]) for k in _fields(obj) if k in obj}
    return _nested(out, key, True)


_OBJECTS = {"sender": SENDER_FIELDS, "inspection": INSPECTION_FIELDS, "person": PERSON_FIELDS}


def _nested_extra(out: dict[str, Any]) -> int:
    n = 0
    for name, allowed in _OBJECTS.items():
        doc = out.get(name)
        if type(doc) is dict:
            n += sum(1 for k in doc if k not in allowed)
    return n


def extra_fields(obj: Any) -> int:
    """How many members :func:`redact_event` drops: unknown ones at the top level and inside
    ``sender``, ``inspection`` and ``person`` (for a metric; never their names or values)."""
    if type(obj) is not dict:
        return 0
    fields = _fields(obj)
    kept = {k: obj[k] for k in fields if k in obj}
    return len(obj) - len(kept) + _nested_extra(kept)


__all__ = ["PERSONAL_FIELDS", "extra_fields", "redact_counting", "id_hash", "mask_id_number", "mask_name", "mask_text",
           "redact_event", "redact_person", "redact_rejected", "redact_sender"]
