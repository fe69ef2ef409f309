"""The service over a PostgreSQL store: tokens, statistics (the side tables' catch-up), paging, ingest, proofs."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from tests.api.apiworld import ENTERPRISE, World, make_tokens
from tests.support.day import seed_store, simulated_day
from fastapi.testclient import TestClient

from greenshield.api.app import create_app
from greenshield.store import tokens
from greenshield.store.database import Store
from tests.support.store import isolated_schema, settings_for

pytestmark = pytest.mark.postgres


@pytest.fixture
def pg_world(pg_url: str, tmp_path: Path) -> Iterator[World]:
    with isolated_schema(pg_url) as url:
        settings = settings_for(tmp_path / "var", url)
        seed_store(settings, simulated_day(120, 3))
        store = Store.open(url)
        try:
            with TestClient(create_app(settings, store, upkeep_seconds=0)) as client:
                yield World(client, store, settings, make_tokens(store))
        finally:
            store.close()


def test_the_service_works_on_postgresql(pg_world: World) -> None:
    w = pg_world
    stats = w.get("/v1/stats", "regulator").json()
    items = w.get("/v1/violations?limit=1000", "regulator").json()["items"]
    assert stats["violations"]["open"] == len([v for v in items if v["status"] == "open"]) > 0
    assert stats["systems"][0]["parcels"] > 100 and stats["events"]["total"] > 1000
    paged: list[dict[str, Any]] = []
    cursor = None
    while True:
        page = w.get(f"/v1/violations?limit=3{'&cursor=' + cursor if cursor else ''}", "regulator").json()
        paged += page["items"]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert paged == items
    event = {"v": 1, "event_id": "pg-1", "type": "acceptance", "enterprise_id": ENTERPRISE, "waybill_no": "PGAPI0000001",
             "occurred_at": "2026-11-11T10:00:00+08:00", "site_id": "S10000001", "staff_id": "P10000001",
             "origin_region": "330106", "destination_region": "320102", "weight_g": 100}
    r = w.client.post("/v1/events", json=[event, event], headers=w.auth("enterprise"))
    assert [x["status"] for x in r.json()["results"]] == ["accepted", "duplicate"]
    assert {"RN-1", "IN-1"} <= {v["rule_id"] for v in w.get("/v1/parcels/PGAPI0000001/trace", "regulator").json()["violations"]}
    after = w.get("/v1/stats", "regulator").json()
    assert after["events"]["total"] == stats["events"]["total"] + 1
    assert {p["prefecture"]: p["parcels"] for p in after["by_prefecture"]}.get("330100", 0) == \
        {p["prefecture"]: p["parcels"] for p in stats["by_prefecture"]}.get("330100", 0) + 1
    proof = w.get("/v1/audit/proof/0", "auditor").json()
    assert proof["leaf_index"] == 0 and proof["checkpoint"]["tree_size"] == proof["tree_size"]
    tokens.revoke(w.store, w.tokens["regulator"])
    assert w.get("/v1/stats", "regulator").status_code == 401
