"""``greenshield run``: the same verdict as ``check``, idempotent re-runs, later evidence retracting violations."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from greenshield.store import schema as t
from greenshield.translog.entries import loads
from greenshield.rules.batch import BatchChecker
from greenshield.rules.pack import default_pack

SAMPLE = Path(__file__).parent.parent / "data" / "sample-day.jsonl"


def simulated(path: Path, parcels: int = 150, seed: int = 11) -> Path:
    try:
        from greenshield.simulate import generate_lines
    except ImportError:  # the simulator is not there: the sample day is one of its days
        path.write_bytes(SAMPLE.read_bytes())
        return path
    path.write_bytes(b"".join(generate_lines(parcels, seed, fault_rate=0.2)))
    return path


def checked(*files: Path) -> set[tuple[str, str, str]]:
    checker = BatchChecker(default_pack())
    for f in files:
        checker.feed(f.read_bytes().splitlines(keepends=True), str(f))
    return {(v.waybill_no, v.rule_id, v.to_dict()["occurred_at"]) for v in checker.verdict()}


def stored_open(gs: Any, db: str, capsys: pytest.CaptureFixture[str]) -> set[tuple[str, str, str]]:
    capsys.readouterr()
    assert gs("violations", "--db", db, "--open", "--json") == 0
    found = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert all(v["status"] == "open" for v in found)
    return {(v["waybill_no"], v["rule_id"], v["occurred_at"]) for v in found}


def counts(db: str) -> dict[str, int]:
    engine = sa.create_engine(db)
    with engine.connect() as conn:
        out = {table.name: int(conn.execute(sa.select(sa.func.count()).select_from(table)).scalar_one())
               for table in (t.events, t.violations, t.violation_changes, t.rejects, t.audit_log)}
        out["tree_size"] = int(conn.execute(sa.select(t.audit_state.c.tree_size)).scalar_one())
    engine.dispose()
    return out


# --- hand-made events for the two-file scenario
T0 = "2026-11-11T08:00:00+08:00"


def ev(event_id: str, type_: str, waybill: str, at: str, **extra: Any) -> dict[str, Any]:
    return {"v": 1, "event_id": event_id, "type": type_, "enterprise_id": "E3100001", "waybill_no": waybill,
            "occurred_at": at, "site_id": "S10000001", "staff_id": "P10000001", **extra}


def acceptance(event_id: str, waybill: str, at: str, staff: str = "P10000001") -> dict[str, Any]:
    return ev(event_id, "acceptance", waybill, at, staff_id=staff, origin_region="310000",
              destination_region="310100", weight_g=500, contract_customer_id="C10000001",
              inspection={"inspector_id": staff, "inspected_at": at, "result": "passed", "category": "books"})


def registry(event_id: str, entity: str, ident: str, at: str, status: str = "active") -> dict[str, Any]:
    return {"v": 1, "event_id": event_id, "type": "registry", "enterprise_id": "E3100001", "occurred_at": at,
            "entity": entity, "id": ident, "status": status}


def jsonl(path: Path, events: list[dict[str, Any]]) -> Path:
    path.write_text("".join(json.dumps(e, ensure_ascii=False) + "\n" for e in events), encoding="utf-8")
    return path


def first_file(tmp_path: Path) -> Path:
    return jsonl(tmp_path / "day1.jsonl", [
        registry("r1", "staff", "P10000001", "2026-01-01T00:00:00+08:00"),
        registry("r2", "contract_customer", "C10000001", "2026-01-01T00:00:00+08:00"),
        ev("a1", "sort_scan", "WB00000001", T0),                                   # TR-1: no acceptance in 6 h
        acceptance("c1", "WB00000003", "2026-11-11T09:00:00+08:00", staff="P20000002"),  # PR-1: unregistered
        acceptance("b1", "WB00000002", "2026-11-11T15:00:00+08:00"),                # moves the clock to 15:00
    ])


def second_file(tmp_path: Path, first: Path) -> Path:
    overlap = [json.loads(line) for line in first.read_text().splitlines()]
    return jsonl(tmp_path / "day2.jsonl", overlap[2:] + [
        acceptance("a0", "WB00000001", "2026-11-11T07:30:00+08:00"),               # the missing acceptance
        registry("r3", "staff", "P20000002", "2026-11-01T00:00:00+08:00"),         # late: licensed before
    ])


def statuses(db: str) -> dict[tuple[str, str], str]:
    engine = sa.create_engine(db)
    with engine.connect() as conn:
        rows = conn.execute(sa.select(t.violations.c.waybill_no, t.violations.c.rule_id, t.violations.c.status))
        out = {(w, r): s for w, r, s in rows}
    engine.dispose()
    return out


class TestSameVerdictAsCheck:
    def test_open_violations_equal_the_checkers_verdict(self, gs: Any, db_url: str, tmp_path: Path,
                                                        capsys: pytest.CaptureFixture[str]) -> None:
        """`run` on a simulated day, then `violations --open`, gives `check`'s (waybill, rule, occurred_at)."""
        day = simulated(tmp_path / "day.jsonl")
        assert gs("run", day, "--db", db_url) == 0
        expected = checked(day)
        assert expected
        assert stored_open(gs, db_url, capsys) == expected

    def test_as_of_is_the_verdict_instant(self, gs: Any, db_url: str, tmp_path: Path,
                                          capsys: pytest.CaptureFixture[str]) -> None:
        """With --as-of the stored verdict is check's at that instant; a later run moves the clock on."""
        day = first_file(tmp_path)
        assert gs("run", day, "--db", db_url, "--as-of", "2026-11-11T13:59:59+08:00") == 0
        assert ("WB00000001", "TR-1") not in statuses(db_url)  # deadline 14:00 not reached
        assert gs("run", day, "--db", db_url) == 0  # clock: latest event, 15:00
        assert statuses(db_url)[("WB00000001", "TR-1")] == "open"
        assert stored_open(gs, db_url, capsys) == checked(day)


