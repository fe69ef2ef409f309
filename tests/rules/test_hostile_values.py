"""Hostile values at the pure edge (issue 14): every input is an accepted value or one Rejection, never a raise.

Each class names the defect it pins: lone surrogates, NUL, huge numbers, timestamps
whose UTC instant cannot be written back, deep nesting, reasons that echoed input,
and personal data hidden in odd keys.
"""

from __future__ import annotations

import json
import time
from typing import Any

import orjson
import pytest
from tests.rules.builders import (
    OUTLET, VALID_RESIDENT_ID, acceptance, at, check, inspection, interception, registry, sender,
    sort_scan, xray,
)

from greenshield.translog.entries import canonical as stored_canonical
from greenshield.rules.privacy import (
    extra_fields, id_hash, mask_text, redact_counting, redact_event, redact_rejected, redact_sender,
)
from greenshield.rules.batch import BatchChecker, RejectedLine
from greenshield.rules.dedup import Deduplicator, Seen, canonical, digest
from greenshield.rules.model import Event, Rejection
from greenshield.rules.output import reject_record
from greenshield.rules.pack import default_pack
from greenshield.rules.exact_json import HugeInt, decode_plain, decode_stored
from greenshield.rules.parse import parse_line_plain, restore, validate
from greenshield.rules.reasons import MAX_REASON
from greenshield.rules.timestamps import TimestampError, format_utc, parse_instant

NAME = "王小明"
ID_NUMBER = VALID_RESIDENT_ID


def same_event(a: Any, b: Any) -> bool:
    """Events compare by identity; these are the same when every slot is."""
    slots = [n for cls in type(a).__mro__ for n in getattr(cls, "__slots__", ())]
    if not slots:
        return bool(a == b)
    return type(a) is type(b) and all(same_event(getattr(a, n, None), getattr(b, n, None)) for n in slots)


def feed(*lines: bytes) -> tuple[BatchChecker, list[RejectedLine]]:
    rejected: list[RejectedLine] = []
    checker = BatchChecker(default_pack(), rejected.append)
    checker.feed(list(lines), source="in.jsonl")
    return checker, rejected


def text_with(obj: dict[str, Any], marker: str, raw: str) -> bytes:
    """``obj`` as JSON with the string ``marker`` (wherever it is, key or value) replaced by raw JSON text."""
    out = orjson.dumps(obj).replace(f'"{marker}"'.encode(), raw.encode())
    assert raw.encode() in out
    return out


def good_scan(event_id: str = "g", **members: Any) -> dict[str, Any]:
    """A valid sort_scan with ``members`` added or replaced."""
    return {**sort_scan(event_id, at(0), site=OUTLET), **members}


# ------------------------------------------------------------------ 1. lone surrogates, NUL

SURROGATE_PLACES = {
    "sender.id_number": lambda m: acceptance("a", at(0), sender=sender(id_number=m)),
    "sender.id_type": lambda m: acceptance("a", at(0), sender=sender(id_type=m)),
    "sender.name": lambda m: acceptance("a", at(0), sender=sender(name=m)),
    "inspection.category": lambda m: acceptance("a", at(0), inspection=inspection(at(0), category=m)),
    "interception.reason": lambda m: interception("i", at(0), reason=m),
    "extra field": lambda m: good_scan(note=m),
    "a key": lambda m: good_scan(**{m: 1}),
    "a key inside sender": lambda m: acceptance("a", at(0), sender=sender(**{m: "x"})),
    "deep inside an extra": lambda m: good_scan(deep=[[[{"k": [m]}]]]),
}


