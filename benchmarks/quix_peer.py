"""The quixstreams peer of the worker: events topic in, the same ``events`` rows out by PostgreSQL binary COPY.

A ``quixstreams.Application`` reads the events topic (JSON values) and a
:class:`CopySink` (a ``BatchingSink``) writes one row per event into a table of the
worker's ``events`` shape (the same columns, the same 9 indexes, the same unique
key), one transaction per flushed partition batch; quixstreams commits the offsets
after the sink's flush (its at-least-once checkpoint). The row mapping
(:func:`row_of`) is deliberately light (no validation, no de-duplication, no audit
log, no rule cores): it is what a framework costs for *storing the rows*. The
sender block is replaced by a keyed hash so that no personal data lands in plain text.
"""

from __future__ import annotations

import hashlib
from datetime import datetime
from typing import Any

import orjson
import sqlalchemy as sa

from greenshield.store import schema

PEER_KEY = b"bench-peer-key"
_DEVICE = ("machine_id", "vehicle_id")
_OTHER = ("to_site_id", "from_site_id")


def columns() -> tuple[list[str], list[str]]:
    """(names, PostgreSQL type names) of the worker's events table, in order."""
    from sqlalchemy.dialects import postgresql

    dialect = postgresql.dialect()  # type: ignore[no-untyped-call]
    names = [c.name for c in schema.events.columns]
    types = [c.type.compile(dialect=dialect).split("(")[0].lower() for c in schema.events.columns]
    return names, types


def create_table(url: str) -> None:
    """An empty ``events`` table of the worker's shape (columns, key, 9 indexes) at ``url``."""
    table = schema.events.to_metadata(sa.MetaData())
    engine = sa.create_engine(url)
    try:
        table.create(engine)
    finally:
        engine.dispose()


def libpq(url: str) -> str:
    """The psycopg conninfo of a SQLAlchemy ``postgresql+psycopg://`` URL."""
    return sa.engine.make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


def _hash(value: bytes) -> str:
    return hashlib.blake2b(value, key=PEER_KEY, digest_size=32).hexdigest()


def row_of(doc: dict[str, Any], raw: bytes, source: str, offset: int, entry_id: int) -> tuple[Any, ...]:
    """The events row of one decoded event (the worker's columns, in order)."""
    at = doc.get("occurred_at") or ""
    try:
        stamp = datetime.fromisoformat(at)
        at_s, at_frac = int(stamp.timestamp()), (f"{stamp.microsecond:06d}" if stamp.microsecond else "")
    except ValueError:
        at_s, at_frac = 0, ""
    inspection = doc.get("inspection") or {}
    sender = doc.get("sender")
    sender_hash = None
    if isinstance(sender, dict):
        sender_hash = _hash(str(sender.get("id_number", "")).encode())
        doc = {**doc, "sender": {"id_hash": sender_hash, "verified_by": sender.get("verified_by")}}
        raw = orjson.dumps(doc)
    registry = doc.get("type") == "registry"
    return (
        entry_id, doc.get("enterprise_id", ""), doc.get("event_id", ""), doc.get("type", ""), at, at_s, at_frac,
        doc.get("waybill_no"), doc.get("site_id"), doc.get("staff_id"),
        inspection.get("inspector_id") or doc.get("inspector_id"),
        next((doc[k] for k in _DEVICE if k in doc), None), next((doc[k] for k in _OTHER if k in doc), None),
        doc.get("result") or inspection.get("result"), doc.get("contract_customer_id"),
        doc.get("entity"), doc.get("id") if registry else None, doc.get("status"),
        isinstance(sender, dict), isinstance(sender, dict) and "id_number" in sender, sender_hash, None, None,
        hashlib.blake2b(raw, key=PEER_KEY, digest_size=16).digest(), raw.decode(), False, source, offset,
    )


class CopyWriter:
    """Binary COPY of rows into the events table, one transaction per call."""

    def __init__(self, url: str) -> None:
        import psycopg

        self.names, self.types = columns()
        self.conn = psycopg.connect(libpq(url))
        self.sql = f"COPY events ({', '.join(self.names)}) FROM STDIN (FORMAT BINARY)"
        self.rows = 0

    def write(self, rows: list[tuple[Any, ...]]) -> None:
        with self.conn.cursor() as cur:
            with cur.copy(self.sql) as copy:
                copy.set_types(self.types)
                for row in rows:
                    copy.write_row(row)
        self.conn.commit()
        self.rows += len(rows)

    def close(self) -> None:
        self.conn.close()


def entry_id(partition: int, offset: int) -> int:
    """A unique key per message (the peer has no id allocator)."""
    return (partition << 40) | offset


def make_sink(url: str) -> Any:
    """A quixstreams ``BatchingSink`` writing the events rows by COPY (import here: quixstreams is a bench extra)."""
    from quixstreams.sinks import BatchingSink, SinkBatch

    class CopySink(BatchingSink):  # type: ignore[misc]
        def __init__(self) -> None:
            super().__init__()
            self.writer: CopyWriter | None = None

        def setup(self) -> None:
            self.writer = CopyWriter(url)

        def write(self, batch: SinkBatch) -> None:
            assert self.writer is not None
            source, part = f"{batch.topic}:{batch.partition}", batch.partition
            rows = []
            for item in batch:
                doc = item.value
                rows.append(row_of(doc, orjson.dumps(doc), source, item.offset, entry_id(part, item.offset)))
            self.writer.write(rows)

    return CopySink()


def make_app(bootstrap: str, topic: str, group: str, url: str, commit_every: int, state_dir: str) -> Any:
    """The peer application: ``topic`` (JSON values) → :class:`CopySink`; ``commit_every=0`` is quixstreams' default."""
    from quixstreams import Application

    app = Application(broker_address=bootstrap, consumer_group=group, auto_offset_reset="earliest",
                      commit_every=commit_every, auto_create_topics=False, use_changelog_topics=False,
                      state_dir=state_dir, loglevel="WARNING")
    sdf = app.dataframe(app.topic(topic, value_deserializer="json"))
    sdf.sink(make_sink(url))
    return app
