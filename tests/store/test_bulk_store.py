"""The bulk store path: rows and entries built as tuples, binary COPY / executemany, the sparse indexes.

``event_values`` must give the values and entry bytes of ``event_row_entry`` (the entries are Merkle
leaves that ``audit verify`` re-derives from the rows); ``insert_rows`` must store every column type
exactly and refuse what the database refuses with the driver's DataError / IntegrityError; the partial
indexes must still serve every query that names a value of their column.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson
import pytest
import sqlalchemy as sa

from greenshield.store import schema as t
from greenshield.store.intake_files import keyed_digest
from greenshield.translog.keys import signing_key
from greenshield.store.audit_log import append, append_entries
from greenshield.translog.merkle import leaf_hash
from greenshield.store.pipeline import open_audit
from greenshield.store.rows import EVENT_COLUMNS, event_row_entry, event_values, row_entry
from greenshield.store.database import Store, insert_rows
from greenshield.store.intake_stream import NewEvent, store_events
from tests.support.store import settings_for
from greenshield.store.verify import verify
from greenshield.rules.privacy import redact_event
from greenshield.rules.model import Rejection
from greenshield.rules.parse import parse_line

SAMPLE = Path(__file__).resolve().parents[1] / "data" / "sample-day.jsonl"
KEY = b"test-hmac-key"

ACCEPTANCE = {"v": 1, "event_id": "acc-1", "type": "acceptance", "enterprise_id": "E3100001",
              "waybill_no": "YT0000000001", "occurred_at": "2026-11-11T10:00:00.123456789+08:00",
              "site_id": "S00000001", "staff_id": "P00000001", "origin_region": "310000",
              "destination_region": "320100", "weight_g": 900,
              "sender": {"name": "张三", "id_type": "passport", "id_number": "E12345678", "verified_by": "id_reader"},
              "inspection": {"inspector_id": "P00000002", "inspected_at": "2026-11-11T10:00:00+08:00",
                             "result": "passed", "category": "books"}}


def _events(lines: list[bytes], source: str = "kafka:gs.events:0") -> list[NewEvent]:
    out = []
    for position, line in enumerate(lines):
        obj, item = parse_line(line)
        assert not isinstance(item, Rejection), (line, item)
        out.append(NewEvent(item, redact_event(obj, KEY), keyed_digest(KEY, obj, line), source, position))
    return out


def _variants() -> list[bytes]:
    """Edge cases of the entry's pieces: non-ASCII text, an integer beyond 64 bits, a sender without some fields."""
    sender_only = {**ACCEPTANCE, "event_id": "acc-2", "sender": {"id_type": "passport", "id_number": "E1"}}
    return [orjson.dumps(ACCEPTANCE), orjson.dumps(sender_only),
            orjson.dumps({**ACCEPTANCE, "event_id": "acc-3"}).replace(b'"weight_g":900', b'"weight_g":' + b"9" * 30),
            orjson.dumps({"v": 1, "event_id": "ev.1:x_-Z", "type": "sort_scan", "enterprise_id": "E3100001",
                          "waybill_no": "YT0000000002", "occurred_at": "2026-11-11T10:00:00Z",
                          "site_id": "S00000001", "staff_id": "P00000001"})]


def _reference(entry_id: int, n: NewEvent) -> tuple[tuple[Any, ...], bytes]:
    row, entry = event_row_entry(n.item, n.doc, n.digest, n.source, n.position)
    return (entry_id, *(row[c] for c in EVENT_COLUMNS[1:])), entry


