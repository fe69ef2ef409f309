"""Parcel journeys of a day without faults are complete and clean."""

from __future__ import annotations

from collections import Counter
from datetime import timedelta
from typing import Any

from tests.simulate.simdays import Day, instant

RANK = {t: i for i, t in enumerate(
    ("acceptance", "xray", "manual_check", "interception", "sort_scan", "depart", "arrive", "delivery"))}
DOWNSTREAM = {"sort_scan", "depart", "arrive", "delivery"}


def ordered(evs: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return sorted(evs, key=lambda e: (instant(e["occurred_at"]), RANK[e["type"]], e["event_id"]))


def check_journey(evs: list[dict[str, Any]]) -> str:
    """Assert a clean journey; returns how it ended: ``delivered`` or ``intercepted``."""
    evs = ordered(evs)
    acc = evs[0]
    assert acc["type"] == "acceptance" and sum(e["type"] == "acceptance" for e in evs) == 1
    a = instant(acc["occurred_at"])
    ins = acc["inspection"]
    assert ins["result"] == "passed" and "inspector_id" in ins
    assert a - timedelta(minutes=5) <= instant(ins["inspected_at"]) <= a
    assert "sender" in acc or "contract_customer_id" in acc
    assert all("staff_id" in e for e in evs)

    position: str | None = acc["site_id"]
    last_depart: dict[str, Any] | None = None
    screened = False
    suspicious_open = False
    first_xray = None
    prohibited_at = None
    ended = ""
    for e in evs[1:]:
        t, at = e["type"], instant(e["occurred_at"])
        assert not ended or t not in DOWNSTREAM, evs
        if t == "depart":
            assert position == e["site_id"], evs
            if e["site_id"] != acc["site_id"]:
                assert screened and not suspicious_open, evs
            assert "vehicle_id" in e
            position, last_depart = None, e
        elif t == "arrive":
            assert position is None and last_depart is not None
            assert e["from_site_id"] == last_depart["site_id"] and e["site_id"] == last_depart["to_site_id"]
            assert e["vehicle_id"] == last_depart["vehicle_id"]
            position = e["site_id"]
        else:
            assert position == e["site_id"], evs
        if t == "xray":
            first_xray = first_xray or at
            if e["result"] == "clear":
                screened = True
            elif e["result"] == "suspicious":
                suspicious_open = True
            else:
                prohibited_at = at
        elif t == "manual_check":
            suspicious_open = False
            if e["result"] == "cleared":
                screened = True
            else:
                prohibited_at = at
        elif t == "interception":
            assert prohibited_at is not None and prohibited_at <= at <= prohibited_at + timedelta(hours=2)
            ended = "intercepted"
        elif t == "delivery":
            assert screened
            ended = "delivered"
    assert first_xray is not None and first_xray <= a + timedelta(hours=24)
    assert ended, evs
    return ended


class TestCleanJourneys:
    """With fault rate 0 every parcel is accepted, inspected, screened before leaving a hub, and delivered or intercepted."""

    def test_every_parcel(self, clean_day: Day) -> None:
        endings = Counter(check_journey(evs) for evs in clean_day.parcels().values())
        assert endings["delivered"] > 0.98 * sum(endings.values())

    def test_screening_outcomes_occur(self, clean_day: Day) -> None:
        results = Counter(e["result"] for e in clean_day.events if e["type"] in ("xray", "manual_check"))
        assert results["clear"] > 0.9 * sum(results.values())
        assert results["suspicious"] > 0 and results["cleared"] > 0
        assert results["prohibited"] > 0
        assert any(e["type"] == "interception" for e in clean_day.events)

    def test_delivery_methods(self, clean_day: Day) -> None:
        methods = {e["method"] for e in clean_day.events if e["type"] == "delivery"}
        assert methods == {"hand", "locker", "station"}

    def test_journeys_take_hours_not_days(self, clean_day: Day) -> None:
        spans = []
        for evs in clean_day.parcels().values():
            evs = ordered(evs)
            spans.append(instant(evs[-1]["occurred_at"]) - instant(evs[0]["occurred_at"]))
        spans.sort()
        assert timedelta(hours=3) < spans[len(spans) // 2] < timedelta(hours=30)
        assert spans[-1] < timedelta(hours=60)

    def test_inter_hub_journeys(self, clean_day: Day) -> None:
        lengths = Counter(sum(e["type"] == "depart" for e in evs) for evs in clean_day.parcels().values())
        assert lengths[2] > 0 and lengths[3] > 0
