"""``greenshield risk``: rank the sources of risk of one kind at an ``as_of``; optionally store and publish warnings."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from greenshield.commands.startup import STARTUP_ERRORS, risk_model
from greenshield.errors import USAGE_ERROR
from greenshield.risk.model import KINDS


def register(sub: Any) -> None:
    p = sub.add_parser("risk", help="rank risk sources (enterprises, sites, staff, senders, machines, vehicles, cities)",
                       description="Score and rank the sources of one kind: severity-weighted violation rate per "
                                   "parcel in the window, time-decayed, shrunk toward the regional rate "
                                   "(docs/credit.md). The query is written to the audit log.")
    p.add_argument("--by", required=True, choices=KINDS, help="the kind of source")
    p.add_argument("--db", metavar="URL", help="SQLAlchemy URL of the store (default: GREENSHIELD_DB_URL)")
    p.add_argument("--as-of", metavar="TS", help="RFC 3339 instant (default: the latest stored parcel event)")
    p.add_argument("--window", metavar="SPAN", help="e.g. 30d, 12h (default: the model's)")
    p.add_argument("--top", type=int, default=20, metavar="N", help="how many sources to list (default 20)")
    p.add_argument("--model", metavar="FILE", type=Path, help="a risk model TOML (default: the shipped one)")
    p.add_argument("--json", action="store_true", help="one JSON document instead of a table")
    p.add_argument("--warn", action="store_true", help="store a warning for each source whose level rose")
    p.add_argument("--publish", action="store_true", help="--warn, and publish the warnings on gs.warnings.v1")
    p.add_argument("--bootstrap", metavar="HOST:PORT", help="Kafka for --publish (default: the settings')")
    p.set_defaults(func=run)


def open_for(args: argparse.Namespace, command: str) -> Any:
    """(settings, audit, model) or an error message; shared with ``greenshield credit``."""
    from greenshield.settings import Settings
    from greenshield.store.pipeline import open_audit

    try:
        settings = Settings.from_env()
        model = risk_model(args.model)
        audit = open_audit(settings, args.db, create=False)
    except STARTUP_ERRORS as err:
        print(f"greenshield {command}: {err}", file=sys.stderr)
        return None
    return settings, audit, model


def as_of_seconds(conn: Any, text: str | None) -> int | None:
    from greenshield.rules.timestamps import parse_instant
    from greenshield.store.verdicts import latest_parcel_instant

    if text:
        return parse_instant(text)[0]
    latest = latest_parcel_instant(conn)
    return latest[0] if latest is not None else None


def publish(settings: Any, warnings: list[dict[str, Any]], bootstrap: str | None, command: str) -> bool:
    from greenshield.stream.warnings_topic import publish_warnings

    try:
        sent = publish_warnings(settings, warnings, bootstrap)
    except Exception as err:  # a missing topic (TopicsError) or any of the broker's errors: say which
        print(f"greenshield {command}: publishing the warnings failed: {type(err).__name__}: {err}", file=sys.stderr)
        return False
    print(f"published {sent} warning(s) on {settings.warnings_topic}", file=sys.stderr)
    return True


def run(args: argparse.Namespace) -> int:
    import orjson

    from greenshield.risk.model import parse_span
    from greenshield.rules.timestamps import TimestampError
    from greenshield.store import queries, risk_index
    from greenshield.store.risk_report import record_risk_warnings, risk_report

    opened = open_for(args, "risk")
    if opened is None:
        return USAGE_ERROR
    settings, audit, model = opened
    try:
        window = parse_span(args.window, "--window") if args.window else None
        risk_index.refresh(audit.store)
        with audit.store.read() as conn:
            at = as_of_seconds(conn, args.as_of)
            if at is None:
                print("greenshield risk: the store holds no parcel events", file=sys.stderr)
                return USAGE_ERROR
            report = risk_report(conn, args.by, at, model, window, max(args.top, 0))
        warnings = record_risk_warnings(audit.store, args.by, at, model, window) \
            if args.warn or args.publish else []
        queries.record(audit.store, "risk", {"by": args.by, "as_of": report["as_of"], "window": report["window"],
                                             "top": args.top, "model": model.label}, len(report["results"]))
    except (ValueError, TimestampError) as err:
        print(f"greenshield risk: {err}", file=sys.stderr)
        return USAGE_ERROR
    finally:
        audit.close()
    if args.publish and not publish(settings, warnings, args.bootstrap, "risk"):
        return 1
    out = sys.stdout.buffer
    if args.json:
        out.write(orjson.dumps(report, option=orjson.OPT_APPEND_NEWLINE | orjson.OPT_SORT_KEYS))
    else:
        out.write(render(report).encode())
    if args.warn or args.publish:
        print(f"{len(warnings)} warning(s) for {args.by} at {report['as_of']}", file=sys.stderr)
    out.flush()
    return 0


def render(report: dict[str, Any]) -> str:
    from greenshield.commands.tables import render as table

    rows = [[r["rank"], r["source"], f"{r['score']:.1f}", f"{r['interval'][0]:.1f}-{r['interval'][1]:.1f}",
             f"{r['level_zh']} {r['level']}" if r["level"] else "-", r["parcels"],
             " ".join(f"{k}:{v}" for k, v in r["violations"].items()) or "-",
             r["trend"]["direction"]] for r in report["results"]]
    head = (f"{report['kind']} risk as of {report['as_of']} over {report['window']} ({report['model']}); regional "
            f"rate {report['regional_rate']:.1f} per 1,000 parcels; {report['sources']} sources\n")
    return head + table(("rank", report["kind"], "score/1000", "90% interval", "level", "parcels", "violations",
                         "trend"), rows) + "\n"