class TestLoneSurrogates:
    @pytest.mark.parametrize("place", list(SURROGATE_PLACES))
    @pytest.mark.parametrize("escape", [r"\ud800", r"\udfff", r"\udc00\ud800", r"x\ud83d"])
    def test_a_lone_surrogate_anywhere_is_not_valid_json(self, place: str, escape: str) -> None:
        """I-JSON (RFC 7493 §2.1): a string or key holding a lone surrogate is not Unicode text: one reject."""
        line = text_with(SURROGATE_PLACES[place]("MARK"), "MARK", f'"{escape}"')
        obj, item, _ = parse_line_plain(line)
        assert isinstance(item, Rejection) and obj is None
        assert item.reason.startswith("not valid JSON: lone surrogate \\ud") and "RFC 7493" in item.reason

    @pytest.mark.parametrize("tail", ["", ',"w":1.5', ',"deep":' + "[" * 2000 + "]" * 2000, ',"n":' + "9" * 5000])
    def test_every_parser_path_refuses_them(self, tail: str) -> None:
        """orjson refuses them; the exact and the deep parser (floats, huge ints, nesting) must agree."""
        line = orjson.dumps(good_scan())[:-1] + f',"x":"\\ud800"{tail}}}'.encode()
        assert isinstance(parse_line_plain(line)[1], Rejection)
        assert not isinstance(parse_line_plain(line.replace(b'"\\ud800"', b'"ok"'))[1], Rejection)

    def test_a_surrogate_pair_and_an_escaped_backslash_are_fine(self) -> None:
        """``\\ud83d\\ude00`` is one character (U+1F600); ``"\\\\ud800"`` is six plain characters."""
        for raw in (r'"\ud83d\ude00"', r'"\\ud800"'):
            item = parse_line_plain(text_with(good_scan(note="M"), "M", raw))[1]
            assert isinstance(item, Event), item

    def test_a_batch_with_one_goes_on(self) -> None:
        """The line is one reject (no payload: it did not parse); the lines around it are accepted."""
        bad = text_with(acceptance("a", at(0), sender=sender(id_number="M")), "M", r'"\ud800"')
        checker, rejected = feed(orjson.dumps(good_scan("g1")), bad, orjson.dumps(good_scan("g2")))
        assert checker.stats.accepted == 2 and [r.line for r in rejected] == [2]
        assert rejected[0].rejection.payload is None

    def test_id_hash_and_redaction_are_total_on_them(self) -> None:
        """Never reached from input any more, but a surrogate given in code hashes instead of raising."""
        assert len(id_hash(b"k", "resident_id", "\ud800")) == 64
        assert redact_sender({"name": "\ud800", "id_type": "\udc00", "id_number": "\ud800"}, b"k")["id_hash"]


class TestNul:
    def test_nul_in_free_text_is_accepted_and_escaped_wherever_it_is_written(self) -> None:
        """``\\u0000`` is valid Unicode: kept in ``category``/``reason``; the stored text escapes it."""
        line = text_with(acceptance("a", at(0), inspection=inspection(at(0), category="M")), "M", r'"a\u0000b"')
        obj, item, plain = parse_line_plain(line)
        assert isinstance(item, Event)
        doc = redact_event(obj)
        assert doc["inspection"]["category"] == "a\x00b"
        assert b"\x00" not in stored_canonical(doc) and b"\x00" not in canonical(obj, plain=plain)

    @pytest.mark.parametrize("field", ["site_id", "event_id", "waybill_no", "type", "occurred_at", "staff_id"])
    def test_nul_in_an_identifier_is_rejected_and_no_text_carries_a_raw_nul(self, field: str) -> None:
        """The identifier fails its format; neither the reason nor the reject record holds a raw NUL."""
        line = text_with(good_scan(**{field: "M"}), "M", r'"S3100\u00000001"')
        item = parse_line_plain(line)[1]
        assert isinstance(item, Rejection) and f"'{field}'" in item.reason
        assert "\x00" not in item.reason
        assert b"\x00" not in reject_record(RejectedLine("in", 1, item))


# ------------------------------------------------------------------ 2. numbers

HUGE = "7" * 5000


