"""Contract §8.1: a parcel is ``(enterprise_id, waybill_no)``; two enterprises' events of one waybill are two parcels."""

from __future__ import annotations

import random

import orjson
from tests.rules.builders import (
    ABSENT, ELSEWHERE, ENTERPRISE, HUB, OTHER_ENTERPRISE, OUTLET, acceptance, arrive, at, check, journey, replace,
    sort_scan, standard_registry,
)

from greenshield.rules.engine import RuleCore
from greenshield.rules.model import Event
from greenshield.rules.pack import default_pack
from greenshield.rules.parse import parse_line
from greenshield.rules.timestamps import parse_instant

VICTIM, HOSTILE = ENTERPRISE, OTHER_ENTERPRISE


def faulty_victim() -> list[dict]:
    """The victim's parcel with one violation of its own: a sender-less acceptance (RN-1)."""
    return replace(journey(), "acc", acceptance("acc", at(0), sender=ABSENT))


def hostile_scan() -> dict:
    """The hostile enterprise's ``sort_scan`` on the victim's waybill, dated before the victim's first event,
    at a site off the victim's path and without staff."""
    return sort_scan("h-scan", at(-1), site=ELSEWHERE, staff=ABSENT, enterprise=HOSTILE)


def apply(live: dict, changes) -> None:
    for ch in changes:
        if ch.kind == "retracted":
            del live[ch.violation.key]
        else:
            live[ch.violation.key] = ch.violation


def key_set(violations) -> set:
    return {(v.enterprise_id, v.waybill_no, v.rule_id, v.at, v.evidence, v.message) for v in violations}


class TestTwoParcelsOfOneWaybill:
    def test_a_hostile_early_scan_does_not_move_the_victims_violations(self):
        """Under revision 1 the earliest event owned the parcel: the hostile scan would take RN-1 over and read
        the victim's event id as evidence. Now the victim's verdict is exactly its verdict alone."""
        alone = check(faulty_victim(), as_of=at(48))
        both = check(faulty_victim() + [hostile_scan()], as_of=at(48))
        victims = [v for v in both.violations if v.enterprise_id == VICTIM]
        assert key_set(victims) == key_set(alone.violations) and alone["RN-1"].evidence == ("acc",)
        hostile = [v for v in both.violations if v.enterprise_id == HOSTILE]
        assert hostile and all(v.evidence == ("h-scan",) for v in hostile)
        assert "RN-1" not in both.rules(enterprise=HOSTILE)

    def test_a_hostile_event_does_not_break_the_victims_path(self):
        """An ``arrive`` elsewhere while the victim's parcel is at its hub broke its path (TK-2) under revision 1;
        now it is only the hostile parcel's event."""
        hostile = arrive("h-arr", at(2, 30), site=ELSEWHERE, frm=HUB, enterprise=HOSTILE)
        out = check(journey() + [hostile], as_of=at(48))
        assert out.rules(enterprise=VICTIM) == set()
        assert out.rules(enterprise=HOSTILE) and all(v.evidence == ("h-arr",) for v in out.violations)

    def test_each_parcel_gets_its_own_verdict(self):
        """Both enterprises post a whole parcel under one waybill: each verdict is the one it has alone."""
        mine = faulty_victim()
        theirs = replace(journey(prefix="t-", enterprise=HOSTILE), "t-scan",
                         sort_scan("t-scan", at(2, 20), staff=ABSENT, enterprise=HOSTILE))
        both = mine + theirs
        random.Random(5).shuffle(both)
        out = check(both, as_of=at(48))
        assert key_set(out.violations) == key_set(check(mine, as_of=at(48)).violations) | \
            key_set(check(theirs, as_of=at(48)).violations)
        assert out.get("RN-1", enterprise=VICTIM) is not None and out.get("RN-1", enterprise=HOSTILE) is None
        assert out.get("PR-1", enterprise=HOSTILE) is not None and out.get("PR-1", enterprise=VICTIM) is None

    def test_a_violation_is_identified_by_enterprise_waybill_and_rule(self):
        """The same rule on the same waybill flags both parcels, once each, each with its own enterprise."""
        events = [sort_scan("a", at(0), site=OUTLET, staff=ABSENT, enterprise=VICTIM),
                  sort_scan("a", at(0), site=OUTLET, staff=ABSENT, enterprise=HOSTILE)]
        out = check(events)
        pr1 = [v for v in out.violations if v.rule_id == "PR-1"]
        assert sorted(v.key for v in pr1) == [(VICTIM, "YT0000000001", "PR-1"), (HOSTILE, "YT0000000001", "PR-1")]
        assert out.stats.parcels == 2

    def test_output_is_sorted_by_waybill_then_enterprise_then_rule(self):
        """``check``'s order is (waybill_no, enterprise_id, rule_id): the waybill leads, as before §8.1."""
        events = [sort_scan("z", at(0), site=OUTLET, staff=ABSENT, enterprise="E9000009"),
                  sort_scan("y", at(0), site=OUTLET, staff=ABSENT, enterprise="E1000001"),
                  sort_scan("x", at(0), site=OUTLET, staff=ABSENT, enterprise="E5000005", waybill="YT0000000000")]
        out = check(events, as_of=at(8))
        keys = [(v.waybill_no, v.enterprise_id, v.rule_id) for v in out.violations]
        assert keys == sorted(keys)
        assert [(w, e) for w, e, _ in keys][0] == ("YT0000000000", "E5000005")
        assert [e for w, e, _ in keys if w == "YT0000000001"] == sorted(e for w, e, _ in keys if w == "YT0000000001")
        assert {e for _, e, _ in keys} == {"E9000009", "E1000001", "E5000005"}


class TestIncrementalCore:
    def test_stream_changes_of_two_parcels_of_one_waybill_equal_the_batch(self):
        """Fed one at a time in any order with advances in between, the open set is the batch verdict, per parcel."""
        items = [parse_line(orjson.dumps(o))[1] for o in standard_registry() + faulty_victim() + [hostile_scan()]
                 + journey(prefix="t-", h=1, enterprise=HOSTILE)]
        want = key_set(check(faulty_victim() + [hostile_scan()] + journey(prefix="t-", h=1, enterprise=HOSTILE),
                             as_of=at(48)).violations)
        random.Random(3).shuffle(items)
        core = RuleCore(default_pack())
        live: dict = {}
        for i, item in enumerate(items):
            if isinstance(item, Event):
                core.add_event(item)
            else:
                core.add_record(item)
            if i % 4 == 0:
                apply(live, core.advance(parse_instant(at(i / 8)), finalise=False))
        apply(live, core.advance(parse_instant(at(48)), finalise=False))
        assert key_set(live.values()) == want
        assert set(core.parcels) == {(VICTIM, "YT0000000001"), (HOSTILE, "YT0000000001")}
