"""POST /v1/events: per-event answers, rollback and proceed, duplicates, limits, both body forms, both modes."""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Sequence
from typing import Any

import pytest
import sqlalchemy as sa
from tests.api.apiworld import ENTERPRISE, World, make_tokens
from tests.support.day import copy_store
from fastapi.testclient import TestClient

from greenshield.api.app import create_app
from greenshield.store import schema as t
from greenshield.store.database import Store

ID_NUMBER = "330200195302199992"


def ev(event_id: str, type_: str = "sort_scan", waybill: str = "WBAPI0000001", **extra: Any) -> dict[str, Any]:
    return {"v": 1, "event_id": event_id, "type": type_, "enterprise_id": ENTERPRISE, "waybill_no": waybill,
            "occurred_at": "2026-11-11T09:00:00+08:00", "site_id": "S10000001", "staff_id": "P10000001", **extra}


def acceptance(event_id: str, waybill: str) -> dict[str, Any]:
    sender = {"name": "陈强", "id_type": "resident_id", "id_number": ID_NUMBER, "verified_by": "id_reader"}
    return ev(event_id, "acceptance", waybill, origin_region="320582", destination_region="310101", weight_g=500,
              sender=sender)  # no inspection: IN-1


def post(world: World, events: list[Any], mode: str = "rollback", who: str = "enterprise") -> Any:
    return world.client.post(f"/v1/events?mode={mode}", json=events, headers=world.auth(who))


def stored(world: World, event_id: str) -> int:
    with world.store.read() as conn:
        return int(conn.execute(sa.select(sa.func.count()).select_from(t.events)
                                .where(t.events.c.event_id == event_id)).scalar_one())


class TestAnswers:
    def test_each_event_is_answered_in_order(self, world: World) -> None:
        """accepted, then duplicate for the same event again, rejected with the contract's reason."""
        r = post(world, [ev("api-1"), ev("api-1"), {**ev("api-2"), "occurred_at": "2026-11-11 09:00"}], "proceed")
        assert r.status_code == 200
        body = r.json()
        assert [x["status"] for x in body["results"]] == ["accepted", "duplicate", "rejected"]
        assert "occurred_at" in body["results"][2]["reason"]
        assert body["counts"] == {"accepted": 1, "duplicate": 1, "rejected": 1, "rolled_back": 0}
        assert body["committed"] is True and stored(world, "api-1") == 1 and stored(world, "api-2") == 0

    def test_a_stored_event_sent_again_is_a_duplicate_and_a_changed_one_a_conflict(self, world: World) -> None:
        post(world, [ev("api-3")])
        again = post(world, [ev("api-3")]).json()["results"][0]
        changed = post(world, [{**ev("api-3"), "site_id": "S10000002"}], "proceed").json()["results"][0]
        assert again["status"] == "duplicate"
        assert changed["status"] == "rejected" and "conflicting duplicate" in changed["reason"]
        assert stored(world, "api-3") == 1


class TestModes:
    def test_rollback_stores_nothing_when_one_event_is_invalid(self, world: World) -> None:
        """422, the valid events are rolled_back, and neither they nor the reject are stored."""
        with world.store.read() as conn:
            rejects = conn.execute(sa.select(sa.func.count()).select_from(t.rejects)).scalar_one()
        r = post(world, [ev("rb-1"), {"v": 1, "type": "sort_scan"}], "rollback")
        assert r.status_code == 422
        assert [x["status"] for x in r.json()["results"]] == ["rolled_back", "rejected"]
        assert r.json()["committed"] is False and stored(world, "rb-1") == 0
        with world.store.read() as conn:
            assert conn.execute(sa.select(sa.func.count()).select_from(t.rejects)).scalar_one() == rejects

    def test_proceed_stores_the_valid_ones_and_the_reject(self, world: World) -> None:
        r = post(world, [ev("pr-1"), "not an object"], "proceed")
        assert r.status_code == 200 and stored(world, "pr-1") == 1
        with world.store.read() as conn:
            reasons = conn.execute(sa.select(t.rejects.c.reason).where(t.rejects.c.source.like("api:%"))).scalars()
            assert any("object" in x for x in reasons)

    def test_an_enterprise_sends_only_its_own_events(self, world: World) -> None:
        r = post(world, [{**ev("own-1"), "enterprise_id": "E3300001"}], "proceed")
        assert r.json()["results"][0]["status"] == "rejected" and stored(world, "own-1") == 0


