"""过机安检 X-ray screening: XR-1..XR-4 and the X-ray scope of the rule pack (contract §3.2, §4, §7)."""

from __future__ import annotations

from pathlib import Path

import pytest
from tests.rules.builders import (
    ELSEWHERE, HUB, MACHINE, OUTLET, STATION, acceptance, arrive, at, check, custom_pack, delivery, depart,
    interception, journey, manual_check, registry, replace, sort_scan, utc, without, xray,
)

from greenshield.rules.pack import load_pack

SUSPENDED = "X20000001"      # registered, suspended since 2026-01-01
UNREGISTERED = "X29999999"   # never registered
MACHINES = [registry("xray_machine", SUSPENDED, "suspended")]

ACC = acceptance("acc", at(0))                                   # at the outlet
TO_HUB = [depart("dep1", at(1), site=OUTLET, to=HUB), arrive("arr1", at(2), site=HUB, frm=OUTLET)]
FROM_HUB = depart("dep2", at(3), site=HUB, to=STATION)


# ---------------------------------------------------------------------------------------- XR-1

XR1_CASES = [
    # id, events, expected flagged event id (None: not flagged)
    ("depart-from-accepting-outlet-is-exempt", [ACC, *TO_HUB], None),
    ("depart-from-hub-without-screening", [ACC, *TO_HUB, FROM_HUB], "dep2"),
    ("delivery-at-accepting-outlet-is-not-exempt", [ACC, delivery("dlv", at(1), site=OUTLET)], "dlv"),
    ("clear-xray-on-active-machine", [ACC, *TO_HUB, xray("xr", at(2, 10)), FROM_HUB], None),
    ("clear-xray-at-another-site-counts", [ACC, xray("xr", at(0, 30), site=OUTLET), *TO_HUB, FROM_HUB], None),
    ("clear-xray-on-suspended-machine", [ACC, *TO_HUB, xray("xr", at(2, 10), machine=SUSPENDED), FROM_HUB], "dep2"),
    ("clear-xray-on-unregistered-machine", [ACC, *TO_HUB, xray("xr", at(2, 10), machine=UNREGISTERED), FROM_HUB],
     "dep2"),
    ("suspicious-then-manual-check-cleared",
     [ACC, *TO_HUB, xray("xr", at(2, 10), result="suspicious"), manual_check("mc", at(2, 20)), FROM_HUB], None),
    ("suspicious-then-manual-check-prohibited",
     [ACC, *TO_HUB, xray("xr", at(2, 10), result="suspicious"), manual_check("mc", at(2, 20), result="prohibited"),
      FROM_HUB], "dep2"),
    ("suspicious-without-manual-check", [ACC, *TO_HUB, xray("xr", at(2, 10), result="suspicious"), FROM_HUB], "dep2"),
    ("suspicious-cleared-only-after-the-depart",
     [ACC, *TO_HUB, xray("xr", at(2, 10), result="suspicious"), FROM_HUB, manual_check("mc", at(3, 5))], "dep2"),
    ("suspicious-on-inactive-machine-then-cleared",
     [ACC, *TO_HUB, xray("xr", at(2, 10), result="suspicious", machine=SUSPENDED), manual_check("mc", at(2, 20)),
      FROM_HUB], "dep2"),
    ("prohibited-xray-is-not-screening", [ACC, *TO_HUB, xray("xr", at(2, 10), result="prohibited"), FROM_HUB], "dep2"),
    ("manual-check-without-suspicious-image", [ACC, *TO_HUB, manual_check("mc", at(2, 20)), FROM_HUB], "dep2"),
    ("manual-check-before-the-suspicious-image",
     [ACC, *TO_HUB, manual_check("mc", at(2, 5)), xray("xr", at(2, 10), result="suspicious"), FROM_HUB], "dep2"),
    ("xray-at-the-same-instant-ranks-before-depart", [ACC, *TO_HUB, xray("xr", at(3)), FROM_HUB], None),
    ("manual-check-at-the-same-instant-ranks-before-depart",
     [ACC, *TO_HUB, xray("xr", at(2, 10), result="suspicious"), manual_check("mc", at(3)), FROM_HUB], None),
    ("xray-same-instant-other-offset", [ACC, *TO_HUB, xray("xr", at(3, tz="Z")), FROM_HUB], None),
    ("xray-a-fraction-after-depart",
     [ACC, *TO_HUB, xray("xr", at(3, frac="000001", tz="Z")), FROM_HUB], "dep2"),
    ("xray-a-fraction-before-depart",
     [ACC, *TO_HUB, xray("xr", at(3, frac="5", tz="-03:00")), depart("dep2", at(3, frac="50001"), site=HUB,
                                                                      to=STATION)], None),
    ("back-at-outlet-depart-again-is-exempt",
     [ACC, *TO_HUB, arrive("arr9", at(2, 30), site=OUTLET, frm=HUB), depart("dep9", at(2, 40), site=OUTLET, to=HUB)],
     None),
    ("second-acceptance-site-is-not-exempt",
     [ACC, *TO_HUB, acceptance("acc2", at(2, 5), site=HUB), FROM_HUB], "dep2"),
    ("no-acceptance-no-exemption", [depart("dep1", at(1), site=OUTLET, to=HUB)], "dep1"),
    ("tied-acceptances-event-id-picks-the-first",
     [acceptance("b-acc", at(0), site=OUTLET), acceptance("a-acc", at(0), site=HUB),
      depart("dep1", at(1), site=HUB, to=STATION), depart("dep2", at(2), site=OUTLET, to=STATION)], "dep2"),
    ("first-unscreened-departure-is-reported",
     [ACC, *TO_HUB, FROM_HUB, arrive("arr2", at(4), site=STATION, frm=HUB), delivery("dlv", at(5))], "dep2"),
    ("screened-late-still-flags-the-earlier-depart",
     [ACC, *TO_HUB, FROM_HUB, arrive("arr2", at(4), site=STATION, frm=HUB), xray("xr", at(4, 10), site=STATION),
      delivery("dlv", at(5))], "dep2"),
]


