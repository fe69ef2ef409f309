"""``/v1/risk/{kind}``, ``/v1/credit``, ``/v1/warnings``, ``POST /v1/sanctions``: what each role sees."""

from __future__ import annotations

import base64
import json

import sqlalchemy as sa
from tests.api.apiworld import ENTERPRISE, World
from tests.support.day import simulated_day

from greenshield.store import schema as t

from greenshield.translog.proofs import check_proof_document
from greenshield.translog.keys import public_key

SANCTION = {"enterprise_id": ENTERPRISE, "decision_ref": "SH-2026-0007", "occurred_at": "2026-11-11T12:00:00+08:00",
            "points": 30, "reason_code": "unlicensed_site"}


def plain_personal() -> set[str]:
    """Every sender name and ID number of the seeded day."""
    found: set[str] = set()
    for line in simulated_day():
        obj = json.loads(line) if line.strip().startswith(b"{") else None
        sender = obj.get("sender") if isinstance(obj, dict) else None
        if isinstance(sender, dict):
            found.update(v.strip() for k in ("name", "id_number") if isinstance(v := sender.get(k), str)
                         and len(v.strip()) >= 2)
    return found


class TestRisk:
    def test_the_regulator_sees_every_kind_ranked(self, world: World) -> None:
        """Each kind answers a ranking, highest score first, with the documented fields; no personal data."""
        values = plain_personal()
        for kind in ("enterprise", "site", "staff", "sender", "machine", "vehicle", "city"):
            r = world.get(f"/v1/risk/{kind}?top=50", "regulator")
            assert r.status_code == 200, kind
            doc = r.json()
            scores = [x["score"] for x in doc["results"]]
            assert scores == sorted(scores, reverse=True) and doc["kind"] == kind
            assert {"interval", "level", "parcels", "violations", "trend", "violation_ids"} <= set(doc["results"][0])
            assert not [v for v in values if v in r.text], kind

    def test_an_enterprise_sees_only_its_own_sources(self, world: World) -> None:
        """Sites, staff, machines of an enterprise token are wholly its own; senders and cities are 403."""
        for kind in ("enterprise", "site", "staff", "machine", "vehicle"):
            results = world.get(f"/v1/risk/{kind}?top=1000", "enterprise").json()["results"]
            assert results and {x["enterprise_id"] for x in results} == {ENTERPRISE}, kind
        assert [x["source"] for x in world.get("/v1/risk/enterprise", "enterprise").json()["results"]] == [ENTERPRISE]
        for kind in ("sender", "city"):
            assert world.get(f"/v1/risk/{kind}", "enterprise").status_code == 403

    def test_parameters(self, world: World) -> None:
        """as_of and window are taken; malformed ones are 422, an unknown kind too."""
        r = world.get("/v1/risk/site?as_of=2026-11-12T00:00:00%2B08:00&window=7d&top=5", "regulator")
        assert r.status_code == 200 and r.json()["window"] == "7d" and len(r.json()["results"]) <= 5
        assert r.json()["as_of"] == "2026-11-11T16:00:00Z"
        for bad in ("/v1/risk/parcel", "/v1/risk/site?window=7w", "/v1/risk/site?as_of=yesterday",
                    "/v1/risk/site?top=0"):
            assert world.get(bad, "regulator").status_code == 422, bad


class TestCredit:
    def test_grades_by_role_and_the_auditor_proves_one(self, world: World) -> None:
        """The regulator sees every enterprise's grade, an enterprise its own; the auditor proves a grade's leaf."""
        every = world.get("/v1/credit?period=2026-11", "regulator").json()["grades"]
        assert len(every) == 5 and all(g["grade"] in "ABCD" and 0 <= g["score"] <= 100 for g in every)
        own = world.get("/v1/credit?period=2026-11", "enterprise").json()["grades"]
        assert [g["enterprise_id"] for g in own] == [ENTERPRISE]
        audited = world.get("/v1/credit?period=2026-11", "auditor").json()["grades"]
        assert audited == every  # the stored grades, as the regulator's request stored them
        with world.store.read() as conn:
            logged = [json.loads(d) for d in conn.execute(sa.select(t.queries.c.doc)).scalars()]
        assert [q["params"]["asked_by"]["role"] for q in logged if q["query"] == "api.credit"] == ["auditor"]
        n = own[0]["audit_entry"]
        proof = world.get(f"/v1/audit/proof/{n}", "auditor").json()
        assert proof["entry"]["kind"] == "grade"
        entry = json.loads(base64.b64decode(proof["entry"]["base64"]))
        assert (entry["enterprise_id"], entry["grade"], entry["period"]) == (ENTERPRISE, own[0]["grade"], "2026-11")
        check_proof_document({k: v for k, v in proof.items() if k != "entry"}, public_key(world.settings))

    def test_only_the_regulator_stores_grades(self, world: World) -> None:
        """A stored D tightens the rule pack: the graded enterprise cannot store a grade, at any ``as_of``."""
        def grade_rows() -> int:
            with world.store.read() as conn:
                return int(conn.execute(sa.select(sa.func.count()).select_from(t.audit_log)
                                        .where(t.audit_log.c.kind == "grade")).scalar_one())

        assert world.get("/v1/credit?period=2026-11", "enterprise").json()["grades"] == []
        assert world.get("/v1/credit?period=2026-11", "auditor").json()["grades"] == []
        early = "/v1/credit?period=2026-11&as_of=2026-11-01T00:00:01Z"
        assert world.get(early, "enterprise").status_code == 403
        assert world.get(early, "auditor").status_code == 403
        assert grade_rows() == 0
        every = world.get("/v1/credit?period=2026-11", "regulator").json()["grades"]
        assert len(every) == 5 and grade_rows() == 5
        assert world.get("/v1/credit?period=2026-11", "enterprise").json()["grades"] == [
            g for g in every if g["enterprise_id"] == ENTERPRISE]

    def test_a_bad_period_is_refused(self, world: World) -> None:
        assert world.get("/v1/credit?period=2026-13", "regulator").status_code == 400
        assert world.get("/v1/credit?period=November", "regulator").status_code == 422


