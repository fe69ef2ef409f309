"""How far the store has got: its last audit entry id (None: empty log) and its last stored event's entry id."""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from greenshield.store import schema as t


def last_entry_id(conn: Connection) -> int | None:
    """The largest audit log entry id, or None for an empty log."""
    found = conn.execute(sa.select(sa.func.max(t.audit_log.c.id))).scalar()
    return None if found is None else int(found)


def latest_event_id(conn: Connection) -> int:
    """The largest entry id of a stored event (0 for none: entry ids start at 1)."""
    return int(conn.execute(sa.select(sa.func.coalesce(sa.func.max(t.events.c.entry_id), 0))).scalar_one())
