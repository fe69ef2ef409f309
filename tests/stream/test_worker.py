"""The stream worker on the real broker: the stream's open violations equal the batch verdict."""

from __future__ import annotations

import random
from collections.abc import Callable

import orjson
import pytest

from greenshield.store import schema as t
from greenshield.settings import Settings

from .conftest import consume_all
from .helpers import (
    WorkerThread, advance, batch_verdict, count_rows, duplicate_keys, open_violations, sample_lines, send_raw,
    send_valid, stored_events, wait_until)

pytestmark = pytest.mark.kafka

Pipeline = Callable[..., tuple[Settings, str]]


class TestVerdict:
    def test_the_sample_day_ends_with_the_batch_verdict(self, pipeline: Pipeline) -> None:
        """Sample day in file order, then the clock advanced to the verdict instant: same violations as check."""
        settings, db = pipeline()
        lines = sample_lines()
        want = batch_verdict(lines)
        with WorkerThread(settings, db):
            send_valid(settings, lines)
            advance(settings)
            assert wait_until(lambda: open_violations(db) == want), open_violations(db) ^ want
        assert stored_events(db) == len(lines)

    def test_shuffled_input_with_duplicates_and_junk_ends_with_the_batch_verdict(self, pipeline: Pipeline) -> None:
        """Any arrival order, exact duplicates and malformed lines: the same set of open violations."""
        settings, db = pipeline()
        rng = random.Random(5)
        lines = sample_lines()
        noisy = lines + rng.sample(lines, 80) + [b"{broken", b"[1,2]", b'{"v": 1, "type": "xray"}']
        rng.shuffle(noisy)
        want = batch_verdict(noisy)
        junk = [(None, line) for line in noisy if line.startswith((b"{broken", b"[1", b'{"v": 1, "type": "xray"}'))]
        with WorkerThread(settings, db):
            send_raw(settings, settings.events_topic, junk)
            send_valid(settings, noisy)
            advance(settings)
            assert wait_until(lambda: open_violations(db) == want), open_violations(db) ^ want
            assert wait_until(lambda: count_rows(db, t.rejects) == 3)
        assert stored_events(db) == len(lines)
        assert duplicate_keys(db) == 0

    def test_late_evidence_retracts_an_open_violation(self, pipeline: Pipeline) -> None:
        """An XR-4 deadline fires; the xray that arrives afterwards retracts it, audited and published."""
        settings, db = pipeline()
        acceptance = {"v": 1, "event_id": "a-1", "type": "acceptance", "enterprise_id": "E1000001",
                      "occurred_at": "2026-11-11T08:00:00+08:00", "waybill_no": "WBLATE0001",
                      "site_id": "S00000001", "staff_id": "P00000001", "contract_customer_id": "C00000001",
                      "inspection": {"inspector_id": "P00000001", "inspected_at": "2026-11-11T08:00:00+08:00",
                                     "result": "passed", "category": "docs"},
                      "origin_region": "110000", "destination_region": "110000", "weight_g": 100}
        xray = {"v": 1, "event_id": "x-1", "type": "xray", "enterprise_id": "E1000001",
                "occurred_at": "2026-11-11T09:00:00+08:00", "waybill_no": "WBLATE0001", "site_id": "S00000001",
                "staff_id": "P00000001", "machine_id": "X00000001", "result": "clear"}
        with WorkerThread(settings, db):
            send_valid(settings, [orjson.dumps(acceptance)])
            advance(settings, "2026-11-13T00:00:00+08:00")
            assert wait_until(lambda: ("WBLATE0001", "XR-4", "2026-11-12T00:00:00Z") in open_violations(db))
            send_valid(settings, [orjson.dumps(xray)])
            assert wait_until(lambda: all(r != "XR-4" for _, r, _ in open_violations(db)))
        changes = [orjson.loads(m.value) for m in consume_all(settings.kafka_bootstrap, settings.violations_topic,
                                                              settings.violations_partitions, 1, timeout=10)]
        xr4 = [(c["change"], c["status"], c["seq"]) for c in changes if c["rule_id"] == "XR-4"]
        assert xr4 == [("opened", "open", 1), ("retracted", "retracted", 2)]


class TestRestart:
    def test_a_restarted_worker_counts_nothing_twice_and_keeps_the_verdict(self, pipeline: Pipeline) -> None:
        """Half the day, stop, the rest (with the first half sent again), restart: one copy of each event."""
        settings, db = pipeline()
        lines = sample_lines()
        half = len(lines) // 2
        with WorkerThread(settings, db):
            send_valid(settings, lines[:half])
            assert wait_until(lambda: stored_events(db) == half)
        with WorkerThread(settings, db) as second:
            send_valid(settings, lines)
            advance(settings)
            assert wait_until(lambda: open_violations(db) == batch_verdict(lines))
            assert wait_until(lambda: sum(s.value for s in _samples(second, "greenshield_events_duplicated")) == half)
        assert stored_events(db) == len(lines)


class TestOutputs:
    def test_a_reject_names_its_partition_and_offset_and_masks_the_sender(self, pipeline: Pipeline) -> None:
        """A wrong-schema acceptance: the reject carries topic, partition, offset and no plain sender data."""
        settings, db = pipeline()
        bad = {"v": 1, "event_id": "a-9", "type": "acceptance", "enterprise_id": "E1000001",
               "occurred_at": "2026-11-11T08:00:00+08:00", "waybill_no": "WBREJECT01", "site_id": "S00000001",
               "sender": {"name": "张三丰", "id_type": "resident_id", "id_number": "110101199003074514",
                          "verified_by": "id_reader"},
               "origin_region": "110000", "destination_region": "110000", "weight_g": "heavy"}
        with WorkerThread(settings, db):
            send_raw(settings, settings.events_topic, [(b"WBREJECT01", orjson.dumps(bad))])
            got = consume_all(settings.kafka_bootstrap, settings.rejects_topic, 1, 1)
        assert len(got) == 1
        reject = orjson.loads(got[0].value)
        assert reject["topic"] == settings.events_topic and reject["offset"] == 0
        assert reject["partition"] in range(settings.events_partitions)
        assert "weight_g" in reject["reason"]
        text = got[0].value.decode()
        assert "张三丰" not in text and "110101199003074514" not in text
        assert reject["payload"]["sender"]["id_number_masked"] == "110*************14"


def _samples(worker: WorkerThread, name: str) -> list:  # type: ignore[type-arg]
    return [s for metric in worker.metrics.registry.collect() for s in metric.samples
            if s.name == f"{name}_total"]
