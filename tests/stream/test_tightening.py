"""A D grade tightens that enterprise's rule pack in check, run and the worker, with stream = batch.

The province's pack screens only inter-provincial parcels; October's D makes E1000001's
November parcels screened like every parcel (XR-1, XR-4), while E2000002 (graded C) and
E3000003 (never graded) with identical events, and E1000001's own October parcel, keep the
province's verdict.
"""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import orjson
import pytest

from greenshield.store.credit_log import store_grades
from greenshield.store.database import Store
from greenshield.rules.pack import build_pack, default_pack
from greenshield.settings import Settings

from .helpers import WorkerThread, advance, send_valid, wait_until

CLI = [sys.executable, "-m", "greenshield.cli"]
AS_OF = "2026-11-13T00:00:00+08:00"
D, C, NEVER = "E1000001", "E2000002", "E3000003"
PROVINCE = build_pack({"pack": {"name": "province", "version": "1", "xray_scope": "inter_provincial"}},
                      default_pack())
PACK_TOML = b'[pack]\nname = "province"\nversion = "1"\nxray_scope = "inter_provincial"\n'
GRADES = [{"enterprise_id": D, "period": "2026-10", "grade": "D", "seq": 1},
          {"enterprise_id": C, "period": "2026-10", "grade": "C", "seq": 1}]
Key = tuple[str, str, str, str]  # (enterprise, waybill, rule, rule_pack)


def registry() -> list[dict[str, Any]]:
    return [{"v": 1, "type": "registry", "event_id": f"reg-{entity}-{ident}", "enterprise_id": D,
             "occurred_at": "2026-01-01T00:00:00+08:00", "entity": entity, "id": ident, "status": "active"}
            for entity, ident in (("site", "S00000001"), ("staff", "P00000001"), ("contract_customer", "C00000001"))]


def parcel(enterprise: str, waybill: str, day: str) -> list[dict[str, Any]]:
    """Accepted and delivered on ``day`` within Beijing (same province), never screened."""
    common = {"v": 1, "enterprise_id": enterprise, "waybill_no": waybill, "site_id": "S00000001",
              "staff_id": "P00000001"}
    return [{**common, "event_id": f"{waybill}-a", "type": "acceptance", "occurred_at": f"{day}T08:00:00+08:00",
             "contract_customer_id": "C00000001", "origin_region": "110000", "destination_region": "110105",
             "weight_g": 100, "inspection": {"inspector_id": "P00000001", "result": "passed", "category": "docs",
                                             "inspected_at": f"{day}T08:00:00+08:00"}},
            {**common, "event_id": f"{waybill}-d", "type": "delivery", "occurred_at": f"{day}T10:00:00+08:00",
             "method": "hand"}]


def lines() -> list[bytes]:
    items = registry() + parcel(D, "WBD0000001", "2026-11-11") + parcel(D, "WBD0000002", "2026-10-20")
    items += parcel(C, "WBC0000001", "2026-11-11") + parcel(NEVER, "WBN0000001", "2026-11-11")
    return [orjson.dumps(i) for i in items]


def check(tmp: Path, *extra: str) -> set[Key]:
    events, pack = tmp / "events.jsonl", tmp / "province.toml"
    events.write_bytes(b"\n".join(lines()) + b"\n")
    pack.write_bytes(PACK_TOML)
    done = subprocess.run([*CLI, "check", str(events), "--rules", str(pack), "--as-of", AS_OF, *extra],
                          capture_output=True, timeout=120)
    assert done.returncode == 0, done.stderr.decode()
    return {(v["enterprise_id"], v["waybill_no"], v["rule_id"], v["rule_pack"])
            for v in map(orjson.loads, done.stdout.splitlines())}


def grades_file(tmp: Path) -> Path:
    path = tmp / "grades.jsonl"
    path.write_bytes(b"".join(orjson.dumps(g) + b"\n" for g in GRADES))
    return path


def store_the_grades(db: str) -> None:
    """What ``greenshield credit`` stores: each grade a leaf of the audit log."""
    store = Store.open(db)
    try:
        for g in GRADES:
            store_grades(store, g["period"], [{"enterprise_id": g["enterprise_id"], "grade": g["grade"],
                                               "period": g["period"], "score": 50.0}])
    finally:
        store.close()


def stored(db: str) -> set[Key]:
    from greenshield.store import queries
    import sqlalchemy as sa

    engine = sa.create_engine(db)
    try:
        with engine.connect() as conn:
            found = queries.list_violations(conn, True, None, None, None)
    finally:
        engine.dispose()
    return {(v["enterprise_id"], v["waybill_no"], v["rule_id"], v["rule_pack"]) for v in found}


def xr(found: set[Key]) -> set[tuple[str, str, str, str]]:
    return {k for k in found if k[2] in ("XR-1", "XR-4")}


TIGHTENED = {(D, "WBD0000001", "XR-1", "province@1+D"), (D, "WBD0000001", "XR-4", "province@1+D")}


