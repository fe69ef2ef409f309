"""What a rule sees of a parcel: its events in §3.1 order (ties, offsets, fractions), none after as_of (§3, §7)."""

from __future__ import annotations

import random

import pytest
from tests.rules.builders import (
    ABSENT, HUB, OUTLET, acceptance, arrive, at, check, delivery, depart, interception, manual_check, sort_scan,
    utc, xray,
)

RANKED = ["acceptance", "xray", "manual_check", "interception", "sort_scan", "depart", "arrive", "delivery"]
_MAKE = {
    "acceptance": lambda eid, t, **kw: acceptance(eid, t, site=HUB, **kw),
    "xray": lambda eid, t, **kw: xray(eid, t, **kw),
    "manual_check": lambda eid, t, **kw: manual_check(eid, t, **kw),
    "interception": lambda eid, t, **kw: interception(eid, t, **kw),
    "sort_scan": lambda eid, t, **kw: sort_scan(eid, t, **kw),
    "depart": lambda eid, t, **kw: depart(eid, t, site=HUB, **kw),
    "arrive": lambda eid, t, **kw: arrive(eid, t, site=HUB, frm=OUTLET, **kw),
    "delivery": lambda eid, t, **kw: delivery(eid, t, site=HUB, **kw),
}


def _same_instant(kinds: list[str]) -> list[dict]:
    """One event per kind at the same instant (in varied offsets), named and owned against rank order.

    Event ids run in the reverse of the type rank, so only the type rank can make the
    lowest-ranked kind come first; staff is missing so every event is a PR-1 candidate. One
    enterprise: a parcel is ``(enterprise_id, waybill_no)`` (contract §8.1).
    """
    offsets = ["+08:00", "Z", "-05:00", "+05:45", "z", "-00:00", "+14:00", "-12:00"]
    out = []
    for kind in kinds:
        r = RANKED.index(kind)
        eid = "e" + "hgfedcba"[r]
        out.append(_MAKE[kind](eid, at(1, tz=offsets[r]), staff=ABSENT, enterprise="E1000001"))
    random.Random(len(kinds)).shuffle(out)
    return out


class TestTypeRank:
    """§3.1: at the same instant, acceptance < xray < manual_check < interception < sort_scan < depart < arrive < delivery."""

    @pytest.mark.parametrize("first", RANKED[:-1])
    def test_lowest_ranked_type_is_the_parcels_earliest_event(self, first):
        """Of events at one instant, the lowest-ranked type is the earliest: it is PR-1's evidence."""
        kinds = RANKED[RANKED.index(first):]
        out = check(_same_instant(kinds))
        r = RANKED.index(first)
        assert {v.enterprise_id for v in out.violations} == {"E1000001"}
        assert out["PR-1"].evidence == ("e" + "hgfedcba"[r],)

    @pytest.mark.parametrize("lower, higher", list(zip(RANKED, RANKED[1:])), ids=[f"{a}<{b}" for a, b in
                                                                                 zip(RANKED, RANKED[1:])])
    def test_each_adjacent_pair_is_ordered_by_rank(self, lower, higher):
        """Each adjacent pair of the rank list, alone at one instant, is ordered lower rank first."""
        out = check(_same_instant([higher, lower]))
        assert out["PR-1"].evidence == ("e" + "hgfedcba"[RANKED.index(lower)],)


TIE_CASES = [
    # id, (event_id, occurred_at, enterprise) of two same-type events, expected first (event_id, enterprise)
    ("event-id-breaks-the-tie", [("b", at(1), "E1000001"), ("a", at(1), "E1000001")], ("a", "E1000001")),
    ("event-id-order-is-by-code-point", [("a1", at(1), "E1000001"), ("Z9", at(1), "E1000001")], ("Z9", "E1000001")),
    ("event-id-order-is-not-numeric", [("ev-9", at(1), "E1000001"), ("ev-10", at(1), "E1000001")],
     ("ev-10", "E1000001")),
    ("event-id-tie-across-offsets", [("b", at(1, tz="Z"), "E1000001"), ("a", at(1, tz="-09:30"), "E1000001")],
     ("a", "E1000001")),
    ("instant-before-event-id", [("a", at(1, 0, 1), "E1000001"), ("b", at(1), "E1000001")], ("b", "E1000001")),
    ("fraction-before-event-id", [("a", at(1, frac="5"), "E1000001"), ("b", at(1, frac="45"), "E1000001")],
     ("b", "E1000001")),
    ("long-fraction-compared-exactly",
     [("a", at(1, frac="1000000000000000000001"), "E1000001"), ("b", at(1, frac="1"), "E1000001")],
     ("b", "E1000001")),
    ("trailing-zeros-are-the-same-instant", [("b", at(1, frac="500"), "E1000001"), ("a", at(1, frac="5", tz="Z"),
                                                                                       "E1000001")],
     ("a", "E1000001")),
]


