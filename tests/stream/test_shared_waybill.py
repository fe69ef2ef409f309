"""Contract §8.1 in the stream worker on the real broker: two enterprises' parcels of one waybill, judged apart.

Both parcels of a waybill share its partition (the Kafka key stays the waybill, §1.2);
the worker keeps their states apart, so the stream ends with the batch verdict per parcel.
"""

from __future__ import annotations

import random
from collections.abc import Callable

import orjson
import pytest

from greenshield.settings import Settings
from greenshield.simulate import Simulation

from .conftest import consume_all
from .helpers import (
    WorkerThread, advance, batch_verdict_by_parcel, open_violations_by_parcel, send_valid, stored_events, wait_until)

pytestmark = pytest.mark.kafka

Pipeline = Callable[..., tuple[Settings, str]]


def shared_day() -> list[bytes]:
    sim = Simulation(250, 7, fault_rate=0.3, shared_waybill_rate=0.2)
    lines = sim.shuffled_lines()
    assert sum(m["kind"] == "shared_waybill" for m in sim.manifest) > 20
    return lines


def hostile_pair() -> tuple[list[bytes], bytes]:
    """The victim's parcel (no sender: RN-1) and the hostile enterprise's staff-less scan on its waybill,
    dated an hour before the victim's first event at a site off its path."""
    acceptance = {"v": 1, "event_id": "v-acc", "type": "acceptance", "enterprise_id": "E1000001",
                  "occurred_at": "2026-11-11T08:00:00+08:00", "waybill_no": "WBSHARED01", "site_id": "S00000001",
                  "staff_id": "P00000001", "origin_region": "110000", "destination_region": "110000",
                  "weight_g": 100, "inspection": {"inspector_id": "P00000001", "result": "passed",
                                                  "inspected_at": "2026-11-11T08:00:00+08:00", "category": "docs"}}
    scan = {"v": 1, "event_id": "v-scan", "type": "sort_scan", "enterprise_id": "E1000001",
            "occurred_at": "2026-11-11T09:00:00+08:00", "waybill_no": "WBSHARED01", "site_id": "S00000001",
            "staff_id": "P00000001"}
    hostile = {"v": 1, "event_id": "h-scan", "type": "sort_scan", "enterprise_id": "E2000002",
               "occurred_at": "2026-11-11T07:00:00+08:00", "waybill_no": "WBSHARED01", "site_id": "S00000009"}
    return [orjson.dumps(acceptance), orjson.dumps(scan)], orjson.dumps(hostile)


class TestStreamEqualsBatch:
    def test_a_day_with_shared_waybills_ends_with_the_batch_verdict_per_parcel(self, pipeline: Pipeline) -> None:
        settings, db = pipeline()
        lines = shared_day()
        want = batch_verdict_by_parcel(lines)
        assert len({(e, w) for e, w, *_ in want}) > len({w for _, w, *_ in want})  # some waybills have two
        with WorkerThread(settings, db):
            send_valid(settings, lines)
            advance(settings)
            assert wait_until(lambda: open_violations_by_parcel(db) == want, timeout=180), \
                sorted(open_violations_by_parcel(db) ^ want)[:10]

    def test_a_restart_and_released_parcels_keep_the_parcels_apart(self, pipeline: Pipeline) -> None:
        """Half, stop, the rest with a tiny release window (parcels leave memory and come back from the
        store by (enterprise_id, waybill_no)): the same verdict per parcel."""
        settings, db = pipeline(release_after_seconds=60)
        lines = shared_day()
        want = batch_verdict_by_parcel(lines)
        half = len(lines) // 2
        with WorkerThread(settings, db):
            send_valid(settings, lines[:half])
            assert wait_until(lambda: stored_events(db) > 0)
        with WorkerThread(settings, db):
            send_valid(settings, lines[half:])
            advance(settings)
            assert wait_until(lambda: open_violations_by_parcel(db) == want, timeout=180), \
                sorted(open_violations_by_parcel(db) ^ want)[:10]


class TestHostileScan:
    def test_an_early_foreign_scan_leaves_the_victims_verdict_alone(self, pipeline: Pipeline) -> None:
        """The victim's violations stay its own, with its own evidence; the change messages say whose they are."""
        settings, db = pipeline()
        victim, hostile = hostile_pair()
        alone = batch_verdict_by_parcel(victim)
        want = batch_verdict_by_parcel(victim + [hostile])
        assert {v for v in want if v[0] == "E1000001"} == alone and any(v[2] == "RN-1" for v in alone)
        with WorkerThread(settings, db):
            send_valid(settings, [hostile] + victim)
            advance(settings)
            assert wait_until(lambda: open_violations_by_parcel(db) == want), open_violations_by_parcel(db) ^ want
        messages = consume_all(settings.kafka_bootstrap, settings.violations_topic, settings.violations_partitions,
                               len(want), timeout=30)
        changes = [orjson.loads(m.value) for m in messages]
        assert all(m.key == b"WBSHARED01" for m in messages)
        assert {(c["enterprise_id"], c["rule_id"]) for c in changes} == {(v[0], v[2]) for v in want}
        assert all(c["evidence"] == ["h-scan"] for c in changes if c["enterprise_id"] == "E2000002")
        assert not any("h-scan" in c["evidence"] for c in changes if c["enterprise_id"] == "E1000001")
