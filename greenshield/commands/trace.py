"""``greenshield trace``: a parcel's history, a vehicle's legs, a person's events, a machine's or a sender's parcels."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from greenshield.commands.startup import STARTUP_ERRORS
from greenshield.commands.tables import render  # also greenshield.commands.trace.render, as before
from greenshield.errors import USAGE_ERROR


def register(sub: Any) -> None:
    p = sub.add_parser("trace", help="trace a parcel, vehicle, staff member, X-ray machine or sender",
                       description="Query the audit store. Every query is itself written to the audit log. "
                                   "Exactly one of WAYBILL, --vehicle, --staff, --machine, --sender-id is needed.")
    p.add_argument("waybill", nargs="?", metavar="WAYBILL", help="可追溯: the waybill's parcels (one per enterprise), their events and violations")
    p.add_argument("--vehicle", metavar="V", help="可追踪: parcels and legs carried by a vehicle")
    p.add_argument("--staff", metavar="P", help="可倒查: events a person handled (as staff or inspector)")
    p.add_argument("--machine", metavar="X", help="parcels screened on an X-ray machine")
    p.add_argument("--sender-id-type", metavar="T", help="with --sender-id: the sender's document type")
    p.add_argument("--sender-id", metavar="N", help="a sender's ID number (matched by its keyed hash only)")
    p.add_argument("--from", dest="start", metavar="TS", help="only events at or after this RFC 3339 instant")
    p.add_argument("--to", dest="end", metavar="TS", help="only events at or before this RFC 3339 instant")
    p.add_argument("--db", metavar="URL", help="SQLAlchemy URL of the store (default: GREENSHIELD_DB_URL)")
    p.add_argument("--json", action="store_true", help="print JSON instead of a table")
    p.set_defaults(func=run)


def _target(args: argparse.Namespace) -> str | None:
    given = [name for name in ("waybill", "vehicle", "staff", "machine", "sender_id") if getattr(args, name)]
    if len(given) != 1:
        return None
    if given[0] == "sender_id" and not args.sender_id_type:
        return None
    return given[0]


def run(args: argparse.Namespace) -> int:
    from greenshield.rules.timestamps import parse_instant
    from greenshield.settings import Settings
    from greenshield.store import queries
    from greenshield.store.pipeline import open_audit

    target = _target(args)
    if target is None:
        print("greenshield trace: give exactly one of WAYBILL, --vehicle, --staff, --machine, "
              "or --sender-id-type with --sender-id", file=sys.stderr)
        return USAGE_ERROR
    try:
        window = (parse_instant(args.start) if args.start else None, parse_instant(args.end) if args.end else None)
        audit = open_audit(Settings.from_env(), args.db, create=False)
    except STARTUP_ERRORS as err:
        print(f"greenshield trace: {err}", file=sys.stderr)
        return USAGE_ERROR
    try:
        name, params, result = _query(audit, target, args, window, queries)
        count = len(result.get("events", result.get("legs", [])))
        queries.record(audit.store, name, params, count)
    finally:
        audit.close()
    _print(result, args.json)
    return 0


def _query(audit: Any, target: str, args: argparse.Namespace, window: Any, queries: Any) -> tuple[str, dict[str, Any], dict[str, Any]]:
    from greenshield.rules.documents import trim
    from greenshield.rules.privacy import id_hash, mask_id_number
    from greenshield.rules.timestamps import format_utc_exact

    span = {"from": format_utc_exact(window[0]) if window[0] else None,
            "to": format_utc_exact(window[1]) if window[1] else None}
    with audit.store.read() as conn:
        if target == "waybill":
            return "trace.waybill", {"waybill_no": args.waybill}, queries.trace_waybill(conn, args.waybill)
        if target == "vehicle":
            return "trace.vehicle", {"vehicle_id": args.vehicle, **span}, queries.trace_vehicle(conn, args.vehicle, window)
        if target == "staff":
            return "trace.staff", {"staff_id": args.staff, **span}, queries.trace_staff(conn, args.staff, window)
        if target == "machine":
            return "trace.machine", {"machine_id": args.machine, **span}, queries.trace_machine(conn, args.machine, window)
        hashed = id_hash(audit.hmac_key, args.sender_id_type, args.sender_id)
        masked = mask_id_number(trim(args.sender_id))
        result = queries.trace_sender(conn, trim(args.sender_id_type), hashed, masked)
        return "trace.sender", {"id_type": trim(args.sender_id_type), "id_hash": hashed}, result


def _print(result: dict[str, Any], as_json: bool) -> None:
    import orjson

    if as_json:
        sys.stdout.buffer.write(orjson.dumps(result, option=orjson.OPT_INDENT_2 | orjson.OPT_APPEND_NEWLINE))
        return
    head = {k: v for k, v in result.items() if not isinstance(v, list)}
    lines = [" ".join(f"{k}={_flat(v)}" for k, v in head.items())]
    if "waybills" in result:
        lines.append(f"waybills ({len(result['waybills'])}): " + " ".join(result["waybills"]))
    if "parcels" in result:  # a waybill: each enterprise's parcel apart (contract §8.1)
        for parcel in result["parcels"]:
            lines.append(f"parcel enterprise_id={parcel['enterprise_id']} waybill_no={result['waybill_no']}")
            lines.extend(_sections(parcel))
    else:
        lines.extend(_sections(result))
    sys.stdout.write("\n".join(lines) + "\n")


def _sections(result: dict[str, Any]) -> list[str]:
    lines = []
    if "events" in result:
        lines.append(render(("#entry", "occurred_at", "type", "waybill_no", "event_id", "site_id", "staff_id",
                             "device", "result"), [_event_cells(ev) for ev in result["events"]]))
    if "legs" in result:
        lines.append(render(("waybill_no", "from_site_id", "to_site_id", "departed_at", "arrived_at"),
                            [[g[k] or "-" for k in ("waybill_no", "from_site_id", "to_site_id", "departed_at",
                                                    "arrived_at")] for g in result["legs"]]))
    if result.get("violations"):
        lines.append(render(("rule", "status", "severity", "occurred_at", "message"),
                            [[v["rule_id"], v["status"], v["severity"], v["occurred_at"], v["message"]]
                             for v in result["violations"]]))
    return lines


def _flat(value: Any) -> str:
    if isinstance(value, dict):
        return ",".join(f"{k}:{v}" for k, v in value.items())
    return str(value)


def _event_cells(ev: dict[str, Any]) -> list[str]:
    device = ev.get("machine_id") or ev.get("vehicle_id") or ""
    result = ev.get("result") or ev.get("method") or ""
    if ev["type"] == "acceptance":
        sender = ev.get("sender") or {}
        result = f"sender {sender.get('name_masked', '-')} {sender.get('id_number_masked', '-')}"
    entry = ev.get("audit_entry")
    return [str(entry) if entry is not None else "pending", ev["occurred_at"], ev["type"], ev["waybill_no"],
            ev["event_id"], ev["site_id"], ev["staff_id"] or "-", device or "-", result or "-"]
