"""Rejected input (contract §2, §7): every malformed line is a rejection with a clear reason, never a stop."""

from __future__ import annotations

from typing import Any

import orjson
import pytest
from tests.rules.builders import (
    ABSENT, OUTLET, acceptance, arrive, at, check, delivery, depart, inspection, interception, manual_check,
    registry, run_files, sender, sort_scan, xray,
)

from greenshield.rules.batch import BatchChecker
from greenshield.rules.pack import default_pack

GOOD_BEFORE = sort_scan("good-1", at(0), site=OUTLET)
GOOD_AFTER = sort_scan("good-2", at(1), site=OUTLET)


def mutate(base: dict[str, Any], **changes: Any) -> bytes:
    """``base`` with members replaced (ABSENT removes one), as a JSON line."""
    obj = dict(base)
    for key, value in changes.items():
        if value is ABSENT:
            obj.pop(key, None)
        else:
            obj[key] = value
    return orjson.dumps(obj)


def nested(base: dict[str, Any], member: str, **changes: Any) -> bytes:
    """``base`` with members of its object ``member`` replaced (ABSENT removes one)."""
    inner = dict(base[member])
    for key, value in changes.items():
        if value is ABSENT:
            inner.pop(key, None)
        else:
            inner[key] = value
    return mutate(base, **{member: inner})


SCAN = sort_scan("bad", at(0, 30), site=OUTLET)
ACC = acceptance("bad", at(0, 30))
XRAY = xray("bad", at(0, 30))
MC = manual_check("bad", at(0, 30))
INT = interception("bad", at(0, 30))
DEP = depart("bad", at(0, 30))
ARR = arrive("bad", at(0, 30))
DLV = delivery("bad", at(0, 30))
REG = registry("staff", "P10000001", event_id="bad")


def ts(text: str) -> bytes:
    return mutate(SCAN, occurred_at=text)


