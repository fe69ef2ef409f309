"""Re-evaluating stored parcels and recording each change in a violation's status.

The parcels, ``(enterprise_id, waybill_no)`` (contract §8.1), to look at after an intake::

    parcels of events stored since the last evaluation (entry_id > run_state.events_seen)
    ∪ parcels naming an entity (staff, inspector, machine, vehicle, customer) of a new registry record
      (of a new ``person`` record: every staff id a staff record gave that person, revision 2 §8.2)
    ∪ parcels with an event in [min(prev, as_of) - longest deadline, max(prev, as_of)]
      (a deadline passed, or events came inside / fell outside the cut, since the last as_of)

Each is evaluated by :class:`~greenshield.rules.engine.RuleCore` from its stored
events and the whole stored registry (records added in arrival order, so same-instant
ties resolve as in ``check``). Against the stored violations: a new key opens
(``open``), a vanished one is ``retracted``, one whose details moved is re-``open``-ed
with the new details; every change is a ``violation_changes`` row and an audit entry.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from greenshield.rules.engine import PackFor, RuleCore
from greenshield.rules.model import Event, ParcelKey, RegistryRecord, Violation
from greenshield.rules.pack import RulePack
from greenshield.rules.timestamps import Instant, format_utc_exact
from greenshield.store import schema as t
from greenshield.store.audit_log import append
from greenshield.store.database import Store
from greenshield.store.rows import restored
from greenshield.translog.entries import canonical, loads, violation_entry

CHUNK = 500
_FIELDS = {"staff": ("staff_id", "inspector_id"), "xray_machine": ("device_id",), "vehicle": ("device_id",),
           "contract_customer": ("customer_id",)}


@dataclass
class Changes:
    opened: int = 0
    updated: int = 0
    retracted: int = 0


def latest_parcel_instant(conn: Connection) -> Instant | None:
    """The latest ``occurred_at`` among stored parcel events (contract §7's default ``as_of``)."""
    e = t.events
    top = conn.execute(sa.select(e.c.at_s).where(e.c.waybill_no.is_not(None))  # backwards on ix_events_at
                       .order_by(e.c.at_s.desc()).limit(1)).scalar()
    if top is None:
        return None
    fracs = conn.execute(sa.select(e.c.at_frac).where(e.c.at_s == top, e.c.waybill_no.is_not(None))).scalars()
    return (int(top), max(fracs))


@dataclass(frozen=True)
class Clock:
    """Where the last evaluation stopped: its ``as_of`` and the last event it had seen."""

    as_of: Instant | None
    events_seen: int


def last_evaluation(conn: Connection) -> Clock:
    row = conn.execute(sa.select(t.run_state.c.as_of_s, t.run_state.c.as_of_frac,
                                 t.run_state.c.events_seen)).one()
    return Clock(None if row[0] == -(1 << 62) else (int(row[0]), str(row[1])), int(row[2]))


def affected(conn: Connection, since: Clock, as_of: Instant, longest: int) -> tuple[set[ParcelKey], int]:
    """The parcels ``(enterprise_id, waybill_no)`` whose verdict may have changed (see the module docstring),
    and the last event id."""
    e = t.events
    parcel = (e.c.enterprise_id, e.c.waybill_no)
    seen = int(conn.execute(sa.select(sa.func.coalesce(sa.func.max(e.c.entry_id), 0))).scalar_one())
    new = e.c.entry_id.between(since.events_seen + 1, seen)
    out = _pairs(conn.execute(sa.select(*parcel).where(new, e.c.waybill_no.is_not(None)).distinct()))
    entities = list(conn.execute(sa.select(e.c.entity, e.c.entity_id).where(new, e.c.type == "registry")
                                 .distinct())) + _holders(conn, new)
    prev = since.as_of
    by_column: dict[str, set[str]] = {}
    for entity, ident in entities:
        for column in _FIELDS.get(entity, ()):
            by_column.setdefault(column, set()).add(ident)
    for column, idents in by_column.items():
        named = sorted(idents)
        for i in range(0, len(named), CHUNK):
            query = sa.select(*parcel).where(e.c[column].in_(named[i:i + CHUNK]), e.c.waybill_no.is_not(None))
            out.update(_pairs(conn.execute(query.distinct())))
    if prev is not None and prev != as_of:
        lo, hi = min(prev[0], as_of[0]) - longest - 1, max(prev[0], as_of[0]) + 1
        query = sa.select(*parcel).where(e.c.at_s.between(lo, hi), e.c.waybill_no.is_not(None)).distinct()
        out.update(_pairs(conn.execute(query)))
    return out, seen


def _holders(conn: Connection, new: Any) -> list[tuple[str, str]]:
    """``("staff", id)`` of every staff id held by the person of a new ``person`` record."""
    e = t.events
    persons = sa.select(e.c.person_id_hash).where(new, e.c.entity == "person", e.c.person_id_hash.is_not(None))
    query = sa.select(e.c.entity_id).where(e.c.entity == "staff", e.c.person_id_hash.in_(persons)).distinct()
    return [("staff", str(ident)) for (ident,) in conn.execute(query)]


def _pairs(rows: Iterable[Any]) -> set[ParcelKey]:
    return {(str(r[0]), str(r[1])) for r in rows}


def _registry(conn: Connection) -> list[RegistryRecord]:
    """Every registry record in arrival order (entry id), the tie-break of same-instant records."""
    e = t.events
    rows = sorted(conn.execute(sa.select(e.c.entry_id, e.c.enterprise_id, e.c.event_id, e.c.at_s, e.c.at_frac,
                                         e.c.occurred_at, e.c.entity, e.c.entity_id, e.c.status, e.c.person_id_hash)
                               .where(e.c.entity.is_not(None))),  # by ix_events_entity
                  key=lambda r: int(r[0]))
    return [RegistryRecord(r[1], r[2], (int(r[3]), r[4]), r[5], r[6], r[7], r[8], person=r[9]) for r in rows]


class Evaluator:
    """Re-evaluates parcels from the store and records the verdict changes."""

    def __init__(self, store: Store, pack: RulePack, pack_for: PackFor | None = None) -> None:
        self.store, self.pack, self.pack_for, self.changes = store, pack, pack_for, Changes()

    def run(self, parcels: Iterable[ParcelKey], as_of: Instant, events_seen: int) -> Changes:
        core = RuleCore(self.pack, pack_for=self.pack_for)
        with self.store.read() as conn:
            for record in _registry(conn):
                core.add_record(record)
        ordered = sorted(parcels)
        for i in range(0, len(ordered), CHUNK):
            self._chunk(core, ordered[i:i + CHUNK], as_of)
        with self.store.write() as conn:
            conn.execute(t.run_state.update().where(t.run_state.c.id == 1)
                         .values(as_of_s=as_of[0], as_of_frac=as_of[1], events_seen=events_seen))
        return self.changes

    def _chunk(self, core: RuleCore, parcels: list[ParcelKey], as_of: Instant) -> None:
        with self.store.write() as conn:
            wanted = set(parcels)
            e = t.events
            rows = conn.execute(sa.select(e.c.doc, e.c.sender_complete, e.c.sender_document_ok)
                                .where(e.c.waybill_no.in_(sorted({w for _, w in parcels})))).mappings()
            for row in rows:
                item = restored(row)
                if isinstance(item, Event) and item.parcel in wanted:
                    core.add_event(item)
            found = {p: core.evaluate(p, as_of) for p in parcels}
            for p in parcels:
                if p in core.parcels:
                    core.release(p)  # evaluated once: free its state
            stored = stored_violations(conn, parcels)
            planned = list(plan_changes(found, stored, as_of))
            self._apply(conn, planned)

    def _apply(self, conn: Connection, planned: list[tuple[str, dict[str, Any], dict[str, Any] | None]]) -> None:
        for change in apply_changes(conn, self.store, planned):
            kind = change["kind"]
            setattr(self.changes, kind, getattr(self.changes, kind) + 1)


def apply_changes(conn: Connection, store: Store,
                  planned: list[tuple[str, dict[str, Any], dict[str, Any] | None]]) -> list[dict[str, Any]]:
    """Write planned violation changes: the change rows, the violations' current status, and
    one audit entry per change. Returns ``{"kind", "seq", "doc"}`` per change written."""
    if not planned:
        return []
    ids = store.allocate_ids(conn, len(planned))
    changes: list[dict[str, Any]] = []
    inserts: list[dict[str, Any]] = []
    updates: list[dict[str, Any]] = []
    written: list[dict[str, Any]] = []
    for entry_id, (kind, doc, before) in zip(ids, planned):
        seq = 1 if before is None else before["seq"] + 1
        text = canonical(doc).decode()
        changes.append({"id": entry_id, "enterprise_id": doc["enterprise_id"], "waybill_no": doc["waybill_no"],
                        "rule_id": doc["rule_id"], "seq": seq, "status": doc["status"], "doc": text})
        row = {"enterprise_id": doc["enterprise_id"], "waybill_no": doc["waybill_no"], "rule_id": doc["rule_id"],
               "status": doc["status"], "occurred_at": doc["occurred_at"], "doc": text, "change_id": entry_id}
        (inserts if before is None else updates).append(row)
        written.append({"kind": kind, "seq": seq, "doc": doc})
    conn.execute(t.violation_changes.insert(), changes)
    if inserts:
        conn.execute(t.violations.insert(), inserts)
    if updates:
        v = t.violations
        conn.execute(v.update().where(v.c.enterprise_id == sa.bindparam("e"), v.c.waybill_no == sa.bindparam("w"),
                                      v.c.rule_id == sa.bindparam("r"))
                     .values(status=sa.bindparam("status"), occurred_at=sa.bindparam("occurred_at"),
                             doc=sa.bindparam("doc"), change_id=sa.bindparam("change_id")),
                     [{"e": u["enterprise_id"], "w": u["waybill_no"], "r": u["rule_id"], "status": u["status"],
                       "occurred_at": u["occurred_at"], "doc": u["doc"], "change_id": u["change_id"]}
                      for u in updates])
    append(conn, ((c["id"], "violation", violation_entry(c["enterprise_id"], c["waybill_no"], c["rule_id"],
                                                         c["seq"], c["status"], c["doc"])) for c in changes), store)
    return written


#: fraction digits kept in a change's ``as_of`` stamp (an event may carry a million; the stamp never does)
STAMP_DIGITS = 9


ViolationKey = tuple[str, str, str]  # (enterprise_id, waybill_no, rule_id), contract §8.1


def stored_violations(conn: Connection, parcels: Iterable[ParcelKey]) -> dict[ViolationKey, dict[str, Any]]:
    """The stored violations (any status) of the given parcels, by violation key."""
    wanted = set(parcels)
    v, c = t.violations, t.violation_changes
    rows = conn.execute(sa.select(v.c.enterprise_id, v.c.waybill_no, v.c.rule_id, v.c.status, v.c.doc, c.c.seq)
                        .join(c, c.c.id == v.c.change_id)
                        .where(v.c.waybill_no.in_(sorted({w for _, w in wanted})))).all()
    return {(r[0], r[1], r[2]): {"status": r[3], "doc": loads(r[4]), "seq": int(r[5])}
            for r in rows if (r[0], r[1]) in wanted}


def plan_changes(found: dict[ParcelKey, dict[str, Violation]], stored: dict[ViolationKey, dict[str, Any]],
          as_of: Instant) -> Iterator[tuple[str, dict[str, Any], dict[str, Any] | None]]:
    """``(kind, change doc, stored state or None)`` for every status change, in key order."""
    stamp = format_utc_exact((as_of[0], as_of[1][:STAMP_DIGITS]))  # informative: a long fraction stays short
    now = {v.key: v for per in found.values() for v in per.values()}
    for key in sorted(set(now) | set(stored)):
        before, v = stored.get(key), now.get(key)
        if v is not None:
            doc = {**v.to_dict(), "status": "open", "as_of": stamp}
            if before is None or before["status"] != "open":
                yield "opened", doc, before
            elif _details(before["doc"]) != _details(doc):
                yield "updated", doc, before
        elif before is not None and before["status"] == "open":
            yield "retracted", {**before["doc"], "status": "retracted", "as_of": stamp}, before


def _details(doc: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in doc.items() if k not in ("status", "as_of")}


def violation_doc(text: str) -> dict[str, Any]:
    """A stored violation's contract §5 form plus ``status``."""
    doc = loads(text)
    return {k: v for k, v in doc.items() if k != "as_of"}
