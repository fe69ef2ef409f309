"""A partition's rule state: releasing quiet parcels frees memory without changing any verdict."""

from __future__ import annotations

from greenshield.stream.state import PartitionState, partition_of
from greenshield.stream.watermark import PartitionClock
from greenshield.rules.model import Event
from greenshield.rules.pack import default_pack
from greenshield.rules.parse import validate
from greenshield.rules.timestamps import parse_instant

BASE = {"v": 1, "enterprise_id": "E1000001", "waybill_no": "WB00000001", "site_id": "S00000001",
        "staff_id": "P00000001"}


PARCEL = ("E1000001", "WB00000001")  # a parcel is (enterprise_id, waybill_no), contract §8.1


def event(event_id: str, kind: str, at: str, **extra: object) -> Event:
    item = validate({**BASE, "event_id": event_id, "type": kind, "occurred_at": at, **extra})
    assert isinstance(item, Event), item
    return item


def state(release_after: int = 3600) -> PartitionState:
    return PartitionState(0, default_pack(), PartitionClock(lateness=0), [], release_after)


class TestRelease:
    def test_a_delivered_parcel_leaves_memory_once_quiet_past_its_deadlines(self) -> None:
        """Delivered at 08:00; the clock at +2 days: the parcel is released and its verdict dropped from memory."""
        s = state()
        s.add_event(event("d-1", "delivery", "2026-11-11T08:00:00Z", method="hand"))
        s.clock.advance_to(parse_instant("2026-11-13T08:00:00Z"))
        _, changes = s.advance()
        assert {c.violation.rule_id for c in changes} >= {"TR-1", "XR-1"}
        assert s.release_quiet() == 1
        assert not s.knows(PARCEL) and PARCEL not in s.core.verdicts

    def test_a_parcel_with_a_deadline_ahead_stays(self) -> None:
        """An acceptance whose 24 h X-ray deadline has not passed is kept."""
        s = state(release_after=0)
        s.add_event(event("a-1", "acceptance", "2026-11-11T08:00:00Z", contract_customer_id="C00000001",
                          origin_region="110000", destination_region="110000", weight_g=1))
        s.clock.advance_to(parse_instant("2026-11-11T20:00:00Z"))
        s.advance()
        assert s.release_quiet() == 0 and s.knows(PARCEL)

    def test_a_released_parcel_reloaded_with_its_verdict_changes_only_what_the_new_event_changes(self) -> None:
        """Reload = stored events + stored verdict; a new event then yields only the real differences."""
        s = state()
        first = event("d-1", "delivery", "2026-11-11T08:00:00Z", method="hand")
        s.add_event(first)
        s.clock.advance_to(parse_instant("2026-11-13T08:00:00Z"))
        _, opened = s.advance()
        stored = {c.violation.rule_id: c.violation for c in opened}
        s.release_quiet()
        s.reload([first], {PARCEL: stored})
        s.add_event(event("s-1", "sort_scan", "2026-11-11T07:00:00Z"))
        _, changes = s.advance()
        assert all(c.kind != "opened" or c.violation.rule_id not in stored for c in changes)


class TestSharedWaybill:
    def test_two_enterprises_parcels_of_one_waybill_are_released_and_judged_apart(self) -> None:
        """One partition holds both parcels of a waybill (contract §8.1): the delivered one leaves memory,
        the other (its X-ray deadline ahead) stays with its own verdict, and neither's verdict names the other."""
        s = state()
        s.add_event(event("d-1", "delivery", "2026-11-11T08:00:00Z", method="hand"))
        other = validate({**BASE, "enterprise_id": "E2000002", "event_id": "d-1", "type": "acceptance",
                          "occurred_at": "2026-11-13T07:00:00Z", "contract_customer_id": "C00000001",
                          "origin_region": "110000", "destination_region": "110000", "weight_g": 1})
        assert isinstance(other, Event)
        s.add_event(other)
        s.clock.advance_to(parse_instant("2026-11-13T08:00:00Z"))
        _, changes = s.advance()
        assert {c.violation.enterprise_id for c in changes} == {"E1000001", "E2000002"}
        assert all(c.violation.evidence == ("d-1",) for c in changes)
        assert s.release_quiet() == 1
        assert not s.knows(PARCEL) and s.knows(("E2000002", "WB00000001"))
        assert set(s.core.verdicts) == {("E2000002", "WB00000001")}


def test_partition_of_matches_kafkas_default_partitioner() -> None:
    """murmur2 of the key, positive, modulo the partition count (the Java client's choice)."""
    from kafka.partitioner.default import murmur2

    assert partition_of("YT8400000006", 6) == (murmur2(b"YT8400000006") & 0x7FFFFFFF) % 6


class TestFutureDated:
    def test_one_future_dated_event_does_not_fire_other_parcels_deadlines(self) -> None:
        """A parcel accepted at 08:00 (X-ray due within 24 h) shares the partition with an event dated
        2030 from a device with a wrong clock; it arrives at 08:05 wall time. Without the cap, stream
        time would jump to 2030 and XR-4 would open at once; with it, nothing is due yet."""
        def run(max_future: int) -> set[str]:
            s = PartitionState(0, default_pack(), PartitionClock(lateness=600, max_future=max_future), [], 3600)
            s.clock.saw_message(float(parse_instant("2026-11-11T08:05:00Z")[0]))
            s.add_event(event("a-1", "acceptance", "2026-11-11T08:00:00Z", contract_customer_id="C00000001",
                              origin_region="110000", destination_region="310000", weight_g=1))
            other = validate({**BASE, "waybill_no": "WB00000002", "event_id": "s-9", "type": "sort_scan",
                              "occurred_at": "2030-01-01T00:00:00Z"})
            assert isinstance(other, Event)
            s.add_event(other)
            _, changes = s.advance()
            return {c.violation.rule_id for c in changes if c.violation.waybill_no == "WB00000001"}

        assert "XR-4" in run(max_future=0)  # the failure the cap prevents
        assert "XR-4" not in run(max_future=3600)
