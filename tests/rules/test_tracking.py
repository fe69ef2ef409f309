"""可追溯 / 可追踪: TR-1, TK-1, TK-2 (contract §3.2, §3.3, §7)."""

from __future__ import annotations

import pytest
from tests.rules.builders import (
    ABSENT, ELSEWHERE, HUB, OUTLET, STATION, VEHICLE, VEHICLE_2, acceptance, arrive, at, check, delivery, depart,
    interception, journey, manual_check, registry, replace, sort_scan, utc, xray,
)

# ---------------------------------------------------------------------------------------- TR-1

TR1_CASES = [
    # id, events, as_of, expected occurred_at (None: not flagged), expected evidence
    ("acceptance-first", [acceptance("acc", at(0)), sort_scan("scan", at(7), site=OUTLET)], at(10), None, None),
    ("acceptance-within-6h", [sort_scan("scan", at(0), site=OUTLET), acceptance("acc", at(5))], at(10), None, None),
    ("acceptance-exactly-at-deadline", [sort_scan("scan", at(0), site=OUTLET), acceptance("acc", at(6))], at(10),
     None, None),
    ("acceptance-one-second-late", [sort_scan("scan", at(0), site=OUTLET), acceptance("acc", at(6, 0, 1))], at(10),
     utc(6), "scan"),
    ("acceptance-a-fraction-late", [sort_scan("scan", at(0), site=OUTLET), acceptance("acc", at(6, frac="01"))],
     at(10), utc(6), "scan"),
    ("acceptance-at-deadline-other-offset",
     [sort_scan("scan", at(0), site=OUTLET), acceptance("acc", at(6, tz="-11:00"))], at(10), None, None),
    ("no-acceptance-as-of-deadline", [sort_scan("scan", at(0), site=OUTLET)], at(6), utc(6), "scan"),
    ("no-acceptance-as-of-one-second-before", [sort_scan("scan", at(0), site=OUTLET)], at(5, 59, 59), None, None),
    ("no-acceptance-as-of-a-fraction-before", [sort_scan("scan", at(0), site=OUTLET)], at(5, 59, 59, frac="99"),
     None, None),
    ("fractional-first-event-exact", [sort_scan("scan", at(0, frac="5"), site=OUTLET),
                                      acceptance("acc", at(6, frac="5"))], at(10), None, None),
    ("fractional-first-event-just-late", [sort_scan("scan", at(0, frac="5"), site=OUTLET),
                                          acceptance("acc", at(6, frac="5000001"))], at(10), utc(6), "scan"),
    ("acceptance-after-as-of-is-unknown", [sort_scan("scan", at(0), site=OUTLET), acceptance("acc", at(5))], at(4),
     None, None),
    ("acceptance-after-as-of-deadline-passed", [sort_scan("scan", at(0), site=OUTLET), acceptance("acc", at(7))],
     at(6), utc(6), "scan"),
    ("first-event-by-rank-at-a-tie", [sort_scan("scan", at(0), site=HUB), xray("xr", at(0))], at(6), utc(6), "xr"),
    ("acceptance-at-a-tie-ranks-first", [sort_scan("scan", at(0), site=OUTLET), acceptance("acc", at(0))], at(10),
     None, None),
]


class TestTR1:
    """TR-1 (deadline 6h): no acceptance at or before the parcel's first event + 6h, once that is <= as_of."""

    @pytest.mark.parametrize("events, as_of, expected, evidence", [c[1:] for c in TR1_CASES],
                             ids=[c[0] for c in TR1_CASES])
    def test_parcel_without_acceptance_within_6h_is_flagged(self, events, as_of, expected, evidence):
        """TR-1 is inclusive at every bound, reported at f + 6h, with the first event as evidence."""
        out = check(events, as_of=as_of)
        if expected is None:
            assert "TR-1" not in out.rules()
        else:
            assert out.when("TR-1") == expected
            assert out["TR-1"].evidence[0] == evidence
            assert out["TR-1"].severity == "high"


# ---------------------------------------------------------------------------------------- TK-1

