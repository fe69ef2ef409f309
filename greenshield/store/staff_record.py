"""A staff integrity record (contract revision 2 §8.2): the person behind a staff id, across enterprises.

The person is found by the keyed hash its staff records carry (``person_id_hash``),
shown only masked with that hash. The record lists every staff id the person held
(at any enterprise), their registry history (staff records and the person's
blacklist decisions, in time order) and every stored violation whose evidence event
names one of those staff ids as ``staff_id`` or inspector. An enterprise sees only
its own: a staff id it never registered is ``None`` (as one that does not exist).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from greenshield.store import schema as t
from greenshield.store.verdicts import violation_doc
from greenshield.translog.entries import loads

CHUNK = 500
_REGISTRY = (t.events.c.entry_id, t.events.c.enterprise_id, t.events.c.event_id, t.events.c.occurred_at,
             t.events.c.at_s, t.events.c.at_frac, t.events.c.entity, t.events.c.entity_id, t.events.c.status,
             t.events.c.person_id_hash, t.events.c.doc)


def _registry(conn: Connection, where: Any, enterprise: str | None) -> list[Any]:
    """Registry rows in the registry's order: ``occurred_at``, then arrival (the tie-break of §1.3)."""
    e = t.events
    query = sa.select(*_REGISTRY).where(e.c.type == "registry", where)
    if enterprise is not None:
        query = query.where(e.c.enterprise_id == enterprise)
    return sorted(conn.execute(query).all(), key=lambda r: (int(r.at_s), r.at_frac, int(r.entry_id)))


def _entry(row: Any) -> dict[str, Any]:
    return {"event_id": row.event_id, "enterprise_id": row.enterprise_id, "occurred_at": row.occurred_at,
            "entity": row.entity, "id": row.entity_id, "status": row.status,
            "names_person": row.person_id_hash is not None}


def _person(row: Any) -> dict[str, Any]:
    """The masked person of a stored staff record: ``id_type``, ``id_number_masked``, ``id_hash``."""
    person = loads(row.doc).get("person") or {}
    return {k: person.get(k) for k in ("id_type", "id_number_masked")} | {"id_hash": row.person_id_hash}


def _chunks(items: Sequence[Any]) -> Iterable[Sequence[Any]]:
    for i in range(0, len(items), CHUNK):
        yield items[i:i + CHUNK]


def responsible_violations(conn: Connection, staff: Iterable[str], enterprise: str | None) -> list[dict[str, Any]]:
    """Stored violations (any status) whose evidence names one of ``staff`` as staff or inspector."""
    e, v = t.events, t.violations
    named = sorted(set(staff))
    evidence: dict[tuple[str, str], set[str]] = {}
    for part in _chunks(named):
        query = sa.select(e.c.enterprise_id, e.c.waybill_no, e.c.event_id).where(
            sa.or_(e.c.staff_id.in_(part), e.c.inspector_id.in_(part)), e.c.waybill_no.is_not(None))
        if enterprise is not None:
            query = query.where(e.c.enterprise_id == enterprise)
        for ent, waybill, event_id in conn.execute(query):
            evidence.setdefault((ent, waybill), set()).add(event_id)
    found: list[dict[str, Any]] = []
    for part in _chunks(sorted({w for _, w in evidence})):
        for ent, waybill, text in conn.execute(sa.select(v.c.enterprise_id, v.c.waybill_no, v.c.doc)
                                               .where(v.c.waybill_no.in_(part))):
            doc = violation_doc(text)
            if evidence.get((ent, waybill), set()) & set(doc["evidence"]):
                found.append(doc)
    return sorted(found, key=lambda d: (d["waybill_no"], d["enterprise_id"], d["rule_id"]))


def staff_record(conn: Connection, staff: str, enterprise: str | None = None) -> dict[str, Any] | None:
    """The integrity record of ``staff`` as ``enterprise`` may see it (None: all of it); None when there
    is nothing to show (for an enterprise: a staff id it never registered)."""
    e = t.events
    own = _registry(conn, sa.and_(e.c.entity == "staff", e.c.entity_id == staff), enterprise)
    if not own and (enterprise is not None or not _named(conn, staff)):
        return None
    holder = next((r for r in reversed(own) if r.person_id_hash is not None), None)
    staff_ids, history, person = {(staff, r.enterprise_id) for r in own}, own, None
    if holder is not None:
        person = _person(holder)
        h = holder.person_id_hash
        held = _registry(conn, sa.and_(e.c.entity == "staff", e.c.person_id_hash == h), enterprise)
        staff_ids |= {(r.entity_id, r.enterprise_id) for r in held}
        ids = sorted({s for s, _ in staff_ids})
        history = _registry(conn, sa.or_(sa.and_(e.c.entity == "staff", e.c.entity_id.in_(ids)),
                                         sa.and_(e.c.entity == "person", e.c.person_id_hash == h)), enterprise)
    return {"staff_id": staff, "person": person,
            "staff_ids": [{"staff_id": s, "enterprise_id": ent} for s, ent in sorted(staff_ids)],
            "registry": [_entry(r) for r in history],
            "violations": responsible_violations(conn, {s for s, _ in staff_ids} | {staff}, enterprise)}


def _named(conn: Connection, staff: str) -> bool:
    e = t.events
    query = sa.select(e.c.entry_id).where(sa.or_(e.c.staff_id == staff, e.c.inspector_id == staff)).limit(1)
    return conn.execute(query).first() is not None
