"""The stored parcel events an EPCIS export holds: one parcel's, or a time window's page by page.

A window is read in ingest order (``entry_id``), at most ``limit`` events a page;
the cursor of the next page is the last entry read, so paging is stable while
events keep arriving.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy.engine import Connection

from greenshield.rules.model import TYPE_RANK
from greenshield.rules.timestamps import Instant
from greenshield.store import queries, schema as t

MAX_PAGE = 1000


@dataclass(frozen=True)
class Page:
    events: list[dict[str, Any]]
    next_after: int | None  # the cursor of the next page, None on the last


def parcel_events(conn: Connection, waybill: str, enterprise: str | None) -> list[dict[str, Any]]:
    """The events of a waybill's parcels (only ``enterprise``'s when given), parcel after parcel, §3.1 order."""
    events = queries.trace_waybill(conn, waybill)["events"]
    return [ev for ev in events if enterprise is None or ev["enterprise_id"] == enterprise]


def window_page(conn: Connection, since: Instant, until: Instant, enterprise: str | None,
                after: int = 0, limit: int = MAX_PAGE) -> Page:
    """Parcel events with ``since <= occurred_at <= until`` (of ``enterprise`` when given), from entry ``after`` on."""
    e = t.events
    query = (queries._EVENTS.where(e.c.type.in_(list(TYPE_RANK)), e.c.at_s >= since[0], e.c.at_s <= until[0],
                                   e.c.entry_id > after)
             .order_by(e.c.entry_id).limit(limit + 1))
    if enterprise is not None:
        query = query.where(e.c.enterprise_id == enterprise)
    rows = conn.execute(query).all()
    more = len(rows) > limit
    rows = rows[:limit]
    found = []
    for row in rows:
        ev = queries._event(row, int(row.leaf) if row.leaf is not None else None)
        if since <= ev.pop("_at") <= until:
            found.append(ev)
    return Page(found, int(rows[-1].entry_id) if more and rows else None)