TK1_CASES = [
    # id, the hub depart's vehicle, extra registry records, expected (None or message fragment)
    ("active-vehicle", VEHICLE, [], False),
    ("no-vehicle", ABSENT, [], True),
    ("null-vehicle-is-missing", None, [], True),
    ("unregistered-vehicle", "V99999999", [], True),
    ("suspended-vehicle", "V20000001", [registry("vehicle", "V20000001", "suspended")], True),
    ("revoked-vehicle", "V20000001", [registry("vehicle", "V20000001", "revoked")], True),
    ("blacklisted-vehicle", "V20000001", [registry("vehicle", "V20000001", "blacklisted")], True),
    ("active-from-exactly-the-depart", "V20000001", [registry("vehicle", "V20000001", "active", at(3))], False),
    ("active-from-one-second-later", "V20000001", [registry("vehicle", "V20000001", "active", at(3, 0, 1))], True),
    ("suspended-exactly-at-the-depart", "V20000001",
     [registry("vehicle", "V20000001"), registry("vehicle", "V20000001", "suspended", at(3))], True),
    ("registered-by-another-enterprise", "V20000001", [registry("vehicle", "V20000001", enterprise="E2000002")],
     False),
]


class TestTK1:
    """TK-1: a depart or arrive with no vehicle_id, or one not active at its time."""

    @pytest.mark.parametrize("vehicle, records, flagged", [c[1:] for c in TK1_CASES], ids=[c[0] for c in TK1_CASES])
    def test_depart_without_active_vehicle_is_flagged(self, vehicle, records, flagged):
        """TK-1 flags a depart whose vehicle is missing or not active at the depart's occurred_at."""
        events = replace(journey(), "dep2", depart("dep2", at(3), site=HUB, to=STATION, vehicle=vehicle))
        events = replace(events, "arr2", arrive("arr2", at(4), site=STATION, frm=HUB, vehicle=vehicle))
        out = check(records + events)
        assert ("TK-1" in out.rules()) is flagged
        if flagged:
            assert out["TK-1"].evidence == ("dep2",)
            assert out.when("TK-1") == utc(3)
            assert out["TK-1"].severity == "medium"

    def test_arrive_without_vehicle_is_flagged(self):
        """An arrive without a vehicle_id is TK-1, even when its depart had one."""
        out = check(replace(journey(), "arr1", arrive("arr1", at(2), site=HUB, frm=OUTLET, vehicle=ABSENT)))
        assert out["TK-1"].evidence == ("arr1",)
        assert "TK-2" not in out.rules()

    @pytest.mark.parametrize("event", [sort_scan("scan", at(0), site=OUTLET), delivery("dlv", at(0), site=OUTLET),
                                       xray("xr", at(0), site=OUTLET), manual_check("mc", at(0), site=OUTLET),
                                       interception("int", at(0), site=OUTLET)],
                             ids=["sort_scan", "delivery", "xray", "manual_check", "interception"])
    def test_other_events_need_no_vehicle(self, event):
        """Only depart and arrive are checked by TK-1."""
        assert "TK-1" not in check([acceptance("acc", at(0)), event]).rules()

    def test_late_vehicle_record_still_counts(self):
        """A vehicle registry record placed after the events in the input still decides TK-1."""
        events = replace(journey(), "dep2", depart("dep2", at(3), site=HUB, to=STATION, vehicle="V20000001"))
        events = replace(events, "arr2", arrive("arr2", at(4), site=STATION, frm=HUB, vehicle="V20000001"))
        assert "TK-1" not in check(events + [registry("vehicle", "V20000001", "active", at(1))]).rules()


# ---------------------------------------------------------------------------------------- TK-2

ACC = acceptance("acc", at(0))   # at the outlet
DEP = depart("dep", at(1), site=OUTLET, to=HUB)

