"""The registry has one writer over HTTP: registry records only from a registrar or regulator token.

Rows "an enterprise × registry: may not write" and "the registry feed (registrar) / the
regulator × registry: may write; × events: may not" of docs/security.md. The attack is
the one measured in issue 11: an enterprise blacklists another enterprise's staff,
back-dated, to open violations against it.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Iterator
from typing import Any

import pytest
import sqlalchemy as sa
from tests.api.apiworld import ENTERPRISE, OTHER, World, make_tokens
from tests.support.day import copy_store
from fastapi.testclient import TestClient

from greenshield.api.app import create_app
from greenshield.store import schema as t
from greenshield.store.database import Store

BACK_DATED = "2026-01-01T00:00:00+08:00"  # before every event of the simulated day


def other_staff(world: World) -> list[str]:
    """Staff ids that appear in the other enterprise's stored events."""
    with world.store.read() as conn:
        found = conn.execute(sa.select(t.events.c.staff_id).distinct()
                             .where(t.events.c.enterprise_id == OTHER, t.events.c.staff_id.is_not(None))).scalars()
        return sorted(found)


def blacklist(staff: list[str], sender: str = ENTERPRISE, prefix: str = "atk") -> list[dict[str, Any]]:
    """Registry records blacklisting ``staff`` from before the day, stated under ``sender``'s id."""
    return [{"v": 1, "type": "registry", "event_id": f"{prefix}-{n}", "enterprise_id": sender,
             "occurred_at": BACK_DATED, "entity": "staff", "id": s, "status": "blacklisted"}
            for n, s in enumerate(staff)]


def parcel(event_id: str, enterprise: str = ENTERPRISE) -> dict[str, Any]:
    return {"v": 1, "event_id": event_id, "type": "sort_scan", "enterprise_id": enterprise,
            "waybill_no": "WBREG0000001", "occurred_at": "2026-11-11T09:00:00+08:00", "site_id": "S10000001",
            "staff_id": "P10000001"}


def open_violations(world: World, enterprise: str = OTHER) -> set[tuple[str, str]]:
    """The enterprise's open (waybill, rule) pairs, as the regulator reads them."""
    found: set[tuple[str, str]] = set()
    cursor = ""
    while True:
        r = world.get(f"/v1/violations?enterprise_id={enterprise}&status=open&limit=1000{cursor}", "regulator")
        assert r.status_code == 200, r.text
        found |= {(v["waybill_no"], v["rule_id"]) for v in r.json()["items"]}
        if r.json()["next_cursor"] is None:
            return found
        cursor = f"&cursor={r.json()['next_cursor']}"


def counts(world: World) -> tuple[int, int]:
    """Stored events and rejects: a refused batch changes neither."""
    with world.store.read() as conn:
        return (int(conn.execute(sa.select(sa.func.count()).select_from(t.events)).scalar_one()),
                int(conn.execute(sa.select(sa.func.count()).select_from(t.rejects)).scalar_one()))


def post(world: World, events: list[Any], who: str, mode: str = "rollback") -> Any:
    return world.client.post(f"/v1/events?mode={mode}", json=events, headers=world.auth(who))


class TestEnterpriseCannotWriteTheRegistry:
    @pytest.mark.parametrize("mode", ["rollback", "proceed"])
    def test_the_back_dated_blacklist_is_403_and_no_verdict_changes(self, world: World, mode: str) -> None:
        """Issue 11's attack: 403 naming the lines, nothing stored (not even a reject), the other enterprise's
        open violations unchanged. Its own parcel event in the same batch is refused with it."""
        staff = other_staff(world)
        assert len(staff) >= 3
        before, stored = open_violations(world), counts(world)
        r = post(world, [parcel("own-ok"), *blacklist(staff)], "enterprise", mode)
        assert r.status_code == 403, r.text
        message = r.json()["error"]["message"]
        assert message.startswith("line(s) 2, 3, 4") and "registry records" in message
        assert "enterprise token may not send" in message and "Nothing of the batch was stored" in message
        assert counts(world) == stored
        assert open_violations(world) == before

    def test_the_same_records_from_the_registrar_do_open_violations(self, world: World) -> None:
        """The control: the records refused above are effective ones, so the 403 is what kept the verdicts."""
        before = open_violations(world)
        r = post(world, blacklist(other_staff(world)), "registrar")
        assert r.status_code == 200, r.text
        assert r.json()["counts"]["accepted"] == len(other_staff(world))
        after = open_violations(world)
        assert len(after) > len(before) + 10 and {rule for _, rule in after - before} >= {"PR-2"}

    def test_lifting_its_own_suspensions_is_refused_too(self, world: World) -> None:
        """An enterprise cannot clear its own staff either (`active`, dated at the events): 403."""
        record = {**blacklist(["P10000001"])[0], "status": "active"}
        assert post(world, [record], "enterprise").status_code == 403

    @pytest.mark.parametrize("line", [
        {"v": 1, "type": "registry", "event_id": "bad-1"},                        # invalid: still a registry claim
        {"v": 1, "type": "registry", "event_id": "bad-2", "enterprise_id": OTHER,  # another enterprise's id
         "occurred_at": BACK_DATED, "entity": "staff", "id": "P10000001", "status": "blacklisted"}])
    def test_any_line_declaring_registry_is_refused(self, world: World, line: dict[str, Any]) -> None:
        stored = counts(world)
        r = post(world, [line], "enterprise", "proceed")
        assert r.status_code == 403 and r.json()["error"]["message"].startswith("line(s) 1 ")
        assert counts(world) == stored

    def test_json_lines_name_the_lines_and_cap_the_list(self, world: World) -> None:
        """A long batch names the first ten lines and how many more."""
        body = "\n".join(json.dumps(r) for r in blacklist([f"P2{n:07d}" for n in range(15)])).encode()
        r = world.client.post("/v1/events", content=body,
                              headers={**world.auth("enterprise"), "Content-Type": "application/x-ndjson"})
        assert r.status_code == 403
        assert "line(s) 1, 2, 3, 4, 5, 6, 7, 8, 9, 10 and 5 more of the batch" in r.json()["error"]["message"]


