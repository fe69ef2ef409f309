"""The pure intake: classification against known keys, and the line → candidate step."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import pytest

from greenshield.intake.classify import Classifier, classify
from greenshield.intake.decisions import Conflict, Duplicate, Fresh, Rejected, conflict_reason
from greenshield.intake.digest import keyed_digest
from greenshield.intake.lines import Line, Reader, conflict_rejected

KEY = b"test-hmac-key"


@dataclass(frozen=True)
class C:
    """A bare candidate: where, key and digest."""

    position: int
    key: tuple[str, str]
    digest: bytes
    source: str = "s"


A, B = ("E1", "a"), ("E1", "b")


def kinds(decisions: list[Any]) -> list[tuple[str, int]]:
    return [(type(d).__name__, d.position) for d in decisions]


class TestClassify:
    def test_new_exact_conflict_and_purged_against_the_store(self) -> None:
        known = {A: b"1", B: None}
        got = classify([C(1, ("E1", "new"), b"x"), C(2, A, b"1"), C(3, A, b"2"), C(4, B, b"anything")], known)
        assert kinds(got) == [("Fresh", 1), ("Duplicate", 2), ("Conflict", 3), ("Duplicate", 4)]
        assert known == {A: b"1", B: None}, "the caller's mapping is not changed"

    def test_duplicates_within_one_batch_the_first_occurrence_wins(self) -> None:
        got = classify([C(1, A, b"1"), C(2, A, b"2"), C(3, A, b"1"), C(4, A, b"2")], {})
        # the conflicting copy at 2 does not replace the first: 4 (equal to 2) is a conflict too
        assert kinds(got) == [("Fresh", 1), ("Conflict", 2), ("Duplicate", 3), ("Conflict", 4)]
        assert got[0].candidate.position == 1

    def test_order_is_preserved_one_decision_per_candidate(self) -> None:
        batch = [C(p, (f"E{p % 3}", f"id{p % 5}"), bytes([p % 2])) for p in range(1, 60)]
        got = classify(batch, {})
        assert [d.candidate for d in got] == batch
        assert sum(isinstance(d, Fresh) for d in got) == 15  # 3 enterprises x 5 ids

    def test_keys_of_other_enterprises_are_other_keys(self) -> None:
        got = classify([C(1, ("E1", "x"), b"1"), C(2, ("E2", "x"), b"2")], {})
        assert kinds(got) == [("Fresh", 1), ("Fresh", 2)]

    def test_incremental_equals_batch(self) -> None:
        """check streams a file: one decision at a time gives the batch's decisions, and remembers them."""
        batch = [C(1, A, b"1"), C(2, B, b"2"), C(3, A, b"3"), C(4, B, b"2")]
        classifier = Classifier[C]({A: b"0"})
        one_by_one = [classifier.decide(c) for c in batch]
        assert one_by_one == classify(batch, {A: b"0"})
        assert len(classifier) == 2 and classifier.decide(C(5, B, b"2")) == Duplicate(C(5, B, b"2"))

    def test_a_compact_key_is_remembered_instead(self) -> None:
        classifier = Classifier[C]()
        assert isinstance(classifier.decide(C(1, A, b"1"), "E1/a"), Fresh)
        assert isinstance(classifier.decide(C(2, A, b"2"), "E1/a"), Conflict)
        assert set(classifier.seen) == {"E1/a"}

    def test_the_conflict_reason_is_the_contracts(self) -> None:
        conflict = classify([C(1, A, b"1"), C(2, A, b"2")], {})[1]
        assert isinstance(conflict, Conflict) and (conflict.source, conflict.position) == ("s", 2)
        assert conflict.reason == conflict_reason(A) == \
            "conflicting duplicate of (E1, a): same key, different content"


def event(event_id: str = "ev-1", **extra: Any) -> dict[str, Any]:
    return {"v": 1, "event_id": event_id, "type": "sort_scan", "enterprise_id": "E3100001",
            "waybill_no": "WB0000000001", "occurred_at": "2026-11-11T09:00:00+08:00", "site_id": "S10000001",
            "staff_id": "P10000001", **extra}


def raw(obj: Any) -> bytes:
    return json.dumps(obj, ensure_ascii=False).encode()


