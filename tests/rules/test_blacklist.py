"""Persons and the regional blacklist: rule PR-3 and ``person_invalid`` (contract revision 2 §8.2)."""

from __future__ import annotations

import orjson
import pytest
from tests.rules.builders import (
    CLERK, ENTERPRISE, INSPECTOR, OTHER_ENTERPRISE, WAYBILL, acceptance, at, check, inspection, journey,
    registry, resident_id, sort_scan, utc,
)

from greenshield.rules.engine import RuleCore
from greenshield.rules.model import Event, RegistryRecord, Rejection
from greenshield.rules.pack import default_pack
from greenshield.rules.parse import parse_line
from greenshield.rules.timestamps import parse_instant

PERSON_ID = resident_id(birth="19850101", seq="771")
OTHER_ID = resident_id(birth="19920202", seq="452")
OLD_STAFF = "P30000001"  # the person's staff id at enterprise A, blacklisted there
NEW_STAFF = "P30000002"  # the same person, re-registered at enterprise B


def person(number: str = PERSON_ID, kind: str = "resident_id") -> dict[str, str]:
    return {"id_type": kind, "id_number": number}


def holder(staff: str, when: str = at(-48), status: str = "active", number: str = PERSON_ID,
           enterprise: str = ENTERPRISE) -> dict[str, object]:
    return registry("staff", staff, status, when, enterprise=enterprise, person=person(number))


def decision(status: str, when: str, ref: str = "BL-2026-001", number: str = PERSON_ID) -> dict[str, object]:
    return registry("person", ref, status, when, person=person(number))


def reregistered(extra: list[dict[str, object]] | None = None) -> list[dict[str, object]]:
    """Blacklisted as OLD_STAFF at enterprise A; registered as NEW_STAFF at enterprise B before BASE."""
    return [holder(OLD_STAFF, at(-72)), registry("staff", OLD_STAFF, "blacklisted", at(-24), person=person()),
            decision("blacklisted", at(-24)),
            holder(NEW_STAFF, at(-12), enterprise=OTHER_ENTERPRISE), *(extra or [])]


def scan_by(staff: str, event_id: str = "scan", h: float = 1, enterprise: str = OTHER_ENTERPRISE) -> dict[str, object]:
    return sort_scan(event_id, at(h), staff=staff, enterprise=enterprise)


class TestPR3:
    def test_a_blacklisted_person_reregistered_elsewhere_is_flagged_there(self) -> None:
        """The person blacklisted under one staff id at A handles a parcel of B under a new one: PR-3 (high)."""
        out = check([*reregistered(), scan_by(NEW_STAFF)])
        v = out.get("PR-3", enterprise=OTHER_ENTERPRISE)
        assert v is not None and v.severity == "high" and v.evidence == ("scan",)
        assert out.when("PR-3") == utc(1)
        assert NEW_STAFF in v.message and "BL-2026-001" in v.message and PERSON_ID not in v.message
        assert out.rules(enterprise=OTHER_ENTERPRISE) & {"PR-1", "PR-2"} == set()

    def test_a_staff_id_that_is_itself_not_active_stays_pr2_only(self) -> None:
        """The old, blacklisted staff id is PR-2's; it does not also raise PR-3."""
        out = check([*reregistered(), scan_by(OLD_STAFF, enterprise=ENTERPRISE)])
        assert "PR-2" in out.rules() and "PR-3" not in out.rules()

    def test_an_unregistered_staff_id_stays_pr1_only(self) -> None:
        out = check([decision("blacklisted", at(-24)), scan_by("P39999999")])
        assert "PR-1" in out.rules() and "PR-3" not in out.rules()

    def test_blacklisted_then_lifted(self) -> None:
        """Status at t: blacklisted from -24h, lifted at +2h; an event at +1h is flagged, one at +3h is not."""
        records = [*reregistered(), decision("active", at(2), ref="BL-2026-001-LIFT")]
        assert "PR-3" in check([*records, scan_by(NEW_STAFF, h=1)]).rules()
        assert "PR-3" not in check([*records, scan_by(NEW_STAFF, h=3)]).rules()
        exactly = check([*records, scan_by(NEW_STAFF, h=2)])  # the lifting takes effect at its occurred_at
        assert "PR-3" not in exactly.rules()

    def test_blacklisted_only_after_the_event_is_not_flagged(self) -> None:
        out = check([holder(NEW_STAFF), decision("blacklisted", at(1, 0, 1)), scan_by(NEW_STAFF, h=1)])
        assert "PR-3" not in out.rules()

    @pytest.mark.parametrize("order, flagged", [(("blacklisted", "active"), False), (("active", "blacklisted"), True)])
    def test_a_tie_on_occurred_at_is_won_by_the_later_line(self, order: tuple[str, str], flagged: bool) -> None:
        """Two person records of one instant (different refs, same person): the later line decides."""
        first, second = (decision(s, at(-1), ref=f"D-{i}") for i, s in enumerate(order))
        out = check([holder(NEW_STAFF), first, second, scan_by(NEW_STAFF)])
        assert ("PR-3" in out.rules()) is flagged

    def test_the_first_such_event_is_the_violation_and_its_evidence(self) -> None:
        events = [scan_by(NEW_STAFF, "late", h=3), scan_by(NEW_STAFF, "early", h=2), scan_by(CLERK, "clean", h=1)]
        out = check([holder(NEW_STAFF), decision("blacklisted", at(-1)), *events])
        assert out["PR-3"].evidence == ("early",) and out.when("PR-3") == utc(2)

    def test_an_acceptance_inspector_held_by_a_blacklisted_person(self) -> None:
        acc = acceptance("acc", at(1), inspection=inspection(at(1), inspector=NEW_STAFF))
        out = check([holder(NEW_STAFF), decision("blacklisted", at(-1)), acc])
        assert out["PR-3"].evidence == ("acc",) and "inspector_id" in out["PR-3"].message

    def test_the_same_number_with_surrounding_whitespace_is_the_same_person(self) -> None:
        out = check([holder(NEW_STAFF), decision("blacklisted", at(-1), number=f"\u3000{PERSON_ID} "),
                     scan_by(NEW_STAFF)])
        assert "PR-3" in out.rules()

    def test_another_person_blacklisted_does_not_flag(self) -> None:
        out = check([holder(NEW_STAFF), decision("blacklisted", at(-1), number=OTHER_ID), scan_by(NEW_STAFF)])
        assert "PR-3" not in out.rules()

    def test_the_latest_staff_record_decides_the_person(self) -> None:
        """Reading: the person of the latest staff record at t; a later record without a person names none."""
        moved = [holder(NEW_STAFF, at(-48)), decision("blacklisted", at(-24)),
                 registry("staff", NEW_STAFF, "active", at(0))]
        assert "PR-3" not in check([*moved, scan_by(NEW_STAFF, h=1)]).rules()
        assert "PR-3" in check([*moved, scan_by(NEW_STAFF, "before", h=-1)]).rules(None)
        other = [holder(NEW_STAFF, at(-48)), decision("blacklisted", at(-24)), holder(NEW_STAFF, at(0), number=OTHER_ID)]
        assert "PR-3" not in check([*other, scan_by(NEW_STAFF, h=1)]).rules()

    def test_a_clean_journey_stays_clean(self) -> None:
        """No person records at all: the sample journey raises nothing new."""
        assert check(journey()).rules() == set()