class TestHugeNumbers:
    @pytest.mark.parametrize("raw", [HUGE, "-" + HUGE, "9" * 400, "1e999", "-1E400", "-0", "1E400", "0.1e-999",
                                     "123456789012345678901234567890.5"])
    def test_any_number_in_an_extra_field_is_accepted_digested_and_written(self, raw: str) -> None:
        """Extra fields are content for the digest (§7) and never stored: every step is total."""
        line = text_with(good_scan(n="M"), "M", raw)
        obj, item, plain = parse_line_plain(line)
        assert isinstance(item, Event)
        assert len(digest(obj, line, plain)) == 16
        assert "n" not in redact_event(obj) and extra_fields(obj) == 1
        checker, rejected = feed(line, line)
        assert checker.stats.accepted == 1 and checker.stats.duplicates == 1 and rejected == []

    def test_a_5000_digit_weight_is_accepted_stored_and_read_back_exactly(self) -> None:
        """weight_g is an int > 0 of any size: the stored doc re-reads through decode_stored, restore agrees."""
        line = text_with(acceptance("a", at(0), weight="M"), "M", HUGE)
        obj, item, _ = parse_line_plain(line)
        assert isinstance(item, Event) and type(obj["weight_g"]) is HugeInt
        text = stored_canonical(redact_event(obj)).decode()
        with pytest.raises(ValueError):
            json.loads(text)  # what a plain re-read of the store did: every restart died here
        again = decode_stored(text)
        assert again["weight_g"] == obj["weight_g"] and stored_canonical(again).decode() == text
        assert same_event(restore(again, True, True), item)

    @pytest.mark.parametrize("raw", ["1.5", "1e0", "1E400", HUGE + ".0", "-" + HUGE])
    def test_a_weight_that_is_not_a_positive_integer_is_one_reject_with_a_short_reason(self, raw: str) -> None:
        line = text_with(acceptance("a", at(0), weight="M"), "M", raw)
        item = parse_line_plain(line)[1]
        assert isinstance(item, Rejection) and "'weight_g'" in item.reason and len(item.reason) < 120
        assert "7777777" not in item.reason

    def test_numbers_compare_as_values(self) -> None:
        """-0 is 0, 1E400 is 1e400 and 10e399, 100 is 100.0: the same content, whatever the spelling."""
        for a, b in [("-0", "0"), ("1E400", "10e399"), ("100", "100.0"), (HUGE, HUGE + ".000")]:
            d = Deduplicator()
            first, second = (text_with(good_scan(n="M"), "M", x) for x in (a, b))
            for line in (first, second):
                obj, item, plain = parse_line_plain(line)
                seen = d.check("E1000001", "g", obj, plain)
            assert seen is Seen.EXACT, (a, b)

    def test_decode_stored_reads_what_the_store_writes(self) -> None:
        """Exact decimals, huge integers, deep values and even legacy surrogates come back as they were."""
        for text in ['{"w":1.50}', '{"n":' + HUGE + "}", '{"s":"\\ud800"}', "[" * 5000 + "]" * 5000]:
            value = decode_stored(text)
            assert canonical(value) == canonical(decode_stored(canonical(value).decode()))
        assert str(decode_stored('{"w":1.50}')["w"]) == "1.50"

    @pytest.mark.parametrize("text", [b"\xff{}", "nope", '{"a":', "[" * 100_000, b""])
    def test_decode_stored_refuses_a_corrupted_text_with_one_value_error(self, text: str | bytes) -> None:
        with pytest.raises(ValueError, match="not valid JSON"):
            decode_stored(text)


# ------------------------------------------------------------------ 3. timestamps