class TestLines:
    def test_bom_only_on_the_first_line_blank_lines_skipped(self) -> None:
        lines = [b"\xef\xbb\xbf" + raw(event("a")), b"  \t", b"\xef\xbb\xbf" + raw(event("b")), raw(event("c"))]
        got = list(Reader(KEY).lines(lines, "f.jsonl"))
        assert isinstance(got[0], Line) and got[0].position == 1 and got[0].item.event_id == "a"
        assert got[1] is None
        assert isinstance(got[2], Rejected) and got[2].position == 3 and "BOM" in got[2].rejection.reason
        assert isinstance(got[3], Line) and (got[3].source, got[3].position) == ("f.jsonl", 4)

    def test_an_invalid_line_is_one_rejection_with_its_position(self) -> None:
        obj, got = Reader(KEY).line(raw(event(occurred_at="2026-11-11 09:00")), "f", 7)
        assert isinstance(got, Rejected) and got.position == 7 and "occurred_at" in got.rejection.reason
        assert obj["event_id"] == "ev-1"
        assert Reader(KEY).line(b"{not json", "f", 1)[0] is None

    @pytest.mark.parametrize("value", [event(), event(weight_g=1.50, extra={"n": 10**40}), event(weight_g=100.0)])
    def test_the_digest_is_the_stored_keyed_digest(self, value: dict[str, Any]) -> None:
        """The reader's fast digest (no number walk for plain values) is the one the store holds."""
        line = raw(value)
        obj, got = Reader(KEY).line(line, "f", 1)
        assert isinstance(got, Line) and got.digest == keyed_digest(KEY, obj, line)

    def test_a_line_does_not_show_its_plain_content(self) -> None:
        got = Reader(KEY).line(raw(event(note="陈强 330200195302199992")), "f", 1)[1]
        assert isinstance(got, Line) and "陈强" not in repr(got) and "3302001953" not in repr(got)

    def test_key_order_and_whitespace_do_not_make_a_conflict(self) -> None:
        reader = Reader(KEY)
        first = reader.line(raw(event()), "f", 1)[1]
        again = reader.line(b" " + json.dumps(dict(reversed(list(event().items())))).encode(), "f", 2)[1]
        changed = reader.line(raw(event(site_id="S10000002")), "f", 3)[1]
        assert isinstance(first, Line) and isinstance(again, Line) and isinstance(changed, Line)
        assert kinds(classify([first, again, changed], {})) == [("Fresh", 1), ("Duplicate", 2), ("Conflict", 3)]

    def test_a_conflict_is_rejected_with_a_masked_payload(self) -> None:
        sender = {"name": "陈强", "id_type": "resident_id", "id_number": "330200195302199992",
                  "verified_by": "id_reader"}
        value = event(type="acceptance", origin_region="320582", destination_region="310101", weight_g=500,
                      sender=sender)
        reader = Reader(KEY)
        first, second = (reader.line(raw(v), "f", i)[1] for i, v in ((1, value), (2, {**value, "weight_g": 501})))
        assert isinstance(first, Line) and isinstance(second, Line)
        conflict = classify([first, second], {})[1]
        assert isinstance(conflict, Conflict)
        rejected = conflict_rejected(conflict)
        assert (rejected.source, rejected.position, rejected.rejection.key) == ("f", 2, ("E3100001", "ev-1"))
        assert rejected.rejection.reason == conflict_reason(("E3100001", "ev-1"))
        text = json.dumps(rejected.rejection.payload, ensure_ascii=False)
        assert "330200195302199992" not in text and "陈强" not in text
        assert "陈强" not in json.dumps(first.doc(), ensure_ascii=False)

    def test_check_reads_without_a_key(self) -> None:
        """No HMAC key: a 64-bit digest of the canonical form (nothing is stored), the same decisions."""
        reader = Reader(None)
        a, b = (reader.line(raw(event()), "f", i)[1] for i in (1, 2))
        assert isinstance(a, Line) and isinstance(b, Line) and isinstance(a.digest, int) and a.digest == b.digest


def test_the_intake_package_imports_no_store_and_no_broker() -> None:
    """The layout: greenshield.intake is pure (no SQL, no Kafka, no service)."""
    import subprocess
    import sys

    code = ("import sys, greenshield.intake.lines, greenshield.intake.classify, greenshield.intake.digest\n"
            "print(sorted(m for m in sys.modules if m.split('.')[0] in ('sqlalchemy', 'kafka', 'psycopg', 'fastapi')"
            " or m.startswith(('greenshield.store', 'greenshield.stream', 'greenshield.sdk', 'greenshield.api'))))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"