class TestIdempotence:
    def test_running_a_file_twice_adds_nothing(self, gs: Any, db_url: str, tmp_path: Path,
                                               capsys: pytest.CaptureFixture[str]) -> None:
        """The second run stores no event, change, reject or audit entry; the tree keeps its size."""
        day = simulated(tmp_path / "day.jsonl", parcels=80, seed=5)
        assert gs("run", day, "--db", db_url) == 0
        before = counts(db_url)
        assert gs("run", day, "--db", db_url) == 0
        assert counts(db_url) == before
        assert "stored=0" in capsys.readouterr().err


class TestLaterEvidence:
    def test_a_second_overlapping_file_adds_only_new_events_and_retracts(self, gs: Any, db_url: str,
                                                                         tmp_path: Path,
                                                                         capsys: pytest.CaptureFixture[str]) -> None:
        """An acceptance before the TR-1 deadline and a late staff licence retract TR-1 and PR-1."""
        one = first_file(tmp_path)
        two = second_file(tmp_path, one)
        assert gs("run", one, "--db", db_url) == 0
        before = statuses(db_url)
        assert before[("WB00000001", "TR-1")] == "open"
        assert before[("WB00000003", "PR-1")] == "open"
        events_before = counts(db_url)["events"]
        assert gs("run", two, "--db", db_url) == 0
        assert counts(db_url)["events"] == events_before + 2
        after = statuses(db_url)
        assert after[("WB00000001", "TR-1")] == "retracted"
        assert after[("WB00000003", "PR-1")] == "retracted"
        assert stored_open(gs, db_url, capsys) == checked(one, two)

    def test_each_status_change_is_an_audit_entry(self, gs: Any, db_url: str, tmp_path: Path) -> None:
        """A retracted violation has two recorded changes, open then retracted, each logged."""
        one = first_file(tmp_path)
        gs("run", one, "--db", db_url)
        gs("run", second_file(tmp_path, one), "--db", db_url)
        engine = sa.create_engine(db_url)
        with engine.connect() as conn:
            c = t.violation_changes
            rows = conn.execute(sa.select(c.c.id, c.c.seq, c.c.status)
                                .where(c.c.waybill_no == "WB00000001", c.c.rule_id == "TR-1")
                                .order_by(c.c.seq)).all()
            logged = conn.execute(sa.select(t.audit_log.c.entry)
                                  .where(t.audit_log.c.id.in_([r.id for r in rows]))).scalars().all()
        engine.dispose()
        assert [(r.seq, r.status) for r in rows] == [(1, "open"), (2, "retracted")]
        assert sorted(loads(e)["status"] for e in logged) == ["open", "retracted"]


