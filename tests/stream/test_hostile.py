"""The hostile-input suite: every class a producer can send, straight onto the topics, between a good day.

The good events must end with exactly the batch verdict over everything the checker
accepts; every message the contract rejects gives exactly one reject (store and
topic), every accepted one is stored exactly once, the worker keeps running and a
restarted worker rebuilds its state from the store without dying. Plain personal
data appears nowhere. Runs on SQLite and PostgreSQL (the ``pipeline`` fixture).
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import orjson
import pytest
import sqlalchemy as sa

from greenshield.store import schema as t
from greenshield.sdk.sender import Signer
from greenshield.stream.state import partition_of
from greenshield.rules.batch import BatchChecker
from greenshield.rules.model import Event, Rejection
from greenshield.rules.pack import default_pack
from greenshield.rules.parse import is_blank, parse_line_plain
from greenshield.rules.timestamps import parse_instant
from greenshield.settings import Settings

from . import hostile_corpus as hc
from .conftest import consume_all
from .helpers import SAMPLE_AS_OF, WorkerThread, advance, count_rows, duplicate_keys, open_violations, \
    sample_lines, send_valid, stored_events, wait_until
from .raw_producer import send_messages

pytestmark = pytest.mark.kafka

Pipeline = Callable[..., tuple[Settings, str]]
PLANTED = (hc.RESIDENT_ID, hc.NAME)


@dataclass
class Expected:
    """What the contract (the batch checker) and the worker's own rules say must come of the input."""

    rejects: Counter[str] = field(default_factory=Counter)
    accepted: Counter[str] = field(default_factory=Counter)
    sent: Counter[str] = field(default_factory=Counter)
    verdict: set[tuple[str, str, str]] = field(default_factory=set)
    stored: int = 0

    def table(self, store: str) -> str:
        rows = [f"| {kind} | {self.sent[kind]} | {self.rejects[kind]} | {self.accepted[kind]} |"
                for kind in sorted(self.sent)]
        return "\n".join([f"hostile input on {store}: class | sent | rejects | stored", *rows,
                          f"| total | {sum(self.sent.values())} | {sum(self.rejects.values())} | "
                          f"{sum(self.accepted.values())} |"])


def _worker_only_reject(h: hc.Hostile) -> bool:
    """Rejected by the worker before the contract's validation: no value, a control header, the wrong topic.

    A header key that is not UTF-8 breaks the record format (keys are UTF-8 strings):
    the whole record is one reject (``undecodable record``), whatever its value.
    """
    names = [k for k, _ in h.headers]
    if h.value is None or "gs-control" in names or any(isinstance(k, bytes) for k in names) or h.misroute:
        return True
    _, item, _ = parse_line_plain(h.value)
    if isinstance(item, Rejection):
        return False
    if not h.registry and isinstance(item, Event) and h.sender != "self":
        return True  # valid, but not signed by its own enterprise: enterprise_mismatch
    return h.registry == isinstance(item, Event)  # a parcel event on the registry topic, or the other way round


def expectations(first: list[bytes], hostile: list[hc.Hostile], rest: list[bytes]) -> Expected:
    """Feed the checker the lines in sending order; the worker must agree with it message by message."""
    exp = Expected()
    checker = BatchChecker(default_pack())
    checker.feed(first)
    for h in hostile:
        exp.sent[h.kind] += 1
        if _worker_only_reject(h):
            exp.rejects[h.kind] += 1
            continue
        assert h.value is not None
        before = (checker.stats.rejected, checker.stats.accepted)
        checker.feed([h.value])
        exp.rejects[h.kind] += checker.stats.rejected - before[0]
        exp.accepted[h.kind] += checker.stats.accepted - before[1]
    checker.feed(rest)
    exp.stored = checker.stats.accepted
    exp.verdict = {(v.waybill_no, v.rule_id, v.to_dict()["occurred_at"])
                   for v in checker.verdict(parse_instant(SAMPLE_AS_OF))}
    return exp


def _partition(h: hc.Hostile, i: int, partitions: int) -> int | None:
    """A parcel event goes to its waybill's partition (or, misrouted, the next one); the rest spread out."""
    if h.kind.startswith(("exact duplicate", "conflicting duplicate")):
        return None  # keyed by waybill, placed by the producer's partitioner like the originals
    _, item, _ = parse_line_plain(h.value) if h.value is not None else (None, None, False)
    if isinstance(item, Event):
        return (partition_of(item.waybill_no, partitions) + h.misroute) % partitions
    return i % partitions


def _messages(settings: Settings, hostile: list[hc.Hostile]) -> list[tuple[str, int | None, bytes | None,
                                                                           bytes | None, list[Any]]]:
    out = []
    for i, h in enumerate(hostile):
        if h.registry:
            out.append((settings.registry_topic, 0, h.key or b"junk", h.value, h.headers))
        else:
            partition = _partition(h, i, settings.events_partitions)
            out.append((settings.events_topic, partition, h.key, h.value, h.headers + _signature(settings, h)))
    return out


