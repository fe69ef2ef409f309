"""Revision 2 §8.2 in the store: ``run`` flags PR-3 as ``check`` does, late person records reach stored
parcels, and ``greenshield staff-record`` shows a person across enterprises, masked."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from greenshield.store import schema as t
from greenshield.rules.privacy import id_hash
from greenshield.rules.batch import BatchChecker
from greenshield.rules.pack import default_pack


def _resident_id(body17: str) -> str:
    total = sum(int(ch) * pow(2, 17 - k, 11) for k, ch in enumerate(body17))
    c = (12 - total % 11) % 11
    return body17 + ("X" if c == 10 else str(c))


PERSON = _resident_id("31010119850101771")
OTHER = _resident_id("32010219920202452")
A, B = "E3100001", "E3100002"
OLD, NEW, LATER = "P30000001", "P30000002", "P30000003"
T = "2026-11-11T08:00:00+08:00"


def reg(eid: str, ent: str, entity: str, ident: str, status: str, at: str, number: str | None = None) -> dict[str, Any]:
    out = {"v": 1, "type": "registry", "event_id": eid, "enterprise_id": ent, "occurred_at": at, "entity": entity,
           "id": ident, "status": status}
    return out | ({"person": {"id_type": "resident_id", "id_number": number}} if number else {})


def scan(eid: str, ent: str, waybill: str, staff: str, at: str = T) -> dict[str, Any]:
    return {"v": 1, "type": "sort_scan", "event_id": eid, "enterprise_id": ent, "occurred_at": at,
            "waybill_no": waybill, "site_id": "S31000001", "staff_id": staff}


def first_day() -> list[dict[str, Any]]:
    """OLD at A is blacklisted with its person; the person is re-registered at B as NEW."""
    since, banned = "2026-01-01T00:00:00+08:00", "2026-10-01T00:00:00+08:00"
    return [reg("r1", A, "staff", OLD, "active", since, PERSON), reg("r2", A, "staff", OLD, "blacklisted", banned, PERSON),
            reg("r3", A, "person", "BL-A-1", "blacklisted", banned, PERSON),
            reg("r4", B, "staff", NEW, "active", "2026-10-15T00:00:00+08:00", PERSON),
            reg("r5", B, "staff", LATER, "active", "2026-10-15T00:00:00+08:00", OTHER),
            scan("a1", A, "WBA0000001", OLD), scan("b1", B, "WBB0000001", NEW),
            scan("b2", B, "WBB0000002", LATER, "2026-11-11T09:00:00+08:00")]


def late_decision() -> list[dict[str, Any]]:
    """LATER's person blacklisted, dated before LATER's scan, arriving in a later file."""
    return [reg("r6", B, "person", "BL-B-9", "blacklisted", "2026-11-01T00:00:00+08:00", OTHER)]


def jsonl(path: Path, items: list[dict[str, Any]]) -> Path:
    path.write_text("".join(json.dumps(x) + "\n" for x in items))
    return path


def checked(*files: Path) -> set[tuple[str, str, str]]:
    checker = BatchChecker(default_pack())
    for f in files:
        checker.feed(f.read_bytes().splitlines(), str(f))
    return {(v.enterprise_id, v.waybill_no, v.rule_id) for v in checker.verdict()}


def stored_open(db: str) -> set[tuple[str, str, str]]:
    engine = sa.create_engine(db)
    with engine.connect() as conn:
        rows = conn.execute(sa.select(t.violations.c.enterprise_id, t.violations.c.waybill_no,
                                      t.violations.c.rule_id).where(t.violations.c.status == "open")).all()
    engine.dispose()
    return {(str(a), str(b), str(c)) for a, b, c in rows}


def record(gs: Any, capsys: pytest.CaptureFixture[str], db: str, staff: str, *extra: str) -> dict[str, Any]:
    capsys.readouterr()
    assert gs("staff-record", staff, "--db", db, "--json", *extra) == 0
    out = capsys.readouterr().out
    assert PERSON not in out and OTHER not in out
    return dict(json.loads(out))


class TestRunEqualsCheck:
    def test_a_reregistered_person_is_pr3_in_run_as_in_check(self, gs: Any, db_url: str, tmp_path: Path) -> None:
        day = jsonl(tmp_path / "day.jsonl", first_day())
        assert gs("run", day, "--db", db_url) == 0
        want = checked(day)
        assert (B, "WBB0000001", "PR-3") in want and (A, "WBA0000001", "PR-2") in want
        assert (A, "WBA0000001", "PR-3") not in want and (B, "WBB0000002", "PR-3") not in want
        assert stored_open(db_url) == want

    def test_a_late_person_record_reaches_the_stored_parcels_of_its_staff_ids(self, gs: Any, db_url: str,
                                                                               tmp_path: Path) -> None:
        day = jsonl(tmp_path / "day.jsonl", first_day())
        late = jsonl(tmp_path / "late.jsonl", late_decision())
        assert gs("run", day, "--db", db_url) == 0
        assert gs("run", late, "--db", db_url) == 0
        want = checked(day, late)
        assert (B, "WBB0000002", "PR-3") in want
        assert stored_open(db_url) == want

    def test_stored_rows_keep_only_the_keyed_hash(self, gs: Any, db_url: str, tmp_path: Path) -> None:
        day = jsonl(tmp_path / "day.jsonl", first_day() + late_decision())
        assert gs("run", day, "--db", db_url) == 0
        engine = sa.create_engine(db_url)
        with engine.connect() as conn:
            rows = conn.execute(sa.select(t.events.c.entity_id, t.events.c.person_id_hash, t.events.c.doc)
                                .where(t.events.c.type == "registry")).all()
            dump = json.dumps([list(map(str, r)) for table in t.metadata.sorted_tables
                               for r in conn.execute(sa.select(table))])
        engine.dispose()
        assert PERSON not in dump and OTHER not in dump
        hashes = {ident: h for ident, h, _ in rows}
        assert hashes[NEW] == hashes[OLD] == hashes["BL-A-1"] == id_hash(b"test-hmac-key", "resident_id", PERSON)
        assert hashes["BL-B-9"] == hashes[LATER] != hashes[NEW]


class TestStaffRecordCommand:
    @pytest.fixture
    def db(self, gs: Any, tmp_path: Path) -> str:
        url = f"sqlite:///{tmp_path / 'audit.db'}"
        assert gs("run", jsonl(tmp_path / "day.jsonl", first_day() + late_decision()), "--db", url) == 0
        return url

    def test_the_regulators_view_spans_enterprises(self, gs: Any, db: str, capsys: pytest.CaptureFixture[str]) -> None:
        got = record(gs, capsys, db, NEW)
        assert got["person"] == {"id_type": "resident_id", "id_number_masked": PERSON[:3] + "*" * 13 + PERSON[-2:],
                                 "id_hash": id_hash(b"test-hmac-key", "resident_id", PERSON)}
        assert got["staff_ids"] == [{"staff_id": OLD, "enterprise_id": A}, {"staff_id": NEW, "enterprise_id": B}]
        assert [r["event_id"] for r in got["registry"]] == ["r1", "r2", "r3", "r4"]  # time, then arrival
        assert {(v["enterprise_id"], v["waybill_no"], v["rule_id"]) for v in got["violations"]} == {
            (A, "WBA0000001", "PR-2"), (B, "WBB0000001", "PR-3")}
        assert got == record(gs, capsys, db, OLD) | {"staff_id": NEW}  # the same person from either id

    def test_an_enterprise_sees_only_its_own_staff(self, gs: Any, db: str, capsys: pytest.CaptureFixture[str]) -> None:
        got = record(gs, capsys, db, NEW, "--enterprise", B)
        assert got["staff_ids"] == [{"staff_id": NEW, "enterprise_id": B}]
        assert [r["event_id"] for r in got["registry"]] == ["r4"]
        assert {v["waybill_no"] for v in got["violations"]} == {"WBB0000001"}
        capsys.readouterr()
        assert gs("staff-record", NEW, "--db", db, "--enterprise", A) == 1  # not A's staff id: nothing shown
        assert capsys.readouterr().out == ""

    def test_a_staff_id_without_a_person_and_an_unknown_one(self, gs: Any, db: str, tmp_path: Path,
                                                            capsys: pytest.CaptureFixture[str]) -> None:
        assert gs("run", jsonl(tmp_path / "more.jsonl", [reg("r9", A, "staff", "P30000009", "active", T)]),
                  "--db", db) == 0
        got = record(gs, capsys, db, "P30000009")
        assert got["person"] is None and [r["event_id"] for r in got["registry"]] == ["r9"]
        assert gs("staff-record", "P39999999", "--db", db) == 1
        assert gs("staff-record", "nobody", "--db", db) == 2

    def test_the_query_is_logged_without_personal_data(self, gs: Any, db: str,
                                                        capsys: pytest.CaptureFixture[str]) -> None:
        record(gs, capsys, db, NEW)
        engine = sa.create_engine(db)
        with engine.connect() as conn:
            docs = [json.loads(d) for d in conn.execute(sa.select(t.queries.c.doc)).scalars()]
        engine.dispose()
        assert docs[-1]["query"] == "staff.record" and docs[-1]["params"]["staff_id"] == NEW
        assert docs[-1]["results"] == 2

    def test_the_table_form(self, gs: Any, db: str, capsys: pytest.CaptureFixture[str]) -> None:
        capsys.readouterr()
        assert gs("staff-record", NEW, "--db", db) == 0
        out = capsys.readouterr().out
        assert f"{OLD}@{A}" in out and "BL-A-1" in out and "PR-3" in out and PERSON not in out
