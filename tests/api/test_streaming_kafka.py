"""Streaming mode against a real broker: POST /v1/events publishes the new events to gs.events.v1 / gs.registry.v1."""

from __future__ import annotations

import dataclasses
import json
import uuid
from pathlib import Path

import pytest
from tests.api.apiworld import ENTERPRISE, make_tokens
from tests.support.day import copy_store
from fastapi.testclient import TestClient

from greenshield.api.app import create_app
from greenshield.translog.keys import sender_key
from greenshield.store.database import Store
from greenshield.sdk.sender import Verifier
from tests.support.stream import consume_all, create_test_topics, delete_test_topics, kafka_security

pytestmark = pytest.mark.kafka


def test_streaming_mode_publishes_to_kafka(kafka_bootstrap: str, seeded: Path, tmp_path: Path) -> None:
    """Parcel events from an enterprise to the events topic, registry records from the registrar to the registry
    topic; an enterprise's registry record is 403 and reaches no topic (exactly one message on each)."""
    host, _, port = kafka_bootstrap.rpartition(":")
    settings = dataclasses.replace(copy_store(seeded, tmp_path), api_ingest_mode="streaming", kafka_host=host,
                                   kafka_port=int(port), kafka_security=kafka_security(), topic_prefix=f"gs.api{uuid.uuid4().hex[:8]}.")
    create_test_topics(settings)
    store = Store.open(settings.db_url)
    try:
        with TestClient(create_app(settings, store, upkeep_seconds=0)) as client:
            issued = make_tokens(store)
            headers = {"Authorization": f"Bearer {issued['enterprise']}"}
            parcel = {"v": 1, "event_id": "k-1", "type": "sort_scan", "enterprise_id": ENTERPRISE,
                      "waybill_no": "KAFKA0000001", "occurred_at": "2026-11-11T09:00:00+08:00",
                      "site_id": "S10000001", "staff_id": "P10000001"}
            record = {"v": 1, "event_id": "k-2", "type": "registry", "enterprise_id": ENTERPRISE,
                      "occurred_at": "2026-11-11T09:00:00+08:00", "entity": "staff", "id": "P10000001",
                      "status": "active"}
            r = client.post("/v1/events", json=[parcel, {"v": 2}], headers=headers, params={"mode": "proceed"})
            assert r.status_code == 200, r.text
            assert [x["status"] for x in r.json()["results"]] == ["accepted", "rejected"]
            r = client.post("/v1/events", json=[record, parcel], headers=headers, params={"mode": "proceed"})
            assert r.status_code == 403, r.text  # an enterprise never writes the registry, not even on Kafka
            r = client.post("/v1/events", json=[record], headers={"Authorization": f"Bearer {issued['registrar']}"})
            assert r.status_code == 200 and r.json()["results"][0]["status"] == "accepted", r.text
        events = consume_all(kafka_bootstrap, settings.events_topic, settings.events_partitions, 1)
        registry = consume_all(kafka_bootstrap, settings.registry_topic, settings.registry_partitions, 1)
        assert [json.loads(m.value)["event_id"] for m in events] == ["k-1"] and events[0].key == b"KAFKA0000001"
        # signed as the token's enterprise, so the worker accepts it as that enterprise's own
        check = Verifier(sender_key(settings)).check(events[0].headers, events[0].value, ENTERPRISE)
        assert check == (None, ENTERPRISE)
        assert [json.loads(m.value)["event_id"] for m in registry] == ["k-2"]
        assert registry[0].key.decode().startswith("staff:P10000001@")
    finally:
        store.close()
        delete_test_topics(settings)