def _signature(settings: Settings, h: hc.Hostile) -> list[tuple[str, bytes]]:
    """The sender headers ``h.sender`` asks for (a value that is no valid parcel event gets none)."""
    if h.sender in ("none", "given") or h.value is None:
        return []
    _, item, _ = parse_line_plain(h.value)
    if not isinstance(item, Event):
        return []
    signer = Signer.system(settings.sender_key.reveal().encode())
    if h.sender == "self":
        return signer.headers(item.enterprise_id, h.value)
    forged = signer.headers(h.sender, h.value)  # another enterprise's name and key on this event
    return forged


def _unrejected(db: str, hostile: list[hc.Hostile], sent: list[tuple[str, int, int]]) -> list[str]:
    """The classes (and where) of messages the worker should have rejected but has not."""
    engine = sa.create_engine(db)
    try:
        with engine.connect() as conn:
            have = {(r.source, r.position) for r in conn.execute(sa.select(t.rejects.c.source, t.rejects.c.position))}
    finally:
        engine.dispose()
    return [f"{h.kind} at {topic}:{partition}@{offset}" for h, (topic, partition, offset) in zip(hostile, sent)
            if _worker_only_reject(h) and (f"kafka:{topic}:{partition}", offset) not in have]


def _store_text(db: str) -> str:
    """Every row of every table, as text."""
    engine = sa.create_engine(db)
    try:
        with engine.connect() as conn:
            return "\n".join(repr(row) for table in t.metadata.sorted_tables
                             for row in conn.execute(sa.select(table)))
    finally:
        engine.dispose()


def _leaks(text: str) -> list[str]:
    return [p for p in PLANTED if p in text]


def _label_values(worker: WorkerThread, label: str) -> set[str]:
    return {s.labels[label] for metric in worker.metrics.registry.collect() for s in metric.samples
            if label in s.labels}


class TestHostileInput:
    def test_every_class_gives_one_reject_and_the_good_day_keeps_its_verdict(
            self, pipeline: Pipeline, caplog: pytest.LogCaptureFixture,
            record_property: Callable[[str, object], None]) -> None:
        """Hostile classes between two halves of a good day, a restart in the middle: batch verdict, one reject each."""
        caplog.set_level(logging.INFO)
        settings, db = pipeline()
        store = "postgresql" if db.startswith("postgresql") else "sqlite"
        good = [line for line in sample_lines() if not is_blank(line)]
        half = len(good) // 2
        first, rest = good[:half], good[half:]
        hostile = hc.corpus(settings.events_partitions) + list(hc.duplicates_of(first))
        exp = expectations(first, hostile, rest)
        record_property("hostile_counts", exp.table(store))
        print(exp.table(store))
        want_rejects = sum(exp.rejects.values())
        stored_first = exp.stored - len(rest)

        with WorkerThread(settings, db) as one:
            send_valid(settings, first)
            sent = send_messages(settings.kafka_bootstrap, _messages(settings, hostile))
            wait_until(lambda: count_rows(db, t.rejects) >= want_rejects and stored_events(db) >= stored_first,
                       timeout=240)
            assert _unrejected(db, hostile, sent) == []
            assert count_rows(db, t.rejects) == want_rejects and stored_events(db) == stored_first
            assert count_rows(db, t.rejects, t.rejects.c.reason.like("enterprise_mismatch:%")) \
                == exp.rejects["event not signed by its enterprise"] == 5
            assert one.thread.is_alive(), "the worker stopped"
            enterprises = _label_values(one, "enterprise")
            types = _label_values(one, "type")
        # a second worker rebuilds every partition from the store, the stored hostile values included
        with WorkerThread(settings, db) as two:
            send_valid(settings, rest)
            advance(settings)
            wait_until(lambda: open_violations(db) == exp.verdict or not two.thread.is_alive(), timeout=240)
            assert two.thread.is_alive(), f"the restarted worker stopped: {two.error!r}"
            assert open_violations(db) == exp.verdict, sorted(open_violations(db) ^ exp.verdict)[:20]
        assert count_rows(db, t.rejects) == want_rejects
        assert stored_events(db) == exp.stored
        assert duplicate_keys(db) == 0

        published = consume_all(settings.kafka_bootstrap, settings.rejects_topic, settings.rejects_partitions,
                                want_rejects, timeout=60)
        where = {(d["topic"], d["partition"], d["offset"]) for d in (orjson.loads(m.value) for m in published)}
        assert len(where) == want_rejects  # at least once on the topic; one per hostile message
        assert all(len(m.value) < 1024 * 1024 for m in published)

        known = {orjson.loads(line)["enterprise_id"] for line in good} | {hc.ENTERPRISE}
        assert enterprises <= known | {"other", "unknown", "system"}, enterprises - known
        assert types <= {"acceptance", "xray", "manual_check", "interception", "sort_scan", "depart", "arrive",
                         "delivery", "registry", "control", "other", "unknown"}, types

        violations = consume_all(settings.kafka_bootstrap, settings.violations_topic,
                                 settings.violations_partitions, 1, timeout=30)
        outputs = {"store": _store_text(db), "logs": caplog.text,
                   "rejects topic": "\n".join(m.value.decode("utf-8", "replace") for m in published),
                   "violations topic": "\n".join(m.value.decode("utf-8", "replace") for m in violations)}
        assert {name: _leaks(text) for name, text in outputs.items() if _leaks(text)} == {}