class TestEventValues:
    def test_the_values_and_entry_bytes_are_those_of_event_row_entry(self) -> None:
        """Every event and registry record of the sample day, and the edge cases: equal values, equal bytes."""
        events = _events(SAMPLE.read_bytes().splitlines() + _variants())
        assert {type(n.item).__name__ for n in events} == {"Event", "RegistryRecord"}
        assert any(isinstance(n.doc.get("sender"), dict) for n in events)
        for i, n in enumerate(events, 1):
            assert event_values(i, n.item, n.doc, n.digest, n.source, n.position) == _reference(i, n)

    def test_a_digest_shows_only_without_a_sender_and_an_odd_placement_takes_the_reference_path(self) -> None:
        scan, acceptance = _events([_variants()[3], _variants()[0]])
        for n in (scan, acceptance):
            for digest, source, position in ((None, "s", 0), (b"\x01" * 16, "kafka:t\ud800:0", 7),
                                             (b"\x02" * 16, "s", 1 << 70), (b"\x03" * 16, "s", -(1 << 63))):
                got = event_values(5, n.item, n.doc, digest, source, position)
                assert got == _reference(5, NewEvent(n.item, n.doc, digest, source, position))
        row, entry = event_values(5, scan.item, scan.doc, b"\x01" * 16, "s", 3)
        assert orjson.loads(entry)["digest"] == "01" * 16 and orjson.loads(entry)["sender"] is None
        row, entry = event_values(5, acceptance.item, acceptance.doc, b"\x01" * 16, "s", 3)
        assert orjson.loads(entry)["digest"] is None and orjson.loads(entry)["sender"] == row[21]

    def test_the_entry_is_the_one_verify_re_derives_from_the_stored_row(self, db_url: str, tmp_path: Path) -> None:
        """store_events, then each stored row's re-derived entry is the logged entry, and the store verifies."""
        audit = open_audit(settings_for(tmp_path / "var", db_url), db_url)
        try:
            events = _events(SAMPLE.read_bytes().splitlines() + _variants())
            with audit.store.write() as conn:
                store_events(conn, audit.store, events)
            audit.sequencer.integrate(close=True)
            with audit.store.read() as conn:
                rows = conn.execute(sa.select(t.events).order_by(t.events.c.entry_id)).mappings().all()
                logged = dict(conn.execute(sa.select(t.audit_log.c.id, t.audit_log.c.entry)).all())
            assert len(rows) == len(events)
            for row, n in zip(rows, events):
                assert row_entry(row) == bytes(logged[row["entry_id"]])
                assert tuple(row[c] for c in EVENT_COLUMNS) == _reference(row["entry_id"], n)[0]
            report = verify(audit.store, signing_key(settings_for(tmp_path / "var", "")).public_key())
            assert report.ok, report.findings
        finally:
            audit.store.close()


@pytest.fixture
def store(db_url: str) -> Iterator[Store]:
    s = Store.open(db_url)
    yield s
    s.close()


def _row(entry_id: int, **values: Any) -> tuple[Any, ...]:
    base: dict[str, Any] = {c.name: None for c in t.events.columns}
    base.update(entry_id=entry_id, enterprise_id="E3100001", event_id=f"ev-{entry_id}", type="sort_scan",
                occurred_at="2026-11-11T10:00:00Z", at_s=1_794_362_400, at_frac="", sender_complete=False,
                sender_document_ok=False, doc="{}", purged=False, source="s", position=entry_id)
    base.update(values)
    return tuple(base[c] for c in EVENT_COLUMNS)


class TestInsertRows:
    def test_every_column_type_round_trips_exactly(self, store: Store) -> None:
        """Text, bigint, booleans, bytea and NULLs, as the binary COPY / executemany wrote them."""
        full = _row(1, at_s=-(1 << 62), at_frac="123456789", waybill_no="YT0000000001", site_id="S00000001",
                    staff_id="P00000001", inspector_id="P00000002", device_id="X00000001", other_site_id="S2",
                    result="passed", customer_id="C00000001", entity="staff", entity_id="D" * 32, status="active",
                    sender_complete=True, sender_document_ok=True, sender_id_hash="a" * 64,
                    sender_commitment="b" * 64, person_id_hash="c" * 64, digest=bytes(range(16)),
                    doc='{"名":"张\\u0000三","n":1.50}', purged=True, source="kafka:gs.events:5",
                    position=(1 << 63) - 1)
        sparse = _row(2, digest=b"\x00" * 16)
        nodes = [(4, 0, b"\x00\xff" * 16), (63, (1 << 62), bytes(32))]
        with store.write() as conn:
            insert_rows(conn, t.events, EVENT_COLUMNS, [full, sparse])
            insert_rows(conn, t.audit_nodes, ("level", "idx", "hash"), nodes)
        with store.read() as conn:
            got = [tuple(r) for r in conn.execute(sa.select(*(t.events.c[c] for c in EVENT_COLUMNS))
                                                  .order_by(t.events.c.entry_id))]
            got_nodes = [tuple(r) for r in conn.execute(sa.select(t.audit_nodes).order_by(t.audit_nodes.c.level))]
        assert got == [full, sparse]
        assert got_nodes == nodes
        assert [type(v) for v in got[0][18:20]] == [bool, bool] and isinstance(got[0][23], bytes)

    def test_append_entries_is_append(self, store: Store) -> None:
        with store.write() as conn:
            append(conn, [(1, "event", b'{"a":1}'), (2, "event", b'{"a":2}')], store)
            append_entries(conn, [3, 4], "reject", [b'{"a":3}', b"\x00\xff"], store)
        with store.read() as conn:
            got = [tuple(r) for r in conn.execute(sa.select(t.audit_log).order_by(t.audit_log.c.id))]
        assert got == [(1, "event", b'{"a":1}'), (2, "event", b'{"a":2}'), (3, "reject", b'{"a":3}'),
                       (4, "reject", b"\x00\xff")]
        assert store.handoff.take(0, 4) == ([1, 2, 3, 4], [leaf_hash(e) for *_, e in got])
        with pytest.raises(ValueError):
            with store.write() as conn:
                append_entries(conn, [5], "event", [], store)

    def test_a_duplicate_key_is_the_drivers_integrity_error_and_nothing_commits(self, store: Store) -> None:
        import psycopg
        import sqlite3

        with pytest.raises((psycopg.IntegrityError, sqlite3.IntegrityError)):
            with store.write() as conn:
                insert_rows(conn, t.events, EVENT_COLUMNS, [_row(1), _row(2, event_id="ev-1")])
        with store.read() as conn:
            assert conn.execute(sa.select(sa.func.count()).select_from(t.events)).scalar_one() == 0

    @pytest.mark.postgres
    @pytest.mark.parametrize("bad", [{"doc": '{"a":"\x00"}'}, {"enterprise_id": "E31000011"},
                                     {"waybill_no": "Y" * 33}, {"source": "s" * 401}])
    def test_postgresql_refuses_a_nul_or_an_over_long_string_with_a_data_error(
            self, bad: dict[str, Any], pg_url: str) -> None:
        """What the worker's bisection turns into one reject: psycopg's DataError, raised in the transaction."""
        import psycopg

        from tests.support.store import isolated_schema

        with isolated_schema(pg_url) as url:
            store = Store.open(url)
            try:
                with pytest.raises(psycopg.DataError):
                    with store.write() as conn:
                        insert_rows(conn, t.events, EVENT_COLUMNS, [_row(1), _row(2, **bad)])
                with store.read() as conn:
                    assert conn.execute(sa.select(sa.func.count()).select_from(t.events)).scalar_one() == 0
            finally:
                store.close()