class TestTimestampRange:
    @pytest.mark.parametrize("text", ["0000-01-01T00:00:00+23:59", "0000-01-01T00:00:00.5+00:01",
                                      "9999-12-31T23:00:00-02:00", "9999-12-31T23:59:59.1-00:01"])
    def test_an_instant_outside_0000_9999_utc_is_refused(self, text: str) -> None:
        with pytest.raises(TimestampError, match="outside the years 0000-9999"):
            parse_instant(text)

    @pytest.mark.parametrize("text", ["0000-01-01T00:00:00Z", "0000-01-01T23:59:00+23:59",
                                      "9999-12-31T23:59:59.999999999Z", "9999-12-31T00:00:00-23:59"])
    def test_the_bounds_themselves_are_accepted_and_written_back(self, text: str) -> None:
        at_ = parse_instant(text)
        assert parse_instant(format_utc(at_))[0] == at_[0]

    @pytest.mark.parametrize("where", ["occurred_at", "inspected_at", "registry"])
    def test_every_timestamp_field_is_a_reject_with_the_reason(self, where: str) -> None:
        bad = "0000-01-01T00:00:00+23:59"
        obj = {"occurred_at": good_scan(occurred_at=bad),
               "inspected_at": acceptance("a", at(0), inspection=inspection(bad)),
               "registry": registry("staff", "P10000001", occurred_at=bad)}[where]
        item = validate(obj)
        field = "inspected_at" if where == "inspected_at" else "occurred_at"
        assert isinstance(item, Rejection)
        assert item.reason == (f"field '{field}': its UTC instant is outside the years 0000-9999, "
                               "so it cannot be written in RFC 3339")

    def test_a_million_fraction_digits_are_accepted_quickly_and_never_echoed(self) -> None:
        """The contract allows any number of digits: linear work, and reasons stay short."""
        long_ok = "2026-11-11T08:00:00." + "1" * 1_000_000 + "+08:00"
        start = time.perf_counter()
        checker, rejected = feed(orjson.dumps(good_scan(occurred_at=long_ok)))
        assert checker.stats.accepted == 1 and rejected == []
        long_bad = "2026-02-30T08:00:00." + "1" * 1_000_000 + "+08:00"
        item = validate(good_scan(occurred_at=long_bad))
        assert isinstance(item, Rejection) and len(item.reason) < 120 and "calendar date" in item.reason
        assert time.perf_counter() - start < 5

    def test_a_5_mb_invalid_timestamp_gives_a_short_reason(self) -> None:
        item = validate(good_scan(occurred_at="x" * 5_000_000))
        assert isinstance(item, Rejection) and len(item.reason) <= MAX_REASON
        assert "a string of 5000000 characters" in item.reason and "xxx" not in item.reason


# ------------------------------------------------------------------ 4. nesting

def nested(depth: int, leaf: Any = 1) -> str:
    return '{"a":' * depth + json.dumps(leaf) + "}" * depth


class TestDeepNesting:
    @pytest.mark.parametrize("depth", [300, 1_000, 100_000])
    def test_a_valid_event_with_a_deep_extra_field_is_accepted(self, depth: int) -> None:
        """README: a line is never rejected for its nesting alone; duplicates still compare its content."""
        line = text_with(good_scan(deep="M"), "M", nested(depth))
        other = text_with(good_scan(deep="M"), "M", nested(depth, 2))
        checker, rejected = feed(line, line, other)
        assert checker.stats.accepted == 1 and checker.stats.duplicates == 1
        assert [r.rejection.reason.startswith("conflicting duplicate") for r in rejected] == [True]
        obj = parse_line_plain(line)[0]
        assert redact_event(obj) == redact_event(parse_line_plain(orjson.dumps(good_scan()))[0])

    def test_a_deep_invalid_line_is_one_reject_with_a_shallow_payload(self) -> None:
        line = text_with(good_scan(site_id="M"), "M", nested(100_000))
        checker, rejected = feed(line)
        assert len(rejected) == 1 and "'site_id'" in rejected[0].rejection.reason
        assert rejected[0].rejection.payload["site_id"] == "<object>"
        assert len(reject_record(rejected[0])) < 1000

    def test_canonical_of_deep_values_is_total_and_stable(self) -> None:
        """Beyond orjson's 255 and the stdlib's recursion limit, the same text as the stdlib's."""
        for depth in (200, 600, 5_000, 100_000):
            value = json.loads(nested(min(depth, 900))) if depth < 900 else decode_plain(nested(depth).encode())[0]
            assert canonical(value) == canonical(decode_plain(nested(depth).encode())[0])
        shallow = json.loads(nested(600, [1.5, "é", 2**70]))
        assert canonical(shallow) == json.dumps(
            json.loads(nested(600, [{"\x00num": "15e-1"}, "é", 2**70])), sort_keys=True, separators=(",", ":")
        ).encode()

    @pytest.mark.parametrize("bad", [b"[" * 100_000, b'{"a":' * 100_000, b"[" * 5000 + b"1,]" + b"]" * 4999,
                                     b"[" * 5000 + b"]" * 5001])
    def test_a_deep_text_that_is_not_json_is_still_rejected(self, bad: bytes) -> None:
        item = parse_line_plain(bad)[1]
        assert isinstance(item, Rejection) and item.reason.startswith("not valid JSON")


