"""``GET /v1/staff/{id}/record`` (contract revision 2 §8.2): a person across enterprises, by role, masked."""

from __future__ import annotations

import json
from typing import Any

import sqlalchemy as sa
from tests.api.apiworld import ENTERPRISE, OTHER, World
from tests.support.day import simulated_day

from greenshield.store import schema as t
from greenshield.translog.entries import loads
from greenshield.rules.privacy import id_hash
from greenshield.rules.batch import BatchChecker
from greenshield.rules.pack import default_pack


def reregistered() -> tuple[str, str, str, str]:
    """(new staff id at ENTERPRISE, old staff id, its enterprise, the person's number) of the simulated day."""
    reg = [json.loads(x) for x in simulated_day() if b'"registry"' in x]
    banned = {r["person"]["id_number"]: r for r in reg if r["entity"] == "staff" and r["status"] == "blacklisted"
              and "person" in r}
    for r in reg:
        number = (r.get("person") or {}).get("id_number")
        if (r["entity"] == "staff" and r["enterprise_id"] == ENTERPRISE and r["status"] == "active"
                and number in banned and banned[number]["id"] != r["id"]):
            old = banned[number]
            return r["id"], old["id"], old["enterprise_id"], number
    raise AssertionError("the simulated day has no re-registered person")


def responsible(staff: set[str]) -> set[tuple[str, str, str]]:
    """``check``'s violations whose evidence event names one of ``staff`` (an oracle apart from the store)."""
    lines = simulated_day()
    named = set()
    for x in lines:
        ev = json.loads(x)
        if ev.get("staff_id") in staff or (ev.get("inspection") or {}).get("inspector_id") in staff:
            named.add((ev["enterprise_id"], ev["event_id"]))
    checker = BatchChecker(default_pack())
    checker.feed(lines)
    return {(v.enterprise_id, v.waybill_no, v.rule_id) for v in checker.verdict()
            if any((v.enterprise_id, e) in named for e in v.evidence)}


def keys(record: dict[str, Any]) -> set[tuple[str, str, str]]:
    return {(v["enterprise_id"], v["waybill_no"], v["rule_id"]) for v in record["violations"]}


class TestStaffRecord:
    def test_a_regulator_and_an_auditor_see_the_person_across_enterprises(self, world: World) -> None:
        new, old, old_enterprise, number = reregistered()
        for who in ("regulator", "auditor"):
            r = world.get(f"/v1/staff/{new}/record", who)
            assert r.status_code == 200 and number not in r.text
            got = r.json()
            assert got["person"]["id_hash"] == id_hash(world.settings.hmac_key.reveal().encode(), "resident_id", number)
            assert got["person"]["id_number_masked"] == number[:3] + "*" * 13 + number[-2:]
            assert {(s["staff_id"], s["enterprise_id"]) for s in got["staff_ids"]} == {
                (new, ENTERPRISE), (old, old_enterprise)}
            assert {r["entity"] for r in got["registry"]} == {"staff", "person"}
            assert keys(got) == responsible({new, old}) and "PR-3" in {k[2] for k in keys(got)}

    def test_an_enterprise_sees_only_its_own_staff_ids_entries(self, world: World) -> None:
        new, old, old_enterprise, number = reregistered()
        r = world.get(f"/v1/staff/{new}/record", "enterprise")
        assert r.status_code == 200 and number not in r.text and old not in r.text
        got = r.json()
        assert got["staff_ids"] == [{"staff_id": new, "enterprise_id": ENTERPRISE}]
        assert {e["enterprise_id"] for e in got["registry"]} == {ENTERPRISE}
        assert keys(got) == {k for k in responsible({new}) if k[0] == ENTERPRISE}

    def test_another_enterprise_gets_404_as_for_a_staff_id_that_does_not_exist(self, world: World) -> None:
        new, old, _, _ = reregistered()
        mine = world.get(f"/v1/staff/{new}/record", "other")
        missing = world.get("/v1/staff/P00000000/record", "other")
        assert mine.status_code == missing.status_code == 404 and mine.json() == missing.json()
        assert world.get(f"/v1/staff/{old}/record", "enterprise").status_code == 404
        assert world.get("/v1/staff/P00000000/record", "regulator").status_code == 404

    def test_roles_without_the_right_and_malformed_ids(self, world: World) -> None:
        new, *_ = reregistered()
        assert world.get(f"/v1/staff/{new}/record", "registrar").status_code == 403
        assert world.client.get(f"/v1/staff/{new}/record").status_code == 401
        assert world.get("/v1/staff/not-a-staff/record", "regulator").status_code == 422

    def test_each_request_is_logged_without_personal_data(self, world: World) -> None:
        new, _, _, number = reregistered()
        got = world.get(f"/v1/staff/{new}/record", "auditor").json()
        with world.store.read() as conn:
            docs = [loads(d) for d in conn.execute(sa.select(t.queries.c.doc).order_by(t.queries.c.id)).scalars()]
        assert docs[-1]["query"] == "api.staff.record" and docs[-1]["params"]["staff_id"] == new
        assert docs[-1]["results"] == len(got["violations"]) and number not in json.dumps(docs)
