"""禁寄物品 prohibited items: PH-1, PH-2 (contract §3.2, §7)."""

from __future__ import annotations

import pytest
from tests.rules.builders import (
    HUB, OUTLET, STATION, acceptance, arrive, at, check, delivery, depart, interception, manual_check, sort_scan,
    utc, xray,
)

ACC = acceptance("acc", at(0), site=HUB)
P = at(2)  # when the prohibited item is found


# ---------------------------------------------------------------------------------------- PH-1

PH1_CASES = [
    # id, events after the acceptance, expected evidence (None: not flagged)
    ("prohibited-xray-then-sort-scan", [xray("xr", P, result="prohibited"), sort_scan("scan", at(3))],
     ("xr", "scan")),
    ("prohibited-xray-then-depart", [xray("xr", P, result="prohibited"), depart("dep", at(3), site=HUB, to=STATION)],
     ("xr", "dep")),
    ("prohibited-xray-then-arrive", [xray("xr", P, result="prohibited"), arrive("arr", at(3), site=HUB, frm=OUTLET)],
     ("xr", "arr")),
    ("prohibited-xray-then-delivery", [xray("xr", P, result="prohibited"), delivery("dlv", at(3), site=HUB)],
     ("xr", "dlv")),
    ("prohibited-manual-check-then-depart",
     [xray("xr", at(1), result="suspicious"), manual_check("mc", P, result="prohibited"),
      depart("dep", at(3), site=HUB, to=STATION)], ("mc", "dep")),
    ("interception-then-delivery", [interception("int", P), delivery("dlv", at(3), site=HUB)], ("int", "dlv")),
    ("stays-in-force-after-cleared-recheck",
     [xray("xr", P, result="prohibited"), manual_check("mc", at(2, 30), result="cleared"),
      depart("dep", at(3), site=HUB, to=STATION)], ("xr", "dep")),
    ("stays-in-force-after-clear-rescreen",
     [xray("xr", P, result="prohibited"), xray("xr2", at(2, 30)), sort_scan("scan", at(3))], ("xr", "scan")),
    ("prohibited-then-interception-only", [xray("xr", P, result="prohibited"), interception("int", at(2, 10))], None),
    ("prohibited-then-another-xray-only", [xray("xr", P, result="prohibited"), xray("xr2", at(3))], None),
    ("suspicious-then-depart-is-not-ph1",
     [xray("xr", P, result="suspicious"), depart("dep", at(3), site=HUB, to=STATION)], None),
    ("cleared-manual-check-is-not-a-trigger", [manual_check("mc", P), sort_scan("scan", at(3))], None),
    ("downstream-before-the-finding", [sort_scan("scan", at(1)), xray("xr", P, result="prohibited")], None),
    ("same-instant-xray-ranks-before-depart",
     [xray("xr", P, result="prohibited"), depart("dep", P, site=HUB, to=STATION)], ("xr", "dep")),
    ("same-instant-interception-ranks-before-sort-scan", [interception("int", P), sort_scan("scan", P)],
     ("int", "scan")),
    ("first-trigger-is-evidence",
     [xray("xr", P, result="prohibited"), interception("int", at(2, 10)), delivery("dlv", at(3), site=HUB)],
     ("xr", "dlv")),
    ("first-downstream-is-reported",
     [xray("xr", P, result="prohibited"), sort_scan("scan", at(4)), depart("dep", at(3), site=HUB, to=STATION)],
     ("xr", "dep")),
]


class TestPH1:
    """PH-1: a prohibited finding or an interception followed by a downstream event (stays in force)."""

    @pytest.mark.parametrize("after, evidence", [c[1:] for c in PH1_CASES], ids=[c[0] for c in PH1_CASES])
    def test_prohibited_parcel_that_moves_on_is_flagged(self, after, evidence):
        """PH-1 flags the first downstream event after the first trigger, naming the trigger and that event."""
        out = check([ACC, *after])
        if evidence is None:
            assert "PH-1" not in out.rules()
        else:
            v = out["PH-1"]
            assert v.evidence == evidence
            moving = next(e for e in after if e["event_id"] == evidence[1])
            assert out.when("PH-1") == _z(moving["occurred_at"])
            assert v.severity == "critical"