# id, the bad line, fragments its reason must contain (the field and why; a tuple: any one of them)
REJECTED: list[tuple[str, bytes, tuple[str, ...]]] = [
    # ---- not JSON at all
    ("random-bytes", bytes(range(1, 40)) + b"\xfe\xff\x80", (("JSON", "UTF-8"),)),
    ("invalid-utf8-in-string", mutate(SCAN).replace(b'"bad"', b'"b\xffd"'), (("JSON", "UTF-8"),)),
    ("latin1-bytes", mutate(SCAN).replace(b'"bad"', b'"caf\xe9"'), (("JSON", "UTF-8"),)),
    ("truncated-json", mutate(SCAN)[:-10], ("not valid JSON",)),
    ("trailing-garbage", mutate(SCAN) + b" x", ("not valid JSON",)),
    ("two-objects-on-one-line", mutate(SCAN) + mutate(SCAN), ("not valid JSON",)),
    ("single-quotes", mutate(SCAN).replace(b'"', b"'"), ("not valid JSON",)),
    ("nan", mutate(SCAN)[:-1] + b',"x":NaN}', ("not valid JSON",)),
    ("infinity", mutate(SCAN)[:-1] + b',"x":Infinity}', ("not valid JSON",)),
    ("minus-infinity", mutate(SCAN)[:-1] + b',"x":-Infinity}', ("not valid JSON",)),
    ("vertical-tab-is-not-json-whitespace", b"\x0b", ("not valid JSON",)),
    ("form-feed-is-not-json-whitespace", b"\x0c", ("not valid JSON",)),
    ("nbsp-line", "\u00a0".encode(), ("not valid JSON",)),
    ("ideographic-space-line", "\u3000".encode(), ("not valid JSON",)),
    ("deeply-nested-arrays", b"[" * 100_000, ()),
    ("deeply-nested-objects", b'{"a":' * 100_000, ()),
    # ---- JSON but not an object
    ("array", b"[1, 2]", ("object", "array")),
    ("string", b'"hello"', ("object", "string")),
    ("number", b"42", ("object",)),
    ("null", b"null", ("object", "null")),
    ("boolean", b"true", ("object",)),
    # ---- v
    ("v-missing", mutate(SCAN, v=ABSENT), ("'v'", "missing")),
    ("v-null", mutate(SCAN, v=None), ("'v'", "missing")),
    ("v-string", mutate(SCAN, v="1"), ("'v'", "integer")),
    ("v-float", mutate(SCAN).replace(b'"v":1', b'"v":1.0'), ("'v'", "integer")),
    ("v-exponent", mutate(SCAN).replace(b'"v":1', b'"v":1e0'), ("'v'", "integer")),
    ("v-true", mutate(SCAN, v=True), ("'v'", "integer")),
    ("v-2-unknown", mutate(SCAN, v=2), ("v=2",)),
    ("v-0-unknown", mutate(SCAN, v=0), ("v=0",)),
    # ---- type
    ("type-unknown", mutate(SCAN, type="pickup"), ("'type'", "unknown type")),  # never echoed (§6)
    ("type-wrong-case", mutate(SCAN, type="Sort_Scan"), ("'type'",)),
    ("type-missing", mutate(SCAN, type=ABSENT), ("'type'", "missing")),
    ("type-number", mutate(SCAN, type=3), ("'type'",)),
    # ---- common fields: missing, null, empty, wrong format
    ("event-id-missing", mutate(SCAN, event_id=ABSENT), ("'event_id'", "missing")),
    ("event-id-null", mutate(SCAN, event_id=None), ("'event_id'", "missing")),
    ("event-id-empty", mutate(SCAN, event_id=""), ("'event_id'",)),
    ("event-id-65-chars", mutate(SCAN, event_id="a" * 65), ("'event_id'",)),
    ("event-id-slash", mutate(SCAN, event_id="a/b"), ("'event_id'",)),
    ("event-id-space", mutate(SCAN, event_id="a b"), ("'event_id'",)),
    ("event-id-non-ascii", mutate(SCAN, event_id="事件1"), ("'event_id'",)),
    ("event-id-number", mutate(SCAN, event_id=17), ("'event_id'", "string")),
    ("enterprise-missing", mutate(SCAN, enterprise_id=ABSENT), ("'enterprise_id'", "missing")),
    ("enterprise-empty", mutate(SCAN, enterprise_id=""), ("'enterprise_id'",)),
    ("enterprise-short", mutate(SCAN, enterprise_id="E123456"), ("'enterprise_id'",)),
    ("enterprise-lower-case", mutate(SCAN, enterprise_id="e1000001"), ("'enterprise_id'",)),
    ("enterprise-full-width-digits", mutate(SCAN, enterprise_id="E１000001"), ("'enterprise_id'",)),
    ("occurred-at-missing", mutate(SCAN, occurred_at=ABSENT), ("'occurred_at'", "missing")),
    ("occurred-at-null", mutate(SCAN, occurred_at=None), ("'occurred_at'", "missing")),
    ("occurred-at-number", mutate(SCAN, occurred_at=1762819200), ("'occurred_at'",)),
    ("waybill-missing", mutate(SCAN, waybill_no=ABSENT), ("'waybill_no'", "missing")),
    ("waybill-empty", mutate(SCAN, waybill_no=""), ("'waybill_no'",)),
    ("waybill-lower-case", mutate(SCAN, waybill_no="yt0000000001"), ("'waybill_no'",)),
    ("waybill-7-chars", mutate(SCAN, waybill_no="YT00001"), ("'waybill_no'",)),
    ("waybill-33-chars", mutate(SCAN, waybill_no="Y" * 33), ("'waybill_no'",)),
    ("site-missing", mutate(SCAN, site_id=ABSENT), ("'site_id'", "missing")),
    ("site-empty", mutate(SCAN, site_id=""), ("'site_id'",)),
    ("site-7-digits", mutate(SCAN, site_id="S3100001"), ("'site_id'",)),
    ("site-wrong-prefix", mutate(SCAN, site_id="P31000001"), ("'site_id'",)),
    ("staff-empty", mutate(SCAN, staff_id=""), ("'staff_id'",)),
    ("staff-lower-case", mutate(SCAN, staff_id="p10000001"), ("'staff_id'",)),
    ("staff-number", mutate(SCAN, staff_id=10000001), ("'staff_id'",)),
    # ---- timestamps (§7)
    ("ts-no-offset", ts("2026-11-11T08:00:00"), ("'occurred_at'",)),
    ("ts-space-for-t", ts("2026-11-11 08:00:00+08:00"), ("'occurred_at'",)),
    ("ts-compact-offset", ts("2026-11-11T08:00:00+0800"), ("'occurred_at'",)),
    ("ts-hour-only-offset", ts("2026-11-11T08:00:00+08"), ("'occurred_at'",)),
    ("ts-date-only", ts("2026-11-11"), ("'occurred_at'",)),
    ("ts-no-seconds", ts("2026-11-11T08:00+08:00"), ("'occurred_at'",)),
    ("ts-leap-second", ts("2026-12-31T23:59:60Z"), ("'occurred_at'",)),
    ("ts-hour-24", ts("2026-11-11T24:00:00Z"), ("'occurred_at'",)),
    ("ts-minute-60", ts("2026-11-11T08:60:00Z"), ("'occurred_at'",)),
    ("ts-month-13", ts("2026-13-11T08:00:00Z"), ("'occurred_at'",)),
    ("ts-month-00", ts("2026-00-11T08:00:00Z"), ("'occurred_at'",)),
    ("ts-day-00", ts("2026-11-00T08:00:00Z"), ("'occurred_at'",)),
    ("ts-feb-30", ts("2026-02-30T08:00:00Z"), ("'occurred_at'",)),
    ("ts-feb-29-non-leap", ts("2026-02-29T08:00:00Z"), ("'occurred_at'",)),
    ("ts-empty-fraction", ts("2026-11-11T08:00:00.+08:00"), ("'occurred_at'",)),
    ("ts-comma-fraction", ts("2026-11-11T08:00:00,5+08:00"), ("'occurred_at'",)),
    ("ts-offset-hour-24", ts("2026-11-11T08:00:00+24:00"), ("'occurred_at'",)),
    ("ts-offset-minute-60", ts("2026-11-11T08:00:00+08:60"), ("'occurred_at'",)),
    ("ts-utc-word", ts("2026-11-11T08:00:00UTC"), ("'occurred_at'",)),
    ("ts-trailing-space", ts("2026-11-11T08:00:00Z "), ("'occurred_at'",)),
    ("ts-leading-space", ts(" 2026-11-11T08:00:00Z"), ("'occurred_at'",)),
    ("ts-full-width-digits", ts("２026-11-11T08:00:00Z"), ("'occurred_at'",)),
    ("ts-two-digit-year", ts("26-11-11T08:00:00Z"), ("'occurred_at'",)),
    ("ts-unix-seconds-string", ts("1762819200"), ("'occurred_at'",)),
    # ---- acceptance
    ("acc-sender-string", mutate(ACC, sender="张三 310101199003071230"), ("'sender'", "object")),
    ("acc-sender-array", mutate(ACC, sender=["张三"]), ("'sender'", "object")),
    ("acc-sender-number", mutate(ACC, sender=5), ("'sender'", "object")),
    ("acc-inspection-string", mutate(ACC, inspection="passed"), ("'inspection'", "object")),
    ("acc-inspection-missing-inspected-at", nested(ACC, "inspection", inspected_at=ABSENT), ("'inspected_at'",)),
    ("acc-inspection-null-inspected-at", nested(ACC, "inspection", inspected_at=None), ("'inspected_at'",)),
    ("acc-inspection-inspected-at-no-offset", nested(ACC, "inspection", inspected_at="2026-11-11T08:00:00"),
     ("'inspected_at'",)),
    ("acc-inspection-missing-result", nested(ACC, "inspection", result=ABSENT), ("'result'",)),
    ("acc-inspection-unknown-result", nested(ACC, "inspection", result="ok"), ("'result'",)),
    ("acc-inspection-missing-category", nested(ACC, "inspection", category=ABSENT), ("'category'",)),
    ("acc-inspection-category-number", nested(ACC, "inspection", category=3), ("'category'",)),
    ("acc-inspector-empty", nested(ACC, "inspection", inspector_id=""), ("'inspector_id'",)),
    ("acc-inspector-bad-format", nested(ACC, "inspection", inspector_id="X10000001"), ("'inspector_id'",)),
    ("acc-customer-empty", mutate(ACC, contract_customer_id=""), ("'contract_customer_id'",)),
    ("acc-customer-bad-format", mutate(ACC, contract_customer_id="C123"), ("'contract_customer_id'",)),
    ("acc-origin-missing", mutate(ACC, origin_region=ABSENT), ("'origin_region'", "missing")),
    ("acc-origin-5-digits", mutate(ACC, origin_region="31010"), ("'origin_region'",)),
    ("acc-origin-number", mutate(ACC, origin_region=310101), ("'origin_region'",)),
    ("acc-destination-full-width", mutate(ACC, destination_region="１１０１０５"), ("'destination_region'",)),
    ("acc-destination-missing", mutate(ACC, destination_region=ABSENT), ("'destination_region'", "missing")),
    ("acc-weight-missing", mutate(ACC, weight_g=ABSENT), ("'weight_g'", "missing")),
    ("acc-weight-null", mutate(ACC, weight_g=None), ("'weight_g'", "missing")),
    ("acc-weight-float", mutate(ACC).replace(b'"weight_g":1200', b'"weight_g":1.0'), ("'weight_g'", "integer")),
    ("acc-weight-exponent", mutate(ACC).replace(b'"weight_g":1200', b'"weight_g":12e2'), ("'weight_g'", "integer")),
    ("acc-weight-true", mutate(ACC, weight_g=True), ("'weight_g'", "integer")),
    ("acc-weight-zero", mutate(ACC, weight_g=0), ("'weight_g'", "> 0")),
    ("acc-weight-negative", mutate(ACC, weight_g=-5), ("'weight_g'", "> 0")),
    ("acc-weight-string", mutate(ACC, weight_g="1200"), ("'weight_g'", "integer")),
    # ---- xray, manual_check, interception
    ("xray-machine-missing", mutate(XRAY, machine_id=ABSENT), ("'machine_id'", "missing")),
    ("xray-machine-empty", mutate(XRAY, machine_id=""), ("'machine_id'",)),
    ("xray-machine-vehicle-id", mutate(XRAY, machine_id="V10000001"), ("'machine_id'",)),
    ("xray-result-missing", mutate(XRAY, result=ABSENT), ("'result'",)),
    ("xray-result-upper-case", mutate(XRAY, result="CLEAR"), ("'result'",)),
    ("xray-result-cleared", mutate(XRAY, result="cleared"), ("'result'",)),
    ("xray-image-ref-number", mutate(XRAY, image_ref=5), ("'image_ref'",)),
    ("manual-check-result-clear", mutate(MC, result="clear"), ("'result'",)),
    ("manual-check-result-missing", mutate(MC, result=ABSENT), ("'result'",)),
    ("interception-reason-missing", mutate(INT, reason=ABSENT), ("'reason'", "missing")),
    ("interception-reason-number", mutate(INT, reason=1), ("'reason'",)),
    ("interception-report-no-number", mutate(INT, report_no=1), ("'report_no'",)),
    # ---- depart, arrive, delivery
    ("depart-to-site-missing", mutate(DEP, to_site_id=ABSENT), ("'to_site_id'", "missing")),
    ("depart-to-site-bad", mutate(DEP, to_site_id="HUB"), ("'to_site_id'",)),
    ("depart-vehicle-empty", mutate(DEP, vehicle_id=""), ("'vehicle_id'",)),
    ("depart-vehicle-bad", mutate(DEP, vehicle_id="X10000001"), ("'vehicle_id'",)),
    ("arrive-from-site-missing", mutate(ARR, from_site_id=ABSENT), ("'from_site_id'", "missing")),
    ("arrive-from-site-empty", mutate(ARR, from_site_id=""), ("'from_site_id'",)),
    ("arrive-vehicle-bad", mutate(ARR, vehicle_id="V1"), ("'vehicle_id'",)),
    ("delivery-method-missing", mutate(DLV, method=ABSENT), ("'method'",)),
    ("delivery-method-unknown", mutate(DLV, method="drone"), ("'method'",)),
    # ---- registry records
    ("registry-entity-unknown", mutate(REG, entity="courier"), ("'entity'",)),
    ("registry-entity-missing", mutate(REG, entity=ABSENT), ("'entity'",)),
    ("registry-id-missing", mutate(REG, id=ABSENT), ("'id'", "missing")),
    ("registry-id-of-another-entity", mutate(REG, id="X10000001"), ("'id'",)),
    ("registry-id-empty", mutate(REG, id=""), ("'id'",)),
    ("registry-status-unknown", mutate(REG, status="retired"), ("'status'",)),
    ("registry-status-missing", mutate(REG, status=ABSENT), ("'status'",)),
    ("registry-occurred-at-no-offset", mutate(REG, occurred_at="2026-01-01T00:00:00"), ("'occurred_at'",)),
]

