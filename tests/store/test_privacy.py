"""Personal data (contract §6): after a simulated day through ``run``, no plain name or ID number anywhere."""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson
import pytest
import sqlalchemy as sa

from greenshield import cli
from greenshield.store import schema as t
from tests.support.store import isolated_schema

COMMANDS = ("check", "run", "trace", "staff_record", "violations", "risk", "credit", "audit")
SAMPLE = Path(__file__).parent.parent / "data" / "sample-day.jsonl"


def simulated_day(path: Path) -> Path:
    try:
        from greenshield.simulate import generate_lines
    except ImportError:  # no simulator here: the sample day is a simulated day
        path.write_bytes(SAMPLE.read_bytes())
        return path
    path.write_bytes(b"".join(generate_lines(300, 2026, fault_rate=0.2)) + SAMPLE.read_bytes())
    return path


def personal_values(day: Path) -> set[str]:
    """Every plain name and ID number in the input (trimmed too), of 2 characters or more."""
    found: set[str] = set()
    for line in day.read_bytes().splitlines():
        try:
            obj = json.loads(line)
        except ValueError:
            continue
        sender = obj.get("sender") if isinstance(obj, dict) else None
        if isinstance(sender, dict):
            for name in ("name", "id_number"):
                value = sender.get(name)
                if isinstance(value, str):
                    found.update(v for v in (value, value.strip(), value.strip(" \t\u3000")) if len(v) >= 2)
    return found


def leaks(blob: bytes, values: set[str]) -> list[str]:
    """Values found in ``blob``; an ASCII number must stand alone (inside a hex digest it is chance)."""
    tokens = {m.decode() for m in re.findall(rb"[0-9A-Za-z]+", blob)}
    found = {v for v in values if v.isascii() and v in tokens}
    found.update(v for v in values if not v.isascii() and (v.encode() in blob or v.encode("utf-16-le") in blob))
    return sorted(found)


