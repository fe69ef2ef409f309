"""Write a batch of intake decisions in the caller's writer transaction: events with their entries, then rejects.

The new events (:class:`~greenshield.intake.decisions.Fresh`) are inserted with their
audit entries, in order; then the rejects (:class:`~greenshield.intake.decisions.Rejected`
and conflicting duplicates) in the order given, each with its entry (one already stored
at the same ``(source, position)`` is left as it is). Duplicates write nothing. The
caller looked up the stored digests the decisions were made against in the same
transaction, so the store's unique key is the guard against storing a key twice.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from sqlalchemy.engine import Connection

from greenshield.intake.decisions import Conflict, Decision, Fresh, Rejected
from greenshield.intake.lines import Line, conflict_rejected
from greenshield.store import intake_stream as sink
from greenshield.store.database import Store


def store_batch(conn: Connection, store: Store, decisions: Iterable[Decision[Line]]) -> None:
    """Store the events and rejects of ``decisions`` (see the module docstring)."""
    events: list[sink.NewEvent] = []
    rejects: list[dict[str, Any]] = []
    for d in decisions:
        if isinstance(d, Fresh):
            c = d.candidate
            assert isinstance(c.digest, bytes), "a stored digest is keyed (Reader with an HMAC key)"
            events.append(sink.NewEvent(c.item, c.doc(), c.digest, c.source, c.position))
        elif isinstance(d, Conflict | Rejected):
            r = conflict_rejected(d) if isinstance(d, Conflict) else d
            rejects.append(sink.reject_row(r.source, r.position, r.rejection))
    sink.store_events(conn, store, events)
    sink.store_rejects(conn, store, rejects)
