"""A simulated day with planted risk, through the store: rankings, grades, warnings, proofs, verify.

The day (``greenshield.simulate.planted``): one outlet skipping inspection on 60 % of its
acceptances, one courier suspended all day, one sender posting ten prohibited items across
three enterprises, and one new outlet with a single parcel and a single violation.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson
import pytest
import sqlalchemy as sa

from greenshield.store import schema as t
from greenshield.store.credit_log import list_warnings, store_sanction, stored_grades
from greenshield.translog.entries import canonical, record_entry
from greenshield.translog.keys import public_key
from greenshield.store.audit_log import latest_checkpoint, leaf_hashes, prove_inclusion
from greenshield.translog.merkle import leaf_hash
from greenshield.store.pipeline import Audit, open_audit
from greenshield.store.pipeline import run as run_pipeline
from greenshield.translog.proofs import InclusionProof, check_proof_document
from greenshield.store.risk_report import record_credit, record_risk_warnings, risk_report
from greenshield.store.stats import leaf_entry
from tests.support.store import isolated_schema, settings_for
from greenshield.store.verdicts import latest_parcel_instant
from greenshield.store.verify import verify
from greenshield.rules.privacy import id_hash
from greenshield.risk.model import KINDS, default_model
from greenshield.rules.pack import default_pack
from greenshield.settings import Settings
from greenshield.simulate.day import Simulation
from greenshield.simulate.planted import SENDER_PARCELS, Planted, plant

MODEL = default_model()
PERIOD = "2026-11"


@dataclass
class Day:
    planted: Planted
    lines: list[bytes]
    settings: Settings
    sender_hash: str


@pytest.fixture(scope="module")
def day(tmp_path_factory: pytest.TempPathFactory) -> Day:
    planted = plant(list(Simulation(2000, 11).events()), 11)
    lines = [orjson.dumps(e) for e in planted.events]
    settings = settings_for(tmp_path_factory.mktemp("keys") / "var", "sqlite://")
    return Day(planted, lines, settings, id_hash(b"test-hmac-key", *planted.sender))


def stored(day: Day, url: str) -> Audit:
    audit = open_audit(settings_for(day.settings.data_dir, url))
    run_pipeline(audit, [("planted.jsonl", day.lines)], default_pack())
    audit.sequencer.integrate(close=True)
    return audit


@pytest.fixture(scope="module", params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def audit(request: pytest.FixtureRequest, day: Day, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Audit]:
    """The planted day in a store (SQLite, or a PostgreSQL schema of its own)."""
    if request.param == "sqlite":
        opened = stored(day, f"sqlite:///{tmp_path_factory.mktemp('planted') / 'day.db'}")
        yield opened
        opened.close()
        return
    with isolated_schema(request.getfixturevalue("pg_url")) as url:
        opened = stored(day, url)
        yield opened
        opened.close()


def as_of(audit: Audit) -> int:
    with audit.store.read() as conn:
        latest = latest_parcel_instant(conn)
    assert latest is not None
    return latest[0]


def report(audit: Audit, kind: str, top: int = 20) -> dict[str, Any]:
    with audit.store.read() as conn:
        return risk_report(conn, kind, as_of(audit), MODEL, top=top)


class TestPlantedRisk:
    def test_each_planted_source_ranks_first_in_its_kind(self, audit: Audit, day: Day) -> None:
        """The outlet tops the sites, the courier the staff, the sender (by keyed hash) the senders; all red
        or orange (the highest levels), each with the violation ids behind it."""
        site, staff, sender = (report(audit, k)["results"][0] for k in ("site", "staff", "sender"))
        assert site["source"] == day.planted.outlet and site["violations"].get("IN-1", 0) >= 50
        assert staff["source"] == day.planted.person and staff["violations"] == {"PR-2": 100}
        assert sender["source"] == day.sender_hash and sender["violations"] == {"PROHIBITED": SENDER_PARCELS}
        assert {site["level"], staff["level"], sender["level"]} <= {"orange", "red"}
        assert len(staff["violation_ids"]) == 100 and all(i.endswith("/PR-2") for i in staff["violation_ids"])
        assert site["interval"][0] < site["score"] < site["interval"][1]

    def test_the_small_outlet_stays_out_of_the_top_10(self, audit: Audit, day: Day) -> None:
        """1 parcel, 1 violation: its raw rate is the highest of all, its score is not in the top 10."""
        ranked = report(audit, "site", top=1000)["results"]
        small = next(r for r in ranked if r["source"] == day.planted.small_site)
        assert small["parcels"] == 1 and small["violations"] == {"IN-1": 1}
        assert small["rank"] > 10 and small["level"] is None

    def test_every_kind_answers(self, audit: Audit) -> None:
        """Each of the seven kinds ranks its sources, highest score first, from the same store."""
        for kind in KINDS:
            doc = report(audit, kind)
            scores = [r["score"] for r in doc["results"]]
            assert doc["sources"] > 0 and scores == sorted(scores, reverse=True), kind


class TestDeterminism:
    def test_scores_grades_and_warnings_are_the_same_in_another_store_and_after_a_restart(
            self, audit: Audit, day: Day, tmp_path: Path) -> None:
        """A second store built from the same day, and the first reopened, answer exactly alike; recording
        grades and warnings twice stores nothing the second time."""
        other = stored(day, f"sqlite:///{tmp_path / 'again.db'}")
        try:
            answers = []
            for a in (audit, other, audit):
                docs, grade_warnings = record_credit(a.store, PERIOD, MODEL)
                risk_warnings = record_risk_warnings(a.store, "site", as_of(a), MODEL)
                a.sequencer.integrate(close=True)
                with a.store.read() as conn:
                    answers.append((docs, grade_warnings, risk_warnings, stored_grades(conn, PERIOD),
                                    [report(a, k) for k in KINDS]))
            assert answers[0] == answers[1] == answers[2]
            with audit.store.read() as conn:
                seqs = conn.execute(sa.select(t.grades.c.enterprise_id, sa.func.max(t.grades.c.seq))
                                    .where(t.grades.c.period == PERIOD).group_by(t.grades.c.enterprise_id)).all()
            assert {s for _, s in seqs} == {1}
        finally:
            other.close()
        reopened = open_audit(settings_for(day.settings.data_dir, audit.store.engine.url.render_as_string(False)))
        try:
            with reopened.store.read() as conn:
                assert stored_grades(conn, PERIOD) == answers[0][3]
                assert risk_report(conn, "staff", as_of(reopened), MODEL) == answers[0][4][KINDS.index("staff")]
        finally:
            reopened.store.close()

    def test_the_outlet_warning_is_stored_once(self, audit: Audit, day: Day) -> None:
        """The outlet's level rose from none to red: one warning, stored once however often it is computed."""
        for _ in range(2):
            found = record_risk_warnings(audit.store, "site", as_of(audit), MODEL)
        assert any(w["subject_id"] == day.planted.outlet and w["level"] == "red" for w in found)
        with audit.store.read() as conn:
            listed = [w for w in list_warnings(conn, kind="site") if w["subject_id"] == day.planted.outlet]
        assert len(listed) == 1 and listed[0]["reason"] == "level_rose" and listed[0]["previous_level"] is None