# ------------------------------------------------------------------ 5. reasons

class TestReasonsEchoNothing:
    @pytest.mark.parametrize("field", ["site_id", "staff_id", "type", "enterprise_id", "occurred_at"])
    def test_an_id_number_in_a_field_is_not_in_the_reason(self, field: str) -> None:
        item = validate(good_scan(**{field: ID_NUMBER}))
        assert isinstance(item, Rejection) and f"'{field}'" in item.reason
        assert ID_NUMBER not in item.reason and ID_NUMBER[:8] not in item.reason
        assert "a string of 18 characters" in item.reason

    @pytest.mark.parametrize("obj", [
        xray("x", at(0), result=NAME), acceptance("a", at(0), origin=NAME), registry("staff", NAME),
        registry("staff", "P10000001", status=NAME), registry(NAME, "P10000001"),
        acceptance("a", at(0), inspection=inspection(at(0), result=NAME)),
    ])
    def test_a_name_in_an_enum_or_format_field_is_not_in_the_reason(self, obj: dict[str, Any]) -> None:
        item = validate(obj)
        assert isinstance(item, Rejection) and NAME not in item.reason and len(item.reason) < 200

    def test_small_integers_are_still_shown(self) -> None:
        """Values that cannot be personal data stay in the reason: ``v=2``, a weight of -5."""
        assert "v=2" in validate(good_scan(v=2)).reason  # type: ignore[union-attr]
        assert "got -5" in validate(acceptance("a", at(0), weight=-5)).reason  # type: ignore[union-attr]


# ------------------------------------------------------------------ 6. projection onto the contract's fields

ODD_SENDER = {"name": "张三", "id_type": "resident_id", "id_number": VALID_RESIDENT_ID, "verified_by": "id_reader",
              "Name": NAME, "id_number ": ID_NUMBER, "phone": "13800138000"}


class TestProjection:
    def test_redact_event_keeps_only_the_contract_fields(self) -> None:
        """Case/space-variant keys, extra keys in sender, inspection and at the top level are dropped."""
        obj = acceptance("a", at(0), sender=dict(ODD_SENDER),
                         inspection=inspection(at(0), note=NAME, Result="x"), holder=NAME, ID=ID_NUMBER)
        doc, dropped = redact_counting(obj, b"key")
        assert dropped == extra_fields(obj) == 7
        blob = orjson.dumps(doc).decode()
        assert NAME not in blob and ID_NUMBER not in blob and "13800138000" not in blob
        assert set(doc["sender"]) == {"id_type", "verified_by", "name_masked", "id_number_masked", "id_hash"}
        assert set(doc["inspection"]) == {"inspector_id", "inspected_at", "result", "category"}
        assert set(doc) == set(acceptance("a", at(0)))

    def test_the_projection_restores_to_the_same_event(self) -> None:
        obj = acceptance("a", at(0), sender=dict(ODD_SENDER), extra={"deep": [1]})
        item = validate(obj)
        assert isinstance(item, Event) and item.acceptance is not None
        facts = (item.acceptance.sender_complete, item.acceptance.sender_document_ok)
        assert same_event(restore(redact_event(obj), *facts), item)

    def test_extra_fields_still_count_for_the_duplicate_digest(self) -> None:
        """§7: extra fields are content; the projection must not hide a conflicting duplicate."""
        a, b = good_scan(note="one"), good_scan(note="two")
        assert redact_event(a) == redact_event(b) and digest(a) != digest(b)
        out = check([a, b], registry=False)
        assert len(out.rejections) == 1 and "conflicting duplicate" in out.reasons[0]

    def test_a_common_event_is_shared_not_copied(self) -> None:
        scan = good_scan()
        assert redact_event(scan) is scan and extra_fields(scan) == 0

    def test_unknown_id_type_or_verifier_is_masked(self) -> None:
        doc = redact_sender(sender(id_type=ID_NUMBER, verified_by=NAME + "1234567"))
        assert ID_NUMBER not in str(doc) and NAME not in str(doc)
        assert doc["id_type"] == mask_text(ID_NUMBER)

    def test_a_person_of_a_staff_record_is_masked_and_hashed(self) -> None:
        """Revision 2 §8.2: a staff record's ``person`` is personal data, kept like a sender's."""
        rec = registry("staff", "P10000001", person={"id_type": "resident_id", "id_number": ID_NUMBER, "x": NAME})
        doc = redact_event(rec, b"key")
        assert doc["person"] == {"id_type": "resident_id", "id_number_masked": "310*************" + ID_NUMBER[-2:],
                                 "id_hash": id_hash(b"key", "resident_id", ID_NUMBER)}
        assert ID_NUMBER not in str(redact_rejected(rec)) and NAME not in str(redact_rejected(rec))


