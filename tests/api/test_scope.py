"""An enterprise token sees only its own enterprise: violations, statistics, traces; errors leak nothing."""

from __future__ import annotations

from typing import Any

from tests.api.apiworld import ENTERPRISE, OTHER, World


def other_violation(world: World) -> dict[str, Any]:
    items = world.get(f"/v1/violations?enterprise_id={OTHER}&limit=1000", "regulator").json()["items"]
    return next(v for v in items if OTHER in v["enterprise_id"])


class TestViolations:
    def test_an_enterprise_lists_only_its_own(self, world: World) -> None:
        """Without a filter, an enterprise token's listing holds only its enterprise's violations."""
        items = world.get("/v1/violations?limit=1000", "enterprise").json()["items"]
        assert items and {v["enterprise_id"] for v in items} == {ENTERPRISE}
        everyone = world.get("/v1/violations?limit=1000", "regulator").json()["items"]
        assert len(everyone) > len(items) and {v["enterprise_id"] for v in everyone} > {ENTERPRISE}

    def test_asking_for_another_enterprise_is_403_and_says_nothing(self, world: World) -> None:
        """enterprise_id of another enterprise: 403 whose body names no waybill or enterprise."""
        r = world.get(f"/v1/violations?enterprise_id={OTHER}", "enterprise")
        assert r.status_code == 403
        assert set(r.json()) == {"error"} and OTHER not in r.text and "waybill" not in r.text

    def test_a_cursor_cannot_reach_another_enterprise(self, world: World) -> None:
        """A cursor made from another enterprise's key still yields only the token's own rows."""
        import base64
        import json

        v = other_violation(world)
        cursor = base64.urlsafe_b64encode(json.dumps(["", "", ""]).encode()).decode().rstrip("=")
        page = world.get(f"/v1/violations?cursor={cursor}&limit=1000", "enterprise").json()
        assert all(x["enterprise_id"] == ENTERPRISE for x in page["items"])
        assert v["waybill_no"] not in json.dumps(page)


class TestTraces:
    def test_another_enterprises_parcel_is_404_like_a_missing_one(self, world: World) -> None:
        """Tracing another enterprise's parcel answers exactly as a waybill that does not exist."""
        v = other_violation(world)
        foreign = world.get(f"/v1/parcels/{v['waybill_no']}/trace", "enterprise")
        missing = world.get("/v1/parcels/ZZ000000000000/trace", "enterprise")
        assert foreign.status_code == missing.status_code == 404
        assert foreign.content == missing.content
        assert world.get(f"/v1/parcels/{v['waybill_no']}/trace", "other").status_code == 200

    def test_staff_and_machine_traces_hold_only_own_events(self, world: World) -> None:
        """A staff or machine of another enterprise: an empty trace for this one, never its events."""
        trace = world.get(f"/v1/parcels/{other_violation(world)['waybill_no']}/trace", "regulator").json()
        ev = next(e for e in trace["events"] if e["staff_id"])
        mine = world.get(f"/v1/staff/{ev['staff_id']}/trace", "enterprise").json()
        theirs = world.get(f"/v1/staff/{ev['staff_id']}/trace", "other").json()
        assert theirs["events"] and all(e["enterprise_id"] == OTHER for e in theirs["events"])
        assert all(e["enterprise_id"] == ENTERPRISE for e in mine["events"])
        xray = next((e for e in trace["events"] if e.get("machine_id")), None)
        if xray is not None:
            seen = world.get(f"/v1/machines/{xray['machine_id']}/trace", "enterprise").json()
            assert all(e["enterprise_id"] == ENTERPRISE for e in seen["events"])

    def test_vehicle_legs_are_only_own(self, world: World) -> None:
        """A vehicle's legs for an enterprise token: only those of its own depart/arrive events."""
        trace = world.get(f"/v1/parcels/{other_violation(world)['waybill_no']}/trace", "regulator").json()
        dep = next((e for e in trace["events"] if e.get("vehicle_id")), None)
        if dep is None:
            return
        full = world.get(f"/v1/vehicles/{dep['vehicle_id']}/trace", "regulator").json()
        mine = world.get(f"/v1/vehicles/{dep['vehicle_id']}/trace", "enterprise").json()
        assert full["legs"]
        assert set(mine["waybills"]) <= set(full["waybills"]) and trace["waybill_no"] not in mine["waybills"]


class TestStatistics:
    def test_an_enterprises_statistics_are_its_own(self, world: World) -> None:
        """/v1/stats for an enterprise token equals the regulator's view filtered to that enterprise."""
        mine = world.get("/v1/stats", "enterprise").json()
        filtered = world.get(f"/v1/stats?enterprise_id={ENTERPRISE}", "regulator").json()
        for key in ("violations", "by_rule", "by_enterprise", "by_prefecture", "systems", "by_hour"):
            assert mine[key] == filtered[key], key
        assert {e["enterprise_id"] for e in mine["by_enterprise"]} == {ENTERPRISE}
        assert world.get(f"/v1/stats?enterprise_id={OTHER}", "enterprise").status_code == 403
