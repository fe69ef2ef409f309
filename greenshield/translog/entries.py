"""The audit log's entries: canonical bytes derived from stored rows, free of personal data.

One function per kind (event, violation, query, reject, and the records of
:data:`RECORD_KEYS`), and the sender commitments that bind personal fields until
``audit purge`` erases them. :mod:`greenshield.store.verify` re-derives every entry from
its row with these functions. The forms: docs/adr/0010-audit-log-forms.md.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from decimal import Decimal
from typing import Any

import orjson

from greenshield.rules.exact_json import decode_stored

PERSONAL_STORED = ("name_masked", "id_number_masked", "id_hash")
_SORT = orjson.OPT_SORT_KEYS


def _exact_number(value: Any) -> Any:
    """Numbers the exact parser kept as Decimal are written as the JSON number text they were."""
    if isinstance(value, Decimal):
        return orjson.Fragment(str(value))
    raise TypeError(f"{type(value).__name__} is not JSON")


def canonical(value: Any) -> bytes:
    """Canonical JSON bytes of a value (sorted keys, no whitespace)."""
    try:
        return orjson.dumps(value, default=_exact_number, option=_SORT)
    except orjson.JSONEncodeError:  # integers beyond 64 bits, lone surrogates: the stdlib encoder
        return json.dumps(value, sort_keys=True, separators=(",", ":"), default=str).encode()


def loads(text: str | bytes) -> Any:
    """Parse stored JSON exactly (the inverse of :func:`canonical`): any depth, integers of any length."""
    try:
        return orjson.loads(text)
    except orjson.JSONDecodeError:
        return decode_stored(text)


def _h(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def split_sender(doc: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any] | None]:
    """The doc without the sender's personal fields, and those fields (None without a sender)."""
    sender = doc.get("sender")
    if not isinstance(sender, dict):
        return doc, None
    personal = {k: sender[k] for k in PERSONAL_STORED if k in sender}
    public = dict(doc)
    public["sender"] = {k: v for k, v in sender.items() if k not in PERSONAL_STORED}
    return public, personal


def sender_commitment(enterprise_id: str, event_id: str, personal: dict[str, Any] | None) -> str | None:
    if personal is None:
        return None
    return _h(b"greenshield-sender\x00" + f"{enterprise_id}\x00{event_id}\x00".encode() + canonical(personal))


def event_commitment(enterprise_id: str, event_id: str, personal: dict[str, Any] | None,
                     digest: bytes | None) -> str | None:
    """The commitment of an event's erasable fields: its sender's personal fields and its digest."""
    if personal is None:
        return None
    return _h(b"greenshield-sender\x00" + f"{enterprise_id}\x00{event_id}\x00".encode() + canonical(personal)
              + b"\x00" + (digest or b""))


def event_entry(enterprise_id: str, event_id: str, type_: str, public: dict[str, Any], commitment: str | None,
                facts: tuple[bool, bool], *, digest: bytes | None = None, source: str = "",
                position: int = 0) -> bytes:
    """An event's entry; ``digest`` goes in only when there is no sender commitment (which binds it then)."""
    shown = digest.hex() if digest is not None and commitment is None else None
    return canonical({"v": 2, "kind": "event", "enterprise_id": enterprise_id, "event_id": event_id,
                      "type": type_, "content": _h(canonical(public)), "sender": commitment,
                      "sender_facts": [bool(facts[0]), bool(facts[1])], "digest": shown,
                      "source": source, "position": int(position)})


def split_payload(text: str | None) -> tuple[bytes, dict[str, Any] | None]:
    """Canonical bytes of a stored reject payload without the sender's personal fields, and those fields."""
    if text is None:
        return b"null", None
    try:
        value = loads(text)
        if not isinstance(value, dict):
            return canonical(value), None
        public, personal = split_sender(value)
        return canonical(public), personal
    except (ValueError, TypeError, RecursionError):
        return text.encode("utf-8", "surrogatepass"), None


def reject_entry(row: Mapping[str, Any]) -> bytes:
    """The audit entry of a ``rejects`` row (a mapping with the row's columns)."""
    public, _ = split_payload(row["payload"])
    content = b'{"payload":' + public + b',"reason":' + canonical(row["reason"]) + b"}"
    return canonical({"v": 2, "kind": "reject", "source": row["source"], "position": int(row["position"]),
                      "enterprise_id": row["enterprise_id"], "event_id": row["event_id"],
                      "stored_s": int(row["stored_s"]), "content": _h(content), "sender": row["sender_commitment"]})


def reject_commitment(source: str, position: int, personal: dict[str, Any] | None) -> str | None:
    """The commitment of a reject payload's erasable sender fields."""
    if personal is None:
        return None
    return _h(b"greenshield-reject\x00" + f"{source}\x00{position}\x00".encode("utf-8", "surrogatepass")
              + canonical(personal))


def violation_entry(enterprise_id: str, waybill_no: str, rule_id: str, seq: int, status: str,
                    doc_text: str) -> bytes:
    """A violation change's entry; ``(enterprise_id, waybill_no, rule_id, seq)`` identifies the change."""
    return canonical({"v": 2, "kind": "violation", "enterprise_id": enterprise_id, "waybill_no": waybill_no,
                      "rule_id": rule_id, "seq": seq, "status": status, "content": _h(doc_text.encode())})


def query_entry(query: str, doc_text: str) -> bytes:
    return canonical({"v": 1, "kind": "query", "query": query, "content": _h(doc_text.encode())})



#: the columns a grade, warning or sanction entry binds besides its doc's hash
RECORD_KEYS: dict[str, tuple[str, ...]] = {
    "grade": ("enterprise_id", "period", "seq", "grade"),
    "warning": ("subject_kind", "subject_id", "at", "level", "enterprise_id"),
    "sanction": ("enterprise_id", "decision_ref", "at_s", "points"),
    "delivery": ("subscription_id", "message_id", "attempt", "at_ms", "outcome"),
}


def record_entry(kind: str, row: Mapping[str, Any]) -> bytes:
    """The entry of a ``grades``, ``warnings`` or ``sanctions`` row (a mapping with its columns)."""
    keys = {k: row[k] for k in RECORD_KEYS[kind]}
    return canonical({"v": 1, "kind": kind, **keys, "content": _h(str(row["doc"]).encode())})
