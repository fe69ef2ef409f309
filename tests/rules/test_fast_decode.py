"""The fast decoder (issue 16) against the decoder before it (``oracle/``): the same value, the same verdict.

For every input: the same parsed value and *plain* flag, the same accepted event or
record (attribute by attribute), or the same Rejection (reason and masked payload);
the same redacted doc, dropped count and keyed digest. Inputs: the hostile corpus of
the worker's tests, the sample day, a simulated day with faults, field-by-field
mutations of valid events (odd strings, NUL, trailing newline, non-ASCII digits,
wrong types), and hypothesis's event-like JSON.
"""

from __future__ import annotations

import hashlib
import hmac
import importlib.util
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import greenshield.rules.privacy as new_privacy
import greenshield.rules.dedup as new_dedup
import greenshield.rules.parse as new
import greenshield.rules.person as new_person
from greenshield.rules.model import Acceptance, Event

from tests.rules.oracle import dedup as old_dedup
from tests.rules.oracle import parse as old
from tests.rules.oracle import privacy as old_privacy

ROOT = Path(__file__).resolve().parents[2]
KEY = b"fast-decode-test-key"
old.PROCESS_KEY = new_person.PROCESS_KEY  # person hashes of both under one key


def _hostile_values() -> list[bytes]:
    spec = importlib.util.spec_from_file_location("hostile_corpus", ROOT / "tests" / "stream" / "hostile_corpus.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules.setdefault("hostile_corpus", module)
    spec.loader.exec_module(module)
    return [h.value for h in module.corpus(6) if h.value is not None]


def _shape(item: Any) -> Any:
    """An item as comparable data: Events and their Acceptance by slots, the rest as they are (dataclasses)."""
    if isinstance(item, Event):
        return ("Event",) + tuple(_shape(getattr(item, s)) for s in Event.__slots__)
    if isinstance(item, Acceptance):
        return ("Acceptance",) + tuple(getattr(item, s) for s in Acceptance.__slots__)
    return item


def _keyed(dedup: Any, obj: Any, line: bytes, plain: bool) -> Any:
    try:
        return hmac.new(KEY, b"d", hashlib.sha256).digest() + dedup.digest(obj, line, plain)
    except dedup.CanonicalError as err:
        return str(err)


def _equal(a: Any, b: Any) -> bool:
    try:
        return bool(a == b)
    except RecursionError:  # nested past the interpreter's limit: compare the canonical texts
        return bool(old_dedup.canonical(a) == old_dedup.canonical(b))


def same(line: bytes) -> None:
    """The new decoder's every output for ``line`` equals the oracle's."""
    o_obj, o_item, o_plain = old.parse_line_plain(line)
    n_obj, n_item, n_plain = new.parse_line_plain(line)
    assert _equal(n_obj, o_obj), line[:200]
    assert n_plain == o_plain, line[:200]
    assert _shape(n_item) == _shape(o_item), line[:200]
    assert new.is_blank(line) == old.is_blank(line)
    if isinstance(o_obj, dict):
        assert new_privacy.redact_counting(n_obj, KEY) == old_privacy.redact_counting(o_obj, KEY)
        assert new_privacy.redact_rejected(n_obj, KEY) == old_privacy.redact_rejected(o_obj, KEY)
        assert _keyed(new_dedup, n_obj, line, n_plain) == _keyed(old_dedup, o_obj, line, o_plain)
    if not isinstance(o_item, new.Rejection):
        assert new.restore(new_privacy.redact_event(n_obj), *new.facts_of(n_item)).__class__ is type(o_item)


def test_hostile_corpus_gives_the_same_values_and_reasons() -> None:
    values = _hostile_values()
    assert len(values) > 200
    for value in values:
        same(value)


@pytest.mark.parametrize("path", ["tests/data/sample-day.jsonl"])
def test_sample_day_gives_the_same_events(path: str) -> None:
    lines = (ROOT / path).read_bytes().splitlines()
    for line in lines:
        same(line)
    accepted = [new.parse_line_plain(x)[1] for x in lines if x.strip()]
    assert sum(isinstance(i, Event) for i in accepted) > 300  # the fast path is exercised, not bypassed


def test_simulated_day_with_faults_gives_the_same_events(tmp_path: Path) -> None:
    out = tmp_path / "day.jsonl"
    subprocess.run([sys.executable, "-m", "greenshield.cli", "simulate", "--parcels", "300", "--seed", "5",
                    "--fault-rate", "0.3", "--noise-rate", "0.05", "--out", str(out)], check=True,
                   capture_output=True)
    for line in out.read_bytes().splitlines():
        same(line)


GOOD = [orjson.loads(x) for x in (ROOT / "tests/data/sample-day.jsonl").read_bytes().splitlines() if x.strip()]
BY_TYPE = {doc["type"]: doc for doc in GOOD}
ODD = ["", " ", "\x00", "P1234567\x00", "P12345678\n", "P12345678 ", " P12345678", "P１２３４５６７８", "P١٢٣٤٥٦٧٨",
       "None", "null", "E1234567", "S12345678", "X12345678", "V12345678", "C12345678", "123456", "１２３４５６",
       "ABCDEFGH", "abcdefgh", "A" * 33, "A" * 64, "a" * 65, "x:y.z-1", "2026-11-11T08:00:00+08:00",
       "2026-11-11T08:00:00+08:00\n", "2026-02-30T08:00:00Z", "2026-11-11T24:00:00Z", "2026-11-11T08:00:60Z",
       "2026-11-11T08:00:00+24:00", "2026-11-11t08:00:00z", "2026-11-11T08:00:00.000Z", "2026-11-11T08:00:00.Z",
       "0000-01-01T00:00:00+00:01", "9999-12-31T23:59:59-00:01", "2026-11-11 08:00:00Z", "passed", "refused",
       "clear", "prohibited", "cleared", "hand", "registry", "acceptance", "\ud800", "李四"]
VALUES: list[Any] = ODD + [None, True, False, 0, 1, -1, 2, 10**20, 1.0, 1.5, [], {}, ["P12345678"],
                           {"a": 1}]
FIELDS = sorted({k for doc in GOOD for k in doc} | {"inspection.inspector_id", "inspection.inspected_at",
                                                   "inspection.result", "inspection.category", "sender.name",
                                                   "sender.id_type", "sender.id_number", "sender.verified_by",
                                                   "person.id_type", "person.id_number", "extra"})


def _mutated(doc: dict[str, Any], field: str, value: Any, drop: bool) -> bytes:
    out = json.loads(json.dumps(doc))
    if "." in field:
        outer, inner = field.split(".")
        target = out.get(outer)
        if not isinstance(target, dict):
            target = out[outer] = {}
    else:
        target, inner = out, field
    if drop:
        target.pop(inner, None)
    else:
        target[inner] = value
    return json.dumps(out, ensure_ascii=False).encode("utf-8", "surrogatepass")


def test_every_field_of_every_type_mutated_gives_the_same_verdict() -> None:
    n = 0
    for doc in BY_TYPE.values():
        for field in FIELDS:
            same(_mutated(doc, field, None, drop=True))
            for value in VALUES:
                same(_mutated(doc, field, value, drop=False))
                n += 1
    assert n > 5000


@settings(max_examples=1500, deadline=None, suppress_health_check=list(HealthCheck))
@given(st.sampled_from(sorted(BY_TYPE)), st.lists(st.tuples(st.sampled_from(FIELDS), st.one_of(
    st.sampled_from(VALUES), st.text(max_size=12), st.text(alphabet="EPSXVC0123456789AZ:-._ \x00\n", max_size=12),
    st.integers(), st.none())), max_size=4), st.booleans())
def test_random_mutations_give_the_same_verdict(kind: str, changes: list[tuple[str, Any]], ascii_only: bool) -> None:
    out = json.loads(json.dumps(BY_TYPE[kind]))
    for field, value in changes:
        line = _mutated(out, field, value, drop=False)
        out = json.loads(line)
    text = json.dumps(out, ensure_ascii=ascii_only)
    same(text.encode("utf-8", "surrogatepass"))


@settings(max_examples=800, deadline=None, suppress_health_check=list(HealthCheck))
@given(st.binary(max_size=300))
def test_arbitrary_bytes_give_the_same_verdict(raw: bytes) -> None:
    same(raw)
