"""可倒查 responsibility traceable back: PR-1, PR-2 (contract §3.2, §7 `inspection`)."""

from __future__ import annotations

import pytest
from tests.rules.builders import (
    ABSENT, HUB, INSPECTOR, OUTLET, STATION, acceptance, arrive, at, check, delivery, depart, inspection,
    interception, manual_check, registry, sort_scan, utc, xray,
)

NEW = "P20000001"  # a staff id the tests register as they please

BUILDERS = {
    "acceptance": lambda **kw: acceptance("ev", at(1), site=OUTLET, **kw),
    "xray": lambda **kw: xray("ev", at(1), site=OUTLET, **kw),
    "manual_check": lambda **kw: manual_check("ev", at(1), site=OUTLET, **kw),
    "interception": lambda **kw: interception("ev", at(1), site=OUTLET, **kw),
    "sort_scan": lambda **kw: sort_scan("ev", at(1), site=OUTLET, **kw),
    "depart": lambda **kw: depart("ev", at(1), site=OUTLET, to=HUB, **kw),
    "arrive": lambda **kw: arrive("ev", at(1), site=OUTLET, frm=HUB, **kw),
    "delivery": lambda **kw: delivery("ev", at(1), site=OUTLET, **kw),
}

# id, staff registry records, staff_id on the event, (PR-1, PR-2) expected
STATUS_CASES = [
    ("active", [registry("staff", NEW)], NEW, (False, False)),
    ("missing-staff-id", [], ABSENT, (True, False)),
    ("null-staff-id-is-missing", [], None, (True, False)),
    ("unregistered", [], NEW, (True, False)),
    ("suspended", [registry("staff", NEW, "suspended")], NEW, (False, True)),
    ("revoked", [registry("staff", NEW, "revoked")], NEW, (False, True)),
    ("blacklisted", [registry("staff", NEW, "blacklisted")], NEW, (False, True)),
    ("registered-only-after-the-event", [registry("staff", NEW, "active", at(1, 0, 1))], NEW, (True, False)),
    ("registered-a-fraction-after", [registry("staff", NEW, "active", at(1, frac="0001"))], NEW, (True, False)),
    ("active-from-exactly-the-event", [registry("staff", NEW, "active", at(1))], NEW, (False, False)),
    ("active-from-exactly-the-event-other-offset", [registry("staff", NEW, "active", at(1, tz="Z"))], NEW,
     (False, False)),
    ("suspended-from-exactly-the-event", [registry("staff", NEW), registry("staff", NEW, "suspended", at(1))], NEW,
     (False, True)),
    ("suspended-after-the-event", [registry("staff", NEW), registry("staff", NEW, "suspended", at(1, 0, 1))], NEW,
     (False, False)),
    ("reinstated-before-the-event",
     [registry("staff", NEW, "revoked", at(-10)), registry("staff", NEW, "active", at(0))], NEW, (False, False)),
    ("registered-by-another-enterprise", [registry("staff", NEW, enterprise="E2000002")], NEW, (False, False)),
    ("late-record-in-the-input", "late", NEW, (False, False)),
]


class TestPR1:
    """PR-1: an event names no staff (or an acceptance no inspector), or one unregistered at its time."""

    @pytest.mark.parametrize("kind", list(BUILDERS))
    def test_any_parcel_event_without_staff_is_flagged(self, kind):
        """Every parcel event type without a staff_id is PR-1, at that event, with medium severity."""
        out = check([BUILDERS[kind](staff=ABSENT)])
        assert out["PR-1"].evidence == ("ev",)
        assert out.when("PR-1") == utc(1)
        assert out["PR-1"].severity == "medium"
        assert "PR-2" not in out.rules()

    @pytest.mark.parametrize("records, staff, expected", [c[1:] for c in STATUS_CASES],
                             ids=[c[0] for c in STATUS_CASES])
    def test_staff_status_at_the_event_decides_pr1_and_pr2(self, records, staff, expected):
        """PR-1 is unregistered-or-missing, PR-2 registered-but-inactive, both judged at the event's occurred_at."""
        late = records == "late"
        records = [] if late else records
        events = records + [sort_scan("ev", at(1), site=OUTLET, staff=staff)]
        if late:
            events += [registry("staff", NEW, "active", at(0))]
        out = check(events)
        assert ("PR-1" in out.rules(), "PR-2" in out.rules()) == expected

    def test_first_offending_event_is_reported(self):
        """With several events naming unknown staff, PR-1 points at the earliest in §3.1 order."""
        events = [sort_scan("s2", at(2), site=OUTLET, staff=NEW), sort_scan("s1", at(1), site=OUTLET, staff=ABSENT)]
        out = check(events)
        assert out["PR-1"].evidence == ("s1",) and out.when("PR-1") == utc(1)


