"""Duplicates (contract §2, §7): exact ones dropped and counted, conflicting ones rejected."""

from __future__ import annotations

import orjson
import pytest
from tests.rules.builders import (
    ABSENT, OTHER_ENTERPRISE, OUTLET, acceptance, at, check, depart, journey, registry, run_files, sort_scan,
)

SCAN = sort_scan("dup", at(0), site=OUTLET)
FIRST = orjson.dumps(SCAN)


def _with(**changes) -> bytes:
    obj = dict(SCAN)
    for k, v in changes.items():
        if v is ABSENT:
            obj.pop(k, None)
        else:
            obj[k] = v
    return orjson.dumps(obj)


def _extra(raw: bytes) -> bytes:
    """SCAN with an extra member whose JSON text is ``raw``."""
    return FIRST[:-1] + b',"x":' + raw + b"}"


EXACT = [
    # id, first line, second line (the same JSON value)
    ("identical-bytes", FIRST, FIRST),
    ("key-order", FIRST, orjson.dumps(dict(reversed(list(SCAN.items()))))),
    ("whitespace", FIRST, orjson.dumps(SCAN, option=orjson.OPT_INDENT_2).replace(b"\n", b" ")),
    ("int-vs-integral-float", _extra(b"100"), _extra(b"100.0")),
    ("int-vs-exponent", _extra(b"100"), _extra(b"1e2")),
    ("float-spellings", _extra(b"0.5"), _extra(b"5e-1")),
    ("nested-key-order", _extra(b'{"a":1,"b":[1,{"c":2,"d":3}]}'), _extra(b'{"b":[1,{"d":3,"c":2}],"a":1}')),
    ("unicode-escape-vs-literal", _extra('"张三"'.encode()), _extra(b'"\\u5f20\\u4e09"')),
    ("escaped-solidus", _extra(b'"a/b"'), _extra(b'"a\\/b"')),
    ("huge-exponent-spellings", _extra(b"1E400"), _extra(b"10e399")),
    ("big-integer-vs-its-float-spelling", _extra(b"18446744073709551616"), _extra(b"1.8446744073709551616e19")),
    ("minus-zero", _extra(b"-0"), _extra(b"0")),
]

CONFLICTING = [
    # id, first line, second line (same key, different JSON value)
    ("other-site", FIRST, _with(site_id="S31000002")),
    ("same-instant-other-offset", FIRST, _with(occurred_at=at(0, tz="Z"))),
    ("same-instant-lower-case-z", _with(occurred_at=at(0, tz="Z")), _with(occurred_at=at(0, tz="z"))),
    ("same-instant-trailing-zero-fraction", FIRST, _with(occurred_at=at(0, frac="0"))),
    ("true-vs-1", _extra(b"true"), _extra(b"1")),
    ("false-vs-0", _extra(b"false"), _extra(b"0")),
    ("string-vs-number", _extra(b'"1"'), _extra(b"1")),
    ("different-numbers", _extra(b"1"), _extra(b"1.5")),
    ("null-member-vs-absent", _with(staff_id=None), _with(staff_id=ABSENT)),
    ("extra-field", FIRST, _extra(b"1")),
    ("array-order", _extra(b"[1,2]"), _extra(b"[2,1]")),
    ("empty-object-vs-empty-array", _extra(b"{}"), _extra(b"[]")),
    ("other-type", FIRST, orjson.dumps(depart("dup", at(0)))),
    ("registry-status", orjson.dumps(registry("staff", "P10000001", "active", event_id="dup")),
     orjson.dumps(registry("staff", "P10000001", "revoked", event_id="dup"))),
    ("parcel-event-vs-registry-record", FIRST, orjson.dumps(registry("staff", "P10000001", event_id="dup"))),
]


class TestExactDuplicate:
    """§2: an exact duplicate (same key, same JSON value) is dropped silently and counted."""

    @pytest.mark.parametrize("first, second", [c[1:] for c in EXACT], ids=[c[0] for c in EXACT])
    def test_exact_duplicate_is_dropped_and_counted(self, first, second):
        """The second copy is no rejection and no second event: it is counted as a duplicate."""
        out = run_files([[first, second]])
        assert out.rejections == []
        assert (out.stats.accepted, out.stats.duplicates) == (1, 1)

    def test_duplicate_is_never_double_counted(self):
        """A re-sent depart is one depart: the path does not break as if it left twice."""
        events = journey()
        dep = next(e for e in events if e["event_id"] == "dep2")
        out = check(events + [dep, dep])
        assert out.violations == [] and out.stats.duplicates == 2


