"""How far the store has got: its last audit entry id and its last stored event's entry id (None: none yet)."""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from greenshield.store import schema as t


def last_entry_id(conn: Connection) -> int | None:
    """The largest audit log entry id, or None for an empty log."""
    found = conn.execute(sa.select(sa.func.max(t.audit_log.c.id))).scalar()
    return None if found is None else int(found)


def last_event_entry_id(conn: Connection) -> int | None:
    """The largest entry id of a stored event, or None for no events."""
    found = conn.execute(sa.select(sa.func.max(t.events.c.entry_id))).scalar()
    return None if found is None else int(found)
