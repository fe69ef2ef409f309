"""Risk rankings, credit grades and the warnings they raise, computed from the store at an ``as_of``.

JSON-ready answers for the CLI and the API. Scores are shown per 1,000 parcels
(weighted), rounded to 3 decimals; the same store and ``as_of`` always give the
same answer. A sender appears only as its keyed hash (contract §6).
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from greenshield.risk.credit import CreditInputs, credit, grade_fell, period_bounds, previous_period
from greenshield.risk.model import GRADE_NAMES, LEVEL_NAMES, RiskModel
from greenshield.risk.score import SourceScore, interval, level_rank, score_kind
from greenshield.rules.timestamps import format_utc
from greenshield.store import risk_index, schema as t
from greenshield.store.credit_log import sanctions_in, store_grades, store_warnings
from greenshield.store.database import Store
from greenshield.store.risk_data import evidence_events, findings_in, kind_data, violations_in

MAX_IDS = 1000  # violation ids listed per source


def _pm(rate: float) -> float:
    return round(rate * 1000, 3)


def span_text(seconds: int) -> str:
    return f"{seconds // 86400}d" if seconds % 86400 == 0 else f"{seconds // 3600}h" if seconds % 3600 == 0 \
        else f"{seconds // 60}m"


def _scores(conn: Connection, kind: str, as_of_s: int, window_s: int, model: RiskModel,
            reference: bool = False, behind: bool = False) -> tuple[float, list[SourceScore], dict[str, set[str]]]:
    data = kind_data(conn, kind, as_of_s, window_s, model, reference, behind)
    rate, scored = score_kind(kind, data.exposure, data.incidents, model)
    return rate, scored, data.owners


def _trend(now: SourceScore, before: SourceScore | None) -> dict[str, Any]:
    if before is None:
        return {"previous": None, "change": None, "direction": "new", "previous_level": None}
    change = round(_pm(now.mean) - _pm(before.mean), 3)
    direction = "up" if change > 0 else "down" if change < 0 else "steady"
    return {"previous": _pm(before.mean), "change": change, "direction": direction, "previous_level": before.level}


def _owner(owners: set[str]) -> str | None:
    return next(iter(owners)) if len(owners) == 1 else None


def _result(rank: int, kind: str, s: SourceScore, before: SourceScore | None, owner: str | None,
            model: RiskModel) -> dict[str, Any]:
    lo, hi = interval(s, model.interval)
    return {"rank": rank, "kind": kind, "source": s.source, "enterprise_id": owner, "score": _pm(s.mean),
            "interval": [_pm(lo), _pm(hi)], "level": s.level, "level_zh": LEVEL_NAMES.get(s.level or ""),
            "parcels": s.parcels, "violations": s.by_rule, "trend": _trend(s, before),
            "violation_ids": s.ids[:MAX_IDS], "violation_ids_total": len(s.ids)}


def risk_report(conn: Connection, kind: str, as_of_s: int, model: RiskModel, window_s: int | None = None,
                top: int = 20, enterprise: str | None = None, reference: bool = False,
                behind: bool = False) -> dict[str, Any]:
    """The ranking of ``kind`` at ``as_of_s``; ``enterprise`` keeps only sources wholly that enterprise's.

    Fast once :func:`greenshield.store.risk_index.refresh` has caught the side tables up;
    ``reference`` computes it from ``events`` alone (the same answer, slowly); ``behind`` uses the
    side tables even when they are behind the store (:func:`greenshield.store.risk_data.kind_data`).
    """
    window = window_s or model.window_s
    rate, scored, owners = _scores(conn, kind, as_of_s, window, model, reference, behind)
    _, before, _ = _scores(conn, kind, as_of_s - window, window, model, reference, behind)
    previous = {s.source: s for s in before}
    if enterprise is not None:
        scored = [s for s in scored if owners.get(s.source) == {enterprise}]
    results = [_result(k, kind, s, previous.get(s.source), _owner(owners.get(s.source, set())), model)
               for k, s in enumerate(scored[:top], 1)]
    return {"kind": kind, "as_of": format_utc((as_of_s, "")), "window": span_text(window), "model": model.label,
            "regional_rate": _pm(rate), "sources": len(scored), "results": results}


def risk_warnings(conn: Connection, kind: str, as_of_s: int, model: RiskModel,
                  window_s: int | None = None) -> list[dict[str, Any]]:
    """A warning for every source of ``kind`` whose level is above its level in the previous window."""
    window = window_s or model.window_s
    _, scored, owners = _scores(conn, kind, as_of_s, window, model)
    _, before, _ = _scores(conn, kind, as_of_s - window, window, model)
    previous = {s.source: s.level for s in before}
    at = format_utc((as_of_s, ""))
    return [{"subject_kind": kind, "subject_id": s.source, "at": at, "level": s.level,
             "level_zh": LEVEL_NAMES.get(s.level or ""), "previous_level": previous.get(s.source),
             "reason": "level_rose", "score": _pm(s.mean), "parcels": s.parcels, "window": span_text(window),
             "enterprise_id": _owner(owners.get(s.source, set())), "model": model.label}
            for s in scored if s.level is not None and level_rank(s.level) > level_rank(previous.get(s.source))]


# --- credit

def _parcels(conn: Connection, lo: int, hi: int) -> dict[str, int]:
    e = t.events
    parcels = sa.select(e.c.enterprise_id, e.c.waybill_no).where(
        e.c.waybill_no.is_not(None), e.c.type != "registry", e.c.at_s >= lo, e.c.at_s <= hi).distinct().subquery()
    rows = conn.execute(sa.select(parcels.c.enterprise_id, sa.func.count()).group_by(parcels.c.enterprise_id))
    return {str(ent): int(n) for ent, n in rows}


def credit_inputs(conn: Connection, lo: int, hi: int) -> list[CreditInputs]:
    """Each enterprise's inputs for the events and open violations in ``[lo, hi]`` (seconds)."""
    parcels = _parcels(conn, lo, hi)
    violations = violations_in(conn, lo, hi)
    evidence = evidence_events(conn, ((v["enterprise_id"], v["evidence"][0]) for v in violations if v["evidence"]))
    systems: dict[str, dict[str, set[tuple[str, str]]]] = defaultdict(lambda: defaultdict(set))
    critical: dict[str, set[str]] = defaultdict(set)
    late: dict[str, set[str]] = defaultdict(set)
    pairs: dict[str, list[tuple[str | None, str]]] = defaultdict(list)
    for v in violations:
        ent, wb, rule = v["enterprise_id"], v["waybill_no"], v["rule_id"]
        systems[ent][rule.split("-")[0]].add((ent, wb))
        if v.get("severity") == "critical":
            critical[ent].add(wb)
        if rule == "PH-2":
            late[ent].add(wb)
        ev = evidence.get((ent, v["evidence"][0])) if v["evidence"] else None
        pairs[ent].append((ev.site_id if ev is not None else None, rule))
    found: dict[str, int] = defaultdict(int)
    for f in findings_in(conn, lo, hi):
        found[f["enterprise_id"]] += 1
    sanctions = sanctions_in(conn, lo, hi + 1)
    out = []
    for ent in sorted(set(parcels) | set(sanctions)):
        out.append(CreditInputs(
            ent, parcels.get(ent, 0), {s: len(p) for s, p in sorted(systems[ent].items())}, len(critical[ent]),
            found[ent], len(late[ent]), len(pairs[ent]) - len(set(pairs[ent])),
            float(sum(p for _, p in sanctions.get(ent, []))), tuple(i for i, _ in sanctions.get(ent, []))))
    return out


