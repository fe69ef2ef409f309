"""Read models of the service: statistics, pages of violations, and a log entry by its leaf number.

Counting by prefecture city needs each parcel's ``origin_region``, which lives only
in the acceptance's stored doc. :func:`refresh` keeps a small side table,
``parcel_origins`` (one row per accepted parcel: enterprise, origin region, its
prefecture city, acceptance time), caught up from the events stored since its
cursor; every statistic is then a GROUP BY in the database. The side tables have
their own :class:`~sqlalchemy.MetaData` and version row (``stats_version``), an
addition beside the audit schema that :func:`ensure_tables` creates on first use.
They are derived data, not audited: deleting them only costs a rebuild.

The prefecture city of a region code is its first four digits + ``00``
(``320582`` → ``320500``, 苏州).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from greenshield.store import schema as t
from greenshield.store.audit_log import entry_ids
from greenshield.store.database import Store, insert_ignoring_conflicts
from greenshield.store.positions import last_entry_id
from greenshield.store.side_tables import ensure_versioned_tables, version_table
from greenshield.store.verdicts import violation_doc
from greenshield.translog.entries import loads

STATS_VERSION = 2  # 2: parcel_origins keyed by (enterprise_id, waybill_no), contract §8.1
REFRESH_CHUNK = 50_000  # entry ids caught up per transaction
SYSTEM_PREFIXES = ("RN", "IN", "XR", "PH", "TR", "TK", "PR")

metadata = sa.MetaData()

stats_version = version_table("stats_version", metadata)
stats_state = sa.Table(
    "stats_state", metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=False),
    sa.Column("entries_seen", sa.BigInteger, nullable=False),  # entry ids <= it are counted
    sa.Column("events_total", sa.BigInteger, nullable=False),
)
parcel_origins = sa.Table(
    "parcel_origins", metadata,  # one row per parcel (enterprise_id, waybill_no), contract §8.1
    sa.Column("enterprise_id", sa.String(8), primary_key=True),
    sa.Column("waybill_no", sa.String(32), primary_key=True),
    sa.Column("origin_region", sa.String(6)),
    sa.Column("prefecture", sa.String(6)),
    sa.Column("accepted_s", sa.BigInteger, nullable=False),
    sa.Index("ix_parcel_origins_enterprise", "enterprise_id", "prefecture"),
    sa.Index("ix_parcel_origins_prefecture", "prefecture"),
)


def prefecture_of(region: object) -> str | None:
    """The prefecture city code of a 6-digit region code (first four digits + ``00``), else None."""
    if isinstance(region, str) and len(region) == 6 and region.isascii() and region.isdigit():
        return region[:4] + "00"
    return None


def ensure_tables(store: Store) -> None:
    """Create the side tables if this store has none yet (safe to race with another process)."""

    def seed(conn: Connection) -> None:
        conn.execute(stats_state.insert().values(id=1, entries_seen=0, events_total=0))

    ensure_versioned_tables(store, metadata, stats_version, STATS_VERSION, stats_state, "statistics", seed)


# --------------------------------------------------------------------------- catching up

def refresh(store: Store) -> int:
    """Catch ``parcel_origins`` and the event count up with the committed events; return the new events.

    Runs as the sequencer does (:meth:`Store.sequencing`, one at a time), so the cursor
    only passes entry ids that no writer can still commit (:meth:`Store.committed_high_water`).
    """
    with store.read() as conn:  # the common case, nothing new: no lock taken
        seen = int(conn.execute(sa.select(stats_state.c.entries_seen)).scalar_one())
        top = last_entry_id(conn)
    if top is None or int(top) <= seen:
        return 0
    added = 0
    while True:
        with store.sequencing() as conn:
            seen = int(conn.execute(sa.select(stats_state.c.entries_seen)).scalar_one())
            high = min(store.committed_high_water(conn), seen + REFRESH_CHUNK)
            if high <= seen:
                return added
            added += _catch_up(store, conn, seen, high)
            if high < seen + REFRESH_CHUNK:
                return added


def _catch_up(store: Store, conn: Connection, seen: int, high: int) -> int:
    e = t.events
    in_range = e.c.entry_id.between(seen + 1, high)
    count = int(conn.execute(sa.select(sa.func.count()).select_from(e).where(in_range)).scalar_one())
    rows = conn.execute(sa.select(e.c.waybill_no, e.c.enterprise_id, e.c.at_s, e.c.doc)
                        .where(in_range, e.c.type == "acceptance").order_by(e.c.entry_id)).all()
    origins = list(_origins(rows))
    if origins:
        conn.execute(insert_ignoring_conflicts(store, parcel_origins), origins)
    conn.execute(stats_state.update().where(stats_state.c.id == 1)
                 .values(entries_seen=high, events_total=stats_state.c.events_total + count))
    return count


def _origins(rows: Sequence[Any]) -> Iterator[dict[str, Any]]:
    first: set[tuple[str, str]] = set()
    for waybill, enterprise, at_s, doc in rows:
        if (enterprise, waybill) in first:
            continue
        first.add((enterprise, waybill))
        region = loads(doc).get("origin_region")
        region = region if isinstance(region, str) and len(region) <= 6 else None
        yield {"waybill_no": waybill, "enterprise_id": enterprise, "origin_region": region,
               "prefecture": prefecture_of(region), "accepted_s": int(at_s)}


# --------------------------------------------------------------------------- statistics

@dataclass(frozen=True)
class Scope:
    """Which violations and parcels a statistic covers.

    ``since``/``until`` are contract §5 UTC texts (``YYYY-MM-DDTHH:MM:SSZ``) for violations
    and epoch seconds (``since_s``/``until_s``) for parcels, by acceptance time.
    """

    enterprise_id: str | None = None
    since: str | None = None
    until: str | None = None
    since_s: int | None = None
    until_s: int | None = None

    def violations(self) -> list[Any]:
        v = t.violations
        out: list[Any] = []
        if self.enterprise_id is not None:
            out.append(v.c.enterprise_id == self.enterprise_id)
        if self.since is not None:
            out.append(v.c.occurred_at >= self.since)
        if self.until is not None:
            out.append(v.c.occurred_at <= self.until)
        return out

    def parcels(self) -> list[Any]:
        p = parcel_origins
        out: list[Any] = []
        if self.enterprise_id is not None:
            out.append(p.c.enterprise_id == self.enterprise_id)
        if self.since_s is not None:
            out.append(p.c.accepted_s >= self.since_s)
        if self.until_s is not None:
            out.append(p.c.accepted_s <= self.until_s)
        return out


def statistics(conn: Connection, scope: Scope) -> dict[str, Any]:
    """Every count the dashboard shows, for one scope (plain JSON-ready values)."""
    return {"events_total": events_total(conn),
            "violations": violation_totals(conn, scope),
            "by_rule": by_rule(conn, scope),
            "by_enterprise": by_enterprise(conn, scope),
            "by_hour": by_hour(conn, scope),
            "by_prefecture": by_prefecture(conn, scope),
            "systems": systems(conn, scope)}


def entries_seen(conn: Connection) -> int:
    """The entry id :func:`refresh` has counted up to: the statistics change only when it moves."""
    return int(conn.execute(sa.select(stats_state.c.entries_seen)).scalar_one())


def events_total(conn: Connection) -> int:
    """Events (and registry records) counted by the last :func:`refresh`."""
    return int(conn.execute(sa.select(stats_state.c.events_total)).scalar_one())


def violation_totals(conn: Connection, scope: Scope) -> dict[str, int]:
    v = t.violations
    rows = conn.execute(sa.select(v.c.status, sa.func.count()).where(*scope.violations()).group_by(v.c.status))
    found = {str(s): int(n) for s, n in rows}
    return {"open": found.get("open", 0), "retracted": found.get("retracted", 0)}


def by_rule(conn: Connection, scope: Scope) -> list[dict[str, Any]]:
    """Per rule: open and retracted violations."""
    v = t.violations
    rows = conn.execute(sa.select(v.c.rule_id, v.c.status, sa.func.count()).where(*scope.violations())
                        .group_by(v.c.rule_id, v.c.status))
    out: dict[str, dict[str, Any]] = {}
    for rule, status, n in rows:
        out.setdefault(rule, {"rule_id": rule, "open": 0, "retracted": 0})[status] = int(n)
    return sorted(out.values(), key=lambda r: r["rule_id"])


def _same_parcel(v: sa.Table, p: sa.Table) -> Any:
    return sa.and_(p.c.enterprise_id == v.c.enterprise_id, p.c.waybill_no == v.c.waybill_no)


def _parcel_text(v: sa.Table) -> Any:
    """One value per parcel, for COUNT(DISTINCT ...) (SQLite counts distinct single values only)."""
    return v.c.enterprise_id + "/" + v.c.waybill_no


def by_enterprise(conn: Connection, scope: Scope) -> list[dict[str, Any]]:
    """Per enterprise: open violations and accepted parcels, most open violations first."""
    v, p = t.violations, parcel_origins
    open_: dict[str, int] = dict(conn.execute(sa.select(v.c.enterprise_id, sa.func.count())
                              .where(v.c.status == "open", *scope.violations()).group_by(v.c.enterprise_id)).all())
    parcels: dict[str, int] = dict(conn.execute(sa.select(p.c.enterprise_id, sa.func.count()).where(*scope.parcels())
                                .group_by(p.c.enterprise_id)).all())
    rows = [{"enterprise_id": e, "open": int(open_.get(e, 0)), "parcels": int(parcels.get(e, 0))}
            for e in set(open_) | set(parcels)]
    return sorted(rows, key=lambda r: (-r["open"], r["enterprise_id"]))


def by_hour(conn: Connection, scope: Scope) -> list[dict[str, Any]]:
    """Open violations per UTC hour of their ``occurred_at``, in time order."""
    v = t.violations
    hour = sa.func.substr(v.c.occurred_at, 1, 13)
    rows = conn.execute(sa.select(hour, sa.func.count()).where(v.c.status == "open", *scope.violations())
                        .group_by(hour).order_by(hour))
    return [{"hour": f"{h}:00:00Z", "open": int(n)} for h, n in rows]


def by_prefecture(conn: Connection, scope: Scope) -> list[dict[str, Any]]:
    """Per prefecture city of origin: accepted parcels, open violations, parcels with one; most violations first.

    A violation of a parcel with no stored acceptance counts under ``prefecture: null``.
    """
    v, p = t.violations, parcel_origins
    parcels: dict[str | None, int] = dict(conn.execute(sa.select(p.c.prefecture, sa.func.count()).where(*scope.parcels())
                                .group_by(p.c.prefecture)).all())
    joined = v.outerjoin(p, _same_parcel(v, p))
    rows = conn.execute(sa.select(p.c.prefecture, sa.func.count(), sa.func.count(sa.distinct(_parcel_text(v))))
                        .select_from(joined).where(v.c.status == "open", *scope.violations())
                        .group_by(p.c.prefecture)).all()
    found = {r[0]: (int(r[1]), int(r[2])) for r in rows}
    out = [{"prefecture": code, "parcels": int(parcels.get(code, 0)), "open": found.get(code, (0, 0))[0],
            "violating_parcels": found.get(code, (0, 0))[1]} for code in set(parcels) | set(found)]
    return sorted(out, key=lambda r: (-r["open"], -r["parcels"], r["prefecture"] or "~"))


def systems(conn: Connection, scope: Scope) -> list[dict[str, Any]]:
    """Per safety system (rule-id prefix): accepted parcels, those with an open violation, the compliance rate.

    rate = 1 - violating / parcels over the accepted parcels in scope (None when there are none).
    """
    v, p = t.violations, parcel_origins
    parcels = int(conn.execute(sa.select(sa.func.count()).select_from(p).where(*scope.parcels())).scalar_one())
    system = sa.func.substr(v.c.rule_id, 1, 2)
    rows = conn.execute(sa.select(system, sa.func.count(sa.distinct(_parcel_text(v))))
                        .select_from(v.join(p, _same_parcel(v, p)))
                        .where(v.c.status == "open", *scope.violations(), *scope.parcels()).group_by(system))
    bad = {str(s): int(n) for s, n in rows}
    return [{"system": s, "parcels": parcels, "violating_parcels": bad.get(s, 0),
             "compliance_rate": (1 - bad.get(s, 0) / parcels) if parcels else None} for s in SYSTEM_PREFIXES]


# --------------------------------------------------------------------------- violations, page by page

@dataclass(frozen=True)
class ViolationFilter:
    enterprise_id: str | None = None
    rule_id: str | None = None
    status: str | None = None
    since: str | None = None  # contract §5 UTC text, inclusive
    until: str | None = None


#: a page's keyset: ``(waybill_no, enterprise_id, rule_id)``, the order of ``check``'s output
PageKey = tuple[str, str, str]


def violation_page(conn: Connection, where: ViolationFilter, after: PageKey | None,
                   limit: int) -> tuple[list[dict[str, Any]], PageKey | None]:
    """Up to ``limit`` violations (contract §5 + status) after the key ``after``, by (waybill, enterprise, rule).

    Keyset order on the violation's identity: a page never repeats or skips a stored violation,
    whatever is inserted meanwhile (a new one lands before or after the cursor and is
    seen or not, once). Returns the page and the key to continue from (None at the end).
    """
    v = t.violations
    order = (v.c.waybill_no, v.c.enterprise_id, v.c.rule_id)
    query = sa.select(*order, v.c.doc).order_by(*order).limit(limit + 1)
    for column, value in ((v.c.enterprise_id, where.enterprise_id), (v.c.rule_id, where.rule_id),
                          (v.c.status, where.status)):
        if value is not None:
            query = query.where(column == value)
    if where.since is not None:
        query = query.where(v.c.occurred_at >= where.since)
    if where.until is not None:
        query = query.where(v.c.occurred_at <= where.until)
    if after is not None:
        w, e, r = after
        query = query.where(sa.or_(v.c.waybill_no > w,
                                   sa.and_(v.c.waybill_no == w, v.c.enterprise_id > e),
                                   sa.and_(v.c.waybill_no == w, v.c.enterprise_id == e, v.c.rule_id > r)))
    rows = conn.execute(query).all()
    page = [violation_doc(r[3]) for r in rows[:limit]]
    more = len(rows) > limit
    last = rows[limit - 1] if more and limit > 0 else None
    return page, ((str(last[0]), str(last[1]), str(last[2])) if last is not None else None)


# --------------------------------------------------------------------------- the log, by leaf

def leaf_entry(conn: Connection, leaf: int) -> tuple[str, bytes] | None:
    """``(kind, entry bytes)`` of the sequenced leaf ``leaf`` (the data its leaf hash covers), or None."""
    ids = entry_ids(conn, leaf, leaf + 1)
    if not ids:
        return None
    log = t.audit_log
    row = conn.execute(sa.select(log.c.kind, log.c.entry).where(log.c.id == ids[0])).first()
    return (str(row[0]), bytes(row[1])) if row is not None else None


def parcel_enterprises(conn: Connection, waybill: str) -> set[str]:
    """The enterprises with a parcel of this waybill (contract §8.1: each one's parcel is its own)."""
    e = t.events
    return set(conn.execute(sa.select(e.c.enterprise_id).where(e.c.waybill_no == waybill).distinct()).scalars())


def device_events_of(conn: Connection, device_id: str, enterprise_id: str) -> set[tuple[str, str]]:
    """``(waybill_no, event_id)`` of an enterprise's events on a vehicle or machine (scoping its legs)."""
    e = t.events
    rows = conn.execute(sa.select(e.c.waybill_no, e.c.event_id)
                        .where(e.c.device_id == device_id, e.c.enterprise_id == enterprise_id)).all()
    return {(str(r[0]), str(r[1])) for r in rows}


def tree_size(conn: Connection) -> int:
    """Leaves sequenced into the audit log so far."""
    return int(conn.execute(sa.select(t.audit_state.c.tree_size).where(t.audit_state.c.id == 1)).scalar_one())

