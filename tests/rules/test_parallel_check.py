"""``check --jobs N`` (issue 16): the split run's output equals the one-process output byte for byte.

Simulated days with faults, noise (duplicates, conflicting duplicates, truncated JSON),
shared waybills and shuffled lines, plus hostile lines that the byte router cannot place
(escaped keys, duplicated keys, spaced colons, nested ``enterprise_id``): the same
violations, the same summary line, the same rejects (order, line numbers, payloads).
"""

from __future__ import annotations

import gzip
import subprocess
import sys
from pathlib import Path

import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from greenshield.rules.batch import route
from greenshield.rules.model import Event, RegistryRecord
from greenshield.rules.parse import parse_line

CLI = [sys.executable, "-m", "greenshield.cli"]


def simulate(out: Path, *args: str) -> bytes:
    subprocess.run([*CLI, "simulate", "--out", str(out), *args], check=True, capture_output=True, timeout=300)
    return out.read_bytes()


def hostile(day: bytes) -> bytes:
    """Lines built from a day's own events that the router must leave to both workers, or place right."""
    lines = [x for x in day.splitlines() if b'"type":"sort_scan"' in x][:40]
    out: list[bytes] = []
    for i, line in enumerate(lines):
        doc = orjson.loads(line)
        other = "E3100001" if doc["enterprise_id"] != "E3100001" else "E3300001"
        variants = [
            line.replace(b'"enterprise_id":', b'"enterprise\\u005fid":'),                     # escaped key
            line.replace(b'"enterprise_id":', b'"enterprise_id" :'),                          # spaced colon
            line[:-1] + b',"enterprise_id":"' + other.encode() + b'"}',                       # duplicated key
            line.replace(b'"enterprise_id":"', b'"x":{"enterprise_id":"' + other.encode() + b'"},'
                         b'"enterprise_id":"'),                                                # nested one too
            line.replace(b'"enterprise_id":"E', b'"enterprise_id":"\\u0045'),                  # escaped value
            line.replace(b'"enterprise_id":', b'"x":{"enterprise_id":"' + other.encode() + b'"},'
                         b'"enterprise\\u005fid":'),                                          # escaped + nested
            line[:len(line) // 2],                                                              # truncated
            line,                                                                               # exact duplicate
            line.replace(b'"sort_scan"', b'"sort_scan","note":"a\\\\b"'),                      # conflicting
        ]
        out.append(variants[i % len(variants)])
    return b"\n".join(out) + b"\n"


@pytest.fixture(scope="module")
def inputs(tmp_path_factory: pytest.TempPathFactory) -> list[Path]:
    d = tmp_path_factory.mktemp("split")
    a = d / "a.jsonl"
    day = simulate(a, "--parcels", "600", "--seed", "11", "--fault-rate", "0.3", "--noise-rate", "0.1",
                   "--shared-waybill-rate", "0.05", "--shuffle")
    a.write_bytes(b"\xef\xbb\xbf" + day + hostile(day) + b"\n   \n" + b"not json\n")
    b = d / "b.jsonl.gz"
    b.write_bytes(gzip.compress(simulate(d / "b.jsonl", "--parcels", "300", "--seed", "12", "--fault-rate", "0.2",
                                         "--noise-rate", "0.1", "--start", "2026-11-12T00:00:00+08:00") + day[:20000]))
    return [a, b]


def run(jobs: int, files: list[Path], tmp: Path, *extra: str) -> tuple[int, bytes, bytes, bytes]:
    rejects = tmp / f"rejects-{jobs}.jsonl"
    r = subprocess.run([*CLI, "check", "--jobs", str(jobs), "--rejects", str(rejects), *extra, *map(str, files)],
                       capture_output=True, timeout=600)
    return r.returncode, r.stdout, r.stderr, rejects.read_bytes()


@pytest.mark.parametrize("extra", [(), ("--as-of", "2026-11-11T18:00:00+08:00"), ("--format", "table")])
def test_split_run_equals_one_process(inputs: list[Path], tmp_path: Path, extra: tuple[str, ...]) -> None:
    serial = run(1, inputs, tmp_path, *extra)
    assert serial[0] == 0, serial[2]
    assert serial[1] and serial[3].count(b"\n") > 50  # violations and rejects both present
    summary = serial[2].decode()
    assert "duplicates=" in summary and " duplicates=0 " not in summary
    for jobs in (2, 3):
        assert run(jobs, inputs, tmp_path, *extra) == serial, jobs


def test_split_run_of_one_file_equals_one_process(inputs: list[Path], tmp_path: Path) -> None:
    assert run(2, inputs[:1], tmp_path) == run(1, inputs[:1], tmp_path)


def test_unreadable_input_is_the_same_usage_error(inputs: list[Path], tmp_path: Path) -> None:
    bad = tmp_path / "broken.jsonl.gz"
    bad.write_bytes(gzip.compress(b'{"v":1}\n' * 1000)[:-30])
    serial, split = run(1, [inputs[0], bad], tmp_path), run(2, [inputs[0], bad], tmp_path)
    assert serial[0] == split[0] == 2
    assert serial[2] == split[2] and b"cannot read" in split[2]


DAY = Path(__file__).resolve().parents[1] / "data" / "sample-day.jsonl"
RAW = [x for x in DAY.read_bytes().splitlines() if x.strip()]  # written with ": " (json.dumps)
LINES = RAW + [orjson.dumps(orjson.loads(x)) for x in RAW]  # and compact


@settings(max_examples=600, deadline=None, suppress_health_check=list(HealthCheck))
@given(st.sampled_from(LINES), st.integers(min_value=0, max_value=400), st.integers(min_value=0, max_value=400),
       st.sampled_from([b'"enterprise_id":"E3900001"', b'"enterprise_id"', b"\\", b'"', b" ", b"{", b"}", b",",
                        b'"x":', b':"E1000001"', b"\\u005f", b"_id"]))
def test_a_routed_line_that_is_accepted_has_that_enterprise(line: bytes, i: int, j: int, piece: bytes) -> None:
    """The router's promise: when it names an enterprise and the line is accepted, that is its enterprise."""
    promise(line[:min(i, j)] + piece + line[max(i, j):])


def test_an_escaped_key_beside_a_nested_plain_one_is_not_routed() -> None:
    for line in (x for x in LINES if b'sort_scan"' in x):
        assert route(line) is not None
        for colon in (c for c in (b":", b": ") if b'"enterprise_id"' + c + b'"' in line):
            cut = line.replace(b'"enterprise_id"' + colon, b'"x":{"enterprise_id"' + colon + b'"E1000009"},'
                               b'"enterprise\\u005fid"' + colon)
            assert isinstance(parse_line(cut)[1], Event)
            assert route(cut) is None
            promise(cut)


def promise(cut: bytes) -> None:
    routed = route(cut)
    _, item = parse_line(cut)
    if routed is not None and isinstance(item, Event | RegistryRecord):
        assert routed.decode() == item.enterprise_id