# every required member of every type, given as null: missing, so rejected (§7 Missing vs null)
REQUIRED = {
    "sort_scan": (SCAN, ["v", "event_id", "type", "enterprise_id", "occurred_at", "waybill_no", "site_id"]),
    "acceptance": (ACC, ["origin_region", "destination_region", "weight_g"]),
    "xray": (XRAY, ["machine_id", "result"]),
    "manual_check": (MC, ["result"]),
    "interception": (INT, ["reason"]),
    "depart": (DEP, ["to_site_id"]),
    "arrive": (ARR, ["from_site_id"]),
    "delivery": (DLV, ["method"]),
    "registry": (REG, ["v", "event_id", "type", "enterprise_id", "occurred_at", "entity", "id", "status"]),
}
REJECTED += [(f"{kind}-{field}-null", mutate(base, **{field: None}), (f"'{field}'",))
             for kind, (base, fields) in REQUIRED.items() for field in fields]
REJECTED += [(f"{kind}-{field}-absent", mutate(base, **{field: ABSENT}), (f"'{field}'", "missing"))
             for kind, (base, fields) in REQUIRED.items() for field in fields]
REJECTED += [(f"inspection-{field}-null", nested(ACC, "inspection", **{field: None}), (f"'{field}'",))
             for field in ("inspected_at", "result", "category")]


