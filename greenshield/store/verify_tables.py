"""``audit verify`` beside the leaves: rows no entry covers, the ``violations`` fold, the id allocator, the clock."""

from __future__ import annotations

import re
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from greenshield.store import schema as t
from greenshield.store.database import Store
from greenshield.store.verify_report import INF, Report, Runs, State
from greenshield.store.verify_tree import DATA
from greenshield.translog.entries import loads

_SENTINEL = -(1 << 62)
_DIGITS = re.compile(r"[0-9]*")


def check_orphans(conn: Connection, report: Report, runs: Runs) -> None:
    """Data rows that no audit entry of their kind covers."""
    log = t.audit_log
    for kind, (table, key) in DATA.items():
        rows = conn.execute(sa.select(key).outerjoin(log, sa.and_(log.c.id == key, log.c.kind == kind))
                            .where(log.c.id.is_(None)).order_by(key).limit(10)).scalars().all()
        for entry_id in rows:
            report.add(_leaf_of(runs, int(entry_id)), f"{table.name}[{key.name}={entry_id}] has no audit entry of "
                                                      f"kind {kind} (inserted?)")


def _leaf_of(runs: Runs, entry_id: int) -> float:
    for first_leaf, first_id, count in runs:
        if entry_id < first_id + count:
            return first_leaf + max(0, entry_id - first_id) - 0.5
    return INF


def note_pending(conn: Connection, report: Report, state: State) -> None:
    pending = conn.execute(sa.select(sa.func.count()).where(t.audit_log.c.id > state.last_id)).scalar_one()
    if pending:
        report.notes.append(f"{pending} entries are written but not yet sequenced")


def check_violations(conn: Connection, report: Report) -> None:
    """``violations`` is the fold of the logged changes: each key's row equals its latest change."""
    v, c = t.violations, t.violation_changes
    top = sa.select(c.c.enterprise_id, c.c.waybill_no, c.c.rule_id, sa.func.max(c.c.seq).label("seq")) \
        .group_by(c.c.enterprise_id, c.c.waybill_no, c.c.rule_id).subquery()
    latest = sa.select(c.c.id, c.c.enterprise_id, c.c.waybill_no, c.c.rule_id, c.c.status, c.c.doc) \
        .join(top, sa.and_(top.c.enterprise_id == c.c.enterprise_id, top.c.waybill_no == c.c.waybill_no,
                           top.c.rule_id == c.c.rule_id, top.c.seq == c.c.seq)).subquery()
    on = sa.and_(latest.c.enterprise_id == v.c.enterprise_id, latest.c.waybill_no == v.c.waybill_no,
                 latest.c.rule_id == v.c.rule_id)
    for row in conn.execute(sa.select(v, latest.c.id.label("cid"), latest.c.status.label("cstatus"),
                                      latest.c.doc.label("cdoc")).outerjoin(latest, on)).mappings():
        where = (f"violations[enterprise_id={row['enterprise_id']}, waybill_no={row['waybill_no']}, "
                 f"rule_id={row['rule_id']}]")
        if row["cid"] is None:
            report.add(INF, f"{where} has no logged change (inserted?)")
            continue
        bad = _fold_diff(row)
        if bad:
            report.add(INF, f"{where}: {', '.join(bad)} differ from its latest logged change "
                            f"violation_changes[id={row['cid']}] (edited?)")
    missing = sa.select(latest.c.id, latest.c.enterprise_id, latest.c.waybill_no, latest.c.rule_id) \
        .outerjoin(v, on).where(v.c.waybill_no.is_(None)).order_by(latest.c.id).limit(10)
    for cid, ent, w, r in conn.execute(missing):
        report.add(INF, f"violations[enterprise_id={ent}, waybill_no={w}, rule_id={r}] is missing: its latest "
                        f"logged change is violation_changes[id={cid}] (deleted?)")


def _fold_diff(row: Any) -> list[str]:
    try:
        doc = loads(row["cdoc"])
        expected = {"status": row["cstatus"], "doc": row["cdoc"], "change_id": row["cid"],
                    "enterprise_id": doc.get("enterprise_id"), "occurred_at": doc.get("occurred_at")}
    except (ValueError, AttributeError):
        return ["every column (its change's doc does not parse)"]
    return [name for name, value in expected.items() if row[name] != value]


# --- the allocator and the clock: derived, checked where they can be

def _allocated_top(conn: Connection) -> int:
    tops = [sa.select(sa.func.coalesce(sa.func.max(key), 0)).scalar_subquery() for _, key in DATA.values()]
    tops.append(sa.select(sa.func.coalesce(sa.func.max(t.audit_log.c.id), 0)).scalar_subquery())
    return max(int(v) for v in conn.execute(sa.select(*tops)).one())


def check_allocator(store: Store, conn: Connection, report: Report) -> None:
    rows = [(int(i), int(n)) for i, n in conn.execute(sa.select(t.audit_ids.c.id, t.audit_ids.c.next_id))]
    top = _allocated_top(conn)
    if len(rows) != 1 or rows[0][0] != 1:
        report.add(INF, f"audit_ids[id=1]: the table must hold exactly that one row, it holds "
                        f"{[i for i, _ in rows]} (deleted or inserted?)")
        return
    if store.is_sqlite and rows[0][1] <= top:
        report.add(INF, f"audit_ids[id=1]: next_id {rows[0][1]} is not above the largest allocated entry id {top} "
                        f"(edited? the next writer would reuse an id)", derived=True)
    if not store.is_sqlite:
        if rows[0][1] != 1:
            report.add(INF, f"audit_ids[id=1]: next_id is {rows[0][1]}; PostgreSQL allocates from the sequence "
                            f"{t.ENTRY_SEQUENCE} and leaves it at 1 (edited?)")
        last = conn.exec_driver_sql(f"SELECT last_value, is_called FROM {t.ENTRY_SEQUENCE}").one()
        if (int(last[0]) if last[1] else 0) < top:
            report.add(INF, f"sequence {t.ENTRY_SEQUENCE} is at {last[0]}, below the largest allocated id {top}",
                       derived=True)


def check_clock(conn: Connection, report: Report) -> None:
    rows = conn.execute(sa.select(t.run_state)).all()
    if len(rows) != 1 or int(rows[0].id) != 1:
        report.add(INF, f"run_state[id=1]: the table must hold exactly that one row, it holds "
                        f"{[int(r.id) for r in rows]} (deleted or inserted?)")
        return
    r = rows[0]
    seen, e = int(r.events_seen), t.events
    if not _DIGITS.fullmatch(str(r.as_of_frac)):
        report.add(INF, f"run_state[id=1]: as_of_frac {str(r.as_of_frac)[:40]!r} is not fraction digits (edited?)")
    if int(r.as_of_s) == _SENTINEL and (seen != 0 or r.as_of_frac != ""):
        report.add(INF, "run_state[id=1]: no evaluation has run (as_of unset), yet it records events or a "
                        "fraction (edited?)")
    if seen and conn.execute(sa.select(e.c.entry_id).where(e.c.entry_id == seen)).first() is None:
        report.add(INF, f"run_state[id=1]: events_seen {seen} is not the id of a stored event (edited?)")