TK2_CASES = [
    # id, events, expected breaking event id (None: the path holds)
    ("compliant-journey", journey(), None),
    ("depart-while-in-transit", [ACC, DEP, depart("dep2", at(2), site=OUTLET, to=HUB)], "dep2"),
    ("depart-while-at-another-site", [ACC, depart("dep", at(1), site=HUB, to=STATION)], "dep"),
    ("arrive-while-at-the-same-site", [ACC, arrive("arr", at(1), site=OUTLET, frm=HUB)], "arr"),
    ("arrive-while-at-another-site", [ACC, arrive("arr", at(1), site=HUB, frm=OUTLET)], "arr"),
    ("arrive-from-another-site-than-departed", [ACC, DEP, arrive("arr", at(2), site=HUB, frm=ELSEWHERE)], "arr"),
    ("arrive-at-another-site-than-headed", [ACC, DEP, arrive("arr", at(2), site=STATION, frm=OUTLET)], "arr"),
    ("arrive-by-another-vehicle", [ACC, DEP, arrive("arr", at(2), site=HUB, frm=OUTLET, vehicle=VEHICLE_2)], "arr"),
    ("vehicle-only-on-depart", [ACC, DEP, arrive("arr", at(2), site=HUB, frm=OUTLET, vehicle=ABSENT)], None),
    ("vehicle-only-on-arrive",
     [ACC, depart("dep", at(1), site=OUTLET, to=HUB, vehicle=ABSENT), arrive("arr", at(2), site=HUB, frm=OUTLET)],
     None),
    ("vehicle-on-neither",
     [ACC, depart("dep", at(1), site=OUTLET, to=HUB, vehicle=None),
      arrive("arr", at(2), site=HUB, frm=OUTLET, vehicle=None)], None),
    ("sort-scan-while-in-transit", [ACC, DEP, sort_scan("scan", at(2), site=HUB)], "scan"),
    ("xray-while-in-transit", [ACC, DEP, xray("xr", at(2), site=HUB)], "xr"),
    ("delivery-while-in-transit", [ACC, DEP, delivery("dlv", at(2), site=HUB)], "dlv"),
    ("acceptance-while-in-transit", [ACC, DEP, acceptance("acc2", at(2), site=HUB)], "acc2"),
    ("other-event-at-another-site", [ACC, xray("xr", at(1), site=HUB)], "xr"),
    ("other-event-at-the-same-site", [ACC, xray("xr", at(1), site=OUTLET), sort_scan("scan", at(2), site=OUTLET)],
     None),
    ("unknown-start-with-arrive",
     [arrive("arr", at(0), site=HUB, frm=OUTLET), xray("xr", at(1)), depart("dep", at(2), site=HUB, to=STATION)],
     None),
    ("unknown-start-with-depart",
     [depart("dep", at(0), site=HUB, to=STATION), arrive("arr", at(1), site=STATION, frm=HUB),
      delivery("dlv", at(2))], None),
    ("unknown-start-with-delivery", [delivery("dlv", at(0), site=STATION)], None),
    ("unknown-start-then-arrive-twice",
     [arrive("arr", at(0), site=HUB, frm=OUTLET), arrive("arr2", at(1), site=HUB, frm=OUTLET)], "arr2"),
    ("walk-stops-at-first-break",
     [ACC, sort_scan("scan", at(1), site=HUB), depart("dep", at(2), site=STATION, to=ELSEWHERE)], "scan"),
    ("depart-and-arrive-at-same-instant-in-rank-order",
     [ACC, arrive("arr", at(1), site=HUB, frm=OUTLET), depart("dep", at(1), site=OUTLET, to=HUB)], None),
    ("sort-scan-ranks-before-arrive-at-same-instant",
     [ACC, DEP, arrive("arr", at(2), site=HUB, frm=OUTLET), sort_scan("scan", at(2), site=HUB)], "scan"),
    ("same-instant-other-offset-keeps-rank-order",
     [ACC, depart("dep", at(1, tz="Z"), site=OUTLET, to=HUB), arrive("arr", at(1, tz="+05:45"), site=HUB,
                                                                    frm=OUTLET)], None),
]


class TestTK2:
    """TK-2: the parcel's path breaks (§3.3 walk: unknown / at a site / in transit)."""

    @pytest.mark.parametrize("events, breaking", [c[1:] for c in TK2_CASES], ids=[c[0] for c in TK2_CASES])
    def test_path_break_is_flagged_at_the_first_breaking_event(self, events, breaking):
        """TK-2 flags the first event at which the §3.3 walk breaks, and nothing when the path holds."""
        out = check(events)
        if breaking is None:
            assert "TK-2" not in out.rules()
        else:
            assert out["TK-2"].evidence == (breaking,)
            when = next(e["occurred_at"] for e in events if e["event_id"] == breaking)
            assert out.when("TK-2") == _z(when)
            assert out["TK-2"].severity == "medium"


def _z(text: str) -> str:
    from greenshield.rules.timestamps import format_utc, parse_instant

    return format_utc(parse_instant(text))
