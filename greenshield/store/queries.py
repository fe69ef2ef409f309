"""Traceability queries (可追溯 / 可追踪 / 可倒查) and the violation listing; each one is logged.

Every function reads in one transaction and returns plain JSON-ready values; the
sender appears only masked. :func:`record` writes the query itself (name,
parameters - a sender only as its HMAC - and the result count) as an audit entry.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from greenshield.rules.model import TYPE_RANK
from greenshield.rules.timestamps import Instant, format_utc
from greenshield.store import schema as t
from greenshield.store.audit_log import append
from greenshield.store.database import Store
from greenshield.store.verdicts import violation_doc
from greenshield.translog.entries import PERSONAL_STORED, canonical, loads, query_entry

Window = tuple[Instant | None, Instant | None]
_DEVICE = {"xray": "machine_id", "depart": "vehicle_id", "arrive": "vehicle_id"}
_OTHER = {"depart": "to_site_id", "arrive": "from_site_id"}
_RESULT = {"delivery": "method"}


def _order(ev: dict[str, Any]) -> tuple[Any, ...]:
    return (ev["_at"], TYPE_RANK[ev["type"]], ev["event_id"], ev["enterprise_id"])


def _event(row: Any, leaf: int | None) -> dict[str, Any]:
    """One event for display: contract fields, device by its name, the masked sender, the entry."""
    doc = loads(row.doc)
    out: dict[str, Any] = {"event_id": row.event_id, "enterprise_id": row.enterprise_id, "type": row.type,
                           "occurred_at": row.occurred_at, "waybill_no": row.waybill_no,
                           "site_id": row.site_id, "staff_id": row.staff_id}
    if row.type in _DEVICE:
        out[_DEVICE[row.type]] = row.device_id
    if row.type in _OTHER:
        out[_OTHER[row.type]] = row.other_site_id
    if row.type == "acceptance":
        out["inspection"] = doc.get("inspection")
        out["contract_customer_id"] = row.customer_id
        sender = doc.get("sender")
        out["sender"] = ({k: v for k, v in sender.items() if k != "id_hash"}
                         if isinstance(sender, dict) else None)
    if row.type in _RESULT:
        out[_RESULT[row.type]] = row.result
    out["result"] = row.result
    out["audit_entry"] = leaf
    out["_at"] = (int(row.at_s), row.at_frac)
    return out


def _leaf_column(entry_id: Any) -> Any:
    """The leaf number of an entry id as a correlated subquery (NULL while pending)."""
    r = t.audit_runs
    return (sa.select(sa.case((entry_id < r.c.first_id + r.c.count, r.c.first_leaf + entry_id - r.c.first_id)))
            .where(r.c.first_id <= entry_id).order_by(r.c.first_id.desc()).limit(1)
            .correlate_except(r).scalar_subquery())


_EVENTS = sa.select(t.events, _leaf_column(t.events.c.entry_id).label("leaf"))
# built once: the hot query of trace WAYBILL (building a statement costs more than running it)
_BY_WAYBILL = _EVENTS.where(t.events.c.waybill_no == sa.bindparam("w"))
_VIOLATIONS_OF = (sa.select(t.violations.c.doc).where(t.violations.c.waybill_no == sa.bindparam("w"))
                  .order_by(t.violations.c.enterprise_id, t.violations.c.rule_id))


def _events(conn: Connection, where: Any, window: Window = (None, None), params: Any = None) -> list[dict[str, Any]]:
    e = t.events
    query = where if params is not None else _EVENTS.where(where)
    lo, hi = window
    if lo is not None:
        query = query.where(e.c.at_s >= lo[0])
    if hi is not None:
        query = query.where(e.c.at_s <= hi[0])
    rows = conn.execute(query, params).all()
    found = [_event(r, int(r.leaf) if r.leaf is not None else None) for r in rows]
    found = [ev for ev in found if (lo is None or ev["_at"] >= lo) and (hi is None or ev["_at"] <= hi)]
    found.sort(key=_order)
    return found


def _clean(events: list[dict[str, Any]]) -> list[dict[str, Any]]:
    for ev in events:
        ev.pop("_at", None)
    return events


def _waybills(events: list[dict[str, Any]]) -> list[str]:
    return sorted({ev["waybill_no"] for ev in events})


def trace_waybill(conn: Connection, waybill: str) -> dict[str, Any]:
    """可追溯: each parcel of a waybill (one per enterprise, contract §8.1), its events in §3.1 order and its violations.

    ``parcels`` lists them apart, by enterprise; ``events`` and ``violations`` are
    all of them, parcel after parcel (by enterprise, then §3.1 order / rule).
    """
    events = _clean(_events(conn, _BY_WAYBILL, params={"w": waybill}))
    events.sort(key=lambda ev: ev["enterprise_id"])  # stable: §3.1 order within each parcel
    violations = [violation_doc(d) for d in conn.execute(_VIOLATIONS_OF, {"w": waybill}).scalars()]
    return {"waybill_no": waybill, "parcels": parcels_of(events, violations), "events": events,
            "violations": violations}


def parcels_of(events: list[dict[str, Any]], violations: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The parcels ``{"enterprise_id", "events", "violations"}`` of one waybill's events and violations."""
    ids = sorted({ev["enterprise_id"] for ev in events} | {v["enterprise_id"] for v in violations})
    return [{"enterprise_id": e, "events": [ev for ev in events if ev["enterprise_id"] == e],
             "violations": [v for v in violations if v["enterprise_id"] == e]} for e in ids]