#: queries of the trace, staff record, late registry records and verdicts on each sparse index's column
SPARSE_QUERIES = {
    "ix_events_inspector": ["SELECT entry_id FROM events WHERE inspector_id = 'P1'",
                            "SELECT entry_id FROM events WHERE inspector_id IN ('P1', 'P2') AND waybill_no IS NOT NULL",
                            "SELECT entry_id FROM events WHERE staff_id = 'P1' OR inspector_id = 'P1'"],
    "ix_events_device": ["SELECT entry_id FROM events WHERE device_id = 'X1' AND at_s >= 5",
                         "SELECT entry_id FROM events WHERE device_id = 'V1' AND type IN ('depart', 'arrive')"],
    "ix_events_sender": ["SELECT entry_id FROM events WHERE sender_id_hash = 'ab'"],
    "ix_events_person": ["SELECT entry_id FROM events WHERE person_id_hash IN ('ab', 'cd')",
                         "SELECT entry_id FROM events WHERE person_id_hash = 'ab'"],
    "ix_events_customer": ["SELECT entry_id FROM events WHERE customer_id = 'C1' AND at_s >= 0"],
    "ix_events_entity": ["SELECT entry_id FROM events WHERE entity = 'staff' AND entity_id = 'P1'",
                         "SELECT entry_id FROM events WHERE entity IS NOT NULL"],
}


class TestSparseIndexes:
    def test_they_are_partial(self, store: Store) -> None:
        with store.read() as conn:
            if store.is_sqlite:
                sql = dict(conn.exec_driver_sql("SELECT name, sql FROM sqlite_master WHERE type = 'index'").all())
            else:
                sql = dict(conn.exec_driver_sql("SELECT indexname, indexdef FROM pg_indexes "
                                                "WHERE tablename = 'events' AND schemaname = current_schema()").all())
        for name in SPARSE_QUERIES:
            assert "IS NOT NULL" in sql[name], sql[name]
        assert "WHERE" not in sql["ix_events_waybill"] and "WHERE" not in sql["ix_events_staff"]

    @pytest.mark.parametrize("index", sorted(SPARSE_QUERIES))
    def test_each_still_serves_the_queries_naming_a_value(self, store: Store, index: str) -> None:
        """SQLite's planner (no statistics) and PostgreSQL's with sequential scans priced out pick the index."""
        with store.read() as conn:
            for query in SPARSE_QUERIES[index]:
                if store.is_sqlite:
                    plan = " / ".join(r[3] for r in conn.exec_driver_sql(f"EXPLAIN QUERY PLAN {query}"))
                else:
                    conn.exec_driver_sql("SET LOCAL enable_seqscan = off")
                    plan = " / ".join(r[0] for r in conn.exec_driver_sql(f"EXPLAIN {query}"))
                assert index in plan, (query, plan)