class TestLateRecords:
    def _core(self, lines: list[dict[str, object]]) -> RuleCore:
        core = RuleCore(default_pack())
        for obj in lines:
            self._feed(core, obj)
        return core

    @staticmethod
    def _feed(core: RuleCore, obj: dict[str, object]) -> None:
        _, item = parse_line(orjson.dumps(obj))
        if isinstance(item, Event):
            core.add_event(item)
        else:
            assert isinstance(item, RegistryRecord), item
            core.add_record(item)

    def test_a_late_person_record_reopens_the_parcels_of_every_staff_id_of_that_person(self) -> None:
        as_of = parse_instant(at(5))
        core = self._core([holder(NEW_STAFF, enterprise=OTHER_ENTERPRISE), scan_by(NEW_STAFF)])
        assert [c.kind for c in core.advance(as_of, finalise=False) if c.violation.rule_id == "PR-3"] == []
        self._feed(core, decision("blacklisted", at(-1)))
        changes = [c for c in core.advance(as_of, finalise=False) if c.violation.rule_id == "PR-3"]
        assert [(c.kind, c.violation.enterprise_id, c.violation.waybill_no) for c in changes] == [
            ("opened", OTHER_ENTERPRISE, WAYBILL)]
        self._feed(core, decision("active", at(-1), ref="LIFT"))  # lifted at the same instant, later line
        assert [c.kind for c in core.advance(as_of, finalise=False) if c.violation.rule_id == "PR-3"] == ["retracted"]

    def test_a_late_staff_record_naming_a_blacklisted_person_reopens_its_parcels(self) -> None:
        as_of = parse_instant(at(5))
        core = self._core([registry("staff", NEW_STAFF, "active", at(-48)), decision("blacklisted", at(-24)),
                           scan_by(NEW_STAFF)])
        assert not [c for c in core.advance(as_of, finalise=False) if c.violation.rule_id == "PR-3"]
        self._feed(core, holder(NEW_STAFF, at(-2)))
        assert [c.kind for c in core.advance(as_of, finalise=False) if c.violation.rule_id == "PR-3"] == ["opened"]


def _reason(obj: dict[str, object]) -> str:
    _, item = parse_line(orjson.dumps(obj))
    assert isinstance(item, Rejection), item
    return item.reason