class TestRejectPayloads:
    @pytest.mark.parametrize("field", ["site_id", "staff_id", "enterprise_id", "type", "occurred_at", "machine_id",
                                       "result", "image_ref", "note"])
    def test_an_id_number_in_any_field_of_a_rejected_line_is_masked(self, field: str) -> None:
        """(An ID number is a well-formed ``event_id`` or ``waybill_no``: those are accepted formats.)"""
        obj = {**xray("x", at(0), site="bad"), field: ID_NUMBER}
        item = validate(obj)
        assert isinstance(item, Rejection) and item.payload is not None
        assert ID_NUMBER not in orjson.dumps(item.payload).decode()
        assert item.payload.get(field, mask_text(ID_NUMBER)) == mask_text(ID_NUMBER)
        assert ("note" in item.payload) is False

    def test_well_formed_values_stay_plain_free_text_is_masked(self) -> None:
        obj = acceptance("a", at(0), site="bad", inspection=inspection(at(0), category="batteries"), weight=1200)
        payload = validate(obj).payload  # type: ignore[union-attr]
        assert payload["event_id"] == "a" and payload["occurred_at"] == at(0) and payload["weight_g"] == 1200
        assert payload["inspection"]["inspector_id"] == "P10000002" and payload["inspection"]["result"] == "passed"
        assert payload["inspection"]["category"] == "b********" and payload["site_id"] == "***"

    def test_a_conflicting_duplicate_payload_is_masked_too(self) -> None:
        first = interception("i", at(0), reason="lithium battery")
        second = interception("i", at(0), reason=f"{NAME} {ID_NUMBER}")
        out = check([first, second], registry=False)
        assert len(out.rejections) == 1
        payload = out.rejections[0].rejection.payload
        assert payload is not None and NAME not in str(payload) and ID_NUMBER not in str(payload)

    def test_non_string_values_become_their_type(self) -> None:
        payload = validate(good_scan(site_id=[ID_NUMBER], staff_id={"n": ID_NUMBER}, v=int(ID_NUMBER[:17])))
        assert payload.payload == {**redact_rejected(good_scan()), "site_id": "<array>",  # type: ignore[union-attr]
                                   "staff_id": "<object>", "v": "<number>"}


def test_mask_text_shows_at_most_one_character() -> None:
    assert mask_text("1234567") == "*******"
    assert mask_text(ID_NUMBER) == ID_NUMBER[0] + "*" * 17
    assert mask_text("x" * 5_000_000) == "x" + "*" * 31 + "...(5000000 characters)"


def test_check_names_a_bad_as_of(tmp_path: Any, capsys: pytest.CaptureFixture[str]) -> None:
    from greenshield import cli

    events = tmp_path / "e.jsonl"
    events.write_bytes(orjson.dumps(good_scan()) + b"\n")
    assert cli.main(["check", str(events), "--as-of", "0000-01-01T00:00:00+23:59"]) == 2
    err = capsys.readouterr().err
    assert "--as-of '0000-01-01T00:00:00+23:59'" in err and "outside the years 0000-9999" in err

