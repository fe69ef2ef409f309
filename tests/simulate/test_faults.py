"""Injected faults and input noise, as the manifest lists them."""

from __future__ import annotations

import importlib.util
from collections import Counter, defaultdict
from datetime import timedelta
from typing import Any

import orjson
import pytest
from tests.simulate.simdays import RFC3339, Day, instant

from greenshield.simulate import Simulation

RULES = {
    "RN-1", "RN-2", "RN-3", "IN-1", "IN-2", "XR-1", "XR-2", "XR-3", "XR-4",
    "PH-1", "PH-2", "TR-1", "TK-1", "TK-2", "PR-1", "PR-2", "PR-3",
}
VERIFIED_BY = {"id_reader", "face_match", "e_id", "manual"}


def faults(day: Day) -> dict[str, str]:
    return {m["waybill_no"]: m["intended_rule"] for m in day.manifest if m["kind"] == "fault"}


def sender_complete(s: Any) -> bool:
    return isinstance(s, dict) and all(
        isinstance(s.get(k), str) and s[k].strip() for k in ("name", "id_type", "id_number", "verified_by")
    ) and s["verified_by"].strip() in VERIFIED_BY


class TestManifest:
    """The manifest lists one intended rule per faulty parcel, every rule of the contract among them."""

    def test_every_rule_injected(self, faulty_day: Day) -> None:
        counts = Counter(faults(faulty_day).values())
        assert set(counts) == RULES
        assert min(counts.values()) >= 10

    def test_fault_share_follows_the_rate(self, faulty_day: Day) -> None:
        n = len(faults(faulty_day))
        assert 0.25 * 2000 < n < 0.35 * 2000
        assert len([m for m in faulty_day.manifest if m["kind"] == "fault"]) == n  # one fault per parcel

    def test_faulty_parcels_are_in_the_output(self, faulty_day: Day) -> None:
        assert set(faults(faulty_day)) <= set(faulty_day.parcels())

    def test_rate_zero_has_no_faults(self, clean_day: Day) -> None:
        assert clean_day.manifest == []

    def test_rate_one_faults_every_parcel(self) -> None:
        sim = Simulation(40, 4, fault_rate=1.0)
        lines = list(sim.lines())
        assert len(lines) > 40 and len(sim.manifest) == 40