def _z(text: str) -> str:
    from greenshield.rules.timestamps import format_utc, parse_instant

    return format_utc(parse_instant(text))


# ---------------------------------------------------------------------------------------- PH-2

PH2_CASES = [
    # id, prohibited finding time, interception times, as_of, expected occurred_at (None: not flagged)
    ("intercepted-in-time", P, [at(2, 30)], at(10), None),
    ("intercepted-exactly-at-deadline", P, [at(4)], at(10), None),
    ("intercepted-exactly-at-p", P, [P], at(10), None),
    ("intercepted-at-p-other-offset", P, [at(2, tz="Z")], at(10), None),
    ("intercepted-one-second-late", P, [at(4, 0, 1)], at(10), utc(4)),
    ("intercepted-a-fraction-late", P, [at(4, frac="001")], at(10), utc(4)),
    ("interception-before-p-does-not-count", P, [at(1, 59, 59)], at(10), utc(4)),
    ("interception-a-fraction-before-p", at(2, frac="5"), [at(2, frac="4999")], at(10), utc(4)),
    ("no-interception-as-of-deadline", P, [], at(4), utc(4)),
    ("no-interception-as-of-one-second-before", P, [], at(3, 59, 59), None),
    ("no-interception-as-of-a-fraction-before", P, [], at(3, 59, 59, frac="9999"), None),
    ("fractional-p-as-of-exact-deadline", at(2, frac="25"), [], at(4, frac="250", tz="Z"), utc(4)),
    ("interception-after-as-of-is-unknown", P, [at(3)], at(2, 59), None),
    ("interception-after-as-of-deadline-passed", P, [at(4, 0, 1)], at(4), utc(4)),
]


class TestPH2:
    """PH-2 (deadline 2h): a prohibited finding at p with no interception in [p, p + 2h], once p + 2h <= as_of."""

    @pytest.mark.parametrize("p, intercepted, as_of, expected", [c[1:] for c in PH2_CASES],
                             ids=[c[0] for c in PH2_CASES])
    def test_prohibited_item_not_intercepted_within_2h_is_flagged(self, p, intercepted, as_of, expected):
        """Every bound of PH-2 is inclusive; its occurred_at is p + 2h and its evidence the finding."""
        events = [ACC, xray("xr", p, result="prohibited")]
        events += [interception(f"int{i}", t) for i, t in enumerate(intercepted)]
        out = check(events, as_of=as_of)
        if expected is None:
            assert "PH-2" not in out.rules()
        else:
            assert out.when("PH-2") == expected
            assert out["PH-2"].evidence[0] == "xr"
            assert out["PH-2"].severity == "critical"

    def test_prohibited_manual_check_starts_the_clock(self):
        """A manual_check with result prohibited starts PH-2's clock just as an xray does."""
        events = [ACC, xray("xr", at(1), result="suspicious"), manual_check("mc", P, result="prohibited")]
        out = check(events, as_of=at(10))
        assert out.when("PH-2") == utc(4) and out["PH-2"].evidence[0] == "mc"

    def test_suspicious_image_starts_no_clock(self):
        """A suspicious image alone never starts PH-2."""
        assert "PH-2" not in check([ACC, xray("xr", P, result="suspicious")], as_of=at(10)).rules()

    def test_earliest_failing_deadline_is_reported(self):
        """When the first finding's window misses the interception, its deadline is reported, not a later one."""
        events = [ACC, xray("xr", P, result="prohibited"), manual_check("mc", at(5), result="prohibited"),
                  interception("int", at(5, 30))]
        out = check(events, as_of=at(10))
        assert out.when("PH-2") == utc(4) and out["PH-2"].evidence[0] == "xr"

    def test_later_finding_failing_alone_is_reported(self):
        """When an interception covers the first finding but precedes a second one, the second's deadline is reported."""
        events = [ACC, xray("xr", P, result="prohibited"), interception("int", at(3)),
                  manual_check("mc", at(5), result="prohibited")]
        out = check(events, as_of=at(10))
        assert out.when("PH-2") == utc(7) and out["PH-2"].evidence[0] == "mc"
