"""Contract §8.1 in ``check``, ``run`` and ``audit verify``: two enterprises' parcels of one waybill are two parcels."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from greenshield.store import schema as t
from greenshield.translog.entries import loads

VICTIM, HOSTILE, WAYBILL = "E3100001", "E3200001", "WB00000001"


def ev(event_id: str, type_: str, enterprise: str, at: str, **extra: Any) -> dict[str, Any]:
    return {"v": 1, "event_id": event_id, "type": type_, "enterprise_id": enterprise, "waybill_no": WAYBILL,
            "occurred_at": at, "site_id": "S10000001", **extra}


def shared_day(tmp_path: Path) -> Path:
    """The victim's sort_scan without an acceptance (TR-1) and the hostile enterprise's staff-less
    scan dated an hour earlier under the same event id and waybill (PR-1, TR-1 of its own)."""
    events = [
        {"v": 1, "event_id": "r1", "type": "registry", "enterprise_id": VICTIM,
         "occurred_at": "2026-01-01T00:00:00+08:00", "entity": "staff", "id": "P10000001", "status": "active"},
        ev("s1", "sort_scan", VICTIM, "2026-11-11T08:00:00+08:00", staff_id="P10000001"),
        ev("s1", "sort_scan", HOSTILE, "2026-11-11T07:00:00+08:00"),
        ev("s2", "sort_scan", VICTIM, "2026-11-11T15:00:00+08:00", staff_id="P10000001", waybill_no="WB00000002"),
    ]
    path = tmp_path / "shared.jsonl"
    path.write_text("".join(json.dumps(e) + "\n" for e in events), encoding="utf-8")
    return path


def violation_rows(db: str) -> list[tuple[str, str, str, str]]:
    engine = sa.create_engine(db)
    with engine.connect() as conn:
        v = t.violations
        rows = conn.execute(sa.select(v.c.enterprise_id, v.c.waybill_no, v.c.rule_id, v.c.doc)).all()
    engine.dispose()
    return sorted((r[0], r[1], r[2], ",".join(loads(r[3])["evidence"])) for r in rows)


def checked(gs: Any, day: Path, capsys: pytest.CaptureFixture[str]) -> list[dict[str, Any]]:
    capsys.readouterr()
    gs("check", day)
    return [json.loads(line) for line in capsys.readouterr().out.splitlines() if line.startswith("{")]


class TestCheckAndRun:
    def test_check_gives_each_parcel_its_own_verdict_in_its_order(self, gs: Any, tmp_path: Path,
                                                                 capsys: pytest.CaptureFixture[str]) -> None:
        found = checked(gs, shared_day(tmp_path), capsys)
        keys = [(v["waybill_no"], v["enterprise_id"], v["rule_id"]) for v in found]
        assert keys == sorted(keys)
        assert {(v["enterprise_id"], v["rule_id"]) for v in found if v["waybill_no"] == WAYBILL} == \
            {(VICTIM, "TR-1"), (HOSTILE, "TR-1"), (HOSTILE, "PR-1")}
        assert all(v["evidence"] == ["s1"] for v in found if v["waybill_no"] == WAYBILL)

    def test_run_stores_two_parcels_and_matches_check(self, gs: Any, db_url: str, tmp_path: Path,
                                                      capsys: pytest.CaptureFixture[str]) -> None:
        day = shared_day(tmp_path)
        want = sorted((v["enterprise_id"], v["waybill_no"], v["rule_id"], ",".join(v["evidence"]))
                      for v in checked(gs, day, capsys))
        assert gs("run", day, "--db", db_url) == 0
        assert violation_rows(db_url) == want
        assert (VICTIM, WAYBILL, "TR-1", "s1") in want and (HOSTILE, WAYBILL, "TR-1", "s1") in want
        engine = sa.create_engine(db_url)
        with engine.connect() as conn:
            c = t.violation_changes
            changes = conn.execute(sa.select(c.c.enterprise_id, c.c.rule_id, c.c.seq)
                                   .where(c.c.waybill_no == WAYBILL)).all()
            entries = [loads(e) for e in conn.execute(sa.select(t.audit_log.c.entry)
                                                      .where(t.audit_log.c.kind == "violation")).scalars()]
        engine.dispose()
        assert sorted(changes) == sorted([(HOSTILE, "PR-1", 1), (HOSTILE, "TR-1", 1), (VICTIM, "TR-1", 1)])
        assert {(e["enterprise_id"], e["rule_id"]) for e in entries if e["waybill_no"] == WAYBILL} == \
            {(VICTIM, "TR-1"), (HOSTILE, "TR-1"), (HOSTILE, "PR-1")}
        assert all(e["v"] == 2 for e in entries)

    def test_a_rerun_changes_nothing(self, gs: Any, db_url: str, tmp_path: Path) -> None:
        day = shared_day(tmp_path)
        assert gs("run", day, "--db", db_url) == 0
        before = violation_rows(db_url)
        assert gs("run", day, "--db", db_url) == 0
        assert violation_rows(db_url) == before


class TestVerify:
    def _store(self, gs: Any, db_url: str, tmp_path: Path) -> None:
        assert gs("run", shared_day(tmp_path), "--db", db_url) == 0
        assert gs("audit", "verify", "--db", db_url) == 0

    def test_moving_a_change_to_the_other_enterprise_is_caught(self, gs: Any, db_url: str, tmp_path: Path,
                                                               capsys: pytest.CaptureFixture[str]) -> None:
        """The change's entry names the enterprise: rewriting it on the row (and the violation with it) fails."""
        self._store(gs, db_url, tmp_path)
        engine = sa.create_engine(db_url)
        with engine.begin() as conn:
            c, v = t.violation_changes, t.violations
            conn.execute(c.update().where(c.c.enterprise_id == HOSTILE, c.c.rule_id == "PR-1")
                         .values(enterprise_id=VICTIM))
            conn.execute(v.update().where(v.c.enterprise_id == HOSTILE, v.c.rule_id == "PR-1")
                         .values(enterprise_id=VICTIM))
        engine.dispose()
        capsys.readouterr()
        assert gs("audit", "verify", "--db", db_url) != 0
        out = capsys.readouterr()
        assert "violation_changes[id=" in out.out + out.err

    def test_moving_a_served_violation_to_the_other_enterprise_is_caught(
            self, gs: Any, db_url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
        self._store(gs, db_url, tmp_path)
        engine = sa.create_engine(db_url)
        with engine.begin() as conn:
            v = t.violations
            conn.execute(v.update().where(v.c.enterprise_id == HOSTILE, v.c.rule_id == "PR-1")
                         .values(enterprise_id=VICTIM))
        engine.dispose()
        capsys.readouterr()
        assert gs("audit", "verify", "--db", db_url) != 0
        out = capsys.readouterr()
        assert f"violations[enterprise_id={VICTIM}, waybill_no={WAYBILL}, rule_id=PR-1]" in out.out + out.err