class TestFaultShapes:
    """Spot checks, independent of the rules engine, that a fault has its rule's shape."""

    def by_rule(self, day: Day, rule: str) -> list[list[dict[str, Any]]]:
        wanted = {w for w, r in faults(day).items() if r == rule}
        return [evs for w, evs in day.parcels().items() if w in wanted]

    def test_rn1_no_complete_sender_and_no_customer(self, faulty_day: Day) -> None:
        for evs in self.by_rule(faulty_day, "RN-1"):
            acc = next(e for e in evs if e["type"] == "acceptance")
            assert "contract_customer_id" not in acc and not sender_complete(acc.get("sender"))

    def test_pr3_staff_are_held_by_a_person_blacklisted_as_another_enterprises_staff(self, faulty_day: Day) -> None:
        """Revision 2 §8.2: each re-registered PR-3 holder's person was blacklisted as staff of another
        enterprise, under another staff id; the staff ids never appear in a clean parcel."""
        reg = faulty_day.registry()
        holder = {r["id"]: r["person"]["id_number"] for r in reg if r["entity"] == "staff" and "person" in r}
        banned = {r["person"]["id_number"] for r in reg if r["entity"] == "person" and r["status"] == "blacklisted"}
        staff_of = {(r["person"]["id_number"], r["id"], r["enterprise_id"]) for r in reg
                    if r["entity"] == "staff" and "person" in r and r["status"] == "blacklisted"}
        variants = {m["waybill_no"]: m["variant"] for m in faulty_day.manifest if m.get("intended_rule") == "PR-3"}
        elsewhere = 0
        for evs in self.by_rule(faulty_day, "PR-3"):
            named = {e.get("staff_id") for e in evs} | {e.get("inspection", {}).get("inspector_id") for e in evs}
            held = [p for p in named if p in holder]
            assert len(held) == 1 and holder[held[0]] in banned
            if "reregistered_elsewhere" in variants[evs[0]["waybill_no"]]:
                elsewhere += 1
                assert any(n == holder[held[0]] and sid != held[0] and ent != evs[0]["enterprise_id"]
                           for n, sid, ent in staff_of)
        assert elsewhere >= 3
        clean = [evs for w, evs in faulty_day.parcels().items() if w not in faults(faulty_day)]
        assert not {e.get("staff_id") for evs in clean for e in evs} & set(holder)

    def test_in1_and_in2(self, faulty_day: Day) -> None:
        for evs in self.by_rule(faulty_day, "IN-1"):
            assert "inspection" not in next(e for e in evs if e["type"] == "acceptance")
        for evs in self.by_rule(faulty_day, "IN-2"):
            acc = next(e for e in evs if e["type"] == "acceptance")
            assert acc["inspection"]["result"] == "refused" and len(evs) > 1

    def test_xr4_first_xray_after_a_day(self, faulty_day: Day) -> None:
        for evs in self.by_rule(faulty_day, "XR-4"):
            a = instant(next(e for e in evs if e["type"] == "acceptance")["occurred_at"])
            xrays = [instant(e["occurred_at"]) for e in evs if e["type"] == "xray"]
            assert not xrays or min(xrays) > a + timedelta(hours=24)

    def test_tr1_acceptance_missing_or_late(self, faulty_day: Day) -> None:
        for evs in self.by_rule(faulty_day, "TR-1"):
            first = min(instant(e["occurred_at"]) for e in evs)
            accs = [instant(e["occurred_at"]) for e in evs if e["type"] == "acceptance"]
            assert not accs or min(accs) > first + timedelta(hours=6)

    def test_ph2_prohibited_not_intercepted_in_time(self, faulty_day: Day) -> None:
        for evs in self.by_rule(faulty_day, "PH-2"):
            p = [instant(e["occurred_at"]) for e in evs if e.get("result") == "prohibited"]
            i = [instant(e["occurred_at"]) for e in evs if e["type"] == "interception"]
            assert p and not any(p[0] <= t <= p[0] + timedelta(hours=2) for t in i)

    def test_xr2_screens_on_an_unregistered_or_lapsed_machine_then_rescreens(self, faulty_day: Day) -> None:
        for evs in self.by_rule(faulty_day, "XR-2"):
            assert sum(e["type"] == "xray" for e in evs) >= 2


class TestNoise:
    """Noise lines are what the manifest says, and only at the noise rate."""

    def test_noise_lines(self, faulty_day: Day) -> None:
        noise = [m for m in faulty_day.manifest if m["kind"] == "noise"]
        kinds = Counter(m["noise"] for m in noise)
        assert set(kinds) == {"exact_duplicate", "conflicting_duplicate", "malformed_json", "no_offset"}
        assert 0.03 * 2000 < len(noise) < 0.07 * 2000
        copies: dict[tuple[str, str], list[bytes]] = defaultdict(list)
        for line in faulty_day.lines:
            try:
                obj = orjson.loads(line)
            except orjson.JSONDecodeError:
                continue
            copies[(obj["enterprise_id"], obj["event_id"])].append(line)
        for m in noise:
            lines = copies[(m["enterprise_id"], m["event_id"])]
            if m["noise"] == "exact_duplicate":
                assert len(lines) == 2 and lines[0] == lines[1] and m["expect"] == "drop"
            elif m["noise"] == "conflicting_duplicate":
                assert len(lines) == 2 and orjson.loads(lines[0]) != orjson.loads(lines[1])
            elif m["noise"] == "no_offset":
                assert len(lines) == 2 and not RFC3339.match(orjson.loads(lines[1])["occurred_at"])
            else:
                assert len(lines) == 1
        assert len(faulty_day.malformed) == kinds["malformed_json"]

    def test_no_noise_by_default(self) -> None:
        sim = Simulation(300, 1, fault_rate=0.5)
        keys = [(e["enterprise_id"], e["event_id"]) for e in sim.events()]
        assert len(keys) == len(set(keys))
        assert all(m["kind"] == "fault" for m in sim.manifest)


