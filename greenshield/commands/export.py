"""``greenshield export epcis``: parcels' traces as an EPCIS 2.0 JSON-LD document (docs/epcis.md)."""

from __future__ import annotations

import argparse
import sys
import time
from typing import Any

from greenshield.commands.startup import STARTUP_ERRORS
from greenshield.errors import USAGE_ERROR

TOO_MANY = 3


def register(sub: Any) -> None:
    p = sub.add_parser("export", help="export traces in a standard format (EPCIS 2.0)",
                       description="Export parcel events from the audit store. The export is written to the audit log.")
    formats = p.add_subparsers(dest="format", metavar="FORMAT")
    formats.required = True
    e = formats.add_parser("epcis", help="an EPCIS 2.0 JSON-LD document of ObjectEvents with CBV 2.0 hash IDs",
                           description="Give WAYBILL... or --since and --until (at most --limit events).")
    e.add_argument("waybills", nargs="*", metavar="WAYBILL", help="the waybills whose parcels to export")
    e.add_argument("--since", metavar="TS", help="events at or after this RFC 3339 instant")
    e.add_argument("--until", metavar="TS", help="events at or before this RFC 3339 instant")
    e.add_argument("--enterprise", metavar="E", help="only this enterprise's parcels")
    e.add_argument("--limit", type=int, default=10_000, metavar="N",
                   help="refuse a window holding more than N events (default 10000)")
    e.add_argument("--db", metavar="URL", help="SQLAlchemy URL of the store (default: GREENSHIELD_DB_URL)")
    e.add_argument("-o", "--output", metavar="FILE", help="write here instead of stdout")
    e.set_defaults(func=run)


def _fail(message: str, code: int = USAGE_ERROR) -> int:
    print(f"greenshield export epcis: {message}", file=sys.stderr)
    return code


def run(args: argparse.Namespace) -> int:
    from greenshield.rules.timestamps import parse_instant
    from greenshield.settings import Settings
    from greenshield.store.pipeline import open_audit

    if bool(args.waybills) == bool(args.since or args.until) or (args.since is None) != (args.until is None):
        return _fail("give WAYBILL... or both --since and --until")
    if not 1 <= args.limit <= 1_000_000:
        return _fail("--limit must be 1 to 1000000")
    try:
        window = (parse_instant(args.since), parse_instant(args.until)) if args.since else None
        audit = open_audit(Settings.from_env(), args.db, create=False)
    except STARTUP_ERRORS as err:
        return _fail(str(err))
    try:
        events, params = _read(audit, args, window)
        if events is None:
            return _fail(f"more than {args.limit} events in the window: narrow it or raise --limit", TOO_MANY)
        body = _render(events)
        _record(audit, params, len(events))
    finally:
        audit.close()
    return _write(body, args.output)


def _read(audit: Any, args: argparse.Namespace, window: Any) -> tuple[list[dict[str, Any]] | None, dict[str, Any]]:
    from greenshield.rules.timestamps import format_utc_exact
    from greenshield.store import epcis_events

    with audit.store.read() as conn:
        if window is None:
            events = [ev for w in dict.fromkeys(args.waybills)
                      for ev in epcis_events.parcel_events(conn, w, args.enterprise)]
            return events, {"waybills": list(dict.fromkeys(args.waybills)), "enterprise_id": args.enterprise}
        params = {"from": format_utc_exact(window[0]), "to": format_utc_exact(window[1]),
                  "enterprise_id": args.enterprise}
        page = epcis_events.window_page(conn, window[0], window[1], args.enterprise, limit=args.limit)
        return (None if page.next_after is not None else page.events), params


def _render(events: list[dict[str, Any]]) -> bytes:
    import orjson

    from greenshield.epcis.mapping import document
    from greenshield.rules.timestamps import format_utc

    return orjson.dumps(document(events, format_utc((int(time.time()), ""))),
                        option=orjson.OPT_INDENT_2 | orjson.OPT_APPEND_NEWLINE)


def _record(audit: Any, params: dict[str, Any], count: int) -> None:
    from greenshield.store import queries

    queries.record(audit.store, "export.epcis", params, count)


def _write(body: bytes, output: str | None) -> int:
    if output is None:
        sys.stdout.buffer.write(body)
        return 0
    try:
        with open(output, "wb") as f:
            f.write(body)
    except OSError as err:
        return _fail(str(err))
    return 0