class TestPersonalData:
    def test_odd_keys_and_rejected_lines_leave_no_plain_value_in_any_response(self, world: World) -> None:
        """Case/space-variant sender keys, extra fields and rejected lines carrying the ID number: every
        response (ingest answer, traces, violations, stats) and every stored row holds it masked at most."""
        odd = acceptance("odd-1", "WBAPI0000031")
        odd["sender"] = {**odd["sender"], "Name": "陈强", "id_number ": ID_NUMBER, "phone": ID_NUMBER}
        odd["note"] = f"陈强 {ID_NUMBER}"
        odd["inspection"] = {"inspected_at": odd["occurred_at"], "result": "passed", "category": "docs",
                             "remark": ID_NUMBER}
        bad_site = {**ev("odd-2", waybill="WBAPI0000032"), "site_id": ID_NUMBER}
        bad_weight = {**acceptance("odd-3", "WBAPI0000033"), "weight_g": ID_NUMBER, "remark": "陈强"}
        r = post(world, [odd, bad_site, bad_weight], "proceed")
        assert r.status_code == 200 and [x["status"] for x in r.json()["results"]] == ["accepted", "rejected",
                                                                                        "rejected"]
        texts = [r.text] + [world.get(path, who).text for path, who in (
            ("/v1/parcels/WBAPI0000031/trace", "regulator"), ("/v1/parcels/WBAPI0000031/trace", "enterprise"),
            ("/v1/parcels/WBAPI0000032/trace", "regulator"), ("/v1/violations?limit=500", "regulator"),
            ("/v1/stats", "regulator"))]
        assert "odd-1" in texts[1]  # the trace really shows the event
        with world.store.read() as conn:
            texts += [repr(conn.execute(sa.select(table)).all()) for table in t.metadata.sorted_tables]
        assert [i for i, text in enumerate(texts) if ID_NUMBER in text or "陈强" in text] == []

    def test_persons_of_registry_records_leave_no_plain_value_in_any_response(self, world: World) -> None:
        """Revision 2 §8.2: a staff record's person and a person record carrying the ID number (and a malformed
        one, ``person_invalid``): the ingest answers, the staff record, the traces and every stored row hold
        it masked at most; the re-registered person's parcel is PR-3 at once."""
        def record(event_id: str, entity: str, ident: str, status: str, at: str, person: Any) -> dict[str, Any]:
            return {"v": 1, "type": "registry", "event_id": event_id, "enterprise_id": ENTERPRISE, "occurred_at": at,
                    "entity": entity, "id": ident, "status": status, "person": person}
        person = {"id_type": "resident_id", "id_number": ID_NUMBER, "name": "陈强"}
        records = [record("p-1", "staff", "P10000001", "active", "2026-11-01T00:00:00+08:00", person),
                   record("p-2", "person", "BL-API-1", "blacklisted", "2026-11-05T00:00:00+08:00", person),
                   record("p-3", "person", "BL-API-2", "blacklisted", "2026-11-05T00:00:00+08:00",
                          {"id_type": "resident_id", "id_number": ID_NUMBER[:-1] + "0", "note": "陈强"})]
        r = post(world, records, "proceed", who="registrar")
        assert [x["status"] for x in r.json()["results"]] == ["accepted", "accepted", "rejected"]
        assert r.json()["results"][2]["reason"].startswith("person_invalid")
        answer = post(world, [ev("p-scan", waybill="WBAPI0000041")])
        texts = [r.text, answer.text] + [world.get(path, who).text for path, who in (
            ("/v1/staff/P10000001/record", "regulator"), ("/v1/staff/P10000001/record", "enterprise"),
            ("/v1/staff/P10000001/trace", "auditor"), ("/v1/parcels/WBAPI0000041/trace", "regulator"),
            ("/v1/violations?limit=500", "regulator"))]
        assert "PR-3" in texts[5] and "p-scan" in texts[2]
        with world.store.read() as conn:
            texts += [repr(conn.execute(sa.select(table)).all()) for table in t.metadata.sorted_tables]
        assert [i for i, text in enumerate(texts) if ID_NUMBER in text or ID_NUMBER[:-1] + "0" in text
                or "陈强" in text] == []

    def test_verdicts_follow_at_once_and_the_sender_is_never_stored_plain(self, world: World) -> None:
        """An acceptance without inspection is IN-1 right after the POST; the ID number is stored only masked."""
        r = post(world, [acceptance("acc-1", "WBAPI0000009")])
        assert r.status_code == 200 and ID_NUMBER not in r.text
        trace = world.get("/v1/parcels/WBAPI0000009/trace", "regulator").json()
        assert "IN-1" in {v["rule_id"] for v in trace["violations"]}
        sender = trace["events"][0]["sender"]
        assert sender["id_number_masked"] == "330*************92" and sender["name_masked"] == "陈*"
        with world.store.read() as conn:
            for table in (t.events, t.rejects, t.audit_log, t.queries):
                dump = repr(conn.execute(sa.select(table)).all())
                assert ID_NUMBER not in dump and "陈强" not in dump, table.name