class TestPR2:
    """PR-2: a registered staff member (or inspector) who is not active at the event's time."""

    def test_suspended_staff_is_flagged_at_the_event(self):
        """A suspended handler is PR-2 at the event he handled, with high severity."""
        out = check([registry("staff", NEW, "suspended", at(-1)), xray("ev", at(3, frac="7"), staff=NEW)])
        assert out["PR-2"].evidence == ("ev",)
        assert out.when("PR-2") == utc(3)
        assert out["PR-2"].severity == "high"
        assert "PR-1" not in out.rules()

    def test_registry_tie_later_line_wins(self):
        """Two records of the same staff at the same instant: the later line decides (here: suspended)."""
        records = [registry("staff", NEW, "active", at(0)), registry("staff", NEW, "suspended", at(0))]
        assert "PR-2" in check(records + [sort_scan("ev", at(1), site=OUTLET, staff=NEW)]).rules()
        records.reverse()
        assert "PR-2" not in check(records + [sort_scan("ev", at(1), site=OUTLET, staff=NEW)]).rules()

    def test_registry_tie_across_offsets_later_line_wins(self):
        """Records at the same instant written in two offsets tie, and the later line wins."""
        records = [registry("staff", NEW, "suspended", at(0, tz="Z")), registry("staff", NEW, "active", at(0))]
        assert not {"PR-1", "PR-2"} & check(records + [sort_scan("ev", at(1), site=OUTLET, staff=NEW)]).rules()


# id, inspection keyword arguments, inspector registry records, (PR-1, PR-2) expected
INSPECTOR_CASES = [
    ("registered-inspector", {"inspector": INSPECTOR}, [], (False, False)),
    ("no-inspector", {"inspector": ABSENT}, [], (True, False)),
    ("null-inspector-is-missing", {"inspector": None}, [], (True, False)),
    ("unregistered-inspector", {"inspector": NEW}, [], (True, False)),
    ("suspended-inspector", {"inspector": NEW}, [registry("staff", NEW, "suspended")], (False, True)),
    ("active-from-the-acceptance-not-the-inspection",
     {"inspector": NEW, "inspected_at": at(-3)}, [registry("staff", NEW, "active", at(0))], (False, False)),
    ("active-only-after-the-acceptance",
     {"inspector": NEW, "inspected_at": at(0)}, [registry("staff", NEW, "active", at(0, 0, 1))], (True, False)),
    ("suspended-between-inspection-and-acceptance",
     {"inspector": NEW, "inspected_at": at(-3)},
     [registry("staff", NEW), registry("staff", NEW, "suspended", at(-1))], (False, True)),
    ("suspended-only-after-the-acceptance",
     {"inspector": NEW, "inspected_at": at(0)},
     [registry("staff", NEW), registry("staff", NEW, "suspended", at(0, frac="1"))], (False, False)),
]


class TestInspector:
    """PR-1/PR-2 on an acceptance's inspector, judged at the acceptance's occurred_at (§7 `inspection`)."""

    @pytest.mark.parametrize("kwargs, records, expected", [c[1:] for c in INSPECTOR_CASES],
                             ids=[c[0] for c in INSPECTOR_CASES])
    def test_inspector_is_checked_at_the_acceptance(self, kwargs, records, expected):
        """The inspector's status at the acceptance's occurred_at (not inspected_at) decides PR-1 and PR-2."""
        kwargs = {"inspected_at": at(0), **kwargs}
        acc = acceptance("acc", at(0), inspection=inspection(**kwargs))
        out = check(records + [acc])
        assert ("PR-1" in out.rules(), "PR-2" in out.rules()) == expected
        if any(expected):
            rule = "PR-1" if expected[0] else "PR-2"
            assert out[rule].evidence == ("acc",) and out.when(rule) == utc(0)

    def test_no_inspection_means_no_inspector_finding(self):
        """Without an inspection object, the missing inspector is not PR-1 (only IN-1 applies)."""
        out = check([acceptance("acc", at(0), inspection=ABSENT)])
        assert "PR-1" not in out.rules() and "IN-1" in out.rules()

    def test_staff_and_inspector_both_judged(self):
        """A registered clerk does not hide an unregistered inspector on the same acceptance."""
        out = check([acceptance("acc", at(0), inspection=inspection(at(0), inspector=NEW))])
        assert out["PR-1"].evidence == ("acc",)

    def test_delivery_by_suspended_courier_after_good_journey(self):
        """A suspended courier on the final delivery is PR-2 at the delivery."""
        events = [registry("staff", NEW, "active"), registry("staff", NEW, "suspended", at(4)),
                  acceptance("acc", at(0), site=STATION), delivery("dlv", at(5), site=STATION, staff=NEW)]
        out = check(events)
        assert out["PR-2"].evidence == ("dlv",) and out.when("PR-2") == utc(5)