@pytest.fixture
def gs(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Any:
    monkeypatch.setattr(cli, "COMMAND_MODULES", COMMANDS)
    monkeypatch.setenv("GREENSHIELD_DATA_DIR", str(tmp_path / "var"))
    monkeypatch.setenv("GREENSHIELD_HMAC_KEY", "test-hmac-key")
    monkeypatch.setenv("GREENSHIELD_LOG_LEVEL", "DEBUG")
    return lambda *argv: cli.main([str(a) for a in argv])


@pytest.fixture
def log_file(tmp_path: Path) -> Iterator[Path]:
    """Every log record of the run, at DEBUG, captured into a file."""
    path = tmp_path / "greenshield.log"
    handler = logging.FileHandler(path)
    handler.setFormatter(logging.Formatter("%(name)s %(message)s"))
    root = logging.getLogger()
    root.addHandler(handler)
    old = root.level
    root.setLevel(logging.DEBUG)
    yield path
    root.removeHandler(handler)
    root.setLevel(old)
    handler.close()


class TestNoPlainPersonalData:
    def test_a_simulated_day_leaves_no_trace_in_the_sqlite_file_logs_or_output(
            self, gs: Any, tmp_path: Path, log_file: Path, capsys: pytest.CaptureFixture[str]) -> None:
        """The database file and its WAL, the logs, stdout and stderr hold no plain name or ID number."""
        day = simulated_day(tmp_path / "day.jsonl")
        values = personal_values(day)
        assert len(values) > 20
        db = tmp_path / "audit.db"
        url = f"sqlite:///{db}"
        assert gs("run", day, "--db", url) == 0
        assert gs("violations", "--db", url) == 0
        assert gs("violations", "--db", url, "--json") == 0
        waybill = json.loads(next(line for line in day.read_text(encoding="utf-8").splitlines()
                                  if '"sender"' in line and '"waybill_no"' in line))["waybill_no"]
        assert gs("trace", waybill, "--db", url, "--json") == 0
        assert gs("trace", waybill, "--db", url) == 0
        for kind in ("sender", "staff", "site", "city"):  # risk sources: a sender only by its keyed hash
            assert gs("risk", "--by", kind, "--db", url, "--json", "--warn", "--top", "1000") == 0
            assert gs("risk", "--by", kind, "--db", url) == 0
        assert gs("credit", "--db", url) == 0
        assert gs("credit", "--db", url, "--json") == 0
        assert gs("audit", "verify", "--db", url) == 0
        out = capsys.readouterr()
        assert '"kind":"sender"' in out.out
        files = [p for p in tmp_path.rglob("*") if p.is_file() and p != day]
        assert any(p.name == "audit.db-wal" for p in files) or db.exists()
        for path in files:
            assert leaks(path.read_bytes(), values) == [], f"plain personal data in {path.name}"
        assert leaks(out.out.encode() + out.err.encode(), values) == []
        assert leaks(log_file.read_bytes(), values) == []

    @pytest.mark.postgres
    def test_postgres_rows_hold_no_plain_personal_data(self, gs: Any, tmp_path: Path, pg_url: str) -> None:
        """On PostgreSQL, every text column of every table is free of plain names and ID numbers."""
        day = simulated_day(tmp_path / "day.jsonl")
        values = personal_values(day)
        with isolated_schema(pg_url) as url:
            assert gs("run", day, "--db", url) == 0
            assert gs("risk", "--by", "sender", "--db", url, "--warn") == 0
            assert gs("credit", "--db", url) == 0
            engine = sa.create_engine(url)
            with engine.connect() as conn:
                blob = b"".join(repr(list(conn.execute(sa.select(table)))).encode() for table in t.metadata.sorted_tables)
            engine.dispose()
        assert leaks(blob, values) == []


# ---------------------------------------------------------------- issue 14: personal data in odd keys and rejects

def _resident_id(body17: str) -> str:
    """A resident ID number with its GB 11643 check character (from first principles)."""
    total = sum(int(ch) * pow(2, 17 - k, 11) for k, ch in enumerate(body17))
    c = (12 - total % 11) % 11
    return body17 + ("X" if c == 10 else str(c))


PLANTED_NAME = "欧阳娜娜"
PLANTED_IDS = [_resident_id(f"1101011985010{n}771") for n in range(1, 8)]  # well-formed: a person must be
BASE_EVENT = {"v": 1, "enterprise_id": "E1000001", "occurred_at": "2026-11-11T08:00:00+08:00",
              "waybill_no": "YT0000000001", "site_id": "S31000001", "staff_id": "P10000001"}


def _event(kind: str, event_id: str, **members: Any) -> dict[str, Any]:
    return {**BASE_EVENT, "type": kind, "event_id": event_id, **members}


def hostile_day() -> list[bytes]:
    """Accepted events hiding personal data in odd keys, and rejected lines carrying it in their fields."""
    a, b, c, d, e, f, g = PLANTED_IDS
    sender = {"name": "张三", "id_type": "resident_id", "id_number": g, "verified_by": "id_reader",
              "Name": PLANTED_NAME, "id_number ": a, " id_number": b, "ID_NUMBER": c, "phone": PLANTED_NAME}
    inspection = {"inspector_id": "P10000002", "inspected_at": "2026-11-11T08:00:00+08:00", "result": "passed",
                  "category": "daily goods", "note": PLANTED_NAME, "Category": a, "id_number": b}
    deep = orjson.Fragment('{"d":' * 2000 + json.dumps([a, {"name": PLANTED_NAME}]) + "}" * 2000)
    accepted = [
        _event("acceptance", "ok-1", sender=sender, inspection=inspection, origin_region="310101",
               destination_region="110105", weight_g=1200, holder=PLANTED_NAME, **{"holder id": d, "Sender": sender}),
        _event("sort_scan", "ok-2", extra=deep),
        {"v": 1, "type": "registry", "event_id": "reg-1", "enterprise_id": "E1000001",
         "occurred_at": "2026-01-01T00:00:00+08:00", "entity": "staff", "id": "P10000001", "status": "active",
         "person": {"id_type": "resident_id", "id_number": e, "name": PLANTED_NAME}},
        # revision 2 §8.2: the same person blacklisted (its hash, never its number, goes everywhere)
        {"v": 1, "type": "registry", "event_id": "reg-3", "enterprise_id": "E1000001",
         "occurred_at": "2026-01-02T00:00:00+08:00", "entity": "person", "id": "BL-PRIVACY-1", "status": "blacklisted",
         "person": {"id_type": "resident_id", "id_number": f" {e}\u3000", "Name": PLANTED_NAME}},
    ]
    rejected = [
        _event("sort_scan", "bad-1", site_id=a),
        _event("acceptance", "bad-2", staff_id=b, sender={"name": PLANTED_NAME, "id_number": c},
               inspection={**inspection, "category": f"{PLANTED_NAME} {d}"}, origin_region="310101",
               destination_region="110105", weight_g=1200),
        _event("interception", "bad-3", enterprise_id="E1", reason=f"{PLANTED_NAME} {e}", report_no=f),
        {"v": 1, "type": "registry", "event_id": "reg-2", "enterprise_id": "E1000001", "occurred_at": g,
         "entity": "staff", "id": a, "status": PLANTED_NAME, "person": {"id_type": "resident_id", "id_number": b}},
        _event(c, "bad-4", note=PLANTED_NAME),
        _event("xray", "bad-5", machine_id=d, result=e, image_ref=PLANTED_NAME),
        [PLANTED_NAME, a],
        # a conflicting duplicate of ok-2: the same key, other content, personal data in an extra field
        _event("sort_scan", "ok-2", extra={"who": PLANTED_NAME, "id": f}),
    ]
    lines = [orjson.dumps(x) for x in accepted + rejected]
    lines.append(b'{"v":1,"event_id":"bad-6","site_id":"' + b.encode() + b'", "name":"' + PLANTED_NAME.encode())
    lines.append(json.dumps(_event("sort_scan", "bad-7", note=c)).encode()[:-1] + b',"x":"\\ud800"}')
    return lines


PLANTED = {PLANTED_NAME, *PLANTED_IDS, "张三"}


class TestOddKeysAndRejects:
    def test_check_rejects_file_and_output_hold_none_of_the_planted_values(
            self, gs: Any, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
        """``check --rejects``: every hostile line is one reject, masked; the accepted ones leave no trace."""
        day = tmp_path / "day.jsonl"
        day.write_bytes(b"\n".join(hostile_day()) + b"\n")
        rejects = tmp_path / "rejects.jsonl"
        assert gs("check", day, "--rejects", rejects) == 0
        out = capsys.readouterr()
        assert "accepted=4" in out.err and "rejected=10" in out.err, out.err
        records = [json.loads(x) for x in rejects.read_bytes().splitlines()]
        assert len(records) == 10 and all(len(r["reason"]) <= 300 for r in records)
        assert leaks(rejects.read_bytes(), PLANTED) == []
        assert leaks(out.out.encode() + out.err.encode(), PLANTED) == []

    def test_run_stores_serves_and_logs_none_of_the_planted_values(
            self, gs: Any, tmp_path: Path, log_file: Path, capsys: pytest.CaptureFixture[str]) -> None:
        """``run`` on SQLite: the database file, its WAL, the trace, the logs and the output are all clean."""
        day = tmp_path / "day.jsonl"
        day.write_bytes(b"\n".join(hostile_day()) + b"\n")
        url = f"sqlite:///{tmp_path / 'audit.db'}"
        assert gs("run", day, "--db", url) == 0
        assert gs("trace", "YT0000000001", "--db", url, "--json") == 0
        assert gs("violations", "--db", url, "--json") == 0
        assert gs("staff-record", "P10000001", "--db", url, "--json") == 0
        out = capsys.readouterr()
        assert '"BL-PRIVACY-1"' in out.out and "PR-3" in out.out  # the staff record really shows the person
        files = [p for p in tmp_path.rglob("*") if p.is_file() and p != day]
        assert any(p.name.startswith("audit.db") for p in files)
        for path in files:
            assert leaks(path.read_bytes(), PLANTED) == [], f"plain personal data in {path.name}"
        assert leaks(out.out.encode() + out.err.encode(), PLANTED) == []
        assert leaks(log_file.read_bytes(), PLANTED) == []