def trace_vehicle(conn: Connection, vehicle: str, window: Window = (None, None)) -> dict[str, Any]:
    """可追踪: the parcels a vehicle carried, and each leg (depart → arrive) on it."""
    e = t.events
    events = _events(conn, sa.and_(e.c.device_id == vehicle, e.c.type.in_(("depart", "arrive"))), window)
    return {"vehicle_id": vehicle, "waybills": _waybills(events), "legs": _legs(events)}


def _legs(events: list[dict[str, Any]]) -> list[dict[str, Any]]:
    legs: list[dict[str, Any]] = []
    open_: dict[str, dict[str, Any]] = {}
    for ev in events:
        w = ev["waybill_no"]
        if ev["type"] == "depart":
            if w in open_:
                legs.append(open_.pop(w))
            open_[w] = {"waybill_no": w, "from_site_id": ev["site_id"], "to_site_id": ev["to_site_id"],
                        "departed_at": ev["occurred_at"], "depart_event_id": ev["event_id"],
                        "arrived_at": None, "arrive_event_id": None}
        else:
            leg = open_.pop(w, None) or {"waybill_no": w, "from_site_id": ev["from_site_id"],
                                         "to_site_id": ev["site_id"], "departed_at": None,
                                         "depart_event_id": None}
            legs.append({**leg, "arrived_at": ev["occurred_at"], "arrive_event_id": ev["event_id"]})
    legs.extend(open_.values())
    return sorted(legs, key=lambda g: (g["departed_at"] or g["arrived_at"] or "", g["waybill_no"]))


def trace_staff(conn: Connection, staff: str, window: Window = (None, None)) -> dict[str, Any]:
    """可倒查: every event a person handled, as ``staff_id`` or as the acceptance's inspector."""
    e = t.events
    events = _events(conn, sa.or_(e.c.staff_id == staff, e.c.inspector_id == staff), window)
    for ev in events:
        insp = ev.get("inspection") or {}
        ev["roles"] = [r for r, ok in (("staff", ev["staff_id"] == staff),
                                       ("inspector", insp.get("inspector_id") == staff)) if ok]
    return {"staff_id": staff, "waybills": _waybills(events), "events": _clean(events)}


def trace_machine(conn: Connection, machine: str, window: Window = (None, None)) -> dict[str, Any]:
    """The parcels screened on an X-ray machine, with each screening."""
    e = t.events
    events = _events(conn, sa.and_(e.c.device_id == machine, e.c.type == "xray"), window)
    return {"machine_id": machine, "waybills": _waybills(events), "events": _clean(events)}


def trace_sender(conn: Connection, id_type: str, id_hash: str, masked: str) -> dict[str, Any]:
    """One sender's parcels, found through the keyed hash of the ID number."""
    events = _events(conn, t.events.c.sender_id_hash == id_hash)
    return {"sender": {"id_type": id_type, "id_number_masked": masked}, "waybills": _waybills(events),
            "events": _clean(events)}


def list_violations(conn: Connection, only_open: bool = False, enterprise: str | None = None,
                    rule: str | None = None, since: Instant | None = None) -> list[dict[str, Any]]:
    """Stored violations (contract §5 plus ``status``), by waybill, enterprise and rule (``check``'s order)."""
    v = t.violations
    query = sa.select(v.c.doc).order_by(v.c.waybill_no, v.c.enterprise_id, v.c.rule_id)
    if only_open:
        query = query.where(v.c.status == "open")
    if enterprise:
        query = query.where(v.c.enterprise_id == enterprise)
    if rule:
        query = query.where(v.c.rule_id == rule)
    if since is not None:
        query = query.where(v.c.occurred_at >= format_utc(since))
    return [violation_doc(d) for d in conn.execute(query).scalars()]


def record(store: Store, query: str, params: dict[str, Any], results: int,
           clock_ms: int | None = None) -> int:
    """Write an auditor query to the audit log; returns its entry id. ``params`` must hold no personal data."""
    doc = canonical({"query": query, "params": params, "results": results,
                     "at_ms": clock_ms if clock_ms is not None else time.time_ns() // 1_000_000}).decode()
    with store.write() as conn:
        (entry_id,) = store.allocate_ids(conn, 1)
        conn.execute(t.queries.insert().values(id=entry_id, doc=doc))
        append(conn, [(entry_id, "query", query_entry(query, doc))], store)
    return entry_id


def assert_no_personal(params: dict[str, Any], plain: Sequence[str]) -> None:
    """Guard for :func:`record`: none of the ``plain`` values may be among the parameters."""
    text = canonical(params).decode()
    if any(p and p in text for p in plain) or any(k in params for k in PERSONAL_STORED[:2]):
        raise ValueError("query parameters must not hold personal data")