class TestXR1:
    """XR-1: a delivery, or a depart from other than the accepting site, without valid screening before it."""

    @pytest.mark.parametrize("events, flagged", [c[1:] for c in XR1_CASES], ids=[c[0] for c in XR1_CASES])
    def test_depart_from_hub_without_screening_is_flagged(self, events, flagged):
        """XR-1 flags the first non-exempt depart or delivery that no valid screening precedes."""
        out = check(MACHINES + events)
        assert out.rejections == []
        if flagged is None:
            assert "XR-1" not in out.rules()
        else:
            assert out["XR-1"].evidence == (flagged,)
            occurred = next(e["occurred_at"] for e in events if e["event_id"] == flagged)
            assert out["XR-1"].at[0] == _epoch(occurred)
            assert out["XR-1"].severity == "critical"

    def test_occurred_at_is_the_departure_in_utc(self):
        """XR-1's occurred_at is the offending depart's time, written in UTC and truncated."""
        events = [ACC, *TO_HUB, depart("dep2", at(3, 0, 59, frac="999"), site=HUB, to=STATION)]
        assert check(events).when("XR-1") == utc(3, 0, 59)

    @pytest.mark.parametrize("machine_record", [
        registry("xray_machine", "X30000001", "active", at(2, 10)),
        registry("xray_machine", "X30000001", "active", enterprise="E2000002"),
    ], ids=["machine-active-from-exactly-the-xray", "machine-registered-by-another-enterprise"])
    def test_screening_on_a_machine_active_at_the_xray_is_valid(self, machine_record):
        """A machine active at the xray's occurred_at (inclusive, any enterprise's record) gives valid screening."""
        events = [machine_record, ACC, *TO_HUB, xray("xr", at(2, 10), machine="X30000001"), FROM_HUB]
        assert not {"XR-1", "XR-2"} & check(events).rules()

    def test_late_machine_record_still_counts(self):
        """A machine's registry record placed after the events in the input still validates the screening."""
        events = [ACC, *TO_HUB, xray("xr", at(2, 10), machine="X30000001"), FROM_HUB,
                  registry("xray_machine", "X30000001", "active", at(-1))]
        assert not {"XR-1", "XR-2"} & check(events).rules()


def _epoch(text: str) -> int:
    from greenshield.rules.timestamps import parse_instant

    return parse_instant(text)[0]


# ---------------------------------------------------------------------------------------- XR-2

XR2_CASES = [
    ("active-machine", MACHINE, None),
    ("suspended-machine", SUSPENDED, "suspended"),
    ("unregistered-machine", UNREGISTERED, "unregistered"),
    ("revoked-machine", "X20000002", "revoked"),
    ("blacklisted-machine", "X20000003", "blacklisted"),
]