class TestRejects:
    def test_rejects_keep_reason_source_line_and_a_masked_payload(self, gs: Any, db_url: str,
                                                                  tmp_path: Path) -> None:
        """A bad line and a conflicting duplicate are stored with where and why; the sender is masked."""
        good = acceptance("x1", "WB00000009", T0)
        good["sender"] = {"name": "张三丰", "id_type": "passport", "id_number": "E12345678", "verified_by": "manual"}
        bad = dict(good, event_id="x2", weight_g=-1)
        conflict = dict(good, weight_g=900)
        day = tmp_path / "rejects.jsonl"
        day.write_text("\n".join(json.dumps(e, ensure_ascii=False) for e in (good, bad, conflict)) + "\n{oops\n",
                       encoding="utf-8")
        assert gs("run", day, "--db", db_url) == 0
        engine = sa.create_engine(db_url)
        with engine.connect() as conn:
            rows = conn.execute(sa.select(t.rejects).order_by(t.rejects.c.position)).all()
        engine.dispose()
        assert [r.position for r in rows] == [2, 3, 4]
        assert all(r.source == str(day.resolve()) for r in rows)
        assert "weight_g" in rows[0].reason and "conflicting duplicate" in rows[1].reason
        assert (rows[1].enterprise_id, rows[1].event_id) == ("E3100001", "x1")
        assert rows[2].payload is None
        for r in rows[:2]:
            sender = loads(r.payload)["sender"]
            assert "name" not in sender and sender["name_masked"] == "张**"
            assert "id_number" not in sender and sender["id_number_masked"] == "E12****78"
        assert gs("run", day, "--db", db_url) == 0
        assert counts(db_url)["rejects"] == 3  # a re-run stores no reject twice


class TestLongFractions:
    @pytest.mark.postgres
    def test_a_300_digit_fraction_is_stored_and_read_back_exactly(self, gs: Any, pg_url: str,
                                                                  tmp_path: Path) -> None:
        """Contract §1 allows any number of fraction digits: PostgreSQL stores them (Text, not VARCHAR(64)),
        the run sets its clock to that instant, and verify passes (VARCHAR(64) failed the insert)."""
        from tests.support.store import isolated_schema

        digits = "123456789" * 33 + "123"  # 300 digits, no trailing zero (the instant keeps none)
        at = f"2026-11-11T08:00:00.{digits}+08:00"
        event = acceptance("long-frac-1", "WB00000077", at)
        day = tmp_path / "long.jsonl"
        day.write_text(json.dumps(event) + "\n", encoding="utf-8")
        with isolated_schema(pg_url) as db:
            assert gs("run", day, "--db", db) == 0
            engine = sa.create_engine(db)
            with engine.connect() as conn:
                row = conn.execute(sa.select(t.events.c.occurred_at, t.events.c.at_frac, t.events.c.doc)).one()
                clock = conn.execute(sa.select(t.run_state.c.as_of_frac)).scalar_one()
            engine.dispose()
            assert row.occurred_at == at and row.at_frac == digits and loads(row.doc)["occurred_at"] == at
            assert clock == digits
            assert gs("audit", "verify", "--db", db) == 0