class TestConflictingDuplicate:
    """§2, §7: same (enterprise_id, event_id), different JSON value → the later line is rejected."""

    @pytest.mark.parametrize("first, second", [c[1:] for c in CONFLICTING], ids=[c[0] for c in CONFLICTING])
    def test_conflicting_duplicate_is_rejected(self, first, second):
        """The second copy is rejected as a conflicting duplicate naming the key; the first stays accepted."""
        out = run_files([[first, second]])
        assert out.stats.accepted == 1 and out.stats.duplicates == 0
        assert [r.line for r in out.rejections] == [2]
        rej = out.rejections[0].rejection
        assert "conflicting duplicate" in rej.reason
        assert rej.key == ("E1000001", "dup")

    def test_overflowing_number_vs_null_is_a_conflict(self):
        """A number too large for a double is still a number, never equal to null."""
        out = run_files([[_extra(b"1e400"), _extra(b"null")]])
        assert [r.line for r in out.rejections] == [2]

    def test_big_integers_that_differ_are_a_conflict(self):
        """Two different integer literals beyond 64 bits are different content."""
        out = run_files([[_extra(b"18446744073709551616"), _extra(b"18446744073709551617")]])
        assert [r.line for r in out.rejections] == [2]

    @pytest.mark.parametrize("first, second", [(b"100000000000000000000", b"1e20"),
                                               (b"18446744073709551616", b"18446744073709551616.0")],
                             ids=["1e20", "2-to-the-64"])
    def test_big_integer_equal_to_a_float_is_an_exact_duplicate(self, first, second):
        """An integer literal beyond 64 bits and the same number written as a float are the same JSON value."""
        out = run_files([[_extra(first), _extra(second)]])
        assert out.rejections == [] and out.stats.duplicates == 1

    def test_decimals_beyond_double_precision_that_differ_are_a_conflict(self):
        """Two numbers that differ only beyond double precision are still different content."""
        out = run_files([[_extra(b"0.1"), _extra(b"0.10000000000000000001")]])
        assert [r.line for r in out.rejections] == [2]

    @pytest.mark.parametrize("number, text", [(b"0.1", b'"\\u0000num:1e-1"'), (b"1e30", b'"\\u0000num:1e30"')],
                             ids=["fraction", "big-integer"])
    def test_number_never_equals_a_string(self, number, text):
        """A number and a string, whatever the string says, are different content."""
        out = run_files([[_extra(number), _extra(text)]])
        assert [r.line for r in out.rejections] == [2]

    def test_conflicting_copy_never_enters_the_rules(self):
        """A conflicting second acceptance without a sender is rejected, so it cannot cause RN-1."""
        acc = acceptance("acc", at(0))
        out = check(journey() + [dict(acc, sender=None)])
        assert "RN-1" not in out.rules() and len(out.rejections) == 1

    def test_same_event_id_from_another_enterprise_is_no_duplicate(self):
        """The idempotency key includes the enterprise: the same event_id from two enterprises is two events."""
        out = run_files([[FIRST, orjson.dumps(dict(SCAN, enterprise_id=OTHER_ENTERPRISE))]])
        assert out.rejections == [] and (out.stats.accepted, out.stats.duplicates) == (2, 0)


class TestFirstAcceptedCopy:
    """§7: a line is compared with the first *accepted* copy of its key."""

    def test_duplicate_of_a_rejected_line_is_not_compared(self):
        """When the first copy was rejected (bad format), the next valid copy is the first accepted one."""
        bad = _with(staff_id="bad-staff")
        out = run_files([[bad, _with(site_id="S31000002"), _with(site_id="S31000002")]])
        assert [r.line for r in out.rejections] == [1]
        assert (out.stats.accepted, out.stats.duplicates) == (1, 1)

    def test_conflicts_are_compared_with_the_first_accepted_copy(self):
        """A conflicting copy does not become the reference: a later copy of the original is exact."""
        other = _with(site_id="S31000002")
        out = run_files([[FIRST, other, other, FIRST]])
        assert [r.line for r in out.rejections] == [2, 3]
        assert (out.stats.accepted, out.stats.duplicates) == (1, 1)

    def test_duplicates_are_detected_across_files(self):
        """The same key in a second input file is an exact or conflicting duplicate of the first file's copy."""
        out = run_files([[FIRST], [FIRST, _with(site_id="S31000002")]])
        assert (out.stats.accepted, out.stats.duplicates) == (1, 1)
        assert [(r.source, r.line) for r in out.rejections] == [("file2", 2)]

    @pytest.mark.parametrize("as_of", [at(-1), at(0), at(48)], ids=["before", "at", "after"])
    def test_duplicates_are_detected_whatever_the_as_of(self, as_of):
        """Duplicates are found over the whole input, even among events after as_of."""
        out = run_files([[FIRST, FIRST, _with(site_id="S31000002")]], as_of=as_of)
        assert out.stats.duplicates == 1 and len(out.rejections) == 1