class TestTies:
    """§3.1: same instant and type → event_id; instants compared exactly across offsets.

    §7's enterprise tie-break is moot since §8.1 (a parcel has one enterprise): two enterprises'
    events are two parcels, each judged alone (see ``test_two_enterprises_never_tie``).
    """

    @pytest.mark.parametrize("pair, first", [c[1:] for c in TIE_CASES], ids=[c[0] for c in TIE_CASES])
    def test_earliest_event_decides_evidence_and_enterprise(self, pair, first):
        """The first of two staff-less scans in §3.1 order is PR-1's evidence and the violation's enterprise."""
        events = [sort_scan(eid, t, site=OUTLET, staff=ABSENT, enterprise=ent) for eid, t, ent in pair]
        out = check(events)
        assert out["PR-1"].evidence == (first[0],)
        assert out["PR-1"].enterprise_id == first[1]

    def test_two_enterprises_never_tie(self):
        """Revision 1's last tie (same instant, type and event_id, two enterprises) is two parcels now:
        each has its own PR-1, its own event as evidence."""
        events = [sort_scan("a", at(1), site=OUTLET, staff=ABSENT, enterprise="E2000002"),
                  sort_scan("a", at(1, tz="Z"), site=OUTLET, staff=ABSENT, enterprise="E1000001")]
        out = check(events)
        assert {(v.enterprise_id, v.evidence) for v in out.violations if v.rule_id == "PR-1"} == \
            {("E1000001", ("a",)), ("E2000002", ("a",))}


AS_OF_CASES = [
    # id, the sender-less acceptance's time, as_of, RN-1 expected
    ("event-before-as-of", at(5), at(6), True),
    ("event-exactly-at-as-of", at(5), at(5), True),
    ("event-exactly-at-as-of-other-offset", at(5), at(5, tz="-03:30"), True),
    ("event-one-second-after-as-of", at(5, 0, 1), at(5), False),
    ("event-a-fraction-after-as-of", at(5, frac="000001"), at(5), False),
    ("as-of-a-fraction-after-event", at(5, frac="5"), at(5, frac="50001", tz="Z"), True),
    ("as-of-a-fraction-before-event", at(5, frac="5"), at(5, frac="4999999"), False),
]


class TestAsOf:
    """§3: the verdict at as_of ignores events after it; the default as_of is the latest accepted parcel event."""

    @pytest.mark.parametrize("when, as_of, flagged", [c[1:] for c in AS_OF_CASES], ids=[c[0] for c in AS_OF_CASES])
    def test_events_after_as_of_are_ignored(self, when, as_of, flagged):
        """An event counts for the verdict exactly when its occurred_at <= as_of, compared as instants."""
        events = [sort_scan("scan", at(0), site=OUTLET), acceptance("acc", when, sender=ABSENT)]
        assert ("RN-1" in check(events, as_of=as_of).rules()) is flagged

    def test_default_as_of_is_the_latest_parcel_event(self):
        """Without as_of, the latest accepted parcel event is 'now': a deadline reached exactly then fires."""
        out = check([sort_scan("scan", at(0), site=OUTLET), sort_scan("scan2", at(6), site=OUTLET)])
        assert out.when("TR-1") == utc(6)

    def test_default_as_of_ignores_rejected_lines(self):
        """A rejected line dated later does not move the default as_of."""
        bad = sort_scan("bad", at(6), site=OUTLET, staff="not-a-staff-id")
        out = check([sort_scan("scan", at(0), site=OUTLET), bad])
        assert len(out.rejections) == 1
        assert "TR-1" not in out.rules()

    def test_default_as_of_spans_all_parcels(self):
        """The default as_of is the latest event of any parcel, not of each parcel."""
        out = check([sort_scan("scan", at(0), site=OUTLET),
                     sort_scan("other", at(7), site=OUTLET, waybill="YT0000000002")])
        assert out.when("TR-1") == utc(6)

    def test_enterprise_is_that_of_the_parcel(self):
        """The violation's enterprise_id is its parcel's (§8.1): an earlier event of another enterprise on the
        same waybill does not take the violation over (revision 1 gave it to the earliest event's enterprise)."""
        events = [sort_scan("s1", at(1), site=OUTLET, enterprise="E2000002", staff=ABSENT),
                  sort_scan("s0", at(0), site=OUTLET, enterprise="E3000003")]
        out = check(events)
        assert {v.enterprise_id for v in out.violations if v.rule_id == "PR-1"} == {"E2000002"}
        assert out.get("PR-1", enterprise="E2000002").evidence == ("s1",)

    def test_violation_time_is_truncated_to_whole_utc_seconds(self):
        """occurred_at is written in UTC with Z and its fraction truncated, never rounded."""
        out = check([sort_scan("s", "2026-11-11T08:00:00.999999+08:00", site=OUTLET, staff=ABSENT)])
        assert out.when("PR-1") == "2026-11-11T00:00:00Z"
        out = check([sort_scan("s", "2026-11-10T23:59:59.9-01:00", site=OUTLET, staff=ABSENT)])
        assert out.when("PR-1") == "2026-11-11T00:59:59Z"
