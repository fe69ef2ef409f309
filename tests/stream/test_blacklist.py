"""Revision 2 §8.2 in the stream worker on the real broker: PR-3 as ``check`` has it, late person records
reaching parcels no longer in memory, and no plain ID number on any output topic or in the store."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import orjson
import pytest
import sqlalchemy as sa

from greenshield.store import schema as t
from greenshield.settings import Settings

from .conftest import consume_all
from .helpers import WorkerThread, advance, batch_verdict_by_parcel, open_violations_by_parcel, send_raw, send_valid, \
    stored_events, wait_until

pytestmark = pytest.mark.kafka

Pipeline = Callable[..., tuple[Settings, str]]


def _resident_id(body17: str) -> str:
    total = sum(int(ch) * pow(2, 17 - k, 11) for k, ch in enumerate(body17))
    c = (12 - total % 11) % 11
    return body17 + ("X" if c == 10 else str(c))


PERSON = _resident_id("31010119850101771")
OTHER = _resident_id("32010219920202452")
A, B = "E3100001", "E3100002"
OLD, NEW, LATER = "P30000001", "P30000002", "P30000003"


def reg(eid: str, ent: str, entity: str, ident: str, status: str, at: str, number: str | None = None) -> bytes:
    out = {"v": 1, "type": "registry", "event_id": eid, "enterprise_id": ent, "occurred_at": at, "entity": entity,
           "id": ident, "status": status}
    return orjson.dumps(out | ({"person": {"id_type": "resident_id", "id_number": number}} if number else {}))


def scan(eid: str, ent: str, waybill: str, staff: str, at: str = "2026-11-11T08:00:00+08:00") -> bytes:
    return orjson.dumps({"v": 1, "type": "sort_scan", "event_id": eid, "enterprise_id": ent, "occurred_at": at,
                         "waybill_no": waybill, "site_id": "S31000001", "staff_id": staff})


def first_day() -> list[bytes]:
    """OLD at A is blacklisted with its person; the person is re-registered at B as NEW; LATER's person is
    blacklisted only later (``late``)."""
    since, banned, hired = "2026-01-01T00:00:00+08:00", "2026-10-01T00:00:00+08:00", "2026-10-15T00:00:00+08:00"
    return [reg("r1", A, "staff", OLD, "active", since, PERSON), reg("r2", A, "staff", OLD, "blacklisted", banned, PERSON),
            reg("r3", A, "person", "BL-A-1", "blacklisted", banned, PERSON),
            reg("r4", B, "staff", NEW, "active", hired, PERSON), reg("r5", B, "staff", LATER, "active", hired, OTHER),
            scan("a1", A, "WBA0000001", OLD), scan("b1", B, "WBB0000001", NEW),
            scan("b2", B, "WBB0000002", LATER, "2026-11-11T09:00:00+08:00")]


LATE = [reg("r6", B, "person", "BL-B-9", "blacklisted", "2026-11-01T00:00:00+08:00", OTHER)]


def rules(found: set[tuple[Any, ...]]) -> set[tuple[str, str, str]]:
    return {(e, w, r) for e, w, r, *_ in found}


def plain_in_store(db: str) -> bool:
    engine = sa.create_engine(db)
    try:
        with engine.connect() as conn:
            dump = json.dumps([list(map(str, r)) for table in t.metadata.sorted_tables
                               for r in conn.execute(sa.select(table))])
    finally:
        engine.dispose()
    return PERSON in dump or OTHER in dump


class TestStreamEqualsBatch:
    def test_a_reregistered_person_is_pr3_in_the_worker_as_in_check(self, pipeline: Pipeline) -> None:
        settings, db = pipeline()
        lines = first_day()
        want = batch_verdict_by_parcel(lines)
        assert (B, "WBB0000001", "PR-3") in rules(want) and (A, "WBA0000001", "PR-2") in rules(want)
        assert (A, "WBA0000001", "PR-3") not in rules(want)
        with WorkerThread(settings, db):
            send_valid(settings, lines)
            advance(settings)
            assert wait_until(lambda: open_violations_by_parcel(db) == want), open_violations_by_parcel(db) ^ want
        changes = consume_all(settings.kafka_bootstrap, settings.violations_topic, settings.violations_partitions,
                              len(want), timeout=10)
        assert changes and not any(PERSON.encode() in m.value or OTHER.encode() in m.value for m in changes)
        assert not plain_in_store(db)

    def test_a_late_person_record_reaches_parcels_restored_from_the_store(self, pipeline: Pipeline) -> None:
        """After a restart the day's parcels are not in memory (older than the longest deadline before the
        watermark): the late person record reloads them through the staff ids that person held."""
        settings, db = pipeline(release_after_seconds=60)
        lines = first_day()
        with WorkerThread(settings, db):
            send_valid(settings, lines)
            advance(settings)
            assert wait_until(lambda: open_violations_by_parcel(db) == batch_verdict_by_parcel(lines))
        want = batch_verdict_by_parcel(lines + LATE)
        assert (B, "WBB0000002", "PR-3") in rules(want) - rules(batch_verdict_by_parcel(lines))
        with WorkerThread(settings, db):
            send_valid(settings, LATE)
            assert wait_until(lambda: open_violations_by_parcel(db) == want), open_violations_by_parcel(db) ^ want
        assert stored_events(db) == len(lines) + len(LATE)


class TestPersonInvalid:
    def test_a_malformed_person_is_one_masked_reject(self, pipeline: Pipeline) -> None:
        settings, db = pipeline()
        bad = json.loads(reg("bad-1", B, "staff", NEW, "active", "2026-10-15T00:00:00+08:00", PERSON))
        bad["person"]["id_number"] = PERSON[:-1] + ("0" if PERSON[-1] != "0" else "1")  # a wrong check char
        with WorkerThread(settings, db):
            send_raw(settings, settings.registry_topic, [(b"staff:" + NEW.encode(), orjson.dumps(bad))])
            got = consume_all(settings.kafka_bootstrap, settings.rejects_topic, 1, 1)
        assert len(got) == 1
        reject = orjson.loads(got[0].value)
        assert reject["reason"].startswith("person_invalid") and bad["person"]["id_number"] not in got[0].value.decode()
        assert stored_events(db) == 0