def _feed(*lines: bytes) -> tuple[BatchChecker, list]:
    rejected: list = []
    checker = BatchChecker(default_pack(), rejected.append)
    checker.feed(list(lines), source="in.jsonl")
    return checker, rejected


class TestRejectedLines:
    """§2: a malformed line is rejected with its reason; the lines around it are all accepted."""

    @pytest.mark.parametrize("bad, fragments", [c[1:] for c in REJECTED], ids=[c[0] for c in REJECTED])
    def test_malformed_line_is_rejected_with_a_clear_reason(self, bad, fragments):
        """The bad line becomes one rejection (line 2) whose reason names the field and the fault; good lines pass."""
        checker, rejected = _feed(orjson.dumps(GOOD_BEFORE), bad, orjson.dumps(GOOD_AFTER))
        assert [r.line for r in rejected] == [2]
        assert checker.stats.accepted == 2 and checker.stats.rejected == 1
        reason = rejected[0].rejection.reason
        assert reason
        for fragment in fragments:
            options = fragment if isinstance(fragment, tuple) else (fragment,)
            assert any(option in reason for option in options), reason
        assert len(checker.verdict()) >= 0   # the run carries on to a verdict


ACCEPTED = [
    # id, a line that must be accepted
    ("lower-case-t-and-z", ts("2026-11-11t00:30:00z")),
    ("minus-zero-offset", ts("2026-11-11T00:30:00-00:00")),
    ("long-fraction", ts("2026-11-11T00:30:00.123456789012345678901234567890Z")),
    ("odd-offset", ts("2026-11-11T06:15:00+05:45")),
    ("extreme-offsets", ts("2026-11-11T23:59:59+23:59")),
    ("crlf-line-ending", mutate(SCAN) + b"\r\n"),
    ("surrounding-whitespace", b" \t" + mutate(SCAN) + b"  "),
    ("unknown-extra-fields-kept-and-ignored", mutate(SCAN, note="x", nested={"a": [1, 2.5, None]})),
    ("staff-id-missing", mutate(SCAN, staff_id=ABSENT)),
    ("staff-id-null", mutate(SCAN, staff_id=None)),
    ("event-id-64-chars", mutate(SCAN, event_id="a" * 64)),
    ("event-id-all-allowed-chars", mutate(SCAN, event_id="Az09._:-")),
    ("waybill-8-chars", mutate(SCAN, waybill_no="YT000001")),
    ("waybill-32-chars", mutate(SCAN, waybill_no="Y" * 32)),
    ("sender-missing-fields-is-rn1-not-rejection", mutate(ACC, sender={})),
    ("sender-blank-fields", mutate(ACC, sender=sender(name=" ", id_number="", verified_by="\u3000"))),
    ("sender-non-string-fields", mutate(ACC, sender=sender(name=1, id_type=None, id_number=[1], verified_by={}))),
    ("sender-null", mutate(ACC, sender=None)),
    ("inspection-null", mutate(ACC, inspection=None)),
    ("inspector-missing", nested(ACC, "inspection", inspector_id=ABSENT)),
    ("inspector-null", nested(ACC, "inspection", inspector_id=None)),
    ("inspection-category-empty", nested(ACC, "inspection", category="")),
    ("customer-null", mutate(ACC, contract_customer_id=None)),
    ("vehicle-null", mutate(DEP, vehicle_id=None)),
    ("image-ref-null", mutate(XRAY, image_ref=None)),
    ("report-no-present", mutate(INT, report_no="R-1")),
    ("report-no-null", mutate(INT, report_no=None)),
    ("interception-reason-empty-string", mutate(INT, reason="")),
    ("weight-big-but-64-bit", mutate(ACC, weight_g=2**63 - 1)),
    ("registry-for-every-entity", orjson.dumps(registry("vehicle", "V10000009", "blacklisted", event_id="bad"))),
]


