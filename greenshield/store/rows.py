"""Event rows: the columns stored for an accepted, redacted event, and its audit entry.

Every indexed column is derived from the stored ``doc`` by :func:`columns`, so
``audit verify`` can re-derive the columns and the entry from the doc alone; the
other columns (digest, source, position, commitment, sender facts) are in the entry.
:func:`reject_problems` is the same self-check for a ``rejects`` row. :func:`event_values` is the hot
path's form of :func:`event_row_entry`: the row as a tuple in table order (:data:`EVENT_COLUMNS`) and
the same entry bytes, built without intermediate dicts.
"""

from __future__ import annotations

import hashlib
from typing import Any

import orjson

from greenshield.rules.exact_json import decode_stored
from greenshield.rules.model import Event, RegistryRecord
from greenshield.rules.parse import facts_of, restore
from greenshield.store import schema as t
from greenshield.translog.entries import (
    canonical,
    event_commitment,
    event_entry,
    reject_commitment,
    split_payload,
    split_sender,
)

DERIVED = ("enterprise_id", "event_id", "type", "occurred_at", "at_s", "at_frac", "waybill_no", "site_id",
           "staff_id", "inspector_id", "device_id", "other_site_id", "result", "customer_id", "entity",
           "entity_id", "status", "sender_complete", "sender_document_ok")


def columns(item: Event | RegistryRecord) -> dict[str, Any]:
    """The columns of :data:`DERIVED` for a validated event or registry record."""
    complete, document_ok = facts_of(item)
    base = {"enterprise_id": item.enterprise_id, "event_id": item.event_id, "occurred_at": item.occurred_at,
            "at_s": item.at[0], "at_frac": item.at[1], "sender_complete": complete,
            "sender_document_ok": document_ok}
    if isinstance(item, RegistryRecord):
        return {**base, "type": "registry", "waybill_no": None, "site_id": None, "staff_id": None,
                "inspector_id": None, "device_id": None, "other_site_id": None, "result": None,
                "customer_id": None, "entity": item.entity, "entity_id": item.id, "status": item.status}
    a = item.acceptance
    return {**base, "type": item.type, "waybill_no": item.waybill_no, "site_id": item.site_id,
            "staff_id": item.staff_id, "inspector_id": a.inspector_id if a else None,
            "device_id": item.device_id, "other_site_id": item.other_site_id,
            "result": a.inspection_result if a else item.result,
            "customer_id": a.contract_customer_id if a else None,
            "entity": None, "entity_id": None, "status": None}


def person_hash(item: Event | RegistryRecord, doc: dict[str, Any]) -> str | None:
    """A staff or person record's person hash as the stored doc has it (the configured key's, §8.2)."""
    if not isinstance(item, RegistryRecord) or item.person is None:
        return None
    person = doc.get("person")
    found = person.get("id_hash") if isinstance(person, dict) else None
    return found if isinstance(found, str) else None


def event_row(item: Event | RegistryRecord, doc: dict[str, Any], digest: bytes | None,
              source: str, position: int) -> dict[str, Any]:
    """A full ``events`` row (without ``entry_id``) for a redacted doc."""
    return event_row_entry(item, doc, digest, source, position)[0]


def event_row_entry(item: Event | RegistryRecord, doc: dict[str, Any], digest: bytes | None,
                    source: str, position: int) -> tuple[dict[str, Any], bytes]:
    """:func:`event_row` and its audit entry (the same bytes :func:`row_entry` re-derives)."""
    public, personal = split_sender(doc)
    commitment = event_commitment(item.enterprise_id, item.event_id, personal, digest)
    cols = columns(item)
    row = {**cols, "doc": canonical(doc).decode(), "digest": digest, "purged": False,
           "sender_id_hash": personal.get("id_hash") if personal else None,
           "sender_commitment": commitment, "person_id_hash": person_hash(item, doc), "source": source,
           "position": position}
    entry = event_entry(item.enterprise_id, item.event_id, cols["type"], public, commitment,
                        (cols["sender_complete"], cols["sender_document_ok"]), digest=digest, source=source,
                        position=position)
    return row, entry


#: the ``events`` columns in table order: the order of :func:`event_values`' tuples
EVENT_COLUMNS: tuple[str, ...] = (
    "entry_id", "enterprise_id", "event_id", "type", "occurred_at", "at_s", "at_frac", "waybill_no", "site_id",
    "staff_id", "inspector_id", "device_id", "other_site_id", "result", "customer_id", "entity", "entity_id",
    "status", "sender_complete", "sender_document_ok", "sender_id_hash", "sender_commitment", "person_id_hash",
    "digest", "doc", "purged", "source", "position")
assert EVENT_COLUMNS == tuple(c.name for c in t.events.columns), "events columns changed: update event_values"

_dumps = orjson.dumps
_sha256 = hashlib.sha256
_FACTS = {(False, False): b"[false,false]", (False, True): b"[false,true]", (True, False): b"[true,false]",
          (True, True): b"[true,true]"}
_INT64 = range(-(1 << 63), 1 << 63)


