"""Traces over the API, the auditor's sender lookup, and the audit log entry each query leaves."""

from __future__ import annotations

import json
from typing import Any

import sqlalchemy as sa
from tests.api.apiworld import World
from tests.support.day import simulated_day

from greenshield.store import schema as t
from greenshield.translog.entries import loads


def queries(world: World) -> list[dict[str, Any]]:
    with world.store.read() as conn:
        return [loads(d) for d in conn.execute(sa.select(t.queries.c.doc).order_by(t.queries.c.id)).scalars()]


def a_sender() -> tuple[str, str, str]:
    """(waybill, id_type, id_number) of a simulated acceptance with a complete sender."""
    for line in simulated_day():
        ev = json.loads(line)
        sender = ev.get("sender") or {}
        if ev.get("type") == "acceptance" and sender.get("id_type") == "resident_id":
            return ev["waybill_no"], sender["id_type"], sender["id_number"]
    raise AssertionError("no sender in the simulated day")


class TestParcel:
    def test_a_parcel_trace_is_ordered_and_masked_and_logged(self, world: World) -> None:
        waybill, _, number = a_sender()
        r = world.get(f"/v1/parcels/{waybill}/trace", "auditor")
        assert r.status_code == 200 and number not in r.text
        trace = r.json()
        assert trace["waybill_no"] == waybill and trace["events"][0]["type"] == "acceptance"
        assert all(isinstance(e["audit_entry"], int) for e in trace["events"])
        sender = trace["events"][0]["sender"]
        assert "id_hash" not in sender and sender["id_number_masked"].startswith(number[:3])
        logged = queries(world)[-1]
        assert logged["query"] == "api.trace.waybill" and logged["params"]["waybill_no"] == waybill
        assert logged["params"]["asked_by"]["role"] == "auditor" and logged["results"] == len(trace["events"])

    def test_unknown_and_malformed_waybills(self, world: World) -> None:
        assert world.get("/v1/parcels/ZZ999999999999/trace", "regulator").status_code == 404
        assert world.get("/v1/parcels/not-a-waybill/trace", "regulator").status_code == 422


class TestOthers:
    def test_vehicle_staff_and_machine_traces(self, world: World) -> None:
        waybill, _, _ = a_sender()
        events = world.get(f"/v1/parcels/{waybill}/trace", "regulator").json()["events"]
        staff = next(e["staff_id"] for e in events if e["staff_id"])
        by_staff = world.get(f"/v1/staff/{staff}/trace", "auditor").json()
        assert waybill in by_staff["waybills"] and all("roles" in e for e in by_staff["events"])
        vehicle = next((e["vehicle_id"] for e in events if e.get("vehicle_id")), None)
        if vehicle:
            legs = world.get(f"/v1/vehicles/{vehicle}/trace", "auditor").json()
            assert waybill in legs["waybills"] and legs["legs"]
        machine = next((e["machine_id"] for e in events if e.get("machine_id")), None)
        if machine:
            screened = world.get(f"/v1/machines/{machine}/trace", "auditor").json()
            assert waybill in screened["waybills"]
        window = world.get(f"/v1/staff/{staff}/trace?from=2000-01-01T00:00:00Z&to=2000-01-02T00:00:00Z", "auditor")
        assert window.json()["events"] == []
        names = [q["query"] for q in queries(world)]
        assert "api.trace.staff" in names


class TestSender:
    def test_the_auditor_finds_a_sender_by_id_number_and_nothing_keeps_it(self, world: World) -> None:
        """POST /v1/senders/lookup: the sender's parcels; the number is in no answer, row or log entry."""
        waybill, id_type, number = a_sender()
        r = world.client.post("/v1/senders/lookup", json={"id_type": id_type, "id_number": f" {number}\u3000"},
                              headers=world.auth("auditor"))
        assert r.status_code == 200 and number not in r.text
        assert waybill in r.json()["waybills"]
        assert r.json()["sender"]["id_number_masked"] == number[:3] + "*" * 13 + number[-2:]
        logged = queries(world)[-1]
        assert logged["query"] == "api.trace.sender" and len(logged["params"]["id_hash"]) == 64
        with world.store.read() as conn:
            for table in (t.queries, t.audit_log):
                assert number not in repr(conn.execute(sa.select(table)).all())

    def test_only_the_auditor_looks_senders_up_and_bad_bodies_are_not_echoed(self, world: World) -> None:
        body = {"id_type": "resident_id", "id_number": "330200195302199992"}
        assert world.client.post("/v1/senders/lookup", json=body, headers=world.auth("regulator")).status_code == 403
        r = world.client.post("/v1/senders/lookup", json={**body, "extra": 1}, headers=world.auth("auditor"))
        assert r.status_code == 422 and "330200195302199992" not in r.text
