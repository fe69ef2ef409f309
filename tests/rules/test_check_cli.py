"""`greenshield check` as a user runs it: a subprocess over files or stdin, exit codes, outputs, imports."""

from __future__ import annotations

import gzip
import subprocess
import sys
from pathlib import Path

import orjson
import pytest
from tests.rules.builders import (
    ABSENT, acceptance, at, journey, replace, sender, sort_scan, standard_registry, without,
)

CLI = [sys.executable, "-m", "greenshield.cli"]
DATA = Path(__file__).resolve().parents[1] / "data"
HEAVY = ("kafka", "aiokafka", "faust", "fastapi", "uvicorn", "sqlalchemy")
NAME, ID_NUMBER = "欧阳明月", "310101199003071230"


def gs(*args: str | Path, stdin: bytes | None = None) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run([*CLI, *map(str, args)], input=stdin, capture_output=True, timeout=120)


def jsonl(items: list) -> bytes:
    return b"".join((i if isinstance(i, bytes) else orjson.dumps(i)) + b"\n" for i in items)


def violations(out: bytes) -> list[dict]:
    return [orjson.loads(line) for line in out.splitlines() if line.strip()]


# two parcels with findings, one compliant; the violating one listed first on purpose
BROKEN = replace(journey("YT0000000009", "z-"), "z-acc", acceptance("z-acc", at(0), waybill="YT0000000009",
                                                                  sender=ABSENT, inspection=ABSENT))
INPUT = standard_registry() + BROKEN + without(journey("YT0000000001", "a-"), "a-xr") + journey("YT0000000005", "m-")


@pytest.fixture
def events_file(tmp_path: Path) -> Path:
    path = tmp_path / "events.jsonl"
    path.write_bytes(jsonl(INPUT))
    return path


