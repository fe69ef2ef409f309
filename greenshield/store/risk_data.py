"""The store's side of risk and credit: what each source handled and which violations it carries.

Read-only queries, then the pure core of :mod:`greenshield.risk`; time is ``as_of`` only.
The inputs come from the risk side tables (:mod:`greenshield.store.risk_index`) when they
cover every event seen, else from ``events`` (the reference); both give equal ``KindData``.
Who a violation is attributed to and what a window counts: ``docs/adr/0014-risk-inputs.md``.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from greenshield.risk.model import KINDS, PROHIBITED, RiskModel
from greenshield.risk.score import HOUR, Incident
from greenshield.rules.timestamps import format_utc, parse_instant
from greenshield.store import risk_index as ix, schema as t
from greenshield.store.stats import prefecture_of
from greenshield.translog.entries import loads

EVENT_KINDS = ("site", "staff", "machine", "vehicle")
PARCEL_KINDS = ("enterprise", "sender", "city")
_CHUNK = 400
Parcel = tuple[str, str]


@dataclass
class KindData:
    """One kind's inputs for one window: volume by age, incidents, and each source's enterprises."""

    exposure: dict[str, dict[int, int]] = field(default_factory=lambda: defaultdict(lambda: defaultdict(int)))
    incidents: list[Incident] = field(default_factory=list)
    owners: dict[str, set[str]] = field(default_factory=lambda: defaultdict(set))


def _parcel_events(lo: int, hi: int, waybills: list[str] | None = None) -> Any:
    e = t.events
    where = sa.and_(e.c.waybill_no.is_not(None), e.c.at_s >= lo, e.c.at_s <= hi, e.c.type != "registry")
    return where if waybills is None else sa.and_(where, e.c.waybill_no.in_(waybills))


def _handled(kind: str, lo: int, hi: int, waybills: list[str] | None = None) -> Any:
    """``(src, enterprise_id, waybill_no, at_s)`` rows: the events by which sources of ``kind`` handled parcels."""
    e, where = t.events, _parcel_events(lo, hi, waybills)
    cols = (e.c.enterprise_id, e.c.waybill_no, e.c.at_s)
    if kind == "enterprise":
        return sa.select(e.c.enterprise_id.label("src"), *cols).where(where)
    if kind == "site":
        return sa.select(e.c.site_id.label("src"), *cols).where(where)
    if kind == "machine":
        return sa.select(e.c.device_id.label("src"), *cols).where(where, e.c.type == "xray")
    if kind == "vehicle":
        return sa.select(e.c.device_id.label("src"), *cols).where(where, e.c.type.in_(("depart", "arrive")))
    return sa.union_all(sa.select(e.c.staff_id.label("src"), *cols).where(where),
                        sa.select(e.c.inspector_id.label("src"), *cols).where(where, e.c.type == "acceptance"))


def _event_exposure(conn: Connection, kind: str, lo: int, hi: int, data: KindData) -> None:
    """Parcels per (source, enterprise, age in hours), counted in the database."""
    rows = _handled(kind, lo, hi).subquery()
    age = ((hi - sa.func.min(rows.c.at_s)) // HOUR).label("age")
    first = sa.select(rows.c.src, rows.c.enterprise_id, age) \
        .where(rows.c.src.is_not(None)).group_by(rows.c.src, rows.c.enterprise_id, rows.c.waybill_no).subquery()
    query = sa.select(first.c.src, first.c.enterprise_id, first.c.age, sa.func.count()) \
        .group_by(first.c.src, first.c.enterprise_id, first.c.age)
    for src, ent, age_h, n in conn.execute(query):
        data.exposure[src][int(age_h)] += int(n)
        data.owners[src].add(ent)


def _indexed_exposure(conn: Connection, kind: str, lo: int, hi: int, data: KindData) -> None:
    """:func:`_event_exposure` from ``risk_handled``: a parcel first handled in the window counts at that age."""
    h = ix.risk_handled
    age = ((hi - h.c.first_s) // HOUR).label("age")
    query = sa.select(h.c.src, h.c.enterprise_id, age, sa.func.count()) \
        .where(h.c.kind == kind, h.c.first_s >= lo, h.c.first_s <= hi).group_by(h.c.src, h.c.enterprise_id, age)
    for src, ent, age_h, n in conn.execute(query):
        data.exposure[src][int(age_h)] += int(n)
        data.owners[src].add(ent)
    straddling = conn.execute(sa.select(h.c.src, h.c.enterprise_id, h.c.waybill_no)
                              .where(h.c.kind == kind, h.c.first_s < lo, h.c.last_s >= lo)).all()
    _straddlers(conn, kind, lo, hi, {(r[0], r[1], r[2]) for r in straddling}, data)


def _straddlers(conn: Connection, kind: str, lo: int, hi: int, wanted: set[tuple[str, str, str]],
                data: KindData) -> None:
    """Sources that handled a parcel before the window and maybe inside it: their first time inside, from ``events``."""
    first: dict[tuple[str, str, str], int] = {}
    waybills = sorted({w for _, _, w in wanted})
    for i in range(0, len(waybills), _CHUNK):
        for src, ent, wb, at_s in conn.execute(_handled(kind, lo, hi, waybills[i:i + _CHUNK])):
            key = (src, ent, wb)
            if key in wanted:
                first[key] = min(first.get(key, int(at_s)), int(at_s))
    for (src, ent, _), at_s in first.items():
        data.exposure[src][(hi - at_s) // HOUR] += 1
        data.owners[src].add(ent)


def _indexed_acceptances(conn: Connection, lo: int, hi: int, city: bool) -> dict[Parcel, tuple[int, str | None]]:
    """:func:`_acceptances` from ``risk_accepts`` (a sender's hash read from its event by primary key)."""
    a, e = ix.risk_accepts, t.events
    order = (a.c.enterprise_id, a.c.waybill_no, a.c.at_s, a.c.entry_id)
    window = sa.and_(a.c.at_s >= lo, a.c.at_s <= hi)
    query = sa.select(a.c.enterprise_id, a.c.waybill_no, a.c.at_s, a.c.prefecture).where(window) if city else \
        sa.select(a.c.enterprise_id, a.c.waybill_no, a.c.at_s, e.c.sender_id_hash) \
        .join_from(a, e, e.c.entry_id == a.c.entry_id).where(window)
    out: dict[Parcel, tuple[int, str | None]] = {}
    for ent, wb, at_s, value in conn.execute(query.order_by(*order)):
        out.setdefault((ent, wb), (int(at_s), value))
    return out


def _acceptances(conn: Connection, lo: int, hi: int, city: bool) -> dict[Parcel, tuple[int, str | None]]:
    """Each parcel accepted in the window: (first acceptance's at_s, its sender hash or prefecture)."""
    e = t.events
    cols = [e.c.enterprise_id, e.c.waybill_no, e.c.at_s, e.c.doc if city else e.c.sender_id_hash]
    out: dict[Parcel, tuple[int, str | None]] = {}
    rows = conn.execute(sa.select(*cols).where(_parcel_events(lo, hi), e.c.type == "acceptance")
                        .order_by(e.c.enterprise_id, e.c.waybill_no, e.c.at_s, e.c.entry_id))
    for ent, wb, at_s, value in rows:
        if (ent, wb) in out:
            continue
        if city:
            doc = loads(value)
            value = prefecture_of(doc.get("origin_region") if isinstance(doc, dict) else None)
        out[(ent, wb)] = (int(at_s), value)
    return out


def violations_in(conn: Connection, lo: int, hi: int) -> list[dict[str, Any]]:
    v = t.violations
    rows = conn.execute(sa.select(v.c.doc).where(v.c.status == "open", v.c.occurred_at >= format_utc((lo, "")),
                                                 v.c.occurred_at <= format_utc((hi, "")))
                        .order_by(v.c.enterprise_id, v.c.waybill_no, v.c.rule_id))
    return [loads(d) for d in rows.scalars()]


def findings_in(conn: Connection, lo: int, hi: int, indexed: bool = False) -> list[dict[str, Any]]:
    """The first prohibited finding of each parcel in the window, as a pseudo-violation."""
    if indexed:
        f = ix.risk_findings
        rows = conn.execute(sa.select(f.c.enterprise_id, f.c.waybill_no, f.c.event_id, f.c.at_s)
                            .where(f.c.at_s >= lo, f.c.at_s <= hi)
                            .order_by(f.c.enterprise_id, f.c.waybill_no, f.c.at_s, f.c.entry_id))
        return _first_findings(rows)
    e = t.events
    found = sa.or_(sa.and_(e.c.type.in_(("xray", "manual_check")), e.c.result == "prohibited"),
                   e.c.type == "interception")
    rows = conn.execute(sa.select(e.c.enterprise_id, e.c.waybill_no, e.c.event_id, e.c.at_s)
                        .where(_parcel_events(lo, hi), found)
                        .order_by(e.c.enterprise_id, e.c.waybill_no, e.c.at_s, e.c.entry_id))
    return _first_findings(rows)


def _first_findings(rows: Iterable[Any]) -> list[dict[str, Any]]:
    out: dict[Parcel, dict[str, Any]] = {}
    for ent, wb, event_id, at_s in rows:
        out.setdefault((ent, wb), {"enterprise_id": ent, "waybill_no": wb, "rule_id": PROHIBITED,
                                   "evidence": [event_id], "at_s": int(at_s), "severity": None,
                                   "ident": f"{ent}/{event_id}"})
    return list(out.values())


def evidence_events(conn: Connection, keys: Iterable[tuple[str, str]]) -> dict[tuple[str, str], Any]:
    """``(enterprise_id, event_id)`` → the event's type, site, staff, inspector and device."""
    e, out = t.events, {}
    by_enterprise: dict[str, list[str]] = defaultdict(list)
    for ent, event_id in sorted(set(keys)):
        by_enterprise[ent].append(event_id)
    query = sa.select(e.c.enterprise_id, e.c.event_id, e.c.type, e.c.site_id, e.c.staff_id, e.c.inspector_id,
                      e.c.device_id)
    for ent, wanted in sorted(by_enterprise.items()):  # (enterprise_id, event_id IN ...): the unique key's index
        for i in range(0, len(wanted), _CHUNK):
            rows = conn.execute(query.where(e.c.enterprise_id == ent, e.c.event_id.in_(wanted[i:i + _CHUNK])))
            out.update({(r.enterprise_id, r.event_id): r for r in rows})
    return out


def _sources_of(kind: str, ev: Any) -> list[str]:
    if kind == "site":
        return [ev.site_id] if ev.site_id else []
    if kind == "staff":
        return sorted({s for s in (ev.staff_id, ev.inspector_id) if s})
    if kind == "machine":
        return [ev.device_id] if ev.type == "xray" and ev.device_id else []
    if kind == "vehicle":
        return [ev.device_id] if ev.type in ("depart", "arrive") and ev.device_id else []
    return []


def _at_s(item: dict[str, Any]) -> int:
    return int(item["at_s"]) if "at_s" in item else parse_instant(item["occurred_at"])[0]


def kind_data(conn: Connection, kind: str, as_of_s: int, window_s: int, model: RiskModel,
              reference: bool = False, behind: bool = False) -> KindData:
    """Everything :func:`greenshield.risk.score.score_kind` needs for one kind and window.

    From the side tables when they cover the store (unless ``reference``), else from ``events``;
    ``behind``: from the side tables as they stand (the events since their last catch-up not
    counted yet), as the service answers while a catch-up runs.
    """
    if kind not in KINDS:
        raise ValueError(f"unknown kind {kind!r}: one of {', '.join(KINDS)}")
    lo, hi, data = as_of_s - window_s, as_of_s, KindData()
    indexed = not reference and (ix.covers(conn) or (behind and ix.has_tables(conn)))
    items = [v for v in violations_in(conn, lo, hi) if model.counts(kind, v["rule_id"])]
    if model.counts(kind, PROHIBITED):
        items += findings_in(conn, lo, hi, indexed)
    accepted: dict[Parcel, tuple[int, str | None]] = {}
    if kind in EVENT_KINDS or kind == "enterprise":
        (_indexed_exposure if indexed else _event_exposure)(conn, kind, lo, hi, data)
    else:
        accepted = (_indexed_acceptances if indexed else _acceptances)(conn, lo, hi, city=kind == "city")
        for (ent, _), (at_s, src) in accepted.items():
            if src is not None:
                data.exposure[src][(hi - at_s) // HOUR] += 1
                data.owners[src].add(ent)
    evidence = evidence_events(conn, ((v["enterprise_id"], x) for v in items for x in v.get("evidence", []))) \
        if kind in EVENT_KINDS else {}
    for item in items:
        parcel = (item["enterprise_id"], item["waybill_no"])
        if kind == "enterprise":
            sources = [parcel[0]]
        elif kind in PARCEL_KINDS:
            src = accepted.get(parcel, (0, None))[1]
            sources = [src] if src is not None else []
        else:
            found = [evidence.get((parcel[0], x)) for x in item.get("evidence", [])]
            sources = sorted({s for ev in found if ev is not None for s in _sources_of(kind, ev)})
        ident = item.get("ident") or f"{parcel[0]}/{parcel[1]}/{item['rule_id']}"
        weight = model.weight(item["rule_id"], item.get("severity"))
        for src in sources:
            data.incidents.append(Incident(src, parcel, item["rule_id"], weight, (hi - _at_s(item)) // HOUR, ident))
    return _ordered(data)


def _ordered(data: KindData) -> KindData:
    """Sources and ages in sorted order, so sums add up in one order whichever path filled them."""
    exposure: dict[str, dict[int, int]] = {s: dict(sorted(b.items())) for s, b in sorted(data.exposure.items())}
    return KindData(exposure, data.incidents, {s: set(o) for s, o in sorted(data.owners.items())})