class TestBody:
    def test_json_lines_and_exact_numbers(self, world: World) -> None:
        """JSON Lines works; a weight of 1.0 is not an int (contract §7) in either form."""
        lines = "\n".join(json.dumps(e) for e in (ev("nd-1"), ev("nd-2"))) + "\n\n"
        r = world.client.post("/v1/events", content=lines.encode(),
                              headers={**world.auth("enterprise"), "Content-Type": "application/x-ndjson"})
        assert r.status_code == 200 and r.json()["counts"]["accepted"] == 2
        bad = acceptance("nd-3", "WBAPI0000010")
        text = json.dumps([bad]).replace('"weight_g": 500', '"weight_g": 1.0')
        r = world.client.post("/v1/events?mode=proceed", content=text.encode(),
                              headers={**world.auth("enterprise"), "Content-Type": "application/json"})
        assert r.json()["results"][0]["status"] == "rejected" and "weight_g" in r.json()["results"][0]["reason"]

    @pytest.mark.parametrize("body,ctype,status", [
        (b"", "application/json", 400), (b"[]", "application/json", 400), (b"{}", "application/json", 400),
        (b"[1,", "application/json", 400), (b"x", "text/plain", 415)])
    def test_bad_bodies(self, world: World, body: bytes, ctype: str, status: int) -> None:
        r = world.client.post("/v1/events", content=body, headers={**world.auth("enterprise"), "Content-Type": ctype})
        assert r.status_code == status and set(r.json()) == {"error"}

    def test_batch_limits_are_413(self, world: World) -> None:
        """Over the event limit or the byte limit: 413 and nothing stored."""
        limit = world.settings.api_ingest_max_events
        r = post(world, [ev(f"big-{i}") for i in range(limit + 1)])
        assert r.status_code == 413 and stored(world, "big-0") == 0
        pad = ev("big-pad", padding="x" * (world.settings.api_ingest_max_bytes + 10))
        assert post(world, [pad]).status_code == 413


class FakeProducer:
    def __init__(self, error: BaseException | None = None) -> None:
        self.sent: list[bytes] = []
        self.extra: list[tuple[str, bytes, bytes]] = []
        self.closed = False
        self.error = error

    def deliver(self, lines: list[bytes], timeout: float | None = None,
                extra: Sequence[tuple[str, bytes, bytes]] = ()) -> None:
        if self.error is not None:
            raise self.error
        self.sent.extend(lines)
        self.extra.extend(extra)

    def close(self, timeout: float | None = None) -> None:
        self.closed = True


class TestStreaming:
    def test_streaming_publishes_new_events_and_reports_stored_duplicates(self, seeded: Any, tmp_path: Any) -> None:
        """In streaming mode a new event goes to the producer, a stored one is a duplicate, nothing is stored."""
        settings = dataclasses.replace(copy_store(seeded, tmp_path), api_ingest_mode="streaming")
        store = Store.open(settings.db_url)
        producer = FakeProducer()
        try:
            with TestClient(create_app(settings, store, producer=producer, upkeep_seconds=0)) as client:
                headers = {"Authorization": f"Bearer {make_tokens(store)['enterprise']}"}
                with store.read() as conn:
                    old = conn.execute(sa.select(t.events.c.doc).where(t.events.c.enterprise_id == ENTERPRISE,
                                                                       t.events.c.type == "sort_scan")).scalar()
                assert isinstance(old, str)
                r = client.post("/v1/events", json=[ev("st-1"), json.loads(old)], headers=headers)
                body = r.json()
                assert r.status_code == 200 and body["delivery"] == "kafka"
                assert [x["status"] for x in body["results"]] == ["accepted", "duplicate"]
                assert len(producer.sent) == 1 and json.loads(producer.sent[0])["event_id"] == "st-1"
            assert producer.closed
            with store.read() as conn:
                assert conn.execute(sa.select(t.events.c.entry_id).where(t.events.c.event_id == "st-1")).first() is None
        finally:
            store.close()


