"""The shared sample day (tests/data): the checker's verdict is exactly the expected one."""

from __future__ import annotations

from pathlib import Path

import orjson
import pytest

from greenshield.rules.batch import BatchChecker
from greenshield.rules.pack import default_pack
from greenshield.rules.timestamps import parse_instant

DATA = Path(__file__).resolve().parents[1] / "data"
AS_OF = "2026-11-13T00:00:00+08:00"


def expected() -> set[tuple[str, str, str]]:
    rows = [orjson.loads(line) for line in (DATA / "sample-day.expected.jsonl").read_bytes().splitlines() if line.strip()]
    return {(r["waybill_no"], r["rule_id"], r["occurred_at"]) for r in rows}


def actual(lines: list[bytes]) -> tuple[set[tuple[str, str, str]], BatchChecker]:
    checker = BatchChecker(default_pack())
    checker.feed(lines, source="sample-day.jsonl")
    found = checker.verdict(parse_instant(AS_OF))
    return {(v.waybill_no, v.rule_id, v.to_dict()["occurred_at"]) for v in found}, checker


class TestSampleDay:
    """tests/data/sample-day.jsonl at as_of 2026-11-13T00:00:00+08:00 gives sample-day.expected.jsonl."""

    def test_verdict_is_exactly_the_expected_set(self):
        """The (waybill_no, rule_id, occurred_at) set equals the expected file, nothing missing, nothing extra."""
        got, checker = actual((DATA / "sample-day.jsonl").read_bytes().splitlines())
        want = expected()
        assert sorted(want - got) == [], "missing"
        assert sorted(got - want) == [], "unexpected"
        assert checker.stats.rejected == 0

    @pytest.mark.parametrize("seed", [1, 2, 3])
    def test_verdict_does_not_depend_on_line_order(self, seed):
        """The sample day, shuffled, gives the same expected set."""
        import random

        lines = (DATA / "sample-day.jsonl").read_bytes().splitlines()
        random.Random(seed).shuffle(lines)
        assert actual(lines)[0] == expected()

    def test_each_violation_is_reported_once(self):
        """No (waybill_no, rule_id) appears twice in the verdict."""
        checker = BatchChecker(default_pack())
        checker.feed((DATA / "sample-day.jsonl").read_bytes().splitlines())
        keys = [v.key for v in checker.verdict(parse_instant(AS_OF))]
        assert len(keys) == len(set(keys)) == len(expected())
