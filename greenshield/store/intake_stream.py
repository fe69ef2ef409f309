"""What the stream worker needs of the audit store, on the store's own tables and entry formats.

The worker calls these inside one :meth:`~greenshield.store.database.Store.write`
transaction per batch: look up which keys are already stored, store the new
events (with their audit entries), the rejects and the violation status changes,
and commit together. The store's unique key ``(enterprise_id, event_id)`` is the
guard against counting an event twice, whatever Kafka redelivers; rejects are
keyed by ``(source, position)`` = ``(kafka:<topic>:<partition>, offset)``, so a
redelivered poison message is stored once.

For rebuilding a partition's state after a restart or a rebalance: the events of
given parcels ``(enterprise_id, waybill_no)`` (contract §8.1), the parcels with
events since an instant, and the open violations as
:class:`~greenshield.rules.model.Violation` values.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import Any, Protocol, Sequence

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from greenshield.rules.dedup import digest
from greenshield.rules.model import Event, ParcelKey, RegistryRecord, Rejection, Violation
from greenshield.rules.timestamps import Instant, parse_instant
from greenshield.store import schema as t
from greenshield.store.audit_log import append_entries
from greenshield.store.database import Store, insert_rows, placeholder
from greenshield.store.intake_files import DEDUP_PREFIX, reject_row as _intake_reject_row
from greenshield.store.rows import EVENT_COLUMNS, event_values, restored
from greenshield.store.verdicts import apply_changes, plan_changes, stored_violations
from greenshield.translog.entries import loads

Key = tuple[str, str]
_IN_CHUNK = 900  # bound the size of IN (...) lists (SQLite's variable limit)


@dataclass(frozen=True, slots=True)
class NewEvent:
    """An accepted, redacted event to store; ``doc`` never holds plain personal data."""

    item: Event | RegistryRecord
    doc: dict[str, Any]
    digest: bytes
    source: str
    position: int


class Storable(Protocol):
    """What :func:`store_events` reads of an event to store (a :class:`NewEvent`, or the worker's candidate)."""

    @property
    def item(self) -> Event | RegistryRecord: ...

    @property
    def doc(self) -> dict[str, Any]: ...

    @property
    def digest(self) -> bytes: ...

    @property
    def source(self) -> str: ...

    @property
    def position(self) -> int: ...


def keyed_digester(key: bytes) -> Callable[[Any, bytes | None, bool], bytes]:
    """:func:`~greenshield.store.intake_files.keyed_digest` with the key bound once (the HMAC's keyed state is copied, not rebuilt)."""
    base = hmac.new(key, DEDUP_PREFIX, hashlib.sha256)

    def keyed(obj: Any, raw: bytes | None = None, plain: bool = False) -> bytes:
        h = base.copy()
        h.update(digest(obj, raw, plain))
        return h.digest()[:16]

    return keyed


def _chunks(items: list[Any]) -> Iterator[list[Any]]:
    for i in range(0, len(items), _IN_CHUNK):
        yield items[i:i + _IN_CHUNK]


def stored_digests(conn: Connection, keys: Iterable[Key]) -> dict[Key, bytes | None]:
    """The digest stored for each of ``keys`` that is already stored (None: purged, cannot tell).

    One indexed lookup per enterprise and chunk of event ids (the unique key leads with
    ``enterprise_id``), sent straight to the driver: this runs once per batch on the hot path.
    """
    by_enterprise: dict[str, list[str]] = {}
    for enterprise, event_id in set(keys):
        by_enterprise.setdefault(enterprise, []).append(event_id)
    mark = placeholder(conn)
    out: dict[Key, bytes | None] = {}
    for enterprise, event_ids in by_enterprise.items():
        for part in _chunks(event_ids):
            sql = (f"SELECT event_id, digest FROM events WHERE enterprise_id = {mark} "
                   f"AND event_id IN ({', '.join([mark] * len(part))})")
            for event_id, stored in conn.exec_driver_sql(sql, (enterprise, *part)):
                out[(enterprise, event_id)] = bytes(stored) if stored is not None else None
    return out


def store_events(conn: Connection, store: Store, events: Sequence[Storable]) -> None:
    """Insert new events and their audit entries (the caller checked the keys are new).

    ``events``: :class:`NewEvent` values or anything with the same attributes (the worker
    passes its candidates as they are: no copy per event on the hot path)."""
    if not events:
        return
    ids = store.allocate_ids(conn, len(events))
    built = [event_values(i, n.item, n.doc, n.digest, n.source, n.position) for i, n in zip(ids, events)]
    insert_rows(conn, t.events, EVENT_COLUMNS, [row for row, _ in built])
    append_entries(conn, ids, "event", [entry for _, entry in built], store)


def reject_row(source: str, position: int, rejection: Rejection) -> dict[str, Any]:
    """A ``rejects`` row, exactly as intake writes one (the payload is the Rejection's masked one)."""
    return _intake_reject_row(source, position, rejection)


def store_rejects(conn: Connection, store: Store, rows: list[dict[str, Any]]) -> None:
    """Insert rejects with their audit entries (kind ``reject``, see :func:`~greenshield.store.intake_files.insert_rejects`);
    one already stored at the same (source, position) is left as it is."""
    from greenshield.store.intake_files import insert_rejects

    insert_rejects(conn, store, rows)


def _waybills(parcels: Iterable[ParcelKey]) -> list[str]:
    return sorted({w for _, w in parcels})


def parcel_events(conn: Connection, parcels: Iterable[ParcelKey]) -> list[Event]:
    """Every stored event of the given parcels ``(enterprise_id, waybill_no)``, restored for the rule core.

    Looked up by the waybill index, then kept only for the wanted pairs: another
    enterprise's parcel of the same waybill is another parcel (contract §8.1).
    """
    wanted = set(parcels)
    e = t.events
    out: list[Event] = []
    for part in _chunks(_waybills(wanted)):
        rows = conn.execute(sa.select(e.c.doc, e.c.sender_complete, e.c.sender_document_ok)
                            .where(e.c.waybill_no.in_(part)).order_by(e.c.entry_id)).mappings()
        out.extend(item for item in map(restored, rows) if isinstance(item, Event) and item.parcel in wanted)
    return out


def _pairs(rows: Iterable[Any]) -> set[ParcelKey]:
    return {(str(r[0]), str(r[1])) for r in rows}


def parcels_since(conn: Connection, since_s: int) -> set[ParcelKey]:
    """Parcels ``(enterprise_id, waybill_no)`` with a stored event at or after ``since_s`` (epoch seconds)."""
    e = t.events
    query = sa.select(e.c.enterprise_id, e.c.waybill_no).where(e.c.at_s >= since_s, e.c.waybill_no.is_not(None))
    return _pairs(conn.execute(query.distinct()))


def stored_parcels(conn: Connection, parcels: Iterable[ParcelKey]) -> set[ParcelKey]:
    """Which of ``parcels`` have any stored event (hot path: straight to the driver, by the waybill index)."""
    wanted = set(parcels)
    mark = placeholder(conn)
    out: set[ParcelKey] = set()
    for part in _chunks(_waybills(wanted)):
        sql = ("SELECT DISTINCT enterprise_id, waybill_no FROM events "
               f"WHERE waybill_no IN ({', '.join([mark] * len(part))})")
        out.update(p for p in _pairs(conn.exec_driver_sql(sql, tuple(part))) if p in wanted)
    return out


#: the event columns that name an entity of each registry kind
ENTITY_COLUMNS = {"staff": ("staff_id", "inspector_id"), "xray_machine": ("device_id",), "vehicle": ("device_id",),
                  "contract_customer": ("customer_id",)}


def parcels_referencing(conn: Connection, entity: str, ident: str, since_s: int) -> set[ParcelKey]:
    """Parcels with an event at or after ``since_s`` that names ``entity`` ``ident`` (a late registry record's reach)."""
    e = t.events
    out: set[ParcelKey] = set()
    for column in ENTITY_COLUMNS.get(entity, ()):
        query = sa.select(e.c.enterprise_id, e.c.waybill_no).where(e.c[column] == ident, e.c.at_s >= since_s,
                                                                   e.c.waybill_no.is_not(None)).distinct()
        out.update(_pairs(conn.execute(query)))
    return out


def open_violations(conn: Connection, parcels: Iterable[ParcelKey]) -> dict[ParcelKey, dict[str, Violation]]:
    """The stored open violations of the given parcels, as the rule core holds them."""
    wanted = set(parcels)
    v = t.violations
    out: dict[ParcelKey, dict[str, Violation]] = {}
    for part in _chunks(_waybills(wanted)):
        rows = conn.execute(sa.select(v.c.enterprise_id, v.c.waybill_no, v.c.doc)
                            .where(v.c.waybill_no.in_(part), v.c.status == "open")).all()
        for enterprise, waybill, text in rows:
            if (enterprise, waybill) not in wanted:
                continue
            doc = loads(text)
            found = Violation(doc["waybill_no"], doc["rule_id"], doc["enterprise_id"], doc["severity"],
                              parse_instant(doc["occurred_at"]), tuple(doc["evidence"]), doc["message"],
                              doc["rule_pack"])
            out.setdefault(found.parcel, {})[found.rule_id] = found
    return out


def record_verdicts(conn: Connection, store: Store, found: dict[ParcelKey, dict[str, Violation]],
                    as_of: Instant) -> list[dict[str, Any]]:
    """Bring the stored violations of ``found``'s parcels to ``found`` (their whole verdict at ``as_of``).

    Only real differences are written (a violation already open with the same
    details is left alone), each as a ``violation_changes`` row plus an audit
    entry. Returns the changes written: ``kind`` (opened/updated/retracted),
    ``seq`` (per violation, so ``(enterprise_id, waybill_no, rule_id, seq)`` identifies
    a change for downstream de-duplication) and the change ``doc``.
    """
    if not found:
        return []
    parcels = sorted(found)
    stored: dict[tuple[str, str, str], dict[str, Any]] = {}
    for part in _chunks(parcels):
        stored.update(stored_violations(conn, part))
    return apply_changes(conn, store, list(plan_changes(found, stored, as_of)))
