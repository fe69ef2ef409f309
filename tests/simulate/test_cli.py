"""The ``greenshield simulate`` command."""

from __future__ import annotations

import gzip
from pathlib import Path
from typing import Any

import orjson
import pytest

from greenshield import cli
from greenshield.simulate import generate_lines


@pytest.fixture
def gs(monkeypatch: pytest.MonkeyPatch) -> Any:
    monkeypatch.setattr(cli, "COMMAND_MODULES", ("simulate",))
    return lambda *argv: cli.main([str(a) for a in argv])


class TestSimulateCommand:
    """The command writes the API's lines to a file, a .gz file or stdout, and a manifest."""

    def test_gz_output_is_readable_by_gzip(self, gs: Any, tmp_path: Path) -> None:
        out = tmp_path / "day.jsonl.gz"
        assert gs("simulate", "--parcels", 80, "--seed", 3, "--out", out) == 0
        with gzip.open(out, "rb") as f:
            data = f.read()
        assert data == b"".join(generate_lines(80, 3))

    def test_gz_bytes_are_deterministic(self, gs: Any, tmp_path: Path) -> None:
        a, b = tmp_path / "a.gz", tmp_path / "b.gz"
        gs("simulate", "--parcels", 30, "--seed", 1, "--out", a)
        gs("simulate", "--parcels", 30, "--seed", 1, "--out", b)
        assert a.read_bytes() == b.read_bytes()

    def test_plain_file_and_manifest(self, gs: Any, tmp_path: Path) -> None:
        out, manifest = tmp_path / "day.jsonl", tmp_path / "faults.jsonl"
        assert gs("simulate", "--parcels", 200, "--seed", 9, "--fault-rate", "0.3", "--noise-rate", "0.1",
                  "--out", out, "--manifest", manifest) == 0
        assert out.read_bytes() == b"".join(generate_lines(200, 9, fault_rate=0.3, noise_rate=0.1))
        entries = [orjson.loads(x) for x in manifest.read_bytes().splitlines()]
        faults = [e for e in entries if e["kind"] == "fault"]
        assert faults and all(set(e) >= {"waybill_no", "intended_rule"} for e in faults)
        assert any(e["kind"] == "noise" for e in entries)

    def test_stdout_by_default(self, gs: Any, capsysbinary: pytest.CaptureFixture[bytes]) -> None:
        assert gs("simulate", "--parcels", 20, "--seed", 2) == 0
        captured = capsysbinary.readouterr()
        assert captured.out == b"".join(generate_lines(20, 2))
        assert b"20 parcels" in captured.err

    def test_shuffle_and_start(self, gs: Any, tmp_path: Path) -> None:
        out = tmp_path / "day.jsonl"
        gs("simulate", "--parcels", 40, "--seed", 4, "--shuffle", "--start", "2026-06-18T00:00:00Z", "--out", out)
        lines = out.read_bytes().splitlines(keepends=True)
        assert lines == list(generate_lines(40, 4, shuffle=True, start=_dt("2026-06-18T00:00:00Z")))
        assert any(b'"acceptance"' in x and b'"2026-06-18T' in x for x in lines)

    def test_bad_arguments(self, gs: Any, capsys: pytest.CaptureFixture[str]) -> None:
        assert gs("simulate", "--parcels", 5, "--seed", 1, "--start", "2026-11-11 00:00:00") == 2
        with pytest.raises(SystemExit):
            gs("simulate", "--parcels", 5, "--seed", 1, "--fault-rate", "1.5")
        with pytest.raises(SystemExit):
            gs("simulate", "--seed", 1)


def _dt(text: str) -> Any:
    from greenshield.simulate import parse_start

    return parse_start(text)
