"""Fuzzing every operation of the OpenAPI document (hypothesis): no input, by any role, gives a 500."""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import quote

from tests.api.apiworld import World
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

ROLES = ("regulator", "auditor", "enterprise", "none", "garbage")
JSON = st.recursive(st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
                    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=12), inner, max_size=6),
                    max_leaves=20)
TEXT = st.one_of(st.text(max_size=40), st.from_regex(r"[A-Z0-9]{8,32}", fullmatch=True),
                 st.from_regex(r"[EVPX][0-9]{7,8}", fullmatch=True), st.sampled_from(
                     ["2026-11-11T00:00:00Z", "2026-11-11T08:00:00.5+08:00", "9999-12-31T23:59:59Z", "0", "-1",
                      "18446744073709551616", "", "../../etc", "%00", "open", "retracted", "XR-1"]))
VALUES = st.one_of(TEXT, st.integers().map(str))


def operations(world: World) -> list[tuple[str, str, list[dict[str, Any]]]]:
    doc = world.client.app.openapi()  # type: ignore[attr-defined]
    return [(method.upper(), path, op.get("parameters", []))
            for path, item in doc["paths"].items() for method, op in item.items()]


def event_like() -> st.SearchStrategy[Any]:
    base = {"v": 1, "event_id": "fz-1", "type": "sort_scan", "enterprise_id": "E3100001", "waybill_no": "FZ00000001",
            "occurred_at": "2026-11-11T08:00:00+08:00", "site_id": "S10000001", "staff_id": "P10000001"}
    mutated = st.dictionaries(st.sampled_from(sorted(base) + ["sender", "inspection", "x"]), JSON, max_size=4)
    return mutated.map(lambda m: {**base, **m})


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture,
                                                                   HealthCheck.too_slow])
@given(data=st.data())
def test_no_request_gets_a_500(world: World, data: st.DataObject) -> None:
    method, path, params = data.draw(st.sampled_from(operations(world)), label="operation")
    role = data.draw(st.sampled_from(ROLES), label="role")
    headers = world.auth(role) if role in world.tokens else ({"Authorization": "Bearer gs_x"} if role == "garbage" else {})
    url, query = path, {}
    for p in params:
        value = data.draw(VALUES, label=p["name"])
        if p["in"] == "path":
            url = url.replace("{" + p["name"] + "}", quote(value, safe="") or "x")
        elif data.draw(st.booleans(), label=f"send {p['name']}"):
            query[p["name"]] = value
    if method == "GET":
        r = world.client.get(url, params=query, headers=headers)
    else:
        body = data.draw(st.one_of(JSON, st.lists(event_like(), max_size=5), event_like()), label="body")
        kind = data.draw(st.sampled_from(["application/json", "application/x-ndjson", "text/plain"]), label="type")
        raw = (json.dumps(body) if kind != "application/x-ndjson" or not isinstance(body, list)
               else "\n".join(json.dumps(b) for b in body))
        r = world.client.post(url, params=query, content=raw.encode(), headers={**headers, "Content-Type": kind})
    assert r.status_code < 500, (method, url, query, r.status_code, r.text[:300])
    c2sp = r.status_code == 200 and path.startswith(("/checkpoint", "/tile/"))  # text/plain, octet-stream (C2SP)
    assert c2sp or r.headers["content-type"].startswith("application/json")
    if r.status_code >= 400:
        body = r.json()
        assert set(body) == {"error"} or (r.status_code == 422 and "results" in body)  # a refused rollback batch