class TestInputs:
    """Inputs: files, stdin as '-', gzip read transparently."""

    def test_file_gives_violations_as_jsonl(self, events_file: Path):
        """Violations come out one JSON object per line with the §5 fields."""
        r = gs("check", events_file)
        assert r.returncode == 0, r.stderr
        found = violations(r.stdout)
        assert {(v["waybill_no"], v["rule_id"]) for v in found} >= {("YT0000000009", "RN-1"), ("YT0000000009", "IN-1"),
                                                                   ("YT0000000001", "XR-1")}
        assert all(set(v) == {"waybill_no", "rule_id", "enterprise_id", "severity", "occurred_at", "evidence",
                              "message", "rule_pack"} for v in found)
        assert not any(v["waybill_no"] == "YT0000000005" for v in found)

    def test_stdin_dash(self, events_file: Path):
        """'-' reads the events from stdin, with the same verdict as the file."""
        assert gs("check", "-", stdin=events_file.read_bytes()).stdout == gs("check", events_file).stdout

    def test_gzip_input(self, events_file: Path, tmp_path: Path):
        """A .gz file is decompressed transparently."""
        gz = tmp_path / "events.jsonl.gz"
        gz.write_bytes(gzip.compress(events_file.read_bytes()))
        r = gs("check", gz)
        assert r.returncode == 0, r.stderr
        assert r.stdout == gs("check", events_file).stdout

    def test_several_files_output_sorted(self, tmp_path: Path):
        """Over several files, the output is sorted by (waybill_no, rule_id)."""
        a, b = tmp_path / "a.jsonl", tmp_path / "b.jsonl"
        a.write_bytes(jsonl(INPUT[len(INPUT) // 2:]))
        b.write_bytes(jsonl(INPUT[: len(INPUT) // 2]))
        found = violations(gs("check", a, b).stdout)
        keys = [(v["waybill_no"], v["rule_id"]) for v in found]
        assert keys == sorted(keys) and len(keys) >= 3
        whole = tmp_path / "whole.jsonl"
        whole.write_bytes(jsonl(INPUT))
        assert found == violations(gs("check", whole).stdout)

    def test_sample_day_through_the_cli(self):
        """The sample day at the contract's as_of gives exactly the expected (waybill, rule, occurred_at) set."""
        r = gs("check", DATA / "sample-day.jsonl", "--as-of", "2026-11-13T00:00:00+08:00")
        assert r.returncode == 0, r.stderr
        got = {(v["waybill_no"], v["rule_id"], v["occurred_at"]) for v in violations(r.stdout)}
        want = {(v["waybill_no"], v["rule_id"], v["occurred_at"])
                for v in violations((DATA / "sample-day.expected.jsonl").read_bytes())}
        assert got == want

    def test_as_of_limits_the_verdict(self, events_file: Path):
        """--as-of before every event gives no violation at all."""
        r = gs("check", events_file, "--as-of", at(-1))
        assert r.returncode == 0 and r.stdout == b""


class TestRejectsFile:
    """--rejects FILE: each rejected line with where it was and why, the sender masked."""

    def test_rejects_record_line_numbers_and_reasons(self, tmp_path: Path):
        """Each reject names its source, its line number and a reason; good lines are unaffected."""
        src = tmp_path / "in.jsonl"
        bad_acc = dict(acceptance("bad", at(0), sender=sender(name=NAME, id_number=ID_NUMBER)), weight_g=-1)
        src.write_bytes(jsonl([sort_scan("g1", at(0)), b"{oops", b"", bad_acc, sort_scan("g1", at(0), site="S31000009"),
                               sort_scan("g2", at(1))]))
        rej = tmp_path / "rejects.jsonl"
        r = gs("check", src, "--rejects", rej)
        assert r.returncode == 0, r.stderr
        records = [orjson.loads(line) for line in rej.read_bytes().splitlines()]
        assert [rec["line"] for rec in records] == [2, 4, 5]
        assert all(rec["source"] == str(src) for rec in records)
        assert "not valid JSON" in records[0]["reason"]
        assert "weight_g" in records[1]["reason"]
        assert "conflicting duplicate" in records[2]["reason"] and records[2]["key"] == ["E1000001", "g1"]

    def test_rejects_never_hold_the_sender_in_plain_text(self, tmp_path: Path):
        """Neither the name nor the id number appears anywhere in the rejects file (§6); masked forms do."""
        snd = sender(name=NAME, id_number=ID_NUMBER)
        lines = [
            dict(acceptance("r1", at(0), sender=snd), weight_g=0),                 # invalid field
            dict(acceptance("r2", at(0), sender=snd), v=2),                       # unknown version
            acceptance("r3", at(0), sender=snd),
            dict(acceptance("r3", at(0), sender=snd), weight_g=999),              # conflicting duplicate
            dict(acceptance("r4", at(0), sender=snd), occurred_at="2026-11-11T08:00:00"),
        ]
        src = tmp_path / "in.jsonl"
        src.write_bytes(jsonl(lines))
        rej = tmp_path / "rejects.jsonl"
        r = gs("check", src, "--rejects", rej)
        assert r.returncode == 0, r.stderr
        text = rej.read_bytes().decode()
        assert len(text.splitlines()) == 4
        for secret in (NAME, ID_NUMBER, NAME[1:], ID_NUMBER[3:-2]):
            assert secret not in text
        assert "欧***" in text and "310*************30" in text
        assert NAME not in r.stderr.decode() and ID_NUMBER not in r.stderr.decode()

    def test_lone_surrogate_in_a_rejected_line_does_not_stop_the_run(self, tmp_path: Path):
        """A rejected line holding a lone surrogate is written to the rejects file and the run goes on."""
        src = tmp_path / "in.jsonl"
        bad = orjson.dumps(sort_scan("x", at(0)))[:-1] + b',"staff_id":"\\ud800"}'
        src.write_bytes(jsonl([bad, sort_scan("g2", at(1))]))
        rej = tmp_path / "rejects.jsonl"
        r = gs("check", src, "--rejects", rej)
        assert r.returncode == 0, r.stderr.decode()[-500:]
        assert len(rej.read_bytes().splitlines()) == 1


class TestTableFormat:
    """--format table: a readable table with a header and a count."""

    def test_table_lists_every_violation(self, events_file: Path):
        """The table has a header, one row per violation (same order as JSONL) and the count."""
        rows = violations(gs("check", events_file).stdout)
        r = gs("check", events_file, "--format", "table")
        assert r.returncode == 0, r.stderr
        lines = r.stdout.decode().splitlines()
        assert lines[0].split()[:3] == ["waybill_no", "rule", "severity"]
        body = [ln for ln in lines[2:] if ln.startswith("YT")]
        assert [(ln.split()[0], ln.split()[1]) for ln in body] == [(v["waybill_no"], v["rule_id"]) for v in rows]
        assert all(v["occurred_at"] in ln for v, ln in zip(rows, body))
        assert lines[-1] == f"{len(rows)} violation(s)"


class TestExitCodes:
    """0 normally, 1 with --fail-on-violation when something is found, 2 for unusable arguments or inputs."""

    def test_violations_alone_exit_0(self, events_file: Path):
        """Violations found without --fail-on-violation still exit 0."""
        assert gs("check", events_file).returncode == 0

    def test_fail_on_violation_exits_1(self, events_file: Path):
        """--fail-on-violation exits 1 when the verdict is not empty."""
        assert gs("check", events_file, "--fail-on-violation").returncode == 1

    def test_fail_on_violation_with_clean_input_exits_0(self, tmp_path: Path):
        """--fail-on-violation exits 0 when the verdict is empty."""
        src = tmp_path / "clean.jsonl"
        src.write_bytes(jsonl(standard_registry() + journey()))
        r = gs("check", src, "--fail-on-violation")
        assert r.returncode == 0 and r.stdout == b""

    def test_rejections_alone_do_not_fail(self, tmp_path: Path):
        """A file of rejected lines only is no violation: exit 0 even with --fail-on-violation."""
        src = tmp_path / "bad.jsonl"
        src.write_bytes(b"{\n[]\nnull\n")
        assert gs("check", src, "--fail-on-violation").returncode == 0

    @pytest.mark.parametrize("args", [
        [],
        ["EVENTS", "--format", "xml"],
        ["missing.jsonl"],
        ["."],
        ["EVENTS", "--as-of", "2026-11-13"],
        ["EVENTS", "--as-of", "2026-11-13T00:00:00"],
        ["EVENTS", "--as-of", "yesterday"],
        ["EVENTS", "--rules", "missing.toml"],
        ["EVENTS", "--rules", "BADTOML"],
        ["EVENTS", "--rules", "UNKNOWNRULE"],
        ["EVENTS", "--rejects", "/nonexistent-dir/rejects.jsonl"],
        ["EVENTS", "TRUNCATEDGZ"],
    ], ids=["no-file", "unknown-format", "missing-file", "directory", "as-of-date-only", "as-of-no-offset", "as-of-word", "rules-missing",
            "rules-not-toml", "rules-unknown-rule", "rejects-unwritable", "truncated-gzip"])
    def test_unusable_input_or_argument_exits_2(self, args, events_file: Path, tmp_path: Path):
        """An unreadable file, a bad --as-of, a bad --rules or an unwritable --rejects exits 2 with a message."""
        self._exits_2(args, events_file, tmp_path)

    BAD_RULES_SHAPES = {
        "rules-not-a-table": 'rules = 5\n[pack]\nname = "x"\nversion = 1\n',
        "rule-not-a-table": '[pack]\nname = "x"\nversion = 1\n[rules]\n"XR-4" = "24h"\n',
    }

    @pytest.mark.parametrize("shape", list(BAD_RULES_SHAPES))
    def test_malformed_pack_shape_exits_2(self, shape, events_file: Path, tmp_path: Path):
        """A pack whose [rules] (or one rule) is not a table is refused with exit 2."""
        pack = tmp_path / "shape.toml"
        pack.write_text(self.BAD_RULES_SHAPES[shape], "utf-8")
        self._exits_2(["EVENTS", "--rules", str(pack)], events_file, tmp_path)

    def test_corrupt_gzip_exits_2(self, events_file: Path, tmp_path: Path):
        """A gzip file with corrupt compressed data is unreadable: exit 2 with a message."""
        bad = tmp_path / "corrupt.jsonl.gz"
        bad.write_bytes(b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x00\x03" + b"garbage-not-deflate" * 3)
        self._exits_2([str(bad)], events_file, tmp_path)

    @staticmethod
    def _exits_2(args: list[str], events_file: Path, tmp_path: Path) -> None:
        files = {
            "EVENTS": events_file,
            "BADTOML": tmp_path / "bad.toml",
            "UNKNOWNRULE": tmp_path / "unknown.toml",
            "TRUNCATEDGZ": tmp_path / "cut.jsonl.gz",
        }
        files["BADTOML"].write_text("[pack\nname=", "utf-8")
        files["UNKNOWNRULE"].write_text('[pack]\nname = "x"\nversion = 1\n[rules."XR-9"]\nseverity = "high"\n', "utf-8")
        files["TRUNCATEDGZ"].write_bytes(gzip.compress(events_file.read_bytes())[:40])
        argv = [str(files.get(a, a)) for a in args]
        r = subprocess.run([*CLI, "check", *argv], capture_output=True, timeout=120, cwd=tmp_path)
        assert r.returncode == 2, r.stderr.decode()[-800:]
        assert r.stderr.strip() and b"Traceback" not in r.stderr

    def test_year_zero_event_does_not_crash(self, tmp_path: Path):
        """An event accepted at year 0000 still gets its violation written; the run completes."""
        src = tmp_path / "y0.jsonl"
        src.write_bytes(jsonl([sort_scan("s", "0000-01-01T00:00:00Z", staff=ABSENT)]))
        r = gs("check", src)
        assert r.returncode == 0, r.stderr.decode()[-500:]
        assert violations(r.stdout)[0]["occurred_at"] == "0000-01-01T00:00:00Z"


class TestSummaryLine:
    """One summary line on stderr with the counters."""

    def test_summary_counts(self, tmp_path: Path):
        """stderr's last line counts lines, accepted, rejected, duplicates, parcels and violations per rule."""
        scan = sort_scan("s1", at(0), staff=ABSENT)
        src = tmp_path / "in.jsonl"
        src.write_bytes(jsonl([scan, scan, b"", b"{", sort_scan("s1", at(0), site="S31000009")]))
        r = gs("check", src)
        assert r.returncode == 0, r.stderr
        summary = r.stderr.decode().strip().splitlines()[-1]
        fields = dict(part.split("=", 1) for part in summary.split())
        assert (fields["lines"], fields["accepted"], fields["rejected"], fields["duplicates"], fields["parcels"]) == (
            "5", "1", "2", "1", "1")
        found = violations(r.stdout)
        assert fields["violations"] == str(len(found))
        for v in found:
            assert fields[v["rule_id"]] == "1"
        assert len(r.stdout.splitlines()) == len(found)


class TestImports:
    """`check` stays light: no Kafka client, stream framework, web stack or ORM is imported."""

    def test_check_imports_nothing_heavy(self, events_file: Path):
        """After main(['check', FILE]) in a fresh interpreter, none of the heavy packages is in sys.modules."""
        code = (
            "import sys\n"
            "from greenshield.cli import main\n"
            f"rc = main(['check', {str(events_file)!r}])\n"
            f"heavy = sorted(m for m in sys.modules if m.split('.')[0] in {HEAVY!r})\n"
            "sys.stderr.write('HEAVY=' + ','.join(heavy) + '\\n')\n"
            "sys.exit(rc)\n"
        )
        r = subprocess.run([sys.executable, "-c", code], capture_output=True, timeout=120)
        assert r.returncode == 0, r.stderr.decode()[-800:]
        line = next(ln for ln in r.stderr.decode().splitlines() if ln.startswith("HEAVY="))
        assert line == "HEAVY="

    def test_importtime_shows_no_heavy_module(self, events_file: Path):
        """python -X importtime for `greenshield check` lists none of the heavy packages."""
        r = subprocess.run([sys.executable, "-X", "importtime", "-m", "greenshield.cli", "check", str(events_file)],
                           capture_output=True, timeout=120)
        assert r.returncode == 0
        imported = {ln.rsplit("|", 1)[-1].strip().split(".")[0] for ln in r.stderr.decode().splitlines()
                    if ln.startswith("import time:") and "|" in ln}
        assert not imported & set(HEAVY)