@pytest.mark.skipif(importlib.util.find_spec("greenshield.rules.batch") is None, reason="no rules engine here")
class TestCrossCheck:
    """The batch checker finds exactly the injected faults: every fault is clean (one parcel, one rule)."""

    @pytest.mark.parametrize(("seed", "rate", "noise"), [(7, 0.3, 0.05), (2026, 0.6, 0.0), (5, 0.0, 0.1)])
    def test_verdict_equals_manifest(self, seed: int, rate: float, noise: float) -> None:
        from greenshield.rules.batch import BatchChecker
        from greenshield.rules.pack import default_pack

        sim = Simulation(1500, seed, fault_rate=rate, noise_rate=noise)
        checker = BatchChecker(default_pack())
        checker.feed(sim.shuffled_lines())
        found = {(v.waybill_no, v.rule_id) for v in checker.verdict()}
        intended = {(m["waybill_no"], m["intended_rule"]) for m in sim.manifest if m["kind"] == "fault"}
        assert found == intended
        expect = Counter(m["expect"] for m in sim.manifest if m["kind"] == "noise")
        assert (checker.stats.rejected, checker.stats.duplicates) == (expect["reject"], expect["drop"])


@pytest.mark.skipif(importlib.util.find_spec("greenshield.rules.batch") is None, reason="no rules engine here")
class TestSharedWaybills:
    """Contract §8.1 in the simulator: parcels of two enterprises under one waybill number, each judged apart."""

    def test_the_rest_of_the_day_is_unchanged(self) -> None:
        """The sharing has its own random stream: only the borrowed waybill numbers (and the event ids an
        enterprise derives from its waybill) differ from the plain day."""
        plain = list(Simulation(400, 7, fault_rate=0.3).events())
        sim = Simulation(400, 7, fault_rate=0.3, shared_waybill_rate=0.2)
        shared = list(sim.events())
        assert len(plain) == len(shared)
        same = ("waybill_no", "event_id")
        assert [{k: v for k, v in e.items() if k not in same} for e in plain] == \
            [{k: v for k, v in e.items() if k not in same} for e in shared]
        borrowed = [m for m in sim.manifest if m["kind"] == "shared_waybill"]
        assert len(borrowed) > 20 and all(m["enterprise_id"] != m["owner"] for m in borrowed)
        again = Simulation(400, 7, fault_rate=0.3, shared_waybill_rate=0.2)
        assert list(again.lines()) == list(sim.lines()) and again.manifest == sim.manifest  # deterministic

    def test_each_shared_waybill_has_two_enterprises(self) -> None:
        sim = Simulation(400, 7, fault_rate=0.3, shared_waybill_rate=0.2)
        owners: dict[str, set[str]] = {}
        for e in sim.events():
            if e["type"] != "registry":
                owners.setdefault(e["waybill_no"], set()).add(e["enterprise_id"])
        borrowed = {m["waybill_no"]: {m["enterprise_id"], m["owner"]} for m in sim.manifest
                    if m["kind"] == "shared_waybill"}
        assert borrowed and all(owners[w] == both for w, both in borrowed.items())
        assert all(len(v) == 1 for w, v in owners.items() if w not in borrowed)

    @pytest.mark.parametrize(("seed", "rate", "noise"), [(7, 0.3, 0.05), (2026, 0.6, 0.0)])
    def test_verdict_equals_manifest_per_parcel(self, seed: int, rate: float, noise: float) -> None:
        """``check`` finds exactly the injected faults, each on its own parcel ``(enterprise_id, waybill_no)``."""
        from greenshield.rules.batch import BatchChecker
        from greenshield.rules.pack import default_pack

        sim = Simulation(1500, seed, fault_rate=rate, noise_rate=noise, shared_waybill_rate=0.15)
        checker = BatchChecker(default_pack())
        checker.feed(sim.shuffled_lines())
        found = {(v.enterprise_id, v.waybill_no, v.rule_id) for v in checker.verdict()}
        intended = {(m["enterprise_id"], m["waybill_no"], m["intended_rule"]) for m in sim.manifest
                    if m["kind"] == "fault"}
        assert found == intended
        faulty_shared = {(m["enterprise_id"], m["waybill_no"]) for m in sim.manifest if m["kind"] == "shared_waybill"}
        assert faulty_shared & {(e, w) for e, w, _ in intended}  # some shared parcels carry a fault
