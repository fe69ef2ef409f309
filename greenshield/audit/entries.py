"""The audit log's entries: canonical bytes derived from stored rows, free of personal data.

An entry is canonical JSON (UTF-8, keys sorted, no whitespace; orjson with
``OPT_SORT_KEYS``); its leaf hash is ``SHA-256(0x00 || entry)`` (RFC 6962). Hashes
inside are lowercase hex SHA-256. The three kinds::

    {"content": H(public doc), "enterprise_id": E, "event_id": I, "kind": "event",
     "sender": C or null, "sender_facts": [complete, document_ok], "type": T, "v": 1}
    {"content": H(change doc), "kind": "violation", "rule_id": R, "seq": k,
     "status": "open" | "retracted", "v": 1, "waybill_no": W}
    {"content": H(query doc), "kind": "query", "query": NAME, "v": 1}

* *public doc* - the stored (already redacted) event with the sender's personal
  fields (``name_masked``, ``id_number_masked``, ``id_hash``) taken out;
* ``sender_facts`` - the two facts decided on the plain sender at intake (complete?
  document well-formed?), which the redacted doc can no longer show;
* *C*, the sender commitment - ``H("greenshield-sender\\0" E "\\0" I "\\0" canonical
  personal fields)``: it binds those fields while they exist, reveals nothing of them
  (``id_hash`` is a keyed HMAC), differs per event (no linking of parcels by it), and
  is kept in ``events.sender_commitment`` so that ``audit purge`` can erase the fields
  without changing any leaf;
* *change doc* - a violation status change as stored in ``violation_changes.doc``:
  the contract §5 fields plus ``status`` and ``as_of``;
* *query doc* - an auditor query as stored in ``queries.doc``: ``query``, the
  parameters (a sender is named by its HMAC only), ``at`` and ``results``.

:mod:`greenshield.audit.verify` re-derives every entry from its row with these functions.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

from decimal import Decimal

import orjson

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
    """Parse stored JSON (the inverse of :func:`canonical`)."""
    try:
        return orjson.loads(text)
    except orjson.JSONDecodeError:
        return json.loads(text)


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


def event_entry(enterprise_id: str, event_id: str, type_: str, public: dict[str, Any],
                commitment: str | None, facts: tuple[bool, bool]) -> bytes:
    return canonical({"v": 1, "kind": "event", "enterprise_id": enterprise_id, "event_id": event_id,
                      "type": type_, "content": _h(canonical(public)), "sender": commitment,
                      "sender_facts": [bool(facts[0]), bool(facts[1])]})


def violation_entry(waybill_no: str, rule_id: str, seq: int, status: str, doc_text: str) -> bytes:
    return canonical({"v": 1, "kind": "violation", "waybill_no": waybill_no, "rule_id": rule_id,
                      "seq": seq, "status": status, "content": _h(doc_text.encode())})


def query_entry(query: str, doc_text: str) -> bytes:
    return canonical({"v": 1, "kind": "query", "query": query, "content": _h(doc_text.encode())})

