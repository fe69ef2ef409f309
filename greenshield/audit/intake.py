"""Intake: validate, redact, de-duplicate against the store, and write events with their entries.

Per line, as ``greenshield check`` does (contract §2, §7): a blank line is
skipped, a rejection is stored with its reason and position, an exact duplicate of
a stored or earlier line is counted and dropped, a conflicting duplicate is
rejected. Personal data is redacted right after validation (design note 1); the
only trace of the plain content is a keyed digest, used to tell exact from
conflicting duplicates across runs. Each batch is one writer transaction: the
events, the rejects and their audit entries commit together, so a re-run after a
crash stores nothing twice. Every writer of rejects (this intake, the stream worker,
the HTTP ingest) goes through :func:`insert_rejects`, which logs each as a leaf.
"""

from __future__ import annotations

import hashlib
import hmac
import time
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from greenshield.audit import schema as t
from greenshield.audit.entries import canonical, reject_commitment, reject_entry, split_payload
from greenshield.audit.log import append, append_entries
from greenshield.audit.rows import EVENT_COLUMNS, event_values
from greenshield.audit.store import Store, insert_ignoring_conflicts, insert_rows
from greenshield.privacy import redact_event, redact_rejected
from greenshield.rules.dedup import CanonicalError, digest
from greenshield.rules.model import Event, RegistryRecord, Rejection
from greenshield.rules.parse import is_blank, parse_line

BOM = b"\xef\xbb\xbf"
BATCH = 2000


@dataclass
class IntakeStats:
    lines: int = 0
    stored: int = 0
    rejected: int = 0
    duplicates: int = 0


@dataclass
class _Line:
    position: int
    obj: Any
    item: Event | RegistryRecord
    digest: bytes


class Intake:
    """Feeds lines of one source or more into the store, in batches."""

    def __init__(self, store: Store, hmac_key: bytes) -> None:
        self.store, self.key, self.stats = store, hmac_key, IntakeStats()

    def feed(self, lines: Iterable[bytes], source: str) -> None:
        batch: list[_Line] = []
        rejects: list[dict[str, Any]] = []
        for number, line in enumerate(lines, 1):
            self.stats.lines += 1
            if number == 1 and line.startswith(BOM):
                line = line[3:]
            if is_blank(line):
                continue
            obj, item = parse_line(line)
            if isinstance(item, Rejection):
                rejects.append(reject_row(source, number, item))
                continue
            try:
                keyed = self._digest(obj, line)
            except CanonicalError as err:
                rejects.append(reject_row(source, number, Rejection(str(err))))
                continue
            batch.append(_Line(number, obj, item, keyed))
            if len(batch) >= BATCH:
                self._write(batch, rejects, source)
                batch, rejects = [], []
        self._write(batch, rejects, source)

    def _digest(self, obj: Any, raw: bytes) -> bytes:
        return keyed_digest(self.key, obj, raw)

    def _write(self, batch: list[_Line], rejects: list[dict[str, Any]], source: str) -> None:
        with self.store.write() as conn:
            fresh = self._fresh(conn, batch, rejects, source)
            ids = self.store.allocate_ids(conn, len(fresh))
            built = [event_values(i, ln.item, redact_event(ln.obj, self.key), ln.digest, source, ln.position)
                     for i, ln in zip(ids, fresh)]
            if built:
                insert_rows(conn, t.events, EVENT_COLUMNS, [row for row, _ in built])
                append_entries(conn, ids, "event", [entry for _, entry in built], self.store)
            insert_rejects(conn, self.store, rejects)
        self.stats.stored += len(fresh)
        self.stats.rejected += len(rejects)

    def _fresh(self, conn: Connection, batch: list[_Line], rejects: list[dict[str, Any]],
               source: str) -> list[_Line]:
        """The lines of ``batch`` whose key is new; duplicates are counted or rejected."""
        known = _stored_digests(conn, {(ln.item.enterprise_id, ln.item.event_id) for ln in batch})
        fresh: list[_Line] = []
        for ln in batch:
            key = (ln.item.enterprise_id, ln.item.event_id)
            if key not in known:
                known[key] = ln.digest
                fresh.append(ln)
            elif known[key] is None or known[key] == ln.digest:  # None: purged, cannot tell
                self.stats.duplicates += 1
            else:
                reason = f"conflicting duplicate of ({key[0]}, {key[1]}): same key, different content"
                payload = redact_rejected(ln.obj, self.key)
                rejects.append(reject_row(source, ln.position, Rejection(reason, payload, key)))
        return fresh


def _stored_digests(conn: Connection, keys: set[tuple[str, str]]) -> dict[tuple[str, str], bytes | None]:
    """Stored digests of ``keys`` (enterprise IN .. AND event_id IN ..: both databases use the key index)."""
    if not keys:
        return {}
    e = t.events
    rows = conn.execute(sa.select(e.c.enterprise_id, e.c.event_id, e.c.digest)
                        .where(e.c.enterprise_id.in_(sorted({k[0] for k in keys})),
                               e.c.event_id.in_(sorted({k[1] for k in keys})))).all()
    return {(r[0], r[1]): (bytes(r[2]) if r[2] is not None else None) for r in rows if (r[0], r[1]) in keys}


DEDUP_PREFIX = b"dedup\x00"


def keyed_digest(key: bytes, obj: Any, raw: bytes | None = None) -> bytes:
    """The stored duplicate digest of an event's original content: HMAC of its canonical digest."""
    return hmac.new(key, DEDUP_PREFIX + digest(obj, raw), hashlib.sha256).digest()[:16]


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