class TestAcceptedLines:
    """What §7 allows is accepted: lower-case t/z, -00:00, nulls for optional members, incomplete senders."""

    @pytest.mark.parametrize("good", [c[1] for c in ACCEPTED], ids=[c[0] for c in ACCEPTED])
    def test_line_is_accepted(self, good):
        """The line is accepted, not rejected, and the lines around it too."""
        checker, rejected = _feed(orjson.dumps(GOOD_BEFORE), good, orjson.dumps(GOOD_AFTER))
        assert [r.rejection.reason for r in rejected] == []
        assert checker.stats.accepted == 3

    def test_weight_beyond_64_bits_is_an_int(self):
        """An integer literal beyond 64 bits is still a JSON integer > 0, so weight_g is valid."""
        line = mutate(ACC).replace(b'"weight_g":1200', b'"weight_g":18446744073709551616')
        _, rejected = _feed(line)
        assert [r.rejection.reason for r in rejected] == []


class TestLines:
    """§7 Lines: blank lines, the BOM, and the run carrying on past bad lines."""

    @pytest.mark.parametrize("blank", [b"", b" ", b"\t", b"\r", b"\r\n", b"\n", b" \t \r \t"],
                             ids=["empty", "space", "tab", "cr", "crlf", "lf", "mixed"])
    def test_blank_line_is_skipped_not_rejected(self, blank):
        """A line of JSON whitespace only is skipped and not counted as a rejection."""
        checker, rejected = _feed(orjson.dumps(GOOD_BEFORE), blank, orjson.dumps(GOOD_AFTER))
        assert rejected == [] and checker.stats.accepted == 2 and checker.stats.rejected == 0

    def test_bom_at_start_of_file_is_ignored(self):
        """A UTF-8 BOM at the very start of a file is ignored: the first line is accepted."""
        checker, rejected = _feed(b"\xef\xbb\xbf" + orjson.dumps(GOOD_BEFORE), orjson.dumps(GOOD_AFTER))
        assert rejected == [] and checker.stats.accepted == 2

    def test_bom_at_start_of_each_file_is_ignored(self):
        """Each input file may start with its own BOM."""
        out = run_files([[b"\xef\xbb\xbf" + orjson.dumps(GOOD_BEFORE)], [b"\xef\xbb\xbf" + orjson.dumps(GOOD_AFTER)]])
        assert out.rejections == [] and out.stats.accepted == 2

    def test_bom_before_a_blank_first_line(self):
        """A file that is a BOM and a blank first line has no rejection."""
        checker, rejected = _feed(b"\xef\xbb\xbf\n", orjson.dumps(GOOD_AFTER))
        assert rejected == [] and checker.stats.accepted == 1

    def test_bom_inside_a_file_is_not_json(self):
        """A BOM that starts a later line is not JSON whitespace: that line is rejected."""
        checker, rejected = _feed(orjson.dumps(GOOD_BEFORE), b"\xef\xbb\xbf" + orjson.dumps(GOOD_AFTER))
        assert [r.line for r in rejected] == [2]

    @pytest.mark.parametrize("encoding", ["utf-16-le", "utf-16-be", "utf-32-le"])
    def test_utf16_or_utf32_line_is_rejected(self, encoding):
        """A line in another Unicode encoding (NUL bytes between the characters) is not UTF-8 JSON: rejected."""
        bad = orjson.dumps(GOOD_AFTER).decode().encode(encoding)
        checker, rejected = _feed(orjson.dumps(GOOD_BEFORE), bad)
        assert [r.line for r in rejected] == [2]

    def test_many_bad_lines_never_stop_the_run(self):
        """Every good line around every kind of bad line is accepted, and the count adds up."""
        lines, good = [], 0
        for n, (_, bad, _) in enumerate(REJECTED):
            lines.append(orjson.dumps(sort_scan(f"good-{n}", at(0, 0, n), site=OUTLET)))
            lines.append(bad)
            good += 1
        checker, rejected = _feed(*lines)
        assert checker.stats.accepted == good
        assert checker.stats.rejected == len(REJECTED) == len(rejected)
        assert [r.line for r in rejected] == list(range(2, 2 * len(REJECTED) + 1, 2))

    def test_five_megabyte_garbage_line_is_rejected(self):
        """A 5 MB line of garbage is one rejection, and the run goes on."""
        checker, rejected = _feed(b"x" * (5 * 1024 * 1024), orjson.dumps(GOOD_AFTER))
        assert [r.line for r in rejected] == [1] and checker.stats.accepted == 1

    def test_five_megabyte_valid_event_is_accepted(self):
        """A valid event made 5 MB long by an unknown extra field is still a valid event (extra fields are ignored)."""
        big = mutate(SCAN, attachment="A" * (5 * 1024 * 1024))
        checker, rejected = _feed(big, orjson.dumps(GOOD_AFTER))
        assert [r.rejection.reason for r in rejected] == []
        assert checker.stats.accepted == 2

    @pytest.mark.parametrize("depth", [300, 600, 1500])
    def test_deeply_nested_extra_field_does_not_crash(self, depth):
        """A valid event with a deeply nested extra field is decided (either way) without crashing the run."""
        deep = b"[" * depth + b"1" + b"]" * depth
        line = mutate(SCAN)[:-1] + b',"deep":' + deep + b"}"
        checker, rejected = _feed(orjson.dumps(GOOD_BEFORE), line, orjson.dumps(GOOD_AFTER))
        assert checker.stats.accepted + checker.stats.rejected == 3
        assert checker.stats.accepted >= 2
        checker.verdict()

    @pytest.mark.parametrize("escape", [b'"\\ud800"', b'"\\udfff"', b'"\xed\xa0\x80"'],
                             ids=["lone-high-surrogate-escape", "lone-low-surrogate-escape", "encoded-surrogate-bytes"])
    def test_lone_surrogates_do_not_crash(self, escape):
        """A string holding a lone surrogate is decided (either way) without stopping the run."""
        line = mutate(SCAN)[:-1] + b',"note":' + escape + b"}"
        checker, rejected = _feed(orjson.dumps(GOOD_BEFORE), line, orjson.dumps(GOOD_AFTER))
        assert checker.stats.accepted >= 2
        assert checker.stats.accepted + checker.stats.rejected == 3

    @pytest.mark.parametrize("number", [
        "1e400", "-1e400", "1e-999999999", "123456789012345678901234567890.5",
        "1e100000", "1e999999999", "1" + "0" * 5000,
    ], ids=["1e400", "minus-1e400", "tiny", "long-decimal", "1e100000", "1e999999999", "5001-digit-integer"])
    def test_extreme_number_in_extra_field_is_accepted_promptly(self, number):
        """A valid event whose ignored extra field is an extreme (but valid JSON) number is accepted in seconds,
        and its exact re-send is a duplicate."""
        import subprocess
        import sys

        line = mutate(SCAN)[:-1] + b',"x":' + number.encode() + b"}"
        code = (
            "import orjson\n"
            "from greenshield.rules.batch import BatchChecker\n"
            "from greenshield.rules.pack import default_pack\n"
            f"line = {line!r}\n"
            "c = BatchChecker(default_pack(), lambda r: print('REJECTED', r.rejection.reason))\n"
            "c.feed([line, line])\n"
            "print('STATS', c.stats.accepted, c.stats.duplicates, c.stats.rejected)\n"
        )
        try:
            r = subprocess.run([sys.executable, "-c", code], capture_output=True, timeout=10)
        except subprocess.TimeoutExpired:
            pytest.fail(f"deciding one line with {number} took more than 10 s")
        assert r.returncode == 0, r.stderr.decode()[-600:]
        assert r.stdout.decode().splitlines()[-1] == "STATS 1 1 0", r.stdout.decode()

    def test_invalid_utf8_bytes_are_rejected(self):
        """Encoded surrogates are not UTF-8: an event carrying them is not accepted."""
        line = mutate(SCAN)[:-1] + b',"note":"\xed\xa0\x80"}'
        _, rejected = _feed(line)
        assert len(rejected) == 1