def test_streaming_proceed_publishes_its_rejects_masked(kafka_bootstrap: str, seeded: Path, tmp_path: Path) -> None:
    """Issue 14: in streaming mode `proceed` publishes one reject per rejected or conflicting line to the rejects
    topic, in the worker's message shape, with the payload masked (no plain ID number); the valid event is sent."""
    host, _, port = kafka_bootstrap.rpartition(":")
    settings = dataclasses.replace(copy_store(seeded, tmp_path), api_ingest_mode="streaming", kafka_host=host,
                                   kafka_port=int(port), kafka_security=kafka_security(), topic_prefix=f"gs.api{uuid.uuid4().hex[:8]}.")
    create_test_topics(settings)
    store = Store.open(settings.db_url)
    number = "330200195302199992"
    sender = {"name": "陈强", "id_type": "resident_id", "id_number": number, "verified_by": "id_reader"}
    good = {"v": 1, "event_id": "rj-1", "type": "sort_scan", "enterprise_id": ENTERPRISE,
            "waybill_no": "KAFKA0000002", "occurred_at": "2026-11-11T09:00:00+08:00",
            "site_id": "S10000001", "staff_id": "P10000001"}
    bad = {**good, "event_id": "rj-2", "type": "acceptance", "weight_g": "heavy", "origin_region": "320582",
           "destination_region": "310101", "sender": sender}
    conflict = {**good, "site_id": "S10000002"}
    try:
        with TestClient(create_app(settings, store, upkeep_seconds=0)) as client:
            headers = {"Authorization": f"Bearer {make_tokens(store)['enterprise']}"}
            r = client.post("/v1/events", json=[good, bad, conflict, {"v": 2}], headers=headers,
                            params={"mode": "proceed"})
            assert r.status_code == 200, r.text
            assert [x["status"] for x in r.json()["results"]] == ["accepted", "rejected", "rejected", "rejected"]
        rejects = consume_all(kafka_bootstrap, settings.rejects_topic, settings.rejects_partitions, 3)
        events = consume_all(kafka_bootstrap, settings.events_topic, settings.events_partitions, 1)
        assert [json.loads(m.value)["event_id"] for m in events] == ["rj-1"]
        docs = [json.loads(m.value) for m in rejects]
        assert len(docs) == 3 and [d["offset"] for d in docs] == [2, 3, 4]
        assert {d["v"] for d in docs} == {1} and all(d["topic"].startswith("api:") for d in docs)
        assert "conflicting duplicate" in docs[1]["reason"] and docs[1]["key"] == [ENTERPRISE, "rj-1"]
        assert docs[0]["payload"]["sender"]["id_number_masked"].startswith("330")
        assert all(number not in m.value.decode() for m in rejects)
    finally:
        store.close()
        delete_test_topics(settings)


def test_streaming_ingest_recovers_after_a_refused_batch(kafka_bootstrap: str, seeded: Path, tmp_path: Path) -> None:
    """Issue 14: a batch the broker refuses (an event over the topic's max.message.bytes) is 503 with Retry-After;
    the next batch is accepted and delivered (before, the SDK failed every later flush: 503 until a restart)."""
    from kafka.admin import ConfigResource, ConfigResourceType

    from greenshield.stream.topics import admin_client

    host, _, port = kafka_bootstrap.rpartition(":")
    settings = dataclasses.replace(copy_store(seeded, tmp_path), api_ingest_mode="streaming", kafka_host=host,
                                   kafka_port=int(port), kafka_security=kafka_security(), topic_prefix=f"gs.api{uuid.uuid4().hex[:8]}.")
    create_test_topics(settings)
    admin = admin_client(settings)
    try:
        admin.alter_configs([ConfigResource(ConfigResourceType.TOPIC, settings.events_topic,
                                            configs={"max.message.bytes": "4096"})])
    finally:
        admin.close()
    store = Store.open(settings.db_url)
    parcel = {"v": 1, "event_id": "rc-1", "type": "sort_scan", "enterprise_id": ENTERPRISE,
              "waybill_no": "KAFKA0000003", "occurred_at": "2026-11-11T09:00:00+08:00",
              "site_id": "S10000001", "staff_id": "P10000001"}
    try:
        with TestClient(create_app(settings, store, upkeep_seconds=0)) as client:
            headers = {"Authorization": f"Bearer {make_tokens(store)['enterprise']}"}
            r = client.post("/v1/events", json=[{**parcel, "note": "x" * 20_000}], headers=headers)
            assert r.status_code == 503 and r.headers["retry-after"] == "5", r.text
            r = client.post("/v1/events", json=[{**parcel, "event_id": "rc-2"}], headers=headers)
            assert r.status_code == 200, r.text
            assert r.json()["results"][0]["status"] == "accepted"
        events = consume_all(kafka_bootstrap, settings.events_topic, settings.events_partitions, 1)
        assert [json.loads(m.value)["event_id"] for m in events] == ["rc-2"]
    finally:
        store.close()
        delete_test_topics(settings)