class TestStreamingFailures:
    @pytest.mark.parametrize("error", ["timeout", "kafka_timeout", "delivery"])
    def test_an_unacknowledged_batch_is_503_with_retry_after(self, seeded: Any, tmp_path: Any, error: str) -> None:
        """Issue 14: the broker's timeout (the SDK's DeliveryTimeout, or kafka-python's KafkaTimeoutError from a
        send waiting for metadata) and a failed delivery answer 503 with Retry-After (the timeout was a 500)."""
        from kafka.errors import KafkaTimeoutError

        from greenshield.sdk.producer import DeliveryError, DeliveryTimeout

        raised = {"timeout": DeliveryTimeout("1 of 1 message(s) not acknowledged within 30 s"),
                  "kafka_timeout": KafkaTimeoutError("Failed to update metadata after 60.0 secs."),
                  "delivery": DeliveryError("1 of 1 message(s) were not delivered", [("WBAPI0000001", "f-1",
                                                                                       RuntimeError("x"))])}[error]
        settings = dataclasses.replace(copy_store(seeded, tmp_path), api_ingest_mode="streaming")
        store = Store.open(settings.db_url)
        try:
            with TestClient(create_app(settings, store, producer=FakeProducer(raised), upkeep_seconds=0)) as client:
                headers = {"Authorization": f"Bearer {make_tokens(store)['enterprise']}"}
                r = client.post("/v1/events", json=[ev("f-1")], headers=headers)
                assert r.status_code == 503, r.text
                assert r.headers["retry-after"] == "5"
                assert "send it again" in r.json()["error"]["message"]
        finally:
            store.close()

    def test_proceed_publishes_one_masked_reject_per_bad_line(self, seeded: Any, tmp_path: Any) -> None:
        """Streaming proceed: rejected and conflicting lines go to the rejects topic (worker's shape), masked."""
        settings = dataclasses.replace(copy_store(seeded, tmp_path), api_ingest_mode="streaming")
        store = Store.open(settings.db_url)
        producer = FakeProducer()
        try:
            with TestClient(create_app(settings, store, producer=producer, upkeep_seconds=0)) as client:
                headers = {"Authorization": f"Bearer {make_tokens(store)['enterprise']}"}
                bad = {**acceptance("rj-1", "WBAPI0000009"), "weight_g": "heavy"}
                r = client.post("/v1/events?mode=proceed", json=[ev("rj-0"), bad, ev("rj-0", site_id="S10000002")],
                                headers=headers)
                assert [x["status"] for x in r.json()["results"]] == ["accepted", "rejected", "rejected"]
            assert len(producer.sent) == 1
            assert [topic for topic, _, _ in producer.extra] == [settings.rejects_topic] * 2
            docs = [json.loads(value) for _, _, value in producer.extra]
            assert [d["offset"] for d in docs] == [2, 3] and all(d["partition"] == 0 for d in docs)
            assert "conflicting duplicate" in docs[1]["reason"] and docs[1]["key"] == [ENTERPRISE, "rj-0"]
            assert all(ID_NUMBER not in value.decode() for _, _, value in producer.extra)
        finally:
            store.close()


class TestUpkeep:
    def test_upkeep_never_evaluates_events_it_did_not_ingest(self, world: World) -> None:
        """Events stored by another writer (a stream worker) get no verdict from the service's upkeep."""
        from greenshield.store.intake_files import Intake

        service = world.client.app.state.service  # type: ignore[attr-defined]
        Intake(world.store, service.audit.hmac_key).feed([json.dumps(acceptance("up-1", "WBUPKEEP0001")).encode()],
                                                          "worker-like")
        service.upkeep()
        assert world.get("/v1/parcels/WBUPKEEP0001/trace", "regulator").json()["violations"] == []

    def test_a_failed_evaluation_is_retried_by_upkeep(self, world: World, monkeypatch: pytest.MonkeyPatch) -> None:
        """The ingest's evaluation fails (the events stay stored); the next upkeep round evaluates them."""
        import greenshield.api.service as service_module

        monkeypatch.setattr(service_module, "run_pipeline", _failing_once(getattr(service_module, "run_pipeline")))
        assert post(world, [acceptance("up-2", "WBUPKEEP0002")]).status_code == 200
        assert world.get("/v1/parcels/WBUPKEEP0002/trace", "regulator").json()["violations"] == []
        world.client.app.state.service.upkeep()  # type: ignore[attr-defined]
        found = world.get("/v1/parcels/WBUPKEEP0002/trace", "regulator").json()["violations"]
        assert "IN-1" in {v["rule_id"] for v in found}


def _failing_once(real: Any) -> Any:
    state = {"failed": False}

    def run(*args: Any, **kwargs: Any) -> Any:
        if not state["failed"]:
            state["failed"] = True
            raise RuntimeError("store restarting")
        return real(*args, **kwargs)

    return run
