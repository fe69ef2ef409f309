"""``greenshield credit``: every enterprise's credit score and grade for a period, stored and audited."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from greenshield.errors import USAGE_ERROR


def register(sub: Any) -> None:
    p = sub.add_parser("credit", help="grade the enterprises' credit for a month or quarter (A 守信 .. D 失信)",
                       description="Compute each enterprise's credit score (0-100, docs/credit.md) and grade for "
                                   "the period, store the grades and the warnings due as audit-log leaves, and "
                                   "list them with their leaf numbers (prove one with `greenshield audit proof N`).")
    p.add_argument("--period", metavar="P", help="2026-11 or 2026Q4 (default: the month of the latest parcel event)")
    p.add_argument("--as-of", metavar="TS", help="RFC 3339 instant within the period (default: its end)")
    p.add_argument("--db", metavar="URL", help="SQLAlchemy URL of the store (default: GREENSHIELD_DB_URL)")
    p.add_argument("--model", metavar="FILE", type=Path, help="a risk model TOML (default: the shipped one)")
    p.add_argument("--json", action="store_true", help="JSON Lines (one grade each) instead of a table")
    p.add_argument("--publish", action="store_true", help="publish the period's warnings on gs.warnings.v1")
    p.add_argument("--bootstrap", metavar="HOST:PORT", help="Kafka for --publish (default: the settings')")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    import orjson

    from greenshield.commands.risk import as_of_seconds, open_for, publish
    from greenshield.risk.credit import period_bounds, period_of
    from greenshield.rules.timestamps import TimestampError
    from greenshield.store import queries
    from greenshield.store.credit_log import stored_grades
    from greenshield.store.risk_report import record_credit

    opened = open_for(args, "credit")
    if opened is None:
        return USAGE_ERROR
    settings, audit, model = opened
    try:
        with audit.store.read() as conn:
            latest = as_of_seconds(conn, None)
        at = as_of_seconds(None, args.as_of) if args.as_of else None
        period = args.period or period_of(at if at is not None else latest if latest is not None else 0)
        period_bounds(period)
        _, warnings = record_credit(audit.store, period, model, at)
        audit.sequencer.integrate(close=True)  # the grades get leaf numbers and a checkpoint to prove them by
        with audit.store.read() as conn:
            grades = stored_grades(conn, period)
        queries.record(audit.store, "credit", {"period": period, "as_of": args.as_of, "model": model.label},
                       len(grades))
    except (ValueError, TimestampError) as err:
        print(f"greenshield credit: {err}", file=sys.stderr)
        return USAGE_ERROR
    finally:
        audit.close()
    if args.publish and not publish(settings, warnings, args.bootstrap, "credit"):
        return 1
    out = sys.stdout.buffer
    if args.json:
        out.writelines(orjson.dumps(g, option=orjson.OPT_APPEND_NEWLINE | orjson.OPT_SORT_KEYS) for g in grades)
    else:
        out.write(render(period, grades, warnings).encode())
    out.flush()
    return 0


def render(period: str, grades: list[dict[str, Any]], warnings: list[dict[str, Any]]) -> str:
    from greenshield.commands.tables import render as table

    rows = [[g["enterprise_id"], f"{g['score']:.1f}", f"{g['grade']} {g['grade_zh']}", g["inputs"]["parcels"],
             " ".join(f"{k}:{v:.2f}" for k, v in g["indexes"].items()), g["audit_entry"]] for g in grades]
    text = table(("enterprise", "score", "grade", "parcels", "indexes", "audit_entry"), rows)
    return f"credit for {period}\n{text}\n{len(grades)} enterprise(s), {len(warnings)} warning(s)\n"