class TestGradesAreLeaves:
    def test_a_grade_has_an_inclusion_proof(self, audit: Audit, day: Day) -> None:
        """A stored grade's leaf is its row's entry (binding the doc's hash); its proof checks against the
        signed checkpoint with the store's public key."""
        record_credit(audit.store, PERIOD, MODEL)
        audit.sequencer.integrate(close=True)
        with audit.store.snapshot() as conn:
            grade = stored_grades(conn, PERIOD)[0]
            n = grade["audit_entry"]
            cp = latest_checkpoint(conn)
            assert cp is not None and n is not None and n < cp.tree_size
            kind, entry = leaf_entry(conn, n) or ("", b"")
            proof = InclusionProof(n, cp.tree_size, leaf_hashes(conn, n, n + 1)[0],
                                   tuple(prove_inclusion(conn, n, cp.tree_size)), cp.root_hash, cp.to_dict())
            row = conn.execute(sa.select(t.grades).where(t.grades.c.enterprise_id == grade["enterprise_id"],
                                                         t.grades.c.period == PERIOD)).mappings().one()
        assert kind == "grade" and entry == record_entry("grade", row) and proof.leaf_hash == leaf_hash(entry)
        doc = {k: v for k, v in grade.items() if k not in ("seq", "audit_entry")}
        assert orjson.loads(entry)["content"] == hashlib.sha256(canonical(doc)).hexdigest()
        check_proof_document(proof.to_dict(), public_key(settings_for(day.settings.data_dir, "")))

    def test_verify_covers_grades_warnings_and_sanctions(self, audit: Audit, day: Day) -> None:
        """audit verify passes with all three kinds stored; an edited grade is a finding naming its row."""
        store_sanction(audit.store, {"enterprise_id": "E3100001", "decision_ref": "SH-2026-0001",
                                     "at_s": as_of(audit) - 3600, "occurred_at": "x", "points": 5,
                                     "reason_code": "unlicensed_site"})
        record_credit(audit.store, PERIOD, MODEL)
        record_risk_warnings(audit.store, "staff", as_of(audit), MODEL)
        audit.sequencer.integrate(close=True)
        key = public_key(settings_for(day.settings.data_dir, ""))
        assert verify(audit.store, key).ok
        with audit.store.write() as conn:
            row = conn.execute(sa.select(t.grades.c.id, t.grades.c.grade).order_by(t.grades.c.id)).first()
            assert row is not None
            conn.execute(t.grades.update().where(t.grades.c.id == row.id)
                         .values(grade="A" if row.grade != "A" else "D"))
        try:
            found = verify(audit.store, key)
            assert not found.ok and any(f"grades[id={row.id}]" in f.message for f in found.findings)
        finally:
            with audit.store.write() as conn:
                conn.execute(t.grades.update().where(t.grades.c.id == row.id).values(grade=row.grade))
        assert verify(audit.store, key).ok
        with audit.store.write() as conn:  # a warning slipped in without its entry
            (wid,) = audit.store.allocate_ids(conn, 1)
            conn.execute(t.warnings.insert().values(id=wid, subject_kind="site", subject_id="S00000000",
                                                    at="2026-11-11T00:00:00Z", level="red", doc="{}"))
        try:
            assert any(f"warnings[id={wid}] has no audit entry" in f.message
                       for f in verify(audit.store, key).findings)
        finally:
            with audit.store.write() as conn:
                conn.execute(t.warnings.delete().where(t.warnings.c.id == wid))

    def test_a_sanction_lowers_the_grade_and_raises_a_warning(self, audit: Audit) -> None:
        """60 sanction points in the period drop the enterprise to D: a new grade (seq + 1) and a warning."""
        record_credit(audit.store, PERIOD, MODEL)
        with audit.store.read() as conn:
            before = {g["enterprise_id"]: g for g in stored_grades(conn, PERIOD)}
        target = "E3200001"
        store_sanction(audit.store, {"enterprise_id": target, "decision_ref": "SH-2026-0099",
                                     "at_s": as_of(audit) - 60, "occurred_at": "x", "points": 60,
                                     "reason_code": "concealed_prohibited_item"})
        docs, warnings = record_credit(audit.store, PERIOD, MODEL)
        with audit.store.read() as conn:
            after = {g["enterprise_id"]: g for g in stored_grades(conn, PERIOD)}
        assert after[target]["grade"] == "D" and after[target]["seq"] == before[target]["seq"] + 1
        assert after[target]["score"] == max(0.0, round(before[target]["score"] - 60, 1))
        assert any(w["subject_id"] == target and w["level"] == "D" for w in warnings)
        others = [e for e in before if e != target]
        assert all(after[e] == before[e] for e in others)
