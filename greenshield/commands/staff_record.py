"""``greenshield staff-record STAFF_ID``: the integrity record of a staff id (contract revision 2 §8.2)."""

from __future__ import annotations

import argparse
import re
import sys
from typing import Any

from greenshield.commands.startup import STARTUP_ERRORS
from greenshield.errors import USAGE_ERROR

NOT_FOUND = 1
_STAFF = re.compile(r"P[0-9]{8}")


def register(sub: Any) -> None:
    p = sub.add_parser("staff-record", help="the person behind a staff id: every staff id, registry entry and "
                                            "violation of that person, across enterprises",
                       description="Query the audit store (the query is written to the audit log). The person "
                                   "is shown only masked, with its keyed hash.")
    p.add_argument("staff_id", metavar="STAFF_ID", help="a staff id (P + 8 digits)")
    p.add_argument("--enterprise", metavar="E", help="only what this enterprise may see (its own staff ids)")
    p.add_argument("--db", metavar="URL", help="SQLAlchemy URL of the store (default: GREENSHIELD_DB_URL)")
    p.add_argument("--json", action="store_true", help="print JSON instead of a table")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from greenshield.settings import Settings
    from greenshield.store import queries
    from greenshield.store.pipeline import open_audit
    from greenshield.store.staff_record import staff_record

    if _STAFF.fullmatch(args.staff_id) is None:
        print("greenshield staff-record: STAFF_ID must be P + 8 digits", file=sys.stderr)
        return USAGE_ERROR
    try:
        audit = open_audit(Settings.from_env(), args.db, create=False)
    except STARTUP_ERRORS as err:
        print(f"greenshield staff-record: {err}", file=sys.stderr)
        return USAGE_ERROR
    try:
        with audit.store.read() as conn:
            result = staff_record(conn, args.staff_id, args.enterprise)
        params = {"staff_id": args.staff_id, "enterprise_id": args.enterprise}
        queries.record(audit.store, "staff.record", params, len(result["violations"]) if result else 0)
    finally:
        audit.close()
    if result is None:
        print(f"greenshield staff-record: no record of {args.staff_id}", file=sys.stderr)
        return NOT_FOUND
    _print(result, args.json)
    return 0


def _print(result: dict[str, Any], as_json: bool) -> None:
    import orjson

    from greenshield.commands.tables import render

    if as_json:
        sys.stdout.buffer.write(orjson.dumps(result, option=orjson.OPT_INDENT_2 | orjson.OPT_APPEND_NEWLINE))
        return
    person = result["person"] or {}
    lines = [f"staff_id={result['staff_id']} person={person.get('id_type', '-')}:"
             f"{person.get('id_number_masked', '-')} id_hash={person.get('id_hash', '-')}",
             "staff ids: " + " ".join(f"{s['staff_id']}@{s['enterprise_id']}" for s in result["staff_ids"]),
             render(("occurred_at", "enterprise_id", "entity", "id", "status", "event_id"),
                    [[r["occurred_at"], r["enterprise_id"], r["entity"], r["id"], r["status"], r["event_id"]]
                     for r in result["registry"]])]
    if result["violations"]:
        lines.append(render(("waybill_no", "enterprise_id", "rule", "status", "occurred_at", "message"),
                            [[v["waybill_no"], v["enterprise_id"], v["rule_id"], v["status"], v["occurred_at"],
                              v["message"]] for v in result["violations"]]))
    sys.stdout.write("\n".join(lines) + "\n")
