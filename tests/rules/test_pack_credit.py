"""A D grade's tightened rule pack changes the verdict the rule core gives (contract §4's X-ray scope)."""

from __future__ import annotations

from tests.rules.builders import acceptance, at, check, custom_pack, journey, replace, without

from greenshield.risk.credit import tightened
from greenshield.risk.model import default_model

SAME_PROVINCE = {"origin": "310101", "destination": "310115"}


def test_a_d_enterprise_is_screened_like_every_parcel() -> None:
    """Under inter_provincial an unscreened same-province parcel is no XR-1/XR-4; under the D pack it is both."""
    events = without(replace(journey(), "acc", acceptance("acc", at(0), **SAME_PROVINCE)), "xr")
    province = custom_pack(xray_scope="inter_provincial")
    assert not {"XR-1", "XR-4"} & check(events, pack=province, as_of=at(48)).rules()
    tight = tightened(province, "D", default_model())
    out = check(events, pack=tight, as_of=at(48))
    assert {"XR-1", "XR-4"} <= out.rules()
    assert {v.rule_pack for v in out.violations} == {"test-pack@7+D"}


def test_the_core_takes_each_enterprise_s_pack() -> None:
    """One core, two enterprises with identical parcels: only the D-graded one gets XR-1/XR-4 (pack_for)."""
    from greenshield.risk.credit import GradeBook
    from greenshield.rules.batch import BatchChecker
    from greenshield.rules.timestamps import parse_instant

    import orjson
    from tests.rules.builders import OTHER_ENTERPRISE, standard_registry

    province = custom_pack(xray_scope="inter_provincial")
    mine = without(replace(journey(), "acc", acceptance("acc", at(0), **SAME_PROVINCE)), "xr")
    theirs = without(replace(journey(enterprise=OTHER_ENTERPRISE, prefix="o-"), "o-acc",
                             acceptance("o-acc", at(0), enterprise=OTHER_ENTERPRISE, **SAME_PROVINCE)), "o-xr")
    book = GradeBook(province, default_model(), [("E1000001", "2026-10", "D"), (OTHER_ENTERPRISE, "2026-10", "C")])
    checker = BatchChecker(province, pack_for=book)
    checker.feed(orjson.dumps(x) for x in standard_registry() + mine + theirs)
    found = checker.verdict(parse_instant(at(48)))
    by = {(v.enterprise_id, v.rule_id): v.rule_pack for v in found}
    assert by[("E1000001", "XR-1")] == by[("E1000001", "XR-4")] == "test-pack@7+D"
    assert not {k for k in by if k[0] == OTHER_ENTERPRISE and k[1] in ("XR-1", "XR-4")}
    assert {r for e, r in by if e == "E1000001"} - {"XR-1", "XR-4"} == {r for e, r in by if e == OTHER_ENTERPRISE}
