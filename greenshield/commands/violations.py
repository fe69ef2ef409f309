"""``greenshield violations``: the stored violations with their status, filtered; the query is logged."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from greenshield.commands.startup import STARTUP_ERRORS
from greenshield.errors import USAGE_ERROR


def register(sub: Any) -> None:
    p = sub.add_parser("violations", help="list stored violations (contract §5 plus status)",
                       description="List the violations in the audit store, by waybill, enterprise and rule. "
                                   "The query is written to the audit log.")
    p.add_argument("--db", metavar="URL", help="SQLAlchemy URL of the store (default: GREENSHIELD_DB_URL)")
    p.add_argument("--open", action="store_true", help="only violations whose status is open")
    p.add_argument("--enterprise", metavar="E", help="only this enterprise's")
    p.add_argument("--rule", metavar="R", help="only this rule's (e.g. XR-1)")
    p.add_argument("--since", metavar="TS", help="only violations that hold from this RFC 3339 instant on")
    p.add_argument("--json", action="store_true", help="JSON Lines instead of a table")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    import orjson

    from greenshield.commands.tables import render
    from greenshield.rules.timestamps import format_utc_exact, parse_instant
    from greenshield.settings import Settings
    from greenshield.store import queries
    from greenshield.store.pipeline import open_audit

    try:
        since = parse_instant(args.since) if args.since else None
        audit = open_audit(Settings.from_env(), args.db, create=False)
    except STARTUP_ERRORS as err:
        print(f"greenshield violations: {err}", file=sys.stderr)
        return USAGE_ERROR
    try:
        with audit.store.read() as conn:
            found = queries.list_violations(conn, args.open, args.enterprise, args.rule, since)
        params = {"open": args.open, "enterprise": args.enterprise, "rule": args.rule,
                  "since": format_utc_exact(since) if since else None}
        queries.record(audit.store, "violations", params, len(found))
    finally:
        audit.close()
    out = sys.stdout.buffer
    if args.json:
        out.writelines(orjson.dumps(v, option=orjson.OPT_APPEND_NEWLINE) for v in found)
    else:
        rows = [[v["waybill_no"], v["rule_id"], v["status"], v["severity"], v["enterprise_id"], v["occurred_at"],
                 v["message"]] for v in found]
        table = render(("waybill_no", "rule", "status", "severity", "enterprise", "occurred_at (UTC)", "message"),
                       rows)
        out.write(f"{table}\n{len(found)} violation(s)\n".encode())
    out.flush()
    return 0
