"""The incremental rule core: feed in any order, ask as of a time, learn what changed."""

from __future__ import annotations

import random

import orjson
import pytest

from greenshield.rules.batch import BatchChecker
from greenshield.rules.engine import RuleCore
from greenshield.rules.model import Event, RegistryRecord
from greenshield.rules.pack import default_pack
from greenshield.rules.parse import parse_line
from greenshield.rules.timestamps import parse_instant
from pathlib import Path

SAMPLE = Path(__file__).parents[1] / "data" / "sample-day.jsonl"
AS_OF = parse_instant("2026-11-13T00:00:00+08:00")


def items() -> list[Event | RegistryRecord]:
    out = []
    for line in SAMPLE.read_bytes().splitlines():
        _, item = parse_line(line)
        assert isinstance(item, (Event, RegistryRecord))
        out.append(item)
    return out


def feed(core: RuleCore, item: Event | RegistryRecord) -> None:
    if isinstance(item, Event):
        core.add_event(item)
    else:
        core.add_record(item)


def batch_verdict() -> set[tuple[str, str, tuple[int, str]]]:
    checker = BatchChecker(default_pack())
    checker.feed(SAMPLE.read_bytes().splitlines())
    return {(v.waybill_no, v.rule_id, v.at) for v in checker.verdict(AS_OF)}


class TestStreamEqualsBatch:
    @pytest.mark.parametrize("seed", [1, 2, 3])
    def test_events_one_at_a_time_in_random_order_end_at_the_batch_verdict(self, seed: int) -> None:
        """Shuffled single-event feeding with advances in between ends at the batch verdict."""
        stream = items()
        random.Random(seed).shuffle(stream)
        core = RuleCore(default_pack())
        clock = parse_instant("2026-10-01T00:00:00Z")
        for i, item in enumerate(stream):
            feed(core, item)
            if i % 25 == 0:
                core.advance(clock, finalise=False)
        core.advance(AS_OF, finalise=False)
        got = {(v.waybill_no, v.rule_id, v.at) for v in core.open_violations()}
        assert got == batch_verdict()

    def test_changes_replayed_in_order_rebuild_the_open_set(self) -> None:
        """Applying every opened/updated/retracted change in order yields the final open set."""
        stream = items()
        random.Random(9).shuffle(stream)
        core = RuleCore(default_pack())
        open_set: dict[tuple[str, str, str], object] = {}
        for i, item in enumerate(stream):
            feed(core, item)
            if i % 10 == 0:
                for ch in core.advance(max(getattr(item, "at"), parse_instant("2026-11-10T00:00:00Z")), finalise=False):
                    if ch.kind == "retracted":
                        del open_set[ch.violation.key]
                    else:
                        open_set[ch.violation.key] = ch.violation
        for ch in core.advance(AS_OF, finalise=False):
            if ch.kind == "retracted":
                del open_set[ch.violation.key]
            else:
                open_set[ch.violation.key] = ch.violation
        assert {(w, r, v.at) for (_, w, r), v in open_set.items()} == batch_verdict()  # type: ignore[attr-defined]


def _events(*specs: dict[str, object]) -> list[Event | RegistryRecord]:
    out = []
    for spec in specs:
        _, item = parse_line(orjson.dumps(spec))
        assert isinstance(item, (Event, RegistryRecord)), item
        out.append(item)
    return out


BASE = {"v": 1, "enterprise_id": "E3100001", "waybill_no": "YT00000001", "site_id": "S00000001"}


def staff_record(status: str, at: str, eid: str) -> dict[str, object]:
    return {"v": 1, "type": "registry", "event_id": eid, "enterprise_id": "E3100001", "occurred_at": at,
            "entity": "staff", "id": "P00000001", "status": status}


class TestLateRegistry:
    def test_a_late_registry_record_retracts_pr1(self) -> None:
        """A staff licence that arrives after the event, dated before it, retracts PR-1."""
        core = RuleCore(default_pack())
        (scan,) = _events({**BASE, "event_id": "e1", "type": "sort_scan", "staff_id": "P00000001",
                           "occurred_at": "2026-11-11T10:00:00+08:00"})
        core.add_event(scan)  # type: ignore[arg-type]
        first = core.advance(scan.at)
        assert ("opened", "PR-1") in {(c.kind, c.violation.rule_id) for c in first}
        (record,) = _events(staff_record("active", "2026-11-01T00:00:00+08:00", "r1"))
        core.add_record(record)  # type: ignore[arg-type]
        second = core.advance(scan.at)
        assert ("retracted", "PR-1") in {(c.kind, c.violation.rule_id) for c in second}

    def test_a_suspension_at_exactly_the_event_time_turns_it_into_pr2(self) -> None:
        """A suspension effective at the event's instant applies to it (bounds are inclusive)."""
        core = RuleCore(default_pack())
        for item in _events(staff_record("active", "2026-11-01T00:00:00Z", "r1"),
                            {**BASE, "event_id": "e1", "type": "sort_scan", "staff_id": "P00000001",
                             "occurred_at": "2026-11-11T10:00:00+08:00"},
                            staff_record("suspended", "2026-11-11T02:00:00Z", "r2")):
            feed(core, item)
        rules = {c.violation.rule_id for c in core.advance(parse_instant("2026-11-11T02:00:00Z"))}
        assert "PR-2" in rules and "PR-1" not in rules


class TestDeadlinesAndFinalisation:
    def test_a_deadline_fires_only_when_the_clock_reaches_it(self) -> None:
        """TR-1 opens when as_of reaches first event + 6h, not a fraction before."""
        core = RuleCore(default_pack())
        (scan,) = _events({**BASE, "event_id": "e1", "type": "sort_scan", "staff_id": "P00000001",
                           "occurred_at": "2026-11-11T10:00:00.5+08:00"})
        core.add_event(scan)  # type: ignore[arg-type]
        assert "TR-1" not in {c.violation.rule_id for c in core.advance(parse_instant("2026-11-11T16:00:00.4+08:00"))}
        assert "TR-1" in {c.violation.rule_id for c in core.advance(parse_instant("2026-11-11T16:00:00.5+08:00"))}

    def test_a_delivered_parcel_past_every_deadline_is_released(self) -> None:
        """Delivered and past its deadlines, a parcel's state is dropped; an open one stays."""
        core = RuleCore(default_pack())
        for item in _events(
            {**BASE, "event_id": "a", "type": "acceptance", "staff_id": "P00000001",
             "occurred_at": "2026-11-11T10:00:00+08:00", "origin_region": "310101",
             "destination_region": "310104", "weight_g": 100, "contract_customer_id": "C00000001"},
            {**BASE, "event_id": "d", "type": "delivery", "staff_id": "P00000001",
             "occurred_at": "2026-11-11T12:00:00+08:00", "method": "hand"},
            {**BASE, "waybill_no": "YT00000002", "event_id": "s", "type": "sort_scan",
             "staff_id": "P00000001", "occurred_at": "2026-11-11T12:00:00+08:00"},
        ):
            feed(core, item)
        core.advance(parse_instant("2026-11-11T12:00:00+08:00"))
        assert set(core.parcels) == {("E3100001", "YT00000001"), ("E3100001", "YT00000002")}
        core.advance(parse_instant("2026-11-12T10:00:00+08:00"))
        assert set(core.parcels) == {("E3100001", "YT00000002")}
        assert ("E3100001", "YT00000001") in core.finalised
