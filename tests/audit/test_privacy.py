"""Personal data (contract §6): after a simulated day through ``run``, no plain name or ID number anywhere."""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from greenshield import cli
from greenshield.audit import schema as t
from greenshield.audit.testing import isolated_schema

COMMANDS = ("check", "run", "trace", "violations", "audit")
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
        assert gs("audit", "verify", "--db", url) == 0
        out = capsys.readouterr()
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
            engine = sa.create_engine(url)
            with engine.connect() as conn:
                blob = b"".join(repr(list(conn.execute(sa.select(table)))).encode() for table in t.metadata.sorted_tables)
            engine.dispose()
        assert leaks(blob, values) == []