class TestPersonInvalid:
    @pytest.mark.parametrize("bad", [
        "a string", ["a list"], 7, {}, {"id_type": "resident_id"}, {"id_number": PERSON_ID},
        {"id_type": "", "id_number": PERSON_ID}, {"id_type": "resident_id", "id_number": "  "},
        {"id_type": "resident_id", "id_number": 110101198501017710},
        {"id_type": "passport_of_mars", "id_number": PERSON_ID},
        {"id_type": "resident_id", "id_number": PERSON_ID[:-1] + ("0" if PERSON_ID[-1] != "0" else "1")},
        {"id_type": "resident_id", "id_number": PERSON_ID.lower() + "x"},
        {"id_type": "hk_macao_permit", "id_number": PERSON_ID},
    ], ids=lambda b: type(b).__name__ + str(len(b) if hasattr(b, "__len__") else 0))
    @pytest.mark.parametrize("entity, ident", [("staff", NEW_STAFF), ("person", "BL-1")])
    def test_a_malformed_person_rejects_the_record(self, bad: object, entity: str, ident: str) -> None:
        reason = _reason(registry(entity, ident, "active", person=bad))
        assert reason.startswith("person_invalid") and PERSON_ID not in reason and "mars" not in reason

    def test_a_person_record_needs_a_person(self) -> None:
        assert _reason(registry("person", "BL-1", "blacklisted")).startswith("person_invalid: missing")

    def test_a_person_born_after_the_record_is_ill_formed(self) -> None:
        """RN-2's test on the record's own date: a birth date after it is not well-formed."""
        unborn = resident_id(birth="20270101")
        assert _reason(registry("staff", NEW_STAFF, person=person(unborn))).startswith("person_invalid")

    @pytest.mark.parametrize("status", ["suspended", "revoked", "unknown"])
    def test_a_person_is_only_blacklisted_or_active(self, status: str) -> None:
        reason = _reason(registry("person", "BL-1", status, person=person()))
        assert "status" in reason and "active, blacklisted" in reason

    @pytest.mark.parametrize("ident", ["", "x" * 33, "BL_1", "BL 1", "黑名单"])
    def test_a_person_id_has_its_format(self, ident: str) -> None:
        assert "field 'id'" in _reason(registry("person", ident, "blacklisted", event_id="d-1", person=person()))

    def test_a_person_on_another_entity_is_an_extra_field(self) -> None:
        """Reading: only staff and person records carry a person; on a site it is ignored (kept redacted)."""
        _, item = parse_line(orjson.dumps(registry("site", "S31000001", person="not even an object")))
        assert isinstance(item, RegistryRecord) and item.person is None

    def test_a_valid_person_is_reduced_to_a_hash_and_a_mask(self) -> None:
        _, item = parse_line(orjson.dumps(holder(NEW_STAFF)))
        assert isinstance(item, RegistryRecord)
        assert item.person is not None and len(item.person) == 64 and PERSON_ID not in repr(item)
        assert item.person_masked == PERSON_ID[:3] + "*" * 13 + PERSON_ID[-2:]

    def test_a_rejected_person_records_id_is_masked_in_its_payload(self) -> None:
        """Reading: a person id is any 1-32 of [A-Za-z0-9-], so a document number would pass it; in a reject
        payload it is masked (the fixed formats of the other entities stay plain)."""
        _, item = parse_line(orjson.dumps(registry("person", PERSON_ID, "suspended", event_id="d-2", person=person())))
        assert isinstance(item, Rejection) and item.payload is not None
        assert PERSON_ID not in orjson.dumps(item.payload).decode()
        _, site = parse_line(orjson.dumps(registry("site", "S31000001", "paused", event_id="d-3")))
        assert isinstance(site, Rejection) and site.payload is not None and site.payload["id"] == "S31000001"


class TestAnyArrivalOrder:
    @pytest.mark.parametrize("seed", range(8))
    def test_records_and_events_in_any_order_end_at_the_batch_verdict(self, seed: int) -> None:
        """Shuffled one at a time into the incremental core (advancing in between): check's verdict."""
        import random

        lines = [*reregistered([decision("active", at(2), ref="LIFT")]), holder("P30000003", at(-30)),
                 decision("blacklisted", at(-20), ref="BL-2", number=OTHER_ID), holder("P30000003", at(-10),
                                                                                      number=OTHER_ID),
                 scan_by(NEW_STAFF, "s1", h=1), scan_by(NEW_STAFF, "s2", h=3),
                 sort_scan("s3", at(1), staff="P30000003", waybill="YT0000000002"),
                 acceptance("acc", at(0.5), waybill="YT0000000003", inspection=inspection(at(0.5), inspector=NEW_STAFF))]
        as_of = at(6)
        want = {(v.enterprise_id, v.waybill_no, v.rule_id, v.at) for v in check(lines, as_of=as_of).violations}
        assert {r for _, _, r, _ in want} >= {"PR-3"}
        from tests.rules.builders import standard_registry

        shuffled = standard_registry() + lines
        random.Random(seed).shuffle(shuffled)
        core = RuleCore(default_pack())
        for i, obj in enumerate(shuffled):
            TestLateRecords._feed(core, obj)
            if i % 3 == 0:
                core.advance(parse_instant(at(-100 + i)), finalise=False)
        core.advance(parse_instant(as_of), finalise=False)
        assert {(v.enterprise_id, v.waybill_no, v.rule_id, v.at) for v in core.open_violations()} == want
