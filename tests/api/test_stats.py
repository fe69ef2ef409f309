"""GET /v1/stats: counts by rule, enterprise, prefecture city and hour, compliance rates, against the raw data."""

from __future__ import annotations

import collections
import json
from datetime import datetime, timedelta
from typing import Any

from tests.api.apiworld import World
from tests.support.day import simulated_day

from greenshield.store.stats import prefecture_of
from greenshield.rules.batch import BatchChecker
from greenshield.rules.pack import default_pack


def all_violations(world: World) -> list[dict[str, Any]]:
    return list(world.get("/v1/violations?limit=1000", "regulator").json()["items"])


def origins() -> dict[str, tuple[str, str | None]]:
    """waybill → (enterprise, prefecture) of each parcel's first acceptance, straight from the simulated lines."""
    out: dict[str, tuple[str, str | None]] = {}
    for line in simulated_day():
        ev = json.loads(line)
        if ev.get("type") == "acceptance" and ev["waybill_no"] not in out:
            out[ev["waybill_no"]] = (ev["enterprise_id"], prefecture_of(ev.get("origin_region")))
    return out


class TestPrefecture:
    def test_prefecture_is_the_first_four_digits_and_00(self) -> None:
        assert prefecture_of("320582") == "320500"
        assert prefecture_of("310115") == "310100"
        assert prefecture_of("3205") is None and prefecture_of(None) is None and prefecture_of("32058X") is None


class TestFigures:
    def test_counts_match_the_violation_list(self, world: World) -> None:
        s = world.get("/v1/stats", "regulator").json()
        items = all_violations(world)
        open_ = [v for v in items if v["status"] == "open"]
        assert s["violations"]["open"] == len(open_)
        assert {r["rule_id"]: r["open"] for r in s["by_rule"]} == dict(collections.Counter(v["rule_id"] for v in open_))
        assert {e["enterprise_id"]: e["open"] for e in s["by_enterprise"] if e["open"]} == \
            dict(collections.Counter(v["enterprise_id"] for v in open_))
        assert sum(h["open"] for h in s["by_hour"]) == len(open_)
        assert all(h["hour"].endswith(":00:00Z") for h in s["by_hour"])

    def test_the_verdict_is_the_batch_checkers(self, world: World) -> None:
        """The stored open violations are exactly what `greenshield check` finds in the same day."""
        checker = BatchChecker(default_pack())
        checker.feed(simulated_day(), "day")
        expected = {(v.waybill_no, v.rule_id) for v in checker.verdict()}
        got = {(v["waybill_no"], v["rule_id"]) for v in all_violations(world) if v["status"] == "open"}
        assert got == expected

    def test_prefecture_table_and_compliance_rates(self, world: World) -> None:
        """Parcels and open violations per origin city, and 1 - violating/accepted per system, from the raw day."""
        s = world.get("/v1/stats", "regulator").json()
        where = origins()
        open_ = [v for v in all_violations(world) if v["status"] == "open"]
        parcels = collections.Counter(p for _, p in where.values())
        violations = collections.Counter(where.get(v["waybill_no"], (None, None))[1] for v in open_)
        table = {r["prefecture"]: r for r in s["by_prefecture"]}
        for code, n in parcels.items():
            assert table[code]["parcels"] == n, code
        for code, n in violations.items():
            assert table[code]["open"] == n, code
        assert table["310100"]["name"] == "上海"
        assert s["events"]["total"] == len([line for line in simulated_day() if line.strip()])
        for row in s["systems"]:
            bad = {v["waybill_no"] for v in open_ if v["rule_id"].startswith(row["system"] + "-") and v["waybill_no"] in where}
            assert row["parcels"] == len(where) and row["violating_parcels"] == len(bad)
            assert abs(row["compliance_rate"] - (1 - len(bad) / len(where))) < 1e-12
        labels = {r["system"]: r["label"] for r in s["systems"]}
        assert labels["RN"].startswith("实名收寄") and labels["IN"].startswith("收寄验视") and labels["XR"].startswith("过机安检")

    def test_events_per_second_follows_ingest(self, world: World) -> None:
        """The rate is stored events per wall-clock second between samples."""
        service = world.client.app.state.service  # type: ignore[attr-defined]
        clock = iter([100.0, 110.0])
        service.rate.clock = lambda: next(clock)
        first = world.get("/v1/stats", "regulator").json()["events"]
        body = [{"v": 1, "event_id": f"rate-{i}", "type": "sort_scan", "enterprise_id": "E3100001",
                 "waybill_no": "WBRATE000001", "occurred_at": "2026-11-11T09:00:00+08:00", "site_id": "S10000001",
                 "staff_id": "P10000001"} for i in range(50)]
        assert world.client.post("/v1/events", json=body, headers=world.auth("enterprise")).status_code == 200
        second = world.get("/v1/stats", "regulator").json()["events"]
        assert second["total"] == first["total"] + 50 and second["per_second"] == 5.0

    def test_a_time_window_bounds_violations_and_parcels(self, world: World) -> None:
        whole = world.get("/v1/stats", "regulator").json()
        hours = [h["hour"] for h in whole["by_hour"]]
        last = datetime.fromisoformat(hours[-1].replace("Z", "+00:00")) - timedelta(seconds=1)
        until = last.strftime("%Y-%m-%dT%H:%M:%SZ")  # the end of the hour before the last
        part = world.get(f"/v1/stats?since={hours[1]}&until={until}", "regulator").json()
        assert part["violations"]["open"] == sum(h["open"] for h in whole["by_hour"][1:-1])
        assert part["systems"][0]["parcels"] < whole["systems"][0]["parcels"]
