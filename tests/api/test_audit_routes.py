"""Checkpoints, inclusion and consistency proofs over the API: they verify offline against the signing key."""

from __future__ import annotations

import base64
import hashlib

import sqlalchemy as sa
from tests.api.apiworld import World

from greenshield.store import schema as t
from greenshield.translog.checkpoint import Checkpoint, verify_checkpoint
from greenshield.translog.entries import loads
from greenshield.translog.keys import public_key
from greenshield.translog.proofs import check_proof_document


class TestCheckpoints:
    def test_checkpoints_are_signed_by_the_configured_key(self, world: World) -> None:
        doc = world.get("/v1/audit/checkpoints", "auditor").json()
        key = public_key(world.settings)
        assert doc["checkpoints"] and doc["tree_size"] >= doc["checkpoints"][0]["tree_size"]
        for cp in doc["checkpoints"]:
            verify_checkpoint(key, Checkpoint.from_dict(cp))
        served = world.get("/v1/audit/public-key", "auditor").json()
        assert base64.b64decode(served["raw_base64"]) == key.public_bytes_raw()
        assert served["key_id"] == hashlib.sha256(key.public_bytes_raw()).hexdigest()


class TestProofs:
    def test_an_events_inclusion_proof_verifies_with_the_public_key(self, world: World) -> None:
        """The proof of a traced event's audit entry checks with `check_proof_document` and the entry hashes to it."""
        waybill = world.get("/v1/violations?limit=1", "regulator").json()["items"][0]["waybill_no"]
        ev = world.get(f"/v1/parcels/{waybill}/trace", "regulator").json()["events"][0]
        doc = world.get(f"/v1/audit/proof/{ev['audit_entry']}", "auditor").json()
        entry = base64.b64decode(doc["entry"]["base64"])
        assert hashlib.sha256(b"\x00" + entry).hexdigest() == doc["leaf_hash"]
        named = loads(entry)
        assert (named["event_id"], named["enterprise_id"], named["type"]) == (ev["event_id"], ev["enterprise_id"], ev["type"])
        check_proof_document({k: v for k, v in doc.items() if k != "entry"}, public_key(world.settings))

    def test_consistency_between_two_sizes_verifies(self, world: World) -> None:
        size = world.get("/v1/audit/checkpoints", "auditor").json()["checkpoints"][0]["tree_size"]
        doc = world.get(f"/v1/audit/consistency?first={size // 3}&second={size}", "auditor").json()
        check_proof_document(doc, None)
        assert "second_checkpoint" in doc
        if "first_checkpoint" in doc:
            check_proof_document(doc, public_key(world.settings))

    def test_out_of_range_requests(self, world: World) -> None:
        assert world.get("/v1/audit/proof/999999999", "auditor").status_code == 404
        assert world.get("/v1/audit/proof/-1", "auditor").status_code == 422
        assert world.get("/v1/audit/consistency?first=5&second=2", "auditor").status_code == 400
        assert world.get("/v1/audit/consistency?first=1&second=999999999", "auditor").status_code == 400

    def test_auditor_requests_are_logged_and_regulator_checkpoint_reads_are_not(self, world: World) -> None:
        world.get("/v1/audit/proof/3", "auditor")
        world.get("/v1/audit/checkpoints", "regulator")
        with world.store.read() as conn:
            docs = [loads(d) for d in conn.execute(sa.select(t.queries.c.doc)).scalars()]
        assert [d["query"] for d in docs] == ["api.audit.proof"]
        assert docs[0]["params"]["leaf_index"] == 3 and docs[0]["params"]["asked_by"]["role"] == "auditor"
