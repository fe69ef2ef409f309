"""收寄验视 inspection on acceptance: IN-1, IN-2 (contract §3.2, §7 `inspection`)."""

from __future__ import annotations

import pytest
from tests.rules.builders import (
    ABSENT, HUB, OUTLET, STATION, acceptance, arrive, at, check, delivery, depart, inspection, interception,
    journey, manual_check, replace, sort_scan, utc, xray,
)


class TestIN1:
    """IN-1: an acceptance has no inspection."""

    CASES = [
        ("inspection-passed", inspection(at(0)), False),
        ("inspection-refused", inspection(at(0), result="refused"), False),
        ("inspection-absent", ABSENT, True),
        ("inspection-null-is-missing", None, True),
        ("inspection-without-inspector-is-still-an-inspection", inspection(at(0), inspector=ABSENT), False),
    ]

    @pytest.mark.parametrize("insp, flagged", [c[1:] for c in CASES], ids=[c[0] for c in CASES])
    def test_acceptance_without_inspection_is_flagged(self, insp, flagged):
        """IN-1 holds exactly when the acceptance carries no inspection object (null counts as none)."""
        out = check(replace(journey(), "acc", acceptance("acc", at(0), inspection=insp)))
        assert out.rejections == []
        assert ("IN-1" in out.rules()) is flagged

    def test_without_inspection_only_in1_applies(self):
        """With no inspection at all, IN-1 is the only finding: no PR-1 for a missing inspector, no IN-2."""
        out = check(replace(journey(), "acc", acceptance("acc", at(0), inspection=ABSENT)))
        assert out.rules() == {"IN-1"}

    def test_violation_is_at_the_acceptance(self):
        """IN-1's occurred_at is the acceptance's (truncated, UTC) and its evidence the acceptance; severity high."""
        out = check(replace(journey(), "acc", acceptance("acc", at(0, 0, 3, frac="75"), inspection=ABSENT)))
        assert out.when("IN-1") == utc(0, 0, 3)
        assert out["IN-1"].evidence == ("acc",)
        assert out["IN-1"].severity == "high"


REFUSED = acceptance("acc", at(0), inspection=inspection(at(0), result="refused"))

IN2_CASES = [
    # id, events (after the refused acceptance at 0h), flagged, expected occurred_at, expected 2nd evidence
    ("nothing-follows", [], False, None, None),
    ("xray-follows", [xray("xr", at(1))], True, utc(1), "xr"),
    ("sort-scan-follows", [sort_scan("scan", at(1), site=OUTLET)], True, utc(1), "scan"),
    ("depart-follows", [depart("dep", at(1))], True, utc(1), "dep"),
    ("arrive-follows", [arrive("arr", at(1), site=OUTLET, frm=HUB)], True, utc(1), "arr"),
    ("delivery-follows", [delivery("dlv", at(1), site=OUTLET)], True, utc(1), "dlv"),
    ("manual-check-is-not-shipping", [manual_check("mc", at(1), site=OUTLET)], False, None, None),
    ("interception-is-not-shipping", [interception("int", at(1), site=OUTLET)], False, None, None),
    ("xray-same-instant-ranks-after", [xray("xr", at(0))], True, utc(0), "xr"),
    ("xray-before-acceptance-does-not-count", [xray("xr", at(-1))], False, None, None),
    ("first-of-several-is-reported", [depart("dep", at(2)), xray("xr", at(1))], True, utc(1), "xr"),
]


class TestIN2:
    """IN-2: the inspection was refused, yet an xray or downstream event follows the acceptance."""

    @pytest.mark.parametrize("after, flagged, when, shown", [c[1:] for c in IN2_CASES], ids=[c[0] for c in IN2_CASES])
    def test_refused_parcel_that_moves_on_is_flagged(self, after, flagged, when, shown):
        """IN-2 holds at the first xray or downstream event after a refused acceptance, naming both."""
        out = check([REFUSED, *after])
        assert ("IN-2" in out.rules()) is flagged
        if flagged:
            assert out.when("IN-2") == when
            assert out["IN-2"].evidence[0] == "acc" and shown in out["IN-2"].evidence
            assert out["IN-2"].severity == "critical"

    def test_passed_inspection_is_not_flagged(self):
        """A passed inspection followed by a full journey is not IN-2."""
        assert "IN-2" not in check(journey()).rules()

    def test_refused_second_acceptance_flags_what_follows_it(self):
        """A refused re-acceptance flags the events after it, not those between the two acceptances."""
        events = journey()[:3] + [
            acceptance("acc2", at(2, 5), site=HUB, inspection=inspection(at(2, 5), result="refused")),
            xray("xr", at(2, 10)),
        ]
        out = check(events)
        assert out["IN-2"].evidence == ("acc2", "xr")
        assert out.when("IN-2") == utc(2, 10)

    def test_refused_inspection_at_a_station_then_delivered(self):
        """A refused acceptance that is nevertheless delivered is flagged at the delivery."""
        events = [acceptance("acc", at(0), site=STATION, inspection=inspection(at(0), result="refused")),
                  delivery("dlv", at(0, 30), site=STATION)]
        assert check(events).when("IN-2") == utc(0, 30)
