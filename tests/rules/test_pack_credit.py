"""A D grade's tightened rule pack changes the verdict the rule core gives (contract §4's X-ray scope)."""

from __future__ import annotations

from builders import acceptance, at, check, custom_pack, journey, replace, without

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