class TestCheck:
    def test_only_the_d_enterprise_s_later_parcels_are_screened(self, tmp_path: Path) -> None:
        plain = check(tmp_path)
        graded = check(tmp_path, "--grades", str(grades_file(tmp_path)))
        assert xr(plain) == set() and xr(graded) == TIGHTENED
        # everything else is the province's verdict: E1000001's October parcel, C and the never graded one
        assert graded == plain | TIGHTENED

    def test_an_empty_tightening_turns_it_off(self, tmp_path: Path) -> None:
        model = tmp_path / "model.toml"
        model.write_text("[credit.tighten.D]\n", "utf-8")
        assert xr(check(tmp_path, "--grades", str(grades_file(tmp_path)), "--model", str(model))) == set()

    @pytest.mark.parametrize("model, grade, message", [
        ('[credit.tighten.D]\nxray_scope = "some"\n', None, "credit.tighten.D.xray_scope: 'some' is not one of"),
        ('[credit.tighten.D]\nseverity = {"XR-1" = "fatal"}\n', None, "severity: a table of rule ids"),
        ('[credit.tighten.D]\nrules_off = ["XR-1"]\n', None, "unknown keys"),
        (None, b'{"enterprise_id": "E1000001", "period": "2026-10", "grade": "X"}', "grades.jsonl:1: grade 'X'"),
    ])
    def test_a_bad_tightening_or_grade_is_a_clear_usage_error(self, tmp_path: Path, model: str | None,
                                                              grade: bytes | None, message: str) -> None:
        events, grades = tmp_path / "e.jsonl", grades_file(tmp_path)
        events.write_bytes(b"\n".join(lines()))
        args = [*CLI, "check", str(events), "--grades", str(grades)]
        if model is not None:
            (tmp_path / "m.toml").write_text(model, "utf-8")
            args += ["--model", str(tmp_path / "m.toml")]
        if grade is not None:
            grades.write_bytes(grade)
        done = subprocess.run(args, capture_output=True, timeout=120)
        assert done.returncode == 2 and message in done.stderr.decode() and not done.stdout


class TestRun:
    def test_run_applies_stored_grades_and_a_grade_stored_later_re_evaluates(self, tmp_path: Path,
                                                                              monkeypatch: pytest.MonkeyPatch) -> None:
        """First run ungraded (the province's verdict); grades stored; a run with no new events applies them."""
        from greenshield import cli

        monkeypatch.setenv("GREENSHIELD_DATA_DIR", str(tmp_path / "var"))
        monkeypatch.setenv("GREENSHIELD_HMAC_KEY", "test-hmac-key")
        db, events, empty, pack = (f"sqlite:///{tmp_path / 's.db'}", tmp_path / "e.jsonl", tmp_path / "none.jsonl",
                                   tmp_path / "p.toml")
        events.write_bytes(b"\n".join(lines()) + b"\n")
        empty.write_bytes(b"")
        pack.write_bytes(PACK_TOML)
        run = ["run", "--db", db, "--rules", str(pack), "--as-of", AS_OF]
        assert cli.main([*run, str(events)]) == 0
        assert xr(stored(db)) == set() and stored(db) == check(tmp_path)
        store_the_grades(db)
        assert cli.main([*run, str(empty)]) == 0
        assert stored(db) == check(tmp_path, "--grades", str(grades_file(tmp_path)))
        assert xr(stored(db)) == TIGHTENED


Pipeline = Callable[..., tuple[Settings, str]]


@pytest.mark.kafka
class TestWorker:
    def test_a_grade_stored_mid_stream_reaches_released_parcels(self, pipeline: Pipeline, tmp_path: Path,
                                                               monkeypatch: pytest.MonkeyPatch) -> None:
        """The day is judged and its parcels leave memory; the grades are stored; the worker picks them up
        (reloading the released parcels) and ends with check --grades' verdict."""
        from greenshield.stream import housekeeping

        monkeypatch.setattr(housekeeping, "RELEASE_SECONDS", 0.0)
        settings, db = pipeline(release_after_seconds=0)
        plain, graded = check(tmp_path), check(tmp_path, "--grades", str(grades_file(tmp_path)))
        with WorkerThread(settings, db, PROVINCE) as running:
            send_valid(settings, lines())
            advance(settings, AS_OF)
            assert wait_until(lambda: stored(db) == plain), stored(db) ^ plain
            states = running.worker.parts.states
            assert wait_until(lambda: not any(s.knows((D, "WBD0000001")) for s in states.values()))
            store_the_grades(db)
            assert wait_until(lambda: stored(db) == graded, timeout=30), stored(db) ^ graded
        assert xr(stored(db)) == TIGHTENED

    def test_stream_equals_batch_with_grades_stored_before_and_after_a_restart(self, pipeline: Pipeline,
                                                                              tmp_path: Path) -> None:
        """Grades stored while no worker runs are applied by the next one: the same verdict as check."""
        settings, db = pipeline()
        graded = check(tmp_path, "--grades", str(grades_file(tmp_path)))
        with WorkerThread(settings, db, PROVINCE):
            send_valid(settings, lines())
            advance(settings, AS_OF)
            assert wait_until(lambda: stored(db) == check(tmp_path))
        store_the_grades(db)
        with WorkerThread(settings, db, PROVINCE):
            assert wait_until(lambda: stored(db) == graded, timeout=60), stored(db) ^ graded
