"""One message never stops a worker (issue 14): hostile control headers, non-UTF-8 header keys, rows the
store refuses, junk labels. Each on the real broker, on SQLite and PostgreSQL: every hostile message is exactly
one reject, every good event is stored once, the worker keeps running and commits its offsets."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import orjson
import pytest
import sqlalchemy as sa

from greenshield.store import schema as t
from greenshield.stream.control import encode_advance
from greenshield.stream.decode import MAX_REJECT_MESSAGE
from greenshield.stream.state import partition_of
from greenshield.settings import Settings
from tests.support.stream import kafka_client

from .conftest import CONTROL_KEY, consume_all
from .helpers import (
    WorkerThread, add_poison_constraint, advance, batch_verdict, count_rows, duplicate_keys, open_violations, sample_lines, send_records,
    send_valid, stored_events, wait_until)

pytestmark = [pytest.mark.kafka]

Pipeline = Callable[..., tuple[Settings, str]]

SCAN = {"v": 1, "type": "sort_scan", "enterprise_id": "E1000001", "occurred_at": "2026-11-11T10:00:00+08:00",
        "site_id": "S00000001", "staff_id": "P00000001"}


def _scan(waybill: str, event_id: str) -> bytes:
    return orjson.dumps({**SCAN, "waybill_no": waybill, "event_id": event_id})


def _rejects(settings: Settings, expected: int) -> list[dict[str, Any]]:
    got = consume_all(settings.kafka_bootstrap, settings.rejects_topic, 1, expected=expected + 1, timeout=5)
    return [orjson.loads(m.value) for m in got]


def _reasons(db: str) -> list[str]:
    engine = sa.create_engine(db)
    try:
        with engine.connect() as conn:
            return sorted(conn.execute(sa.select(t.rejects.c.reason)).scalars())
    finally:
        engine.dispose()


def _committed_to_end(settings: Settings) -> bool:
    from kafka import KafkaConsumer, TopicPartition

    consumer = KafkaConsumer(**kafka_client(settings.kafka_bootstrap), group_id=settings.worker_group,
                             enable_auto_commit=False)
    try:
        parts = [TopicPartition(settings.events_topic, p) for p in range(settings.events_partitions)]
        ends = consumer.end_offsets(parts)
        return all((consumer.committed(tp) or 0) == ends[tp] for tp in parts)
    finally:
        consumer.close()


def _alive(running: WorkerThread) -> bool:
    return running.thread.is_alive() and running.error is None


def test_hostile_control_messages_are_one_reject_each_and_a_replay_is_harmless(pipeline: Pipeline) -> None:
    """Null / non-ASCII / duplicated signature headers, a null gs-control header, a null value, a truncated and a
    forged value: 7 rejects; a valid control message sent twice moves the clock and is no reject."""
    settings, db = pipeline()
    lines = sample_lines()
    key = CONTROL_KEY.encode()
    _, good, headers = encode_advance(key, "2026-01-01T00:00:00Z", 2, "2026-11-29T00:00:00Z")
    sig = headers[1][1]
    _, forged, forged_headers = encode_advance(b"an-enterprise-guess", "2026-11-13T00:00:00Z", 2, "x")
    hostile: list[tuple[bytes | None, bytes | None, list[Any], int | None]] = [
        (b"c", good, [("gs-control", b"advance-v1"), ("gs-signature", None)], 2),
        (b"c", good, [("gs-control", b"advance-v1"), ("gs-signature", b"\xff" * 64)], 2),
        (b"c", good, [("gs-control", None), ("gs-signature", sig)], 2),
        (b"c", None, [("gs-control", b"advance-v1"), ("gs-signature", sig)], 2),
        (b"c", good, [("gs-control", b"advance-v1"), ("gs-signature", sig), ("gs-signature", sig)], 2),
        (b"c", good[:-7], [("gs-control", b"advance-v1"), ("gs-signature", sig)], 2),
        (b"c", forged, forged_headers, 2),
    ]
    replayed = [(b"c", good, headers, 2), (b"c", good, headers, 2)]
    with WorkerThread(settings, db) as running:
        send_records(settings, settings.events_topic, hostile[:4] + replayed + hostile[4:])
        send_valid(settings, lines)
        advance(settings)
        want = batch_verdict(lines)
        assert wait_until(lambda: open_violations(db) == want and stored_events(db) == len(lines)), \
            open_violations(db) ^ want
        assert wait_until(lambda: count_rows(db, t.rejects) == 7)
        assert wait_until(lambda: _committed_to_end(settings))
        assert _alive(running), running.error
    reasons = _reasons(db)
    assert len(reasons) == 7 and all("control message" in r for r in reasons), reasons
    assert sum("missing or wrong signature" in r for r in reasons) == 5, reasons
    assert sum("2 gs-signature headers" in r for r in reasons) == 1
    assert sum("unknown control message kind" in r for r in reasons) == 1
    assert duplicate_keys(db) == 0


def test_a_header_key_that_is_not_utf8_is_one_reject_on_either_topic(pipeline: Pipeline) -> None:
    """``b"gs-control\\xff\\xfe"`` as a header key (kafka-python's parser raised CorruptRecordError: the worker
    looped on the events topic and died at start on the registry topic). Now: one reject each, and the good
    events sent before and after it in the same record batch are stored."""
    settings, db = pipeline()
    lines = sample_lines()
    bad_key = b"gs-control\xff\xfe"
    record = {"v": 1, "event_id": "r-bad-header", "type": "registry", "enterprise_id": "E1000001",
              "occurred_at": "2026-11-11T08:00:00Z", "entity": "staff", "id": "P09999999", "status": "active"}
    # before the worker starts: the registry feed reads it during start()
    send_records(settings, settings.registry_topic, [(b"staff:P09999999", orjson.dumps(record), [(bad_key, b"x")], 0)])
    p = partition_of("WBHEADER0001", settings.events_partitions)
    # four waybills of one partition (a parcel event elsewhere than its waybill's partition is misrouted)
    w1, w2, w3, w4 = [w for w in (f"WBHEADER{n:04d}" for n in range(1, 1000))
                      if partition_of(w, settings.events_partitions) == p][:4]
    same_batch = [(w1.encode(), _scan(w1, "h-1"), [], p),
                  (w2.encode(), _scan(w2, "h-2"), [(bad_key, b"advance-v1")], p),
                  (w3.encode(), _scan(w3, "h-3"), [("ok", b"1"), (b"\xc3(", None)], p),
                  (w4.encode(), _scan(w4, "h-4"), [], p)]
    with WorkerThread(settings, db) as running:
        send_records(settings, settings.events_topic, same_batch)
        send_valid(settings, lines)
        assert wait_until(lambda: stored_events(db) == len(lines) + 2 and count_rows(db, t.rejects) == 3)
        assert wait_until(lambda: _committed_to_end(settings))
        assert _alive(running), running.error
        registry_ids = {r.id for r in running.worker.registry.records} if running.worker.registry else set()
    assert "P09999999" not in registry_ids  # the feed skips what the owner rejects
    reasons = _reasons(db)
    assert len(reasons) == 3 and all(r.startswith("undecodable record: header") for r in reasons), reasons
    assert count_rows(db, t.events, t.events.c.waybill_no.in_([w1, w4])) == 2
    assert count_rows(db, t.events, t.events.c.waybill_no.in_([w2, w3])) == 0


def test_a_row_the_store_refuses_is_one_reject_and_the_rest_of_its_batch_is_stored(pipeline: Pipeline) -> None:
    """A real constraint refuses one event's row (before: taken for an outage, the batch retried for ever).
    The batch is bisected: the poison event is one reject, every other event is stored once, offsets move."""
    settings, db = pipeline()
    lines = sample_lines()
    half = len(lines) // 2
    poison = _scan("POISON0001", "poison-1")
    with WorkerThread(settings, db) as running:
        add_poison_constraint(db)
        send_valid(settings, lines[:half] + [poison] + lines[half:])
        advance(settings)
        want = batch_verdict(lines)
        assert wait_until(lambda: stored_events(db) == len(lines) and count_rows(db, t.rejects) == 1), \
            (stored_events(db), count_rows(db, t.rejects))
        assert wait_until(lambda: open_violations(db) == want), open_violations(db) ^ want
        assert wait_until(lambda: _committed_to_end(settings))
        assert _alive(running), running.error
        refused = [s.value for m in running.metrics.registry.collect() for s in m.samples
                   if s.name == "greenshield_store_refused_rows_total"]
    assert refused == [1.0]
    reasons = _reasons(db)
    assert len(reasons) == 1 and reasons[0].startswith("store refused the row: "), reasons
    assert duplicate_keys(db) == 0
    published = [r for r in _rejects(settings, 1) if r["reason"].startswith("store refused")]
    assert len(published) == 1 and published[0]["key"] == ["E1000001", "poison-1"]


def test_junk_enterprise_and_type_strings_leave_the_label_sets_bounded(pipeline: Pipeline) -> None:
    """1,000 junk messages with distinct 8-character enterprises and short types: every label value comes
    from a known set (before: each became a label value)."""
    settings, db = pipeline()
    lines = sample_lines()
    junk = [(None, orjson.dumps({"v": 1, "type": f"t{i:04d}", "enterprise_id": f"J{i:07d}", "event_id": f"j{i}"}),
             [], i % settings.events_partitions) for i in range(1000)]
    with WorkerThread(settings, db) as running:
        send_valid(settings, lines)
        send_records(settings, settings.events_topic, junk)
        assert wait_until(lambda: stored_events(db) == len(lines) and count_rows(db, t.rejects) == 1000)

        def rejected_as_other() -> float:  # the counters move just after the store commit: wait for them too
            return sum(s.value for m in running.metrics.registry.collect() for s in m.samples
                       if s.name == "greenshield_events_rejected_total" and s.labels.get("enterprise") == "other")

        assert wait_until(lambda: rejected_as_other() >= 1000, timeout=30)
        samples = [s for m in running.metrics.registry.collect() for s in m.samples]
    enterprises = {s.labels["enterprise"] for s in samples if "enterprise" in s.labels}
    types = {s.labels["type"] for s in samples if "type" in s.labels}
    accepted = {orjson.loads(line)["enterprise_id"] for line in lines}
    assert enterprises <= accepted | {"unknown", "other", "system"}, enterprises - accepted
    assert "other" in enterprises and "other" in types
    assert types <= {"acceptance", "xray", "manual_check", "interception", "sort_scan", "depart", "arrive",
                     "delivery", "registry", "control", "unknown", "other"}, types
    rejected_other = sum(s.value for s in samples if s.name == "greenshield_events_rejected_total"
                         and s.labels["enterprise"] == "other")
    assert rejected_other == 1000


def test_a_multi_megabyte_reject_is_published_bounded(pipeline: Pipeline) -> None:
    """A 900 kB value that parses but is invalid: its reject is published below the bound, once."""
    settings, db = pipeline()
    value = orjson.dumps({**SCAN, "waybill_no": "WBHUGE0001", "event_id": "huge-1",
                          "occurred_at": "\u0085" * 400_000})
    with WorkerThread(settings, db) as running:
        send_records(settings, settings.events_topic, [(b"WBHUGE0001", value, [], 0)])
        assert wait_until(lambda: count_rows(db, t.rejects) == 1)
        assert _alive(running)
    got = consume_all(settings.kafka_bootstrap, settings.rejects_topic, 1, expected=1, timeout=30)
    assert len(got) == 1 and len(got[0].value) < MAX_REJECT_MESSAGE


def _metric(running: WorkerThread, name: str) -> float:
    return sum(s.value for m in running.metrics.registry.collect() for s in m.samples if s.name == name)


def test_an_exception_while_decoding_one_message_is_an_internal_reject(pipeline: Pipeline, monkeypatch: Any) -> None:
    """Any exception in the per-message work (here: redaction of one waybill) is one ``internal`` reject,
    counted in greenshield_messages_internal_errors_total; the stream goes on (before: the worker died)."""
    import greenshield.stream.decode as decode

    real = decode.redact_counting

    def redact(obj: Any, key: bytes | None = None) -> Any:
        if isinstance(obj, dict) and obj.get("waybill_no") == "WBBOOM0001":
            raise UnicodeEncodeError("utf-8", "\ud800", 0, 1, "surrogates not allowed")
        return real(obj, key)

    monkeypatch.setattr(decode, "redact_counting", redact)
    settings, db = pipeline()
    lines = sample_lines()
    half = len(lines) // 2
    with WorkerThread(settings, db) as running:
        send_valid(settings, lines[:half] + [_scan("WBBOOM0001", "boom-1")] + lines[half:])
        assert wait_until(lambda: stored_events(db) == len(lines) and count_rows(db, t.rejects) == 1)
        assert wait_until(lambda: _committed_to_end(settings))
        assert _alive(running), running.error
        assert _metric(running, "greenshield_messages_internal_errors_total") == 1
    assert _reasons(db) == ["internal: UnicodeEncodeError"]


def test_an_exception_in_the_rule_core_on_one_event_is_found_and_rejected(pipeline: Pipeline,
                                                                        monkeypatch: Any) -> None:
    """An exception after the rule cores took the batch's events (here: one waybill's add_event): the cores
    are rebuilt from the store, the batch bisected, that event is one ``internal`` reject and the verdict of
    everything else is still the batch verdict."""
    from greenshield.stream.state import PartitionState

    real = PartitionState.add_event

    def add_event(self: PartitionState, event: Any) -> None:
        if event.waybill_no == "WBBOOM0002":
            raise ValueError("the rule core failed on this event")
        real(self, event)

    monkeypatch.setattr(PartitionState, "add_event", add_event)
    settings, db = pipeline()
    lines = sample_lines()
    half = len(lines) // 2
    with WorkerThread(settings, db) as running:
        send_valid(settings, lines[:half] + [_scan("WBBOOM0002", "boom-2")] + lines[half:])
        advance(settings)
        want = batch_verdict(lines)
        assert wait_until(lambda: stored_events(db) == len(lines) and count_rows(db, t.rejects) == 1), \
            (stored_events(db), count_rows(db, t.rejects))
        assert wait_until(lambda: open_violations(db) == want), open_violations(db) ^ want
        assert wait_until(lambda: _committed_to_end(settings))
        assert _alive(running), running.error
        assert _metric(running, "greenshield_messages_internal_errors_total") == 1
    assert _reasons(db) == ["internal: ValueError"]
    assert duplicate_keys(db) == 0
