"""The parcels a verdict round must look at because time moved: an event inside the new cut, or a deadline due in it."""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from greenshield.rules.timestamps import Instant
from greenshield.store import schema as t


def due_between(conn: Connection, prev: Instant, cut: Instant, deadlines: set[int]) -> set[tuple[str, str]]:
    """Parcels ``(enterprise_id, waybill_no)`` with an event in ``[prev, cut]`` or one whose deadline ``d`` falls due in it."""
    e = t.events
    out: set[tuple[str, str]] = set()
    for d in {0, *deadlines}:
        lo, hi = prev[0] - d - 1, cut[0] - d + 1
        query = sa.select(e.c.enterprise_id, e.c.waybill_no).where(e.c.at_s.between(lo, hi),
                                                                   e.c.waybill_no.is_not(None)).distinct()
        out.update((str(r[0]), str(r[1])) for r in conn.execute(query))
    return out
