"""Contract §8.1 over the API: two enterprises' parcels of one waybill are traced apart, each seen only by its own."""

from __future__ import annotations

from typing import Any

from tests.api.apiworld import ENTERPRISE, OTHER, World

WAYBILL = "SHARED0000000001"
VICTIM_IDS = {"victim-acc", "victim-scan"}


def _event(event_id: str, kind: str, enterprise: str, at: str, **fields: Any) -> dict[str, Any]:
    return {"v": 1, "event_id": event_id, "type": kind, "enterprise_id": enterprise, "waybill_no": WAYBILL,
            "occurred_at": at, "site_id": "S10000001", **fields}


def share_a_waybill(world: World) -> None:
    """The victim accepts a parcel without a sender (RN-1, IN-1); the hostile enterprise posts a staff-less
    ``sort_scan`` on the same waybill dated an hour before (under revision 1 it took the parcel over)."""
    victim = [_event("victim-acc", "acceptance", ENTERPRISE, "2026-11-11T10:00:00+08:00", staff_id="P10000001",
                     origin_region="310101", destination_region="320102", weight_g=100),
              _event("victim-scan", "sort_scan", ENTERPRISE, "2026-11-11T10:30:00+08:00", staff_id="P10000001")]
    hostile = [_event("hostile-scan", "sort_scan", OTHER, "2026-11-11T09:00:00+08:00")]
    for who, events in (("enterprise", victim), ("other", hostile)):
        r = world.client.post("/v1/events", json=events, headers=world.auth(who))
        assert r.status_code == 200, r.text


class TestSharedWaybill:
    def test_the_regulator_sees_two_parcels_apart(self, world: World) -> None:
        share_a_waybill(world)
        trace = world.get(f"/v1/parcels/{WAYBILL}/trace", "regulator").json()
        assert [p["enterprise_id"] for p in trace["parcels"]] == sorted([ENTERPRISE, OTHER])
        for parcel in trace["parcels"]:
            assert parcel["events"] and all(e["enterprise_id"] == parcel["enterprise_id"] for e in parcel["events"])
            assert all(v["enterprise_id"] == parcel["enterprise_id"] for v in parcel["violations"])
            own = {e["event_id"] for e in parcel["events"]}
            assert all(set(v["evidence"]) <= own for v in parcel["violations"])
        assert trace["events"] == [e for p in trace["parcels"] for e in p["events"]]  # parcel after parcel
        victim = next(p for p in trace["parcels"] if p["enterprise_id"] == ENTERPRISE)
        assert "RN-1" in {v["rule_id"] for v in victim["violations"]}

    def test_an_enterprise_token_sees_only_its_own_parcel(self, world: World) -> None:
        """The hostile token tracing the victim's waybill sees its own scan, none of the victim's event ids,
        and none of the victim's violations (revision 1 gave it RN-1 with the victim's acceptance as evidence)."""
        share_a_waybill(world)
        r = world.get(f"/v1/parcels/{WAYBILL}/trace", "other")
        assert r.status_code == 200
        trace = r.json()
        assert [p["enterprise_id"] for p in trace["parcels"]] == [OTHER]
        assert {e["event_id"] for e in trace["events"]} == {"hostile-scan"}
        assert all(v["enterprise_id"] == OTHER and v["evidence"] == ["hostile-scan"] for v in trace["violations"])
        assert not any(i in r.text for i in VICTIM_IDS)
        mine = world.get(f"/v1/parcels/{WAYBILL}/trace", "enterprise").json()
        assert {e["event_id"] for e in mine["events"]} == VICTIM_IDS and "hostile-scan" not in str(mine)

    def test_violations_belong_to_each_parcel(self, world: World) -> None:
        share_a_waybill(world)
        listed = world.get(f"/v1/violations?limit=1000&enterprise_id={OTHER}", "regulator").json()["items"]
        hostile = [v for v in listed if v["waybill_no"] == WAYBILL]
        assert hostile and all(v["evidence"] == ["hostile-scan"] for v in hostile)
        assert "RN-1" not in {v["rule_id"] for v in hostile}
        own = world.get("/v1/violations?limit=1000", "other").json()["items"]
        assert not any(set(v["evidence"]) & VICTIM_IDS for v in own)
