"""Storing grades, warnings and sanctions as audit-log leaves, and reading them back.

Each write is idempotent: a grade equal to the enterprise's latest one for that
period is not stored again (one that differs, after late data, is the next ``seq``);
a warning is stored once per (subject, instant or period, level); a sanction once per
decision reference. So running the same computation twice, or after a restart, adds
nothing and answers the same.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from greenshield.store import schema as t
from greenshield.store.audit_log import append, leaf_numbers
from greenshield.store.database import Store
from greenshield.translog.entries import canonical, loads, record_entry


def _insert(conn: Connection, store: Store, kind: str, table: sa.Table, rows: list[dict[str, Any]]) -> list[int]:
    ids = store.allocate_ids(conn, len(rows))
    for entry_id, row in zip(ids, rows):
        row["id"] = entry_id
    if rows:
        conn.execute(table.insert(), rows)
        append(conn, [(r["id"], kind, record_entry(kind, r)) for r in rows], store)
    return ids


def latest_grades(conn: Connection, period: str | None = None) -> dict[tuple[str, str], Any]:
    """The latest stored grade row of each (enterprise, period), optionally of one period."""
    g = t.grades
    top = sa.select(g.c.enterprise_id, g.c.period, sa.func.max(g.c.seq).label("seq")) \
        .group_by(g.c.enterprise_id, g.c.period)
    if period is not None:
        top = top.where(g.c.period == period)
    sub = top.subquery()
    rows = conn.execute(sa.select(g).join(sub, sa.and_(sub.c.enterprise_id == g.c.enterprise_id,
                                                       sub.c.period == g.c.period, sub.c.seq == g.c.seq)))
    return {(r.enterprise_id, r.period): r for r in rows}


def store_grades(store: Store, period: str, docs: Sequence[Mapping[str, Any]]) -> int:
    """Store each enterprise's grade doc unless it equals its latest; returns how many were stored."""
    with store.write() as conn:
        latest = latest_grades(conn, period)
        rows = []
        for doc in docs:
            text = canonical(dict(doc)).decode()
            old = latest.get((doc["enterprise_id"], period))
            if old is not None and old.doc == text:
                continue
            rows.append({"enterprise_id": doc["enterprise_id"], "period": period, "grade": doc["grade"],
                         "seq": (int(old.seq) + 1) if old is not None else 1, "doc": text})
        _insert(conn, store, "grade", t.grades, rows)
    return len(rows)


def stored_grades(conn: Connection, period: str, enterprise: str | None = None) -> list[dict[str, Any]]:
    """The latest grades of a period, each with ``seq`` and its leaf (``audit_entry``; None while pending)."""
    rows = [r for (e, _), r in sorted(latest_grades(conn, period).items()) if enterprise in (None, e)]
    leaves = leaf_numbers(conn, [int(r.id) for r in rows])
    return [{**loads(r.doc), "seq": int(r.seq), "audit_entry": leaves.get(int(r.id))} for r in rows]


def store_warnings(store: Store, docs: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """Store the warnings not stored yet; returns those that are new (to publish)."""
    w = t.warnings
    new: list[dict[str, Any]] = []
    with store.write() as conn:
        for doc in docs:
            key = (doc["subject_kind"], doc["subject_id"], doc["at"], doc["level"])
            exists = conn.execute(sa.select(w.c.id).where(w.c.subject_kind == key[0], w.c.subject_id == key[1],
                                                          w.c.at == key[2], w.c.level == key[3])).first()
            if exists is None and key not in {(d["subject_kind"], d["subject_id"], d["at"], d["level"]) for d in new}:
                new.append(dict(doc))
        rows = [{"subject_kind": d["subject_kind"], "subject_id": d["subject_id"], "at": d["at"],
                 "level": d["level"], "enterprise_id": d.get("enterprise_id"), "doc": canonical(d).decode()}
                for d in new]
        _insert(conn, store, "warning", w, rows)
    return new


def list_warnings(conn: Connection, enterprise: str | None = None, kind: str | None = None,
                  limit: int = 1000) -> list[dict[str, Any]]:
    """Stored warnings, newest entry first, with their leaf; ``enterprise`` limits to that enterprise's."""
    w = t.warnings
    query = sa.select(w).order_by(w.c.id.desc()).limit(limit)
    if enterprise is not None:
        query = query.where(w.c.enterprise_id == enterprise)
    if kind is not None:
        query = query.where(w.c.subject_kind == kind)
    rows = conn.execute(query).all()
    leaves = leaf_numbers(conn, [int(r.id) for r in rows])
    return [{**loads(r.doc), "audit_entry": leaves.get(int(r.id))} for r in rows]


def store_sanction(store: Store, doc: Mapping[str, Any]) -> tuple[int, bool]:
    """Store a sanction (``enterprise_id``, ``decision_ref``, ``at_s``, ``points``, ...); (entry id, new?)."""
    s = t.sanctions
    with store.write() as conn:
        old = conn.execute(sa.select(s.c.id, s.c.doc).where(s.c.decision_ref == doc["decision_ref"])).first()
        if old is not None:
            if old.doc != canonical(dict(doc)).decode():
                raise ValueError(f"decision {doc['decision_ref']} is already recorded with other content")
            return int(old.id), False
        row = {k: doc[k] for k in ("enterprise_id", "decision_ref", "at_s", "points")}
        (entry_id,) = _insert(conn, store, "sanction", s, [{**row, "doc": canonical(dict(doc)).decode()}])
    return entry_id, True


def sanctions_in(conn: Connection, lo_s: int, hi_s: int) -> dict[str, list[tuple[int, int]]]:
    """``{enterprise: [(entry id, points), ...]}`` of the sanctions dated in ``[lo_s, hi_s)``."""
    s = t.sanctions
    out: dict[str, list[tuple[int, int]]] = {}
    for ent, entry_id, points in conn.execute(sa.select(s.c.enterprise_id, s.c.id, s.c.points)
                                              .where(s.c.at_s >= lo_s, s.c.at_s < hi_s).order_by(s.c.id)):
        out.setdefault(ent, []).append((int(entry_id), int(points)))
    return out
