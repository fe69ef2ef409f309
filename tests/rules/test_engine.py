"""The rule core below the batch checker: RuleCore fed typed events directly (§3 order independence)."""

from __future__ import annotations

import random

import orjson
import pytest
from tests.rules.builders import (
    ABSENT, HUB, MACHINE, OUTLET, STATION, acceptance, at, depart, journey, registry, replace, standard_registry,
    utc, without, xray,
)

from greenshield.rules.batch import BatchChecker
from greenshield.rules.engine import RuleCore
from greenshield.rules.model import Event, RegistryRecord
from greenshield.rules.pack import default_pack
from greenshield.rules.parse import validate
from greenshield.rules.timestamps import parse_instant


def typed(items: list[dict]) -> list[Event | RegistryRecord]:
    out = []
    for obj in items:
        item = validate(orjson.loads(orjson.dumps(obj)))
        assert isinstance(item, (Event, RegistryRecord)), item
        out.append(item)
    return out


def core_with(items: list[dict]) -> RuleCore:
    core = RuleCore(default_pack())
    for item in typed(items):
        if isinstance(item, Event):
            core.add_event(item)
        else:
            core.add_record(item)
    return core


def core_verdict(items: list[dict], as_of: str) -> list[dict]:
    core = core_with(items)
    found = []
    for wb in sorted(core.parcels):
        found += [v.to_dict() for _, v in sorted(core.evaluate(wb, parse_instant(as_of)).items())]
    return found


def batch_verdict(items: list[dict], as_of: str) -> list[dict]:
    checker = BatchChecker(default_pack())
    checker.feed([orjson.dumps(i) for i in items])
    return [v.to_dict() for v in checker.verdict(parse_instant(as_of))]


SCENARIOS = [
    ("compliant", journey()),
    ("unscreened", without(journey(), "xr")),
    ("no-acceptance", without(journey(), "acc")),
    ("suspicious-unchecked", replace(journey(), "xr", xray("xr", at(2, 10), result="suspicious"))),
    ("prohibited-moved-on", replace(journey(), "xr", xray("xr", at(2, 10), result="prohibited"))),
    ("no-sender-no-inspection", replace(journey(), "acc", acceptance("acc", at(0), sender=ABSENT, inspection=ABSENT))),
    ("vehicle-missing", replace(journey(), "dep2", depart("dep2", at(3), site=HUB, to=STATION, vehicle=ABSENT))),
    ("two-parcels", journey("YT0000000001", "a") + without(journey("YT0000000002", "b"), "bxr", "bacc")),
]


class TestRuleCoreEqualsBatch:
    """RuleCore.evaluate over typed events gives the batch checker's verdict, in any feeding order."""

    @pytest.mark.parametrize("events", [c[1] for c in SCENARIOS], ids=[c[0] for c in SCENARIOS])
    @pytest.mark.parametrize("as_of", [at(3, 30), at(48)], ids=["mid-journey", "two-days-on"])
    def test_core_verdict_matches_batch_verdict(self, events, as_of):
        """The lower-level path and the batch checker agree, violation for violation."""
        items = standard_registry() + events
        assert core_verdict(items, as_of) == batch_verdict(items, as_of)

    @pytest.mark.parametrize("seed", range(5))
    @pytest.mark.parametrize("events", [c[1] for c in SCENARIOS], ids=[c[0] for c in SCENARIOS])
    def test_feeding_order_does_not_matter(self, events, seed):
        """Events and registry records fed to RuleCore in a shuffled order give the same verdict."""
        items = standard_registry() + events
        shuffled = list(items)
        random.Random(seed).shuffle(shuffled)
        assert core_verdict(shuffled, at(48)) == core_verdict(items, at(48))


class TestAdvance:
    """RuleCore.advance reports what changed: opened, updated, retracted (clock = as_of)."""

    def test_deadline_opens_when_the_clock_reaches_it(self):
        """XR-4 opens at acceptance + 24h exactly, with no new event, and not one second before."""
        core = core_with(standard_registry() + [acceptance("acc", at(0))])
        core.advance(parse_instant(at(0)), finalise=False)
        assert core.advance(parse_instant(at(23, 59, 59)), finalise=False) == []
        changes = core.advance(parse_instant(at(24)), finalise=False)
        assert [(c.kind, c.violation.rule_id) for c in changes] == [("opened", "XR-4")]
        assert changes[0].violation.to_dict()["occurred_at"] == utc(24)

    def test_late_registry_record_retracts(self):
        """An xray on an unknown machine opens XR-2; the machine's record arriving later, dated before, retracts it."""
        events = standard_registry() + [acceptance("acc", at(0)), xray("xr", at(1), machine="X40000001", site=OUTLET)]
        core = core_with(events)
        opened = core.advance(parse_instant(at(1)), finalise=False)
        assert ("opened", "XR-2") in {(c.kind, c.violation.rule_id) for c in opened}
        for rec in typed([registry("xray_machine", "X40000001", "active", at(-1))]):
            core.add_record(rec)
        retracted = core.advance(parse_instant(at(1)), finalise=False)
        assert {(c.kind, c.violation.rule_id) for c in retracted} == {("retracted", "XR-2")}

    def test_earlier_event_updates_the_violation(self):
        """A late-arriving earlier acceptance without sender moves RN-1 to it: an update, not a second violation."""
        core = core_with(standard_registry() + [acceptance("acc2", at(5), sender=ABSENT)])
        core.advance(parse_instant(at(5)), finalise=False)
        for ev in typed([acceptance("acc1", at(1), sender=ABSENT)]):
            core.add_event(ev)
        changes = [c for c in core.advance(parse_instant(at(5)), finalise=False) if c.violation.rule_id == "RN-1"]
        assert [c.kind for c in changes] == ["updated"]
        assert changes[0].violation.evidence == ("acc1",)

    def test_event_after_the_clock_is_not_counted_until_reached(self):
        """An event dated after the clock is held back, and counted once the clock reaches it."""
        core = core_with(standard_registry() + [acceptance("acc", at(0)), xray("xr", at(2), machine=MACHINE,
                                                                                  result="prohibited", site=OUTLET)])
        first = core.advance(parse_instant(at(1)), finalise=False)
        assert "PH-2" not in {c.violation.rule_id for c in first}
        later = core.advance(parse_instant(at(4)), finalise=False)
        assert ("opened", "PH-2") in {(c.kind, c.violation.rule_id) for c in later}
