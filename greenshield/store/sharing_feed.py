"""What the notifier reads from the store: parcels' origin cities, committed violation changes, and the
blacklistings and warnings stored since its cursors."""

from __future__ import annotations

from collections.abc import Iterable

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from greenshield.share import messages
from greenshield.share.messages import Message
from greenshield.store import schema as t
from greenshield.store.stats import prefecture_of
from greenshield.translog.entries import loads

FEED_CHUNK = 5000  # stored blacklistings (and warnings) read per intake
Parcel = tuple[str, str]
ChangeKey = tuple[str, str, str, int]  # (enterprise_id, waybill_no, rule_id, seq) of a violation change


def origins(conn: Connection, parcels: Iterable[Parcel]) -> dict[Parcel, str | None]:
    """The prefecture city of each parcel's first acceptance (None: not accepted, or no region)."""
    wanted = set(parcels)
    e = t.events
    out: dict[Parcel, str | None] = {p: None for p in wanted}
    seen: set[Parcel] = set()
    waybills = sorted({w for _, w in wanted})
    for i in range(0, len(waybills), 500):
        rows = conn.execute(sa.select(e.c.enterprise_id, e.c.waybill_no, e.c.doc)
                            .where(e.c.waybill_no.in_(waybills[i:i + 500]), e.c.type == "acceptance")
                            .order_by(e.c.at_s, e.c.entry_id))
        for ent, wb, doc in rows:
            if (ent, wb) in wanted and (ent, wb) not in seen:
                seen.add((ent, wb))
                value = loads(doc)
                out[(ent, wb)] = prefecture_of(value.get("origin_region") if isinstance(value, dict) else None)
    return out


def stored_changes(conn: Connection, keys: set[ChangeKey]) -> set[ChangeKey]:
    """Those of ``keys`` whose violation change is committed in the store."""
    vc = t.violation_changes
    found: set[ChangeKey] = set()
    waybills = sorted({k[1] for k in keys})
    for i in range(0, len(waybills), 500):
        rows = conn.execute(sa.select(vc.c.enterprise_id, vc.c.waybill_no, vc.c.rule_id, vc.c.seq)
                            .where(vc.c.waybill_no.in_(waybills[i:i + 500])))
        found.update(k for ent, wb, rule, seq in rows if (k := (ent, wb, rule, int(seq))) in keys)
    return found


def stored_messages(conn: Connection, after: dict[str, int], upto: int) -> tuple[list[Message], dict[str, int]]:
    """Blacklistings and warnings stored with entry ids in ``(after[name], upto]``; the new cursors."""
    e, w = t.events, t.warnings
    found: list[Message] = []
    cursors = dict(after)
    rows = conn.execute(sa.select(e.c.entry_id, e.c.doc).where(
        e.c.type == "registry", e.c.status == "blacklisted", e.c.entry_id > after.get("blacklistings", 0),
        e.c.entry_id <= upto).order_by(e.c.entry_id).limit(FEED_CHUNK)).all()
    found += [messages.blacklisting(int(i), loads(doc)) for i, doc in rows]
    cursors["blacklistings"] = int(rows[-1][0]) if len(rows) == FEED_CHUNK else upto
    rows = conn.execute(sa.select(w.c.id, w.c.doc).where(w.c.id > after.get("warnings", 0), w.c.id <= upto)
                        .order_by(w.c.id).limit(FEED_CHUNK)).all()
    found += [messages.warning(int(i), loads(doc)) for i, doc in rows]
    cursors["warnings"] = int(rows[-1][0]) if len(rows) == FEED_CHUNK else upto
    return found, cursors