def _cut(period: str, as_of_s: int | None) -> tuple[int, int]:
    lo, end = period_bounds(period)
    return lo, min(end - 1, as_of_s) if as_of_s is not None else end - 1


def grade_docs(conn: Connection, period: str, model: RiskModel, as_of_s: int | None = None) -> list[dict[str, Any]]:
    """Every enterprise's credit doc for ``period`` as of ``as_of_s`` (default: the period's end)."""
    lo, hi = _cut(period, as_of_s)
    docs = []
    for inputs in credit_inputs(conn, lo, hi):
        c = credit(inputs, model)
        docs.append({"enterprise_id": c.enterprise_id, "period": period, "as_of": format_utc((hi, "")),
                     "score": c.score, "grade": c.grade, "grade_zh": GRADE_NAMES[c.grade], "indexes": dict(c.indexes),
                     "inputs": {"parcels": inputs.parcels, "system_parcels": dict(inputs.system_parcels),
                                "critical_parcels": inputs.critical_parcels,
                                "prohibited_found": inputs.prohibited_found,
                                "late_interceptions": inputs.late_interceptions, "repeats": inputs.repeats,
                                "sanction_points": inputs.sanction_points, "sanctions": list(inputs.sanction_ids)},
                     "model": model.label})
    return docs


def grade_warnings(conn: Connection, period: str, docs: list[dict[str, Any]], model: RiskModel) -> list[dict[str, Any]]:
    """A warning for every enterprise whose grade fell to C or D since the previous period."""
    before = {d["enterprise_id"]: d["grade"] for d in grade_docs(conn, previous_period(period), model)}
    return [{"subject_kind": "credit", "subject_id": d["enterprise_id"], "at": period, "level": d["grade"],
             "level_zh": GRADE_NAMES[d["grade"]], "previous_level": before.get(d["enterprise_id"]),
             "reason": "grade_fell", "score": d["score"], "enterprise_id": d["enterprise_id"], "model": model.label}
            for d in docs if grade_fell(before.get(d["enterprise_id"]), d["grade"])]


# --- computing and recording (the CLI's and the API's one path)

def record_credit(store: Store, period: str, model: RiskModel,
                  as_of_s: int | None = None) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Compute a period's grades, store those that changed and the warnings due; return (grades, warnings)."""
    with store.read() as conn:
        docs = grade_docs(conn, period, model, as_of_s)
        warnings = grade_warnings(conn, period, docs, model)
    store_grades(store, period, docs)
    store_warnings(store, warnings)
    return docs, warnings


def record_risk_warnings(store: Store, kind: str, as_of_s: int, model: RiskModel,
                         window_s: int | None = None) -> list[dict[str, Any]]:
    """Compute the level rises of ``kind`` at ``as_of_s`` and store those not stored yet; return them all."""
    risk_index.refresh(store)
    with store.read() as conn:
        warnings = risk_warnings(conn, kind, as_of_s, model, window_s)
    store_warnings(store, warnings)
    return warnings