class TestXR2:
    """XR-2: an xray on a machine that is not active at its occurred_at."""

    @pytest.mark.parametrize("machine, status", [c[1:] for c in XR2_CASES], ids=[c[0] for c in XR2_CASES])
    def test_xray_on_inactive_machine_is_flagged(self, machine, status):
        """XR-2 flags an xray whose machine is suspended, revoked, blacklisted or unregistered at its time."""
        records = MACHINES + [registry("xray_machine", "X20000002", "revoked"),
                              registry("xray_machine", "X20000003", "blacklisted")]
        out = check(records + replace(journey(), "xr", xray("xr", at(2, 10), machine=machine)))
        assert ("XR-2" in out.rules()) is (status is not None)
        if status is not None:
            assert out["XR-2"].evidence == ("xr",)
            assert out.when("XR-2") == utc(2, 10)
            assert out["XR-2"].severity == "high"

    def test_first_xray_on_inactive_machine_is_reported(self):
        """With two xrays on inactive machines, XR-2 points at the earlier one."""
        events = MACHINES + journey() + [xray("xr0", at(1, 30), machine=UNREGISTERED, site=OUTLET),
                                         xray("xr9", at(4, 30), machine=SUSPENDED, site=STATION)]
        out = check(events)
        assert out["XR-2"].evidence == ("xr0",)


# ---------------------------------------------------------------------------------------- XR-3

XR3_CASES = [
    # id, events after the acceptance and the trip to the hub, expected evidence (None: not flagged)
    ("suspicious-then-depart", [xray("xr", at(2, 10), result="suspicious"), FROM_HUB], ("xr", "dep2")),
    ("suspicious-then-delivery", [xray("xr", at(2, 10), result="suspicious", site=STATION),
                                  delivery("dlv", at(2, 30), site=STATION)], ("xr", "dlv")),
    ("suspicious-checked-cleared", [xray("xr", at(2, 10), result="suspicious"), manual_check("mc", at(2, 20)),
                                    FROM_HUB], None),
    ("suspicious-checked-prohibited-closes-xr3",
     [xray("xr", at(2, 10), result="suspicious"), manual_check("mc", at(2, 20), result="prohibited"), FROM_HUB],
     None),
    ("suspicious-on-inactive-machine-still-opens",
     [xray("xr", at(2, 10), result="suspicious", machine=SUSPENDED), FROM_HUB], ("xr", "dep2")),
    ("suspicious-then-sort-scan-only", [xray("xr", at(2, 10), result="suspicious"), sort_scan("scan", at(2, 20))],
     None),
    ("suspicious-then-interception-only", [xray("xr", at(2, 10), result="suspicious"), interception("int", at(2, 20))],
     None),
    ("manual-check-same-instant-ranks-before-depart",
     [xray("xr", at(2, 10), result="suspicious"), manual_check("mc", at(3)), FROM_HUB], None),
    ("suspicious-same-instant-ranks-before-depart", [xray("xr", at(3), result="suspicious"), FROM_HUB],
     ("xr", "dep2")),
    ("second-suspicious-reopens",
     [xray("xr", at(2, 10), result="suspicious"), manual_check("mc", at(2, 20)),
      xray("xr2", at(2, 30), result="suspicious"), FROM_HUB], ("xr2", "dep2")),
    ("one-check-closes-two-images",
     [xray("xr", at(2, 10), result="suspicious"), xray("xr2", at(2, 15), result="suspicious"),
      manual_check("mc", at(2, 20)), FROM_HUB], None),
    ("clear-after-suspicious-does-not-close",
     [xray("xr", at(2, 10), result="suspicious"), xray("xr2", at(2, 15)), FROM_HUB], ("xr", "dep2")),
    ("check-after-the-depart-is-too-late",
     [xray("xr", at(2, 10), result="suspicious"), FROM_HUB, manual_check("mc", at(3, 30))], ("xr", "dep2")),
]


class TestXR3:
    """XR-3: a suspicious image followed by a depart or delivery with no manual check between them."""

    @pytest.mark.parametrize("after, evidence", [c[1:] for c in XR3_CASES], ids=[c[0] for c in XR3_CASES])
    def test_suspicious_image_not_rechecked_before_moving_on_is_flagged(self, after, evidence):
        """XR-3 flags the first depart/delivery after an open suspicious image, with both event ids."""
        out = check(MACHINES + [ACC, *TO_HUB, *after])
        if evidence is None:
            assert "XR-3" not in out.rules()
        else:
            assert out["XR-3"].evidence == evidence
            moving = next(e["occurred_at"] for e in after if e["event_id"] == evidence[1])
            assert out["XR-3"].at[0] == _epoch(moving)
            assert out["XR-3"].severity == "critical"

    def test_depart_from_accepting_outlet_is_not_exempt_from_xr3(self):
        """XR-3 has no outlet exemption: a suspicious image at the outlet then a depart from it is flagged."""
        events = [ACC, xray("xr", at(0, 30), result="suspicious", site=OUTLET), *TO_HUB]
        out = check(events)
        assert out["XR-3"].evidence == ("xr", "dep1")
        assert out.when("XR-3") == utc(1)


