"""Retention: erase the personal-data fields of events older than the retention period.

For each event whose ``occurred_at`` is before the cut-off, the sender's masked name,
masked ID number and ID hash leave the stored doc, ``sender_id_hash`` and the keyed
content digest become NULL and ``purged`` is set; masked reject payloads stored before
the cut-off lose their sender too. No audit entry changes: leaves hold only the public
doc's (payload's) hash and the commitment of what is erased, kept in the row's
``sender_commitment`` (see :mod:`greenshield.translog.entries`), so every proof and
``audit verify`` still pass. The purge itself is logged as an audit entry.
"""

from __future__ import annotations

import time
from typing import Any

import sqlalchemy as sa

from greenshield.store import schema as t
from greenshield.store.database import Store
from greenshield.store.queries import record
from greenshield.translog.entries import PERSONAL_STORED, canonical, loads

BATCH = 5000


def _erase(doc: dict[str, Any]) -> dict[str, Any]:
    sender = doc.get("sender")
    if not isinstance(sender, dict):
        return doc
    return {**doc, "sender": {k: v for k, v in sender.items() if k not in PERSONAL_STORED}}


def purge(store: Store, older_than_days: int, now_s: int | None = None) -> int:
    """Erase personal fields of events before ``now - older_than_days``; return how many events."""
    if older_than_days < 0:
        raise ValueError("--older-than must be >= 0 days")
    now = int(time.time()) if now_s is None else now_s
    cutoff = now - older_than_days * 86400
    e, done, after = t.events, 0, 0
    while True:
        with store.write() as conn:
            rows = conn.execute(sa.select(e.c.entry_id, e.c.doc)
                                .where(e.c.at_s < cutoff, e.c.purged.is_(False), e.c.entry_id > after,
                                       e.c.sender_commitment.is_not(None))
                                .order_by(e.c.entry_id).limit(BATCH)).all()
            if not rows:
                break
            conn.execute(e.update().where(e.c.entry_id == sa.bindparam("eid"))
                         .values(doc=sa.bindparam("new_doc"), sender_id_hash=None, digest=None, purged=True),
                         [{"eid": r[0], "new_doc": canonical(_erase(loads(r[1]))).decode()} for r in rows])
            after = int(rows[-1][0])
        done += len(rows)
    _purge_rejects(store, cutoff)
    record(store, "audit.purge", {"older_than_days": older_than_days, "cutoff_s": cutoff}, done)
    return done


def _purge_rejects(store: Store, cutoff: int) -> None:
    r = t.rejects
    with store.write() as conn:
        rows = conn.execute(sa.select(r.c.entry_id, r.c.payload)
                            .where(r.c.stored_s < cutoff, r.c.purged.is_(False), r.c.payload.is_not(None))).all()
        if rows:
            conn.execute(r.update().where(r.c.entry_id == sa.bindparam("rid"))
                         .values(payload=sa.bindparam("new_payload"), purged=True),
                         [{"rid": i, "new_payload": canonical(_erase(loads(p))).decode()} for i, p in rows])