class TestTypeField:
    """The `type` member must be a string; anything else is a rejection, never a crash."""

    @pytest.mark.parametrize("value", [["sort_scan"], {"name": "sort_scan"}], ids=["array", "object"])
    def test_unhashable_type_is_rejected(self, value):
        """A `type` given as an array or object is rejected with a reason naming `type`."""
        checker, rejected = _feed(orjson.dumps(GOOD_BEFORE), mutate(SCAN, type=value), orjson.dumps(GOOD_AFTER))
        assert [r.line for r in rejected] == [2]
        assert "'type'" in rejected[0].rejection.reason
        assert checker.stats.accepted == 2


class TestRejectionPayload:
    """§2, §6: the rejects output masks the sender wherever the line parses."""

    def test_rejected_acceptance_payload_masks_the_sender(self):
        """A rejected acceptance's payload holds the sender masked: no plain name or id number."""
        snd = sender(name="王小明", id_number="310101199003071230")
        _, rejected = _feed(mutate(acceptance("bad", at(0), sender=snd), weight_g=0))
        payload = rejected[0].rejection.payload
        text = orjson.dumps(payload).decode()
        assert "王小明" not in text and "310101199003071230" not in text
        assert "小明" not in text and "1990030712" not in text
        assert payload["sender"].get("name_masked") == "王**"
        assert payload["sender"].get("id_number_masked") == "310*************30"

    def test_reason_never_quotes_the_sender(self):
        """A rejection caused by the sender says what is wrong without echoing its content."""
        _, rejected = _feed(mutate(acceptance("bad", at(0)), sender="王小明 310101199003071230"))
        assert "王小明" not in rejected[0].rejection.reason
        assert "310101199003071230" not in rejected[0].rejection.reason
        assert "王小明" not in orjson.dumps(rejected[0].rejection.payload).decode()

    def test_accepted_lines_are_not_checked_against_rejected_ones(self):
        """A check() run with a bad line and the standard registry still gives the good lines' verdict."""
        out = check([GOOD_BEFORE, b"{", GOOD_AFTER])
        assert len(out.rejections) == 1 and out.rules() == set()