def event_values(entry_id: int, item: Event | RegistryRecord, doc: dict[str, Any], digest: bytes | None,
                 source: str, position: int) -> tuple[tuple[Any, ...], bytes]:
    """The ``events`` row with ``entry_id`` as a tuple in :data:`EVENT_COLUMNS` order, and its audit entry.

    Equal values and the same entry bytes as :func:`event_row_entry` (tests compare them): a parcel
    event's entry is written piece by piece in canonical key order; registry records and anything the
    pieces cannot write as :func:`~greenshield.translog.entries.canonical` would (a string orjson refuses,
    a position beyond 64 bits) take :func:`event_row_entry`.
    """
    if type(item) is Event and position in _INT64:
        try:
            return _parcel_values(entry_id, item, doc, digest, source, position)
        except orjson.JSONEncodeError:
            pass
    row, entry = event_row_entry(item, doc, digest, source, position)
    return (entry_id, *(row[c] for c in EVENT_COLUMNS[1:])), entry


def _parcel_values(entry_id: int, item: Event, doc: dict[str, Any], digest: bytes | None, source: str,
                   position: int) -> tuple[tuple[Any, ...], bytes]:
    text = canonical(doc)
    if isinstance(doc.get("sender"), dict):
        public, personal = split_sender(doc)
        content = _sha256(canonical(public)).hexdigest()
        commitment = event_commitment(item.enterprise_id, item.event_id, personal, digest)
        id_hash = personal.get("id_hash") if personal else None
        sender, shown = _dumps(commitment), b"null"
    else:  # no sender: the public doc is the doc, and the entry shows the digest
        content = _sha256(text).hexdigest()
        commitment = id_hash = None
        sender, shown = b"null", (b'"%s"' % digest.hex().encode()) if digest is not None else b"null"
    a = item.acceptance
    if a is None:
        complete = document_ok = False
        inspector = customer = None
        result = item.result
    else:
        complete, document_ok = a.sender_complete, a.sender_document_ok
        inspector, customer, result = a.inspector_id, a.contract_customer_id, a.inspection_result
    enterprise, event_id, type_ = item.enterprise_id, item.event_id, item.type
    row = (entry_id, enterprise, event_id, type_, item.occurred_at, item.at[0], item.at[1], item.waybill_no,
           item.site_id, item.staff_id, inspector, item.device_id, item.other_site_id, result, customer,
           None, None, None, complete, document_ok, id_hash, commitment, None, digest, text.decode(), False,
           source, position)
    entry = b"".join((b'{"content":"', content.encode(), b'","digest":', shown, b',"enterprise_id":',
                      _dumps(enterprise), b',"event_id":', _dumps(event_id), b',"kind":"event","position":',
                      b"%d" % position, b',"sender":', sender, b',"sender_facts":',
                      _FACTS[bool(complete), bool(document_ok)], b',"source":', _dumps(source), b',"type":',
                      _dumps(type_), b',"v":2}'))
    return row, entry


def _digest(row: Any) -> bytes | None:
    return bytes(row["digest"]) if row["digest"] is not None else None


def row_entry(row: Any) -> bytes:
    """The audit entry of an ``events`` row (a mapping), from its doc, stored commitment and placement.

    The doc is re-read exactly (:func:`~greenshield.rules.exact_json.decode_stored`): orjson alone reads an
    integer beyond 64 bits as a float, and the entry was made from the exact integer.
    """
    public, _ = split_sender(decode_stored(row["doc"]))
    return event_entry(row["enterprise_id"], row["event_id"], row["type"], public, row["sender_commitment"],
                       (bool(row["sender_complete"]), bool(row["sender_document_ok"])), digest=_digest(row),
                       source=row["source"], position=int(row["position"]))


def restored(row: Any) -> Event | RegistryRecord:
    """The typed event of an ``events`` row, for the rules (sender facts as decided at intake); exactly re-read,
    as for :func:`row_entry` (a float where the event had an integer would not validate)."""
    return restore(decode_stored(row["doc"]), bool(row["sender_complete"]), bool(row["sender_document_ok"]))


def row_problems(row: Any) -> list[str]:
    """What in an ``events`` row disagrees with its own doc (empty when consistent)."""
    doc = decode_stored(row["doc"])
    try:
        item = restore(doc, bool(row["sender_complete"]), bool(row["sender_document_ok"]))
    except Exception as err:  # a doc that no longer validates was edited
        return [f"its doc does not validate ({err})"]
    bad = [name for name, value in columns(item).items()
           if name not in ("sender_complete", "sender_document_ok") and row[name] != value]
    if row["person_id_hash"] != person_hash(item, doc):
        bad.append("person_id_hash")
    _, personal = split_sender(doc)
    if not row["purged"]:
        expected = event_commitment(row["enterprise_id"], row["event_id"], personal, _digest(row))
        if row["sender_commitment"] != expected:
            bad.append("sender_commitment")
        if row["sender_id_hash"] != (personal.get("id_hash") if personal else None):
            bad.append("sender_id_hash")
    elif (row["sender_id_hash"] is not None or row["digest"] is not None or row["sender_commitment"] is None
          or (personal and any(personal.values()))):
        bad.append("purged personal fields")
    return [f"column {name} does not match its doc" for name in bad]


def reject_problems(row: Any) -> list[str]:
    """What in a ``rejects`` row disagrees with itself: its commitment, or a purge that left personal fields."""
    _, personal = split_payload(row["payload"])
    if not row["purged"]:
        if row["sender_commitment"] != reject_commitment(row["source"], int(row["position"]), personal):
            return ["column sender_commitment does not match its payload"]
    elif personal and any(personal.values()):
        return ["column purged is set but the payload keeps personal fields"]
    return []
