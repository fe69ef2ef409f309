"""``greenshield run``'s intake: lines of files into the store, in batches of decisions.

Per line, as ``greenshield check`` does (contract §2, §7): a blank line is
skipped, a rejection is stored with its reason and position, an exact duplicate of
a stored or earlier line is counted and dropped, a conflicting duplicate is
rejected. The decisions are :mod:`greenshield.intake`'s (read, classify against the
stored digests); personal data is redacted before anything is stored (ADR 0008),
the only trace of the plain content is a keyed digest. Each batch is one writer
transaction (:func:`~greenshield.store.batches.store_batch`): the events, the
rejects and their audit entries commit together, so a re-run after a crash stores
nothing twice. Every writer of rejects (this intake, the stream worker, the HTTP
ingest) goes through :func:`insert_rejects`, which logs each as a leaf.
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from greenshield.intake.classify import classify
from greenshield.intake.decisions import Conflict, Decision, Duplicate, Fresh, Rejected
from greenshield.intake.digest import DEDUP_PREFIX, keyed_digest
from greenshield.intake.lines import BOM, Line, Reader
from greenshield.rules.model import Rejection
from greenshield.store import schema as t
from greenshield.store.audit_log import append
from greenshield.store.database import Store, insert_ignoring_conflicts
from greenshield.translog.entries import canonical, reject_commitment, reject_entry, split_payload

__all__ = ["BATCH", "BOM", "DEDUP_PREFIX", "Intake", "IntakeStats", "insert_rejects", "keyed_digest",
           "reject_row", "storable"]

BATCH = 2000


@dataclass
class IntakeStats:
    lines: int = 0
    stored: int = 0
    rejected: int = 0
    duplicates: int = 0


class Intake:
    """Feeds lines of one source or more into the store, in batches."""

    def __init__(self, store: Store, hmac_key: bytes) -> None:
        self.store, self.key, self.stats = store, hmac_key, IntakeStats()
        self.reader = Reader(hmac_key)

    def feed(self, lines: Iterable[bytes], source: str) -> None:
        batch: list[Line] = []
        rejects: list[Rejected] = []
        for got in self.reader.lines(lines, source):
            self.stats.lines += 1
            if got is None:
                continue
            if isinstance(got, Rejected):
                rejects.append(got)
                continue
            batch.append(got)
            if len(batch) >= BATCH:
                self._write(batch, rejects)
                batch, rejects = [], []
        self._write(batch, rejects)

    def _write(self, batch: list[Line], rejects: list[Rejected]) -> None:
        """One transaction: classify ``batch`` against the stored digests, store the decisions, count them.

        The rejects of the batch's invalid lines come first, its conflicting duplicates after them.
        """
        from greenshield.store import intake_stream as sink  # stream_sink imports this module
        from greenshield.store.batches import store_batch

        with self.store.write() as conn:
            decisions: list[Decision[Line]] = [*rejects, *classify(batch, sink.stored_digests(
                conn, (ln.key for ln in batch)))]
            store_batch(conn, self.store, decisions)
        for d in decisions:
            if isinstance(d, Fresh):
                self.stats.stored += 1
            elif isinstance(d, Duplicate):
                self.stats.duplicates += 1
            elif isinstance(d, Rejected | Conflict):
                self.stats.rejected += 1


def reject_row(source: str, position: int, rejection: Rejection) -> dict[str, Any]:
    """A ``rejects`` row (without ``entry_id``): the Rejection's masked payload and its sender commitment."""
    key = rejection.key
    payload = _payload_text(rejection.payload)
    _, personal = split_payload(payload)
    return {"source": source, "position": position, "reason": storable(rejection.reason),
            "enterprise_id": storable(key[0]) if key else None, "event_id": storable(key[1]) if key else None,
            "payload": payload, "purged": False, "stored_s": int(time.time()),
            "sender_commitment": reject_commitment(source, position, personal)}


def storable(text: str) -> str:
    """``text`` as every database stores it: a lone surrogate or a NUL (which PostgreSQL refuses) escaped."""
    if "\x00" not in text:
        try:
            text.encode("utf-8")
            return text
        except UnicodeEncodeError:
            pass
    return text.encode("utf-8", "backslashreplace").decode("utf-8").replace("\x00", "\\u0000")


def _payload_text(payload: Any) -> str | None:
    """Canonical JSON of a masked payload; None when it cannot be written (nested too deep to encode)."""
    if payload is None:
        return None
    try:
        return canonical(payload).decode("utf-8", "surrogatepass")
    except (RecursionError, ValueError, TypeError):
        return None


def insert_rejects(conn: Connection, store: Store, rows: list[dict[str, Any]]) -> int:
    """Insert rejects with their audit entries (kind ``reject``); one already stored at the same
    ``(source, position)`` is left as it is and gets no entry. Returns how many were inserted."""
    if not rows:
        return 0
    fresh = _new_rejects(conn, rows)
    if not fresh:
        return 0
    ids = store.allocate_ids(conn, len(fresh))
    stored = [{**row, "entry_id": i} for i, row in zip(ids, fresh)]
    inserted = set(conn.execute(insert_ignoring_conflicts(store, t.rejects).returning(t.rejects.c.entry_id),
                                stored).scalars())
    append(conn, ((r["entry_id"], "reject", reject_entry(r)) for r in stored if r["entry_id"] in inserted), store)
    return len(inserted)


def _new_rejects(conn: Connection, rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """``rows`` without those whose ``(source, position)`` is stored or came earlier in ``rows``."""
    r, seen = t.rejects, set[tuple[str, int]]()
    for source in {row["source"] for row in rows}:
        positions = sorted({int(row["position"]) for row in rows if row["source"] == source})
        for k in range(0, len(positions), 900):
            seen.update((source, int(p)) for p in conn.execute(
                sa.select(r.c.position).where(r.c.source == source, r.c.position.in_(positions[k:k + 900])))
                .scalars())
    out = []
    for row in rows:
        where = (row["source"], int(row["position"]))
        if where not in seen:
            seen.add(where)
            out.append(row)
    return out