class TestSanctionsAndWarnings:
    def test_only_the_regulator_records_a_sanction_and_it_lowers_the_score(self, world: World) -> None:
        """201 once, 200 for the same again, 409 for the same reference with other content; the grade drops."""
        world.get("/v1/credit?period=2026-11", "regulator")
        before = world.get("/v1/credit?period=2026-11", "enterprise").json()["grades"][0]
        auth = world.auth("regulator")
        first = world.client.post("/v1/sanctions", json=SANCTION, headers=auth)
        assert first.status_code == 201 and first.json()["created"] is True
        assert world.client.post("/v1/sanctions", json=SANCTION, headers=auth).status_code == 200
        assert world.client.post("/v1/sanctions", json={**SANCTION, "points": 31}, headers=auth).status_code == 409
        assert world.client.post("/v1/sanctions", json=SANCTION, headers=world.auth("enterprise")).status_code == 403
        assert world.client.post("/v1/sanctions", json={**SANCTION, "note": "张三"}, headers=auth).status_code == 422
        world.get("/v1/credit?period=2026-11", "regulator")  # the regulator's request grades again
        after = world.get("/v1/credit?period=2026-11", "enterprise").json()["grades"][0]
        assert after["score"] == max(0.0, round(before["score"] - 30, 1)) and after["seq"] == before["seq"] + 1
        assert after["inputs"]["sanctions"] == [first.json()["entry_id"]]

    def test_warnings_are_listed_by_role(self, world: World) -> None:
        """After the grades and a sanction, the regulator lists every warning, an enterprise only its own."""
        world.client.post("/v1/sanctions", json={**SANCTION, "points": 80}, headers=world.auth("regulator"))
        world.get("/v1/credit?period=2026-11", "regulator")
        every = world.get("/v1/warnings", "regulator").json()["items"]
        mine = world.get("/v1/warnings", "enterprise").json()["items"]
        assert any(w["subject_id"] == ENTERPRISE and w["level"] == "D" for w in every)
        assert mine and {w["enterprise_id"] for w in mine} == {ENTERPRISE}
        assert all(w["audit_entry"] is not None for w in every)
        assert world.get("/v1/warnings", "other").json()["items"] == [w for w in every if w["enterprise_id"]
                                                                       == "E3300001"]


def test_a_ranking_is_computed_once_per_state_of_the_store(world: World) -> None:
    """Polling the same ranking reuses it; any new entry in the log (here a sanction) computes it afresh.

    Once the warm snapshot exists, the latest ranking comes from it: a new entry computes nothing.
    """
    cache = world.client.app.state.risk_cache if hasattr(world.client.app.state, "risk_cache") else None  # type: ignore[attr-defined]
    assert cache is None
    first = world.get("/v1/risk/site", "regulator").json()
    assert world.get("/v1/risk/site", "regulator").json() == first
    cache = world.client.app.state.risk_cache  # type: ignore[attr-defined]
    assert len(cache) == 1
    world.client.post("/v1/sanctions", json=SANCTION, headers=world.auth("regulator"))
    second = world.get("/v1/risk/site", "regulator").json()
    assert {**second, "computed_for_entry": None} == {**first, "computed_for_entry": None}  # no ranking changed
    assert second["computed_for_entry"] > first["computed_for_entry"] and second["snapshot"] is False
    assert len(cache) == 2
    assert world.client.app.state.risk_warmer.step()  # type: ignore[attr-defined]
    world.client.post("/v1/sanctions", json={**SANCTION, "decision_ref": "SH-2026-0008"}, headers=world.auth("regulator"))
    warm = world.get("/v1/risk/site", "regulator").json()
    assert warm == {**second, "snapshot": True} and len(cache) == 2  # from the snapshot: nothing computed
