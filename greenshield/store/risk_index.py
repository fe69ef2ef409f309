"""The risk side tables: which source handled which parcel when, acceptances and prohibited findings.

Derived from ``events`` and caught up by entry id (:func:`refresh`), with their own version
row; a reader uses them only when they cover every event it sees (:func:`covers`);
:func:`disagreements` checks the SQL against :func:`index_rows`. The tables and how they
are caught up: ``docs/adr/0014-risk-inputs.md``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from greenshield.store import schema as t
from greenshield.store.database import Store
from greenshield.store.positions import latest_event_id
from greenshield.store.side_tables import ensure_versioned_tables, version_table
from greenshield.store.stats import prefecture_of
from greenshield.translog.entries import loads

RISK_INDEX_VERSION = 1
REFRESH_CHUNK = 2_000  # entry ids caught up per transaction (bounds how long one holds the lock)
HANDLED_KINDS = ("enterprise", "site", "staff", "machine", "vehicle")
FINDING_TYPES = ("xray", "manual_check", "interception")

metadata = sa.MetaData()
risk_index_version = version_table("risk_index_version", metadata)
risk_index_state = sa.Table(
    "risk_index_state", metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=False),
    sa.Column("entries_seen", sa.BigInteger, nullable=False),  # events with entry_id <= it are indexed
)
risk_handled = sa.Table(
    "risk_handled", metadata,
    sa.Column("kind", sa.String(10), primary_key=True),
    sa.Column("src", sa.Text, primary_key=True),
    sa.Column("enterprise_id", sa.String(8), primary_key=True),
    sa.Column("waybill_no", sa.String(32), primary_key=True),
    sa.Column("first_s", sa.BigInteger, nullable=False),
    sa.Column("last_s", sa.BigInteger, nullable=False),
    sa.Index("ix_risk_handled_first", "kind", "first_s"),
)
risk_accepts = sa.Table(
    "risk_accepts", metadata,
    sa.Column("entry_id", sa.BigInteger, primary_key=True, autoincrement=False),
    sa.Column("enterprise_id", sa.String(8), nullable=False),
    sa.Column("waybill_no", sa.String(32), nullable=False),
    sa.Column("at_s", sa.BigInteger, nullable=False),
    sa.Column("prefecture", sa.String(6)),
    sa.Index("ix_risk_accepts_at", "at_s"),
)
risk_findings = sa.Table(
    "risk_findings", metadata,
    sa.Column("entry_id", sa.BigInteger, primary_key=True, autoincrement=False),
    sa.Column("enterprise_id", sa.String(8), nullable=False),
    sa.Column("waybill_no", sa.String(32), nullable=False),
    sa.Column("event_id", sa.String(64), nullable=False),
    sa.Column("at_s", sa.BigInteger, nullable=False),
    sa.Index("ix_risk_findings_at", "at_s"),
)


def ensure_tables(store: Store) -> None:
    """Create the risk side tables if this store has none yet (safe to race with another process)."""

    def seed(conn: Connection) -> None:
        conn.execute(risk_index_state.insert().values(id=1, entries_seen=0))

    ensure_versioned_tables(store, metadata, risk_index_version, RISK_INDEX_VERSION, risk_index_state,
                            "risk index", seed)


def has_tables(conn: Connection) -> bool:
    return sa.inspect(conn).has_table(risk_index_state.name)


def covers(conn: Connection) -> bool:
    """Whether the side tables hold every event this transaction sees."""
    if not has_tables(conn):
        return False
    seen = int(conn.execute(sa.select(risk_index_state.c.entries_seen)).scalar_one())
    return latest_event_id(conn) <= seen


def position(conn: Connection) -> tuple[int, int] | None:
    """``(entries_seen, the store's last event entry id)``; None without the tables."""
    if not has_tables(conn):
        return None
    seen = int(conn.execute(sa.select(risk_index_state.c.entries_seen)).scalar_one())
    return seen, latest_event_id(conn)


def refresh(store: Store, chunk: int = REFRESH_CHUNK) -> int:
    """Create the tables if needed and catch them up with the committed events; return the parcel events indexed.

    Up to the high water seen at the call, ``chunk`` entry ids per transaction, each done by the
    database (``INSERT ... SELECT ... GROUP BY`` with an upsert): the sequencer's lock (on SQLite
    the write lock) is held for one chunk at a time.
    """
    ensure_tables(store)
    with store.read() as conn:  # the common case, nothing new: no lock taken
        if covers(conn):
            return 0
    added, upto = 0, None
    while True:
        with store.sequencing() as conn:
            if upto is None:
                upto = store.committed_high_water(conn)
            seen = int(conn.execute(sa.select(risk_index_state.c.entries_seen)).scalar_one())
            high = min(upto, seen + chunk)
            if high <= seen:
                return added
            added += _catch_up(conn, seen, high)
            conn.execute(risk_index_state.update().where(risk_index_state.c.id == 1).values(entries_seen=high))


_COLUMNS = ("entry_id", "enterprise_id", "waybill_no", "type", "at_s", "site_id", "staff_id", "inspector_id",
            "device_id", "result", "event_id")


def _parcel_range(seen: int, high: int) -> Any:
    e = t.events
    return sa.and_(e.c.entry_id > seen, e.c.entry_id <= high, e.c.waybill_no.is_not(None), e.c.type != "registry")


def _catch_up(conn: Connection, seen: int, high: int) -> int:
    """Index the parcel events with ``seen < entry_id <= high``; return how many there were."""
    e, where = t.events, _parcel_range(seen, high)
    count = int(conn.execute(sa.select(sa.func.count()).select_from(e).where(where)).scalar_one())
    if count:
        conn.execute(_handled_upsert(conn, where))
        conn.execute(risk_findings.insert().from_select(
            ["entry_id", "enterprise_id", "waybill_no", "event_id", "at_s"],
            sa.select(e.c.entry_id, e.c.enterprise_id, e.c.waybill_no, e.c.event_id, e.c.at_s)
            .where(where, _found(e))))
        _insert_accepts(conn, where)
    return count


def _found(e: sa.Table) -> Any:
    """:func:`is_finding` in SQL."""
    return sa.or_(e.c.type == "interception",
                  sa.and_(e.c.type.in_(("xray", "manual_check")), e.c.result == "prohibited"))


def _handled_select(where: Any) -> Any:
    """``(kind, src, enterprise_id, waybill_no, first_s, last_s)`` of a range of events: :func:`handled_by` in SQL."""
    e = t.events
    rest = (e.c.enterprise_id, e.c.waybill_no, e.c.at_s)

    def part(kind: str, src: Any, *more: Any) -> Any:
        return sa.select(sa.literal_column(f"'{kind}'", sa.String(10)).label("kind"), src.label("src"), *rest) \
            .where(where, src.is_not(None), *more)

    rows = sa.union_all(
        part("enterprise", e.c.enterprise_id),
        part("site", e.c.site_id),
        part("staff", e.c.staff_id),
        part("staff", e.c.inspector_id, e.c.type == "acceptance"),
        part("machine", e.c.device_id, e.c.type == "xray"),
        part("vehicle", e.c.device_id, e.c.type.in_(("depart", "arrive"))),
    ).subquery()
    keys = (rows.c.kind, rows.c.src, rows.c.enterprise_id, rows.c.waybill_no)
    return sa.select(*keys, sa.func.min(rows.c.at_s), sa.func.max(rows.c.at_s)).group_by(*keys)


def _handled_upsert(conn: Connection, where: Any) -> Any:
    h = risk_handled
    lo: Any
    hi: Any
    if conn.dialect.name == "sqlite":
        from sqlalchemy.dialects.sqlite import insert as sqlite_insert
        ins: Any = sqlite_insert(h)
        lo, hi = sa.func.min, sa.func.max  # SQLite's two-argument min()/max() are scalar
    else:
        from sqlalchemy.dialects.postgresql import insert as pg_insert
        ins = pg_insert(h)
        lo, hi = sa.func.least, sa.func.greatest
    columns = ["kind", "src", "enterprise_id", "waybill_no", "first_s", "last_s"]
    ins = ins.from_select(columns, _handled_select(where))
    return ins.on_conflict_do_update(
        index_elements=[h.c.kind, h.c.src, h.c.enterprise_id, h.c.waybill_no],
        set_={"first_s": lo(h.c.first_s, ins.excluded.first_s), "last_s": hi(h.c.last_s, ins.excluded.last_s)})


def _insert_accepts(conn: Connection, where: Any) -> None:
    """One ``risk_accepts`` row per acceptance; its prefecture read from the stored doc in Python.

    (Not ``json_extract``/``->>``: the docs of a hostile enterprise may nest deeper than the
    database's JSON parser goes; :func:`loads` reads any stored doc.)
    """
    e = t.events
    rows = conn.execute(sa.select(e.c.entry_id, e.c.enterprise_id, e.c.waybill_no, e.c.at_s, e.c.doc)
                        .where(where, e.c.type == "acceptance")).all()
    if rows:
        conn.execute(risk_accepts.insert(), [
            {"entry_id": r[0], "enterprise_id": r[1], "waybill_no": r[2], "at_s": r[3], "prefecture": _prefecture(r[4])}
            for r in rows])


def _prefecture(doc_text: str) -> str | None:
    doc = loads(doc_text)
    return prefecture_of(doc.get("origin_region") if isinstance(doc, dict) else None)


def handled_by(kind: str, row: Any) -> list[str]:
    """The sources of ``kind`` that handled an event row (as the reference queries select them)."""
    if kind == "enterprise":
        return [row.enterprise_id]
    if kind == "site":
        return [row.site_id] if row.site_id is not None else []
    if kind == "staff":
        found = [row.staff_id] + ([row.inspector_id] if row.type == "acceptance" else [])
        return sorted({s for s in found if s is not None})
    if kind == "machine":
        return [row.device_id] if row.type == "xray" and row.device_id is not None else []
    if kind == "vehicle":
        return [row.device_id] if row.type in ("depart", "arrive") and row.device_id is not None else []
    return []


def is_finding(row: Any) -> bool:
    return bool(row.type == "interception" or (row.type in ("xray", "manual_check") and row.result == "prohibited"))


Handled = dict[tuple[str, str, str, str], list[int]]


def index_rows(rows: Sequence[Any], docs: dict[int, str]) -> tuple[Handled, list[dict[str, Any]], list[dict[str, Any]]]:
    """The side-table rows of some parcel events (``docs``: the acceptances' stored docs by entry id)."""
    handled: Handled = {}
    accepts, findings = [], []
    for row in rows:
        at = int(row.at_s)
        for kind in HANDLED_KINDS:
            for src in handled_by(kind, row):
                span = handled.setdefault((kind, src, row.enterprise_id, row.waybill_no), [at, at])
                span[0], span[1] = min(span[0], at), max(span[1], at)
        if row.type == "acceptance":
            doc = loads(docs[row.entry_id])
            region = doc.get("origin_region") if isinstance(doc, dict) else None
            accepts.append({"entry_id": row.entry_id, "enterprise_id": row.enterprise_id, "waybill_no": row.waybill_no,
                            "at_s": at, "prefecture": prefecture_of(region)})
        if is_finding(row):
            findings.append({"entry_id": row.entry_id, "enterprise_id": row.enterprise_id,
                             "waybill_no": row.waybill_no, "event_id": row.event_id, "at_s": at})
    return handled, accepts, findings


def disagreements(conn: Connection) -> list[str]:
    """What the side tables hold that a rebuild from the events they cover would not (empty: they agree)."""
    seen = int(conn.execute(sa.select(risk_index_state.c.entries_seen)).scalar_one())
    e = t.events
    where = sa.and_(e.c.entry_id <= seen, e.c.waybill_no.is_not(None), e.c.type != "registry")
    rows = conn.execute(sa.select(*(e.c[c] for c in _COLUMNS)).where(where)).all()
    docs = dict(conn.execute(sa.select(e.c.entry_id, e.c.doc).where(where, e.c.type == "acceptance")).all())
    handled, accepts, findings = index_rows(rows, docs)
    out = []
    stored_h = {(r[0], r[1], r[2], r[3]): [int(r[4]), int(r[5])] for r in conn.execute(sa.select(risk_handled))}
    if stored_h != handled:
        out.append(_diff("risk_handled", stored_h, handled))
    for table, built in ((risk_accepts, accepts), (risk_findings, findings)):
        stored = {r["entry_id"]: dict(r) for r in conn.execute(sa.select(table)).mappings()}
        want = {r["entry_id"]: r for r in built}
        if stored != want:
            out.append(_diff(table.name, stored, want))
    return out


def _diff(name: str, stored: dict[Any, Any], want: dict[Any, Any]) -> str:
    keys = set(stored) | set(want)
    bad = sum(1 for k in keys if stored.get(k) != want.get(k))
    return f"{name}: {bad} of {len(keys)} rows disagree with the events"