# ---------------------------------------------------------------------------------------- XR-4

A = at(0)  # the acceptance


XR4_CASES = [
    # id, acceptance time, xray times, as_of, expected occurred_at of XR-4 (None: not flagged)
    ("xray-within-window", A, [at(5)], at(48), None),
    ("xray-exactly-at-deadline", A, [at(24)], at(48), None),
    ("xray-one-second-late", A, [at(24, 0, 1)], at(48), utc(24)),
    ("xray-a-fraction-late", A, [at(24, frac="000001")], at(48), utc(24)),
    ("deadline-same-instant-other-offset", A, [at(24, tz="Z")], at(48), None),
    ("no-xray-as-of-exactly-deadline", A, [], at(24), utc(24)),
    ("no-xray-as-of-one-second-before", A, [], at(23, 59, 59), None),
    ("no-xray-as-of-a-fraction-before", A, [], at(23, 59, 59, frac="999999999"), None),
    ("fractional-acceptance-as-of-fraction-before", at(0, frac="5"), [], at(24, frac="4999"), None),
    ("fractional-acceptance-as-of-exact", at(0, frac="5"), [], at(24, frac="50", tz="Z"), utc(24)),
    ("fractional-acceptance-xray-exact", at(0, frac="5"), [at(24, frac="5")], at(48), None),
    ("fractional-acceptance-xray-just-after", at(0, frac="5"), [at(24, frac="5000001")], at(48), utc(24)),
    ("xray-before-acceptance-counts", A, [at(-2)], at(48), None),
    ("xray-after-as-of-is-unknown", A, [at(25)], at(24), utc(24)),
    ("xray-after-deadline-does-not-help", A, [at(25)], at(25), utc(24)),
]


class TestXR4:
    """XR-4 (deadline 24h): an acceptance at a with no xray at or before a + 24h, once a + 24h <= as_of."""

    @pytest.mark.parametrize("acc_at, xray_times, as_of, expected", [c[1:] for c in XR4_CASES],
                             ids=[c[0] for c in XR4_CASES])
    def test_acceptance_not_screened_within_24h_is_flagged(self, acc_at, xray_times, as_of, expected):
        """Every bound of XR-4 is inclusive and its occurred_at is the deadline, in whole UTC seconds."""
        events = [acceptance("acc", acc_at)] + [xray(f"xr{i}", t) for i, t in enumerate(xray_times)]
        out = check(events, as_of=as_of)
        if expected is None:
            assert "XR-4" not in out.rules()
        else:
            assert out.when("XR-4") == expected
            assert out["XR-4"].evidence[0] == "acc"
            assert out["XR-4"].severity == "high"

    @pytest.mark.parametrize("result, machine", [("prohibited", MACHINE), ("suspicious", MACHINE),
                                                 ("clear", SUSPENDED), ("clear", UNREGISTERED)],
                             ids=["prohibited", "suspicious", "suspended-machine", "unregistered-machine"])
    def test_any_xray_counts_whatever_its_result_or_machine(self, result, machine):
        """XR-4 is satisfied by any xray in time, whatever its result or machine."""
        events = MACHINES + [acceptance("acc", A), xray("xr", at(3), result=result, machine=machine)]
        assert "XR-4" not in check(events, as_of=at(48)).rules()

    def test_earliest_failing_deadline_is_reported(self):
        """With two acceptances, the first failing deadline (the earlier acceptance's) is reported."""
        events = [acceptance("acc1", at(0)), acceptance("acc2", at(10)), xray("xr", at(30))]
        out = check(events, as_of=at(48))
        assert out.when("XR-4") == utc(24) and out["XR-4"].evidence[0] == "acc1"

    def test_xray_before_a_later_acceptance_satisfies_it(self):
        """An xray that screened the parcel before a re-acceptance also satisfies that acceptance's window."""
        events = [acceptance("acc1", at(0)), xray("xr", at(1)), acceptance("acc2", at(30))]
        assert "XR-4" not in check(events, as_of=at(60)).rules()

    def test_default_as_of_is_the_latest_parcel_event(self):
        """Without as_of, the verdict is taken at the latest parcel event, so a 24h deadline not yet reached stays quiet."""
        out = check([acceptance("acc", at(0)), sort_scan("scan", at(23, 59, 59), site=OUTLET)])
        assert "XR-4" not in out.rules()
        out = check([acceptance("acc", at(0)), sort_scan("scan", at(24), site=OUTLET)])
        assert out.when("XR-4") == utc(24)


