"""The time-versioned registry (contract §1.3, §7): status of an entity at a time, through XR-2 and directly."""

from __future__ import annotations

import pytest
from tests.rules.builders import (
    OTHER_ENTERPRISE, acceptance, at, check, journey, registry, replace, sort_scan, xray,
)

from greenshield.rules.model import RegistryRecord
from greenshield.rules.registry import Registry
from greenshield.rules.timestamps import parse_instant

M = "X30000001"  # the machine whose history each case writes


def _xr2(records: list[dict], when: str = at(2, 10)) -> bool:
    """Is an xray on machine M at ``when`` flagged by XR-2, given M's registry records?"""
    events = replace(journey(), "xr", xray("xr", when, machine=M))
    return "XR-2" in check(records + events).rules()


REGISTRY_CASES = [
    # id, records of M, xray time, XR-2 expected
    ("no-record-is-unregistered", [], at(2, 10), True),
    ("active-since-before", [registry("xray_machine", M)], at(2, 10), False),
    ("takes-effect-at-its-occurred-at", [registry("xray_machine", M, "active", at(2, 10))], at(2, 10), False),
    ("same-instant-other-offset", [registry("xray_machine", M, "active", at(2, 10, tz="-07:00"))], at(2, 10), False),
    ("a-fraction-too-late", [registry("xray_machine", M, "active", at(2, 10, frac="000000001"))], at(2, 10), True),
    ("fractions-compared-exactly",
     [registry("xray_machine", M, "active", at(2, 10, frac="45"))], at(2, 10, frac="5"), False),
    ("fractions-compared-exactly-other-way",
     [registry("xray_machine", M, "active", at(2, 10, frac="5"))], at(2, 10, frac="45"), True),
    ("latest-record-at-or-before-wins",
     [registry("xray_machine", M, "active", at(-5)), registry("xray_machine", M, "suspended", at(-1)),
      registry("xray_machine", M, "active", at(5))], at(2, 10), True),
    ("records-in-any-input-order",
     [registry("xray_machine", M, "active", at(5)), registry("xray_machine", M, "suspended", at(-1)),
      registry("xray_machine", M, "active", at(-5))], at(2, 10), True),
    ("reinstated-exactly-at-the-xray",
     [registry("xray_machine", M, "suspended", at(-5)), registry("xray_machine", M, "active", at(2, 10))],
     at(2, 10), False),
    ("tie-later-line-wins-suspended",
     [registry("xray_machine", M, "active", at(1)), registry("xray_machine", M, "suspended", at(1))], at(2, 10),
     True),
    ("tie-later-line-wins-active",
     [registry("xray_machine", M, "suspended", at(1)), registry("xray_machine", M, "active", at(1))], at(2, 10),
     False),
    ("tie-across-enterprises-later-line-wins",
     [registry("xray_machine", M, "active", at(1)),
      registry("xray_machine", M, "revoked", at(1), enterprise=OTHER_ENTERPRISE)], at(2, 10), True),
    ("another-enterprises-record-counts", [registry("xray_machine", M, enterprise=OTHER_ENTERPRISE)], at(2, 10),
     False),
    ("record-of-another-entity-does-not-count", [registry("vehicle", "V30000001")], at(2, 10), True),
    ("future-record-only", [registry("xray_machine", M, "active", at(48))], at(2, 10), True),
]


class TestRegistryStatus:
    """§1.3: the status at t is that of the latest record with occurred_at <= t; ties go to the later line."""

    @pytest.mark.parametrize("records, when, flagged", [c[1:] for c in REGISTRY_CASES],
                             ids=[c[0] for c in REGISTRY_CASES])
    def test_machine_status_at_the_xray_decides_xr2(self, records, when, flagged):
        """XR-2 reads the machine's registry status at the xray's exact instant."""
        assert _xr2(records, when) is flagged

    def test_late_record_counts(self):
        """A record that arrives in the input after the events it affects still decides their verdict."""
        events = replace(journey(), "xr", xray("xr", at(2, 10), machine=M))
        out = check(events + [registry("xray_machine", M, "active", at(0))])
        assert "XR-2" not in out.rules()

    def test_future_record_does_not_move_default_as_of(self):
        """A registry record dated after every parcel event does not move the default as_of (§7)."""
        events = [acceptance("acc", at(0)), sort_scan("scan", at(1), site="S31000001"),
                  registry("staff", "P90000001", "active", at(100))]
        out = check(events)
        assert "XR-4" not in out.rules()   # as_of stays at 1h; at 100h XR-4 would have fired at 24h
        assert "TR-1" not in out.rules()


class TestRegistryDirect:
    """The Registry object itself: the lower-level path the rules read."""

    @staticmethod
    def _rec(status: str, when: str, seq: int = 0) -> RegistryRecord:
        return RegistryRecord("E1000001", f"r{seq}", parse_instant(when), when, "staff", "P10000009", status, seq)

    CASES = [
        ("before-any-record", at(-1), "unregistered"),
        ("at-first-record", at(0), "active"),
        ("between-records", at(1), "active"),
        ("at-second-record", at(2), "suspended"),
        ("after-the-tie", at(5), "revoked"),
    ]

    @pytest.mark.parametrize("when, status", [c[1:] for c in CASES], ids=[c[0] for c in CASES])
    def test_status_at_a_time(self, when, status):
        """Registry.status answers the status of the latest version at or before the time, later-added winning ties."""
        reg = Registry()
        for rec in [self._rec("active", at(0), 1), self._rec("suspended", at(2), 2),
                    self._rec("blacklisted", at(4), 3), self._rec("revoked", at(4, tz="Z"), 4)]:
            reg.add(rec)
        assert reg.status("staff", "P10000009", parse_instant(when)) == status
        assert reg.status("staff", None, parse_instant(when)) == "unregistered"
        assert reg.status("vehicle", "P10000009", parse_instant(when)) == "unregistered"
