"""Output forms of the checker: violation JSON Lines (§5), a readable table, reject records."""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from typing import TYPE_CHECKING

import orjson

from greenshield.rules.model import Violation

if TYPE_CHECKING:
    from greenshield.rules.batch import RejectedLine


def violation_lines(found: Iterable[Violation]) -> Iterator[bytes]:
    for v in found:
        yield orjson.dumps(v.to_dict(), option=orjson.OPT_APPEND_NEWLINE)


def reject_record(r: "RejectedLine") -> bytes:
    """One JSON line: source, line number, reason, the idempotency key and the masked payload."""
    rec = {"source": r.source, "line": r.line, "reason": r.rejection.reason}
    if r.rejection.key is not None:
        rec["key"] = list(r.rejection.key)
    if r.rejection.payload is not None:
        rec["payload"] = r.rejection.payload
    try:
        return orjson.dumps(rec, option=orjson.OPT_APPEND_NEWLINE)
    except TypeError:  # lone surrogates, big integers, Decimal: the stdlib escapes them all
        return (json.dumps(rec, default=str) + "\n").encode()


def render_table(found: list[Violation]) -> str:
    head = ("waybill_no", "rule", "severity", "enterprise", "occurred_at (UTC)", "message")
    rows = [(v.waybill_no, v.rule_id, v.severity, v.enterprise_id, v.to_dict()["occurred_at"], v.message)
            for v in found]
    widths = [max([len(h)] + [len(r[i]) for r in rows]) for i, h in enumerate(head[:-1])]
    fmt = "  ".join(f"{{:<{w}}}" for w in widths) + "  {}"
    lines = [fmt.format(*head), fmt.format(*("-" * w for w in widths), "-" * 7)]
    lines += [fmt.format(*r) for r in rows]
    lines.append(f"{len(found)} violation(s)")
    return "\n".join(lines) + "\n"