# ---------------------------------------------------------------------------------------- X-ray scope

SAME_PROVINCE = {"origin": "310101", "destination": "310115"}
CROSS_PROVINCE = {"origin": "310101", "destination": "320102"}


def _unscreened(**regions: str) -> list[dict]:
    """A parcel accepted with these regions, never screened, departing from the hub and delivered."""
    return without(replace(journey(), "acc", acceptance("acc", at(0), **regions)), "xr")


class TestXrayScope:
    """§4 X-ray scope: inter_provincial exempts same-province parcels from XR-1 and XR-4 only."""

    CASES = [
        ("all-same-province", "all", SAME_PROVINCE, {"XR-1", "XR-4"}),
        ("all-cross-province", "all", CROSS_PROVINCE, {"XR-1", "XR-4"}),
        ("inter-provincial-same-province", "inter_provincial", SAME_PROVINCE, set()),
        ("inter-provincial-same-first-two-digits", "inter_provincial", {"origin": "310101", "destination": "319999"},
         set()),
        ("inter-provincial-cross-province", "inter_provincial", CROSS_PROVINCE, {"XR-1", "XR-4"}),
    ]

    @pytest.mark.parametrize("scope, regions, expected", [c[1:] for c in CASES], ids=[c[0] for c in CASES])
    def test_scope_decides_xr1_and_xr4(self, scope, regions, expected):
        """XR-1 and XR-4 apply to a parcel unless the scope is inter_provincial and it stays in one province."""
        out = check(_unscreened(**regions), pack=custom_pack(xray_scope=scope), as_of=at(48))
        assert out.rules() & {"XR-1", "XR-4"} == expected

    def test_scope_does_not_exempt_xr2_or_xr3(self):
        """A same-province parcel under inter_provincial is still checked by XR-2 and XR-3."""
        events = MACHINES + replace(
            replace(journey(), "acc", acceptance("acc", at(0), **SAME_PROVINCE)),
            "xr", xray("xr", at(2, 10), result="suspicious", machine=SUSPENDED))
        out = check(events, pack=custom_pack(xray_scope="inter_provincial"))
        assert {"XR-2", "XR-3"} <= out.rules()
        assert not {"XR-1", "XR-4"} & out.rules()

    def test_scope_follows_the_first_acceptance(self):
        """Only the first acceptance's regions decide the scope, not a later cross-province re-acceptance."""
        events = _unscreened(**SAME_PROVINCE) + [acceptance("acc2", at(2, 5), site=HUB, **CROSS_PROVINCE)]
        out = check(events, pack=custom_pack(xray_scope="inter_provincial"), as_of=at(48))
        assert not {"XR-1", "XR-4"} & out.rules()

    def test_no_acceptance_is_out_of_inter_provincial_scope(self):
        """A parcel with no acceptance has no first acceptance crossing provinces, so XR-1 does not apply."""
        events = [arrive("arr", at(0), site=HUB, frm=ELSEWHERE), depart("dep", at(1), site=HUB, to=STATION)]
        out = check(events, pack=custom_pack(xray_scope="inter_provincial"))
        assert "XR-1" not in out.rules()

    def test_scope_from_a_toml_pack_file(self, tmp_path: Path):
        """A regulator's TOML pack with xray_scope = "inter_provincial" is honoured, and named in each violation."""
        path = tmp_path / "zj.toml"
        path.write_text('[pack]\nname = "zhejiang"\nversion = "2"\nxray_scope = "inter_provincial"\n', "utf-8")
        pack = load_pack(path)
        same = check(_unscreened(**SAME_PROVINCE), pack=pack, as_of=at(48))
        cross = check(_unscreened(**CROSS_PROVINCE), pack=pack, as_of=at(48))
        assert not {"XR-1", "XR-4"} & same.rules()
        assert {"XR-1", "XR-4"} <= cross.rules()
        assert {v.rule_pack for v in cross.violations} == {"zhejiang@2"}
