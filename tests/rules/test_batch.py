"""The batch checker end to end: the verdict's shape (§3, §5) over whole inputs."""

from __future__ import annotations

import pytest
from tests.rules.builders import (
    ABSENT, OTHER_ENTERPRISE, OUTLET, acceptance, at, check, journey, replace, sort_scan, standard_registry, utc,
    without,
)

from greenshield.rules.batch import BatchChecker
from greenshield.rules.pack import default_pack


class TestCompliantInput:
    """A compliant journey gives an empty verdict, so every other test's finding is the one it provokes."""

    def test_compliant_journey_has_no_violations(self):
        """The builders' standard journey with the standard registry breaks no rule, even a week later."""
        out = check(journey(), as_of=at(24 * 7))
        assert out.violations == [] and out.rejections == []
        assert out.stats.accepted == len(journey()) + len(standard_registry())

    def test_empty_input_has_no_verdict(self):
        """No parcel events means no violations (and no default as_of to speak of)."""
        assert check([]).violations == []
        assert check([], as_of=at(0)).violations == []


class TestViolationShape:
    """§5: each violation carries these fields, one per (enterprise_id, waybill_no, rule_id) (§8.1), sorted for output."""

    def test_to_dict_has_exactly_the_contract_fields(self):
        """A violation as JSON has waybill_no, rule_id, enterprise_id, severity, occurred_at, evidence, message, rule_pack."""
        out = check(replace(journey(), "acc", acceptance("acc", at(0), sender=ABSENT)))
        d = out["RN-1"].to_dict()
        assert set(d) == {"waybill_no", "rule_id", "enterprise_id", "severity", "occurred_at", "evidence",
                          "message", "rule_pack"}
        assert d["waybill_no"] == "YT0000000001" and d["enterprise_id"] == "E1000001"
        assert d["occurred_at"] == utc(0) and d["evidence"] == ["acc"]
        assert d["rule_pack"] == "greenshield-default@1"
        assert isinstance(d["message"], str) and d["message"]

    def test_a_rule_flags_a_parcel_at_most_once(self):
        """Three sender-less acceptances give one RN-1 for the parcel, at the first."""
        events = [acceptance(f"acc{i}", at(i), sender=ABSENT, site=OUTLET) for i in range(3)]
        out = check(events)
        assert [v.rule_id for v in out.violations].count("RN-1") == 1
        assert out["RN-1"].evidence == ("acc0",)

    def test_verdict_is_sorted_by_waybill_then_rule(self):
        """The verdict comes sorted by (waybill_no, rule_id)."""
        events = []
        for n, wb in enumerate(["YT0000000009", "YT0000000001", "YT0000000005"]):
            events += without(journey(waybill=wb, prefix=f"{n}-"), f"{n}-acc", f"{n}-xr")
        out = check(events, as_of=at(48))
        keys = [(v.waybill_no, v.rule_id) for v in out.violations]
        assert keys == sorted(keys) and len(set(keys)) == len(keys)
        assert {k[0] for k in keys} == {"YT0000000009", "YT0000000001", "YT0000000005"}

    def test_a_parcel_is_its_enterprise_and_waybill(self):
        """Contract §8.1: events of one waybill from two enterprises are two parcels. The second enterprise's
        part has no acceptance of its own (TR-1, XR-1 on its evidence); the first's part is compliant.
        (Revision 1 read them as one parcel with no violation.)"""
        events = journey()
        events = [dict(e, enterprise_id=OTHER_ENTERPRISE) if e["event_id"] in ("dep2", "arr2", "dlv") else e
                  for e in events]
        out = check(events, as_of=at(48))
        assert out.rules(enterprise="E1000001") == set()
        assert {(v.enterprise_id, v.rule_id, v.evidence) for v in out.violations} == \
            {(OTHER_ENTERPRISE, "TR-1", ("dep2",)), (OTHER_ENTERPRISE, "XR-1", ("dep2",))}

    @pytest.mark.parametrize("as_of", [None, at(48)], ids=["default-as-of", "explicit-as-of"])
    def test_parcels_are_independent(self, as_of):
        """A broken parcel does not affect a compliant one fed alongside it."""
        events = journey("YT0000000001", "a-") + without(journey("YT0000000002", "b-"), "b-acc")
        out = check(events, as_of=as_of)
        assert out.rules("YT0000000001") == set()
        assert "XR-1" in out.rules("YT0000000002")   # no acceptance: no outlet exemption


class TestStats:
    """The counters behind the summary line."""

    def test_counts_lines_accepted_rejected_duplicates(self):
        """Blank lines count as lines only; duplicates and rejections have their own counters."""
        checker = BatchChecker(default_pack())
        scan = sort_scan("s", at(0), site=OUTLET)
        import orjson

        checker.feed([orjson.dumps(scan), b"   \t\r\n", b"not json", orjson.dumps(scan), b""])
        checker.verdict()
        s = checker.stats
        assert (s.lines, s.accepted, s.rejected, s.duplicates, s.parcels) == (5, 1, 1, 1, 1)
        assert "lines=5 accepted=1 rejected=1 duplicates=1 parcels=1" in s.summary()