MASKS = [
    # id, name, id_number, masked name, masked id number (§6)
    ("resident-18", "王小明", "310101199003071230", "王**", "310*************30"),
    ("eight-chars", "Li", "E1234567", "L*", "E12***67"),
    ("seven-chars", "李", "1234567", "李", "******7"),
    ("one-char", "Åsa", "X", "Å**", "X"),
]


class TestMasking:
    """§6: the rejects payload shows name and id number only in their masked display forms."""

    @pytest.mark.parametrize("name, number, masked_name, masked_number", [c[1:] for c in MASKS],
                             ids=[c[0] for c in MASKS])
    def test_masked_forms_in_rejection_payload(self, name, number, masked_name, masked_number):
        """Name: first character then stars; id number: first 3 and last 2 (only the last under 8 chars)."""
        bad = mutate(acceptance("bad", at(0), sender=sender(name=name, id_number=number)), v=9)
        _, rejected = _feed(bad)
        shown = rejected[0].rejection.payload["sender"]
        assert shown.get("name_masked") == masked_name
        assert shown.get("id_number_masked") == masked_number
        assert "name" not in shown and "id_number" not in shown

    def test_violations_never_carry_the_sender(self):
        """No violation's message or evidence repeats the sender's name or id number."""
        snd = sender(name="王小明", id_type="passport", id_number="310101199003071230x")
        out = check([acceptance("acc", at(0), sender=snd)])
        assert "RN-2" in out.rules()
        text = orjson.dumps(out.dicts()).decode()
        assert "王小明" not in text and "310101199003071230" not in text