class TestRegistryWriters:
    def test_the_regulator_may_post_registry_records_and_they_take_effect(self, world: World) -> None:
        before = open_violations(world)
        r = post(world, blacklist(other_staff(world), prefix="reg"), "regulator")
        assert r.status_code == 200 and r.json()["committed"] is True, r.text
        assert len(open_violations(world)) > len(before) + 10

    @pytest.mark.parametrize("who", ["registrar", "regulator"])
    def test_a_registry_writer_posting_a_parcel_event_gets_403(self, world: World, who: str) -> None:
        """Not an enterprise: a parcel event from it (alone, or beside registry records) is 403, nothing stored."""
        stored = counts(world)
        r = post(world, [parcel("reg-parcel")], who, "proceed")
        assert r.status_code == 403 and "parcel events" in r.json()["error"]["message"]
        r = post(world, [*blacklist(["P10000001"], prefix="mix"), parcel("reg-parcel-2")], who, "proceed")
        assert r.status_code == 403 and r.json()["error"]["message"].startswith("line(s) 2 ")
        assert counts(world) == stored

    def test_a_registrar_reads_nothing(self, world: World) -> None:
        """It writes the registry and nothing else: verdicts, traces and proofs are 403."""
        for path in ("/v1/violations", "/v1/stats", "/v1/parcels/WBREG0000001/trace", "/v1/audit/checkpoints"):
            assert world.get(path, "registrar").status_code == 403, path


@pytest.fixture
def streaming(seeded: Any, tmp_path: Any) -> Iterator[tuple[TestClient, dict[str, str], list[bytes]]]:
    """The app in streaming mode over a producer that records what it would publish."""
    from tests.api.test_ingest import FakeProducer

    settings = dataclasses.replace(copy_store(seeded, tmp_path), api_ingest_mode="streaming")
    store = Store.open(settings.db_url)
    producer = FakeProducer()
    try:
        with TestClient(create_app(settings, store, producer=producer, upkeep_seconds=0)) as client:
            yield client, make_tokens(store), producer.sent
    finally:
        store.close()


class TestStreamingMode:
    def test_the_same_rule_before_anything_is_published(
            self, streaming: tuple[TestClient, dict[str, str], list[bytes]]) -> None:
        """Streaming ingest: the enterprise's registry records and the registrar's parcel event are 403 and
        nothing reaches Kafka; the registrar's registry record is published."""
        client, tokens, sent = streaming
        record = blacklist(["P10000001"])[0]

        def send(events: list[Any], who: str) -> Any:
            return client.post("/v1/events?mode=proceed", json=events,
                               headers={"Authorization": f"Bearer {tokens[who]}"})

        assert send([parcel("s-1"), record], "enterprise").status_code == 403
        assert send([parcel("s-2")], "registrar").status_code == 403
        assert sent == []
        r = send([record], "registrar")
        assert r.status_code == 200 and r.json()["delivery"] == "kafka"
        assert [json.loads(x)["event_id"] for x in sent] == [record["event_id"]]


def test_openapi_documents_the_role_and_the_403(world: World) -> None:
    doc = world.get("/openapi.json", "regulator").json()
    route = doc["paths"]["/v1/events"]["post"]
    assert "registry records from an enterprise token" in route["responses"]["403"]["description"]
    assert "registrar" in route["description"]
    assert "registrar" in doc["components"]["securitySchemes"]["token"]["description"]
