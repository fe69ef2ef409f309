"""Rejected lines holding exact (Decimal) numbers are stored, not a crash of `greenshield run`."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from greenshield.translog.entries import canonical, loads
from decimal import Decimal

LINE = ('{"v":1,"event_id":"x1","type":"acceptance","enterprise_id":"E3100001",'
        '"occurred_at":"2026-11-11T10:00:00+08:00","waybill_no":"YT00000001","site_id":"S00000001",'
        '"staff_id":"P00000001","origin_region":"310101","destination_region":"320100","weight_g":1.5}')


class TestExactNumbers:
    def test_canonical_writes_a_decimal_as_its_number_text(self) -> None:
        """A Decimal from the exact parser is written as a JSON number, not refused."""
        assert canonical({"w": Decimal("1.50"), "n": 1}) == b'{"n":1,"w":1.50}'
        assert loads(canonical({"w": Decimal("1.5")})) == {"w": 1.5}

    def test_run_stores_the_reject_of_a_line_with_a_float_weight(self, tmp_path: Path) -> None:
        """weight_g 1.5 is rejected (not an int) and the run goes on to the end."""
        src = tmp_path / "in.jsonl"
        src.write_text(LINE + "\n", "utf-8")
        db = f"sqlite:///{tmp_path / 'gs.db'}"
        r = subprocess.run([sys.executable, "-m", "greenshield.cli", "run", str(src), "--db", db],
                           capture_output=True, text=True, timeout=120,
                           env={"GREENSHIELD_DATA_DIR": str(tmp_path), "PATH": "/usr/bin:/bin"})
        assert r.returncode == 0, r.stderr[-800:]
        assert "rejected=1" in r.stderr + r.stdout
