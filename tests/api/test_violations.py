"""GET /v1/violations: filters, the contract §5 form, and cursor paging that stays stable while violations are added."""

from __future__ import annotations

from typing import Any

from tests.api.apiworld import ENTERPRISE, World

FIELDS = {"waybill_no", "rule_id", "enterprise_id", "severity", "occurred_at", "evidence", "message", "rule_pack",
          "status"}


def all_pages(world: World, query: str, limit: int, between: Any = None) -> list[dict[str, Any]]:
    items, cursor, pages = [], None, 0
    while True:
        suffix = f"&cursor={cursor}" if cursor else ""
        page = world.get(f"/v1/violations?limit={limit}{query}{suffix}", "regulator").json()
        items += page["items"]
        cursor, pages = page["next_cursor"], pages + 1
        if between is not None:
            between(pages)
        if cursor is None:
            return items


class TestForm:
    def test_items_are_contract_violations_with_status(self, world: World) -> None:
        items = world.get("/v1/violations?limit=5", "regulator").json()["items"]
        assert items and all(set(v) == FIELDS for v in items)
        assert all(v["occurred_at"].endswith("Z") and v["rule_pack"] == "greenshield-default@1" for v in items)


class TestFilters:
    def test_each_filter_narrows_as_it_says(self, world: World) -> None:
        everything = all_pages(world, "", 1000)
        rule = everything[0]["rule_id"]
        by_rule = all_pages(world, f"&rule_id={rule}", 1000)
        assert by_rule == [v for v in everything if v["rule_id"] == rule]
        by_ent = all_pages(world, f"&enterprise_id={ENTERPRISE}", 1000)
        assert by_ent == [v for v in everything if v["enterprise_id"] == ENTERPRISE]
        times = sorted(v["occurred_at"] for v in everything)
        lo, hi = times[len(times) // 4], times[3 * len(times) // 4]
        window = all_pages(world, f"&since={lo}&until={hi}", 1000)
        assert window == [v for v in everything if lo <= v["occurred_at"] <= hi]
        assert all_pages(world, "&status=retracted", 1000) == [v for v in everything if v["status"] == "retracted"]

    def test_malformed_parameters_are_4xx_and_not_echoed(self, world: World) -> None:
        for query in ("limit=0", "limit=100000", "since=yesterday", "status=closed", "rule_id=XX", "cursor=%%%",
                      "cursor=bm90IGpzb24", "enterprise_id=330200195302199992"):
            r = world.get(f"/v1/violations?{query}", "regulator")
            assert r.status_code in (400, 422), query
            assert "330200195302199992" not in r.text and "yesterday" not in r.text


class TestPaging:
    def test_pages_join_up_to_the_whole_list(self, world: World) -> None:
        """Paging 7 at a time gives the same list as one page of 1000, each violation once."""
        whole = world.get("/v1/violations?limit=1000", "regulator").json()["items"]
        paged = all_pages(world, "", 7)
        assert paged == whole and len({(v["waybill_no"], v["rule_id"]) for v in paged}) == len(paged)

    def test_paging_is_stable_while_violations_are_added(self, world: World) -> None:
        """New violations between pages: every old one still appears exactly once, in key order."""
        before = world.get("/v1/violations?limit=1000", "regulator").json()["items"]
        waybills = iter(["00000000NEW1", "ZZZZZZZZNEW2", "MMMMMMMMNEW3", "AAAAAAAANEW4"])

        def add(page: int) -> None:
            waybill = next(waybills, None)
            if waybill is None:
                return
            event = {"v": 1, "event_id": f"new-{waybill}", "type": "acceptance", "enterprise_id": ENTERPRISE,
                     "waybill_no": waybill, "occurred_at": "2026-11-11T10:00:00+08:00", "site_id": "S10000001",
                     "staff_id": "P10000001", "origin_region": "310101", "destination_region": "320102",
                     "weight_g": 100}  # no sender, no inspection: RN-1 and IN-1
            r = world.client.post("/v1/events", json=[event], headers=world.auth("enterprise"))
            assert r.status_code == 200

        paged = all_pages(world, "", 10, add)
        keys = [(v["waybill_no"], v["rule_id"]) for v in paged]
        assert keys == sorted(keys) and len(set(keys)) == len(keys)
        assert {(v["waybill_no"], v["rule_id"]) for v in before} <= set(keys)
        now = world.get("/v1/violations?limit=1000", "regulator").json()["items"]
        assert len(now) > len(before)
