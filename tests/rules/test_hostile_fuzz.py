"""Property tests of the pure edge (issue 14): any bytes, any JSON value, never a raise.

Arbitrary bytes, and arbitrary JSON texts (lone surrogates, NUL, huge and odd numbers,
deep nesting, case- and space-variant keys), alone or planted into valid events, go
through ``parse_line_plain``, redaction, the duplicate digest and canonical form, the
stored form and its re-reading, and (when accepted) the rule core.
"""

from __future__ import annotations

import json
from typing import Any

import orjson
from tests.rules.builders import (
    OUTLET, acceptance, arrive, at, delivery, depart, inspection, interception, manual_check, registry, sender,
    sort_scan, xray,
)
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from greenshield.translog.entries import canonical as stored_canonical
from greenshield.rules.privacy import extra_fields, redact_counting, redact_event, redact_rejected
from greenshield.rules.batch import RejectedLine
from greenshield.rules.dedup import canonical, digest
from greenshield.rules.engine import RuleCore
from greenshield.rules.model import Event, RegistryRecord, Rejection
from greenshield.rules.output import reject_record
from greenshield.rules.pack import default_pack
from greenshield.rules.exact_json import decode_stored
from greenshield.rules.parse import facts_of, parse_line_plain, restore
from greenshield.rules.reasons import MAX_REASON


class Num:
    """A JSON number written as this exact text (``1e999``, a 5,000-digit integer, ``-0``)."""

    def __init__(self, text: str) -> None:
        self.text = text


class Deep:
    """A value wrapped in ``depth`` arrays or objects."""

    def __init__(self, depth: int, value: Any, objects: bool) -> None:
        self.depth, self.value, self.objects = depth, value, objects


def to_json(value: Any) -> str:
    """JSON text of a value holding :class:`Num` and :class:`Deep` (lone surrogates as ``\\u`` escapes)."""
    if isinstance(value, Num):
        return value.text
    if isinstance(value, Deep):
        inner = to_json(value.value)
        if value.objects:
            return '{"d":' * value.depth + inner + "}" * value.depth
        return "[" * value.depth + inner + "]" * value.depth
    if isinstance(value, dict):
        return "{" + ",".join(f"{json.dumps(k)}:{to_json(v)}" for k, v in value.items()) + "}"
    if isinstance(value, list):
        return "[" + ",".join(to_json(v) for v in value) + "]"
    return json.dumps(value)  # ensure_ascii: surrogates and NUL become escapes, as a hostile text has them


CHARS = st.characters(codec=None, exclude_categories=())  # surrogates (Cs) included
ODD = ["\ud800", "\udfff", "\x00", "\u3000", "X", "110101199003071237", "王小明", " "]
TEXT = st.text(CHARS, max_size=12) | st.sampled_from(ODD)
KEYS = TEXT | st.sampled_from(["Name", "name", "id_number ", " id_number", "ID_NUMBER", "sender", "inspection",
                               "person", "type", "v", "occurred_at", "site_id", "weight_g", "category"])
NUMBERS = st.sampled_from(["1e999", "-1E400", "-0", "0.1e-999", "1.0", "1e0", "9" * 400, "7" * 5000,
                           "-" + "3" * 4301, "123.456e78", "0", "1"]).map(Num)
SCALARS = st.none() | st.booleans() | st.integers() | NUMBERS | TEXT
TIMESTAMPS = st.sampled_from(["0000-01-01T00:00:00+23:59", "9999-12-31T23:00:00-02:00", "0000-01-01T00:00:00Z",
                              "9999-12-31T23:59:59.999Z", "2026-11-11T08:00:00." + "9" * 500 + "+08:00",
                              "2026-02-29T08:00:00Z", "2026-11-11T08:00:00+08:00", "2026-11-11T08:00:60Z"])
VALUES = st.recursive(
    SCALARS | TIMESTAMPS,
    lambda inner: (st.lists(inner, max_size=4) | st.dictionaries(KEYS, inner, max_size=4)
                   | st.builds(Deep, st.integers(1, 3000), inner, st.booleans())),
    max_leaves=12,
)
BASES = [
    acceptance("a", at(0)), acceptance("a2", at(0), sender=sender(name="王小明"), contract_customer_id="C10000001"),
    xray("x", at(1)), manual_check("m", at(1)), interception("i", at(1)), sort_scan("s", at(1), site=OUTLET),
    depart("d", at(2)), arrive("r", at(3)), delivery("l", at(4)), registry("staff", "P10000001"),
    registry("staff", "P10000002", person={"id_type": "resident_id", "id_number": "110101199003071233"}),
]


@st.composite
def planted(draw: Any) -> str:
    """A valid event with a few members (top level, or in sender/inspection) replaced or added."""
    obj: dict[str, Any] = json.loads(json.dumps(draw(st.sampled_from(BASES))))
    for _ in range(draw(st.integers(1, 3))):
        where = obj
        if draw(st.booleans()) and isinstance(obj.get("sender"), dict):
            where = obj["sender"]
        elif draw(st.booleans()) and isinstance(obj.get("inspection"), dict):
            where = obj["inspection"]
        key = draw((st.sampled_from(sorted(where)) | KEYS) if where else KEYS)
        where[key] = draw(VALUES)
    return to_json(obj)


CORE_PACK = default_pack()


def through_everything(line: bytes) -> None:
    """Every pure step a line meets; any raise fails the property."""
    obj, item, plain = parse_line_plain(line)
    assert isinstance(item, (Event, RegistryRecord, Rejection))
    if isinstance(item, Rejection):
        assert len(item.reason) <= MAX_REASON and "\x00" not in item.reason
        assert reject_record(RejectedLine("in", 1, item)).endswith(b"\n")
        if item.payload is not None:
            stored_canonical(item.payload)
        return
    assert obj is not None
    assert canonical(obj, plain=plain) == canonical(obj)  # the worker's shortcut gives the intake's bytes
    assert len(digest(obj, line, plain)) == 16
    doc, dropped = redact_counting(obj, b"key")
    assert dropped == extra_fields(obj) >= 0 and doc == redact_event(obj, b"key")
    redact_rejected(obj, b"key")
    text = stored_canonical(doc).decode()
    again = restore(decode_stored(text), *facts_of(item))
    assert type(again) is type(item) and again.at == item.at and again.event_id == item.event_id
    core = RuleCore(CORE_PACK)
    if isinstance(item, Event):
        core.add_event(item)
        for v in core.evaluate(item.parcel, item.at).values():
            orjson.dumps(v.to_dict())
        core.advance(item.at)
    else:
        core.add_record(item)


FUZZ = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow,
                                                                         HealthCheck.data_too_large])


class TestNeverRaises:
    @FUZZ
    @given(st.binary(max_size=200))
    def test_arbitrary_bytes(self, data: bytes) -> None:
        through_everything(data)

    @FUZZ
    @given(VALUES)
    def test_arbitrary_json_values(self, value: Any) -> None:
        through_everything(to_json(value).encode())

    @FUZZ
    @given(planted())
    def test_valid_events_with_hostile_members(self, text: str) -> None:
        through_everything(text.encode("utf-8", "surrogatepass"))

    @FUZZ
    @given(planted(), st.binary(max_size=3), st.integers(0, 400))
    def test_corrupted_bytes_of_events(self, text: str, junk: bytes, where: int) -> None:
        raw = text.encode("utf-8", "surrogatepass")
        where = min(where, len(raw))
        through_everything(raw[:where] + junk + raw[where:])


def test_planted_strategy_reaches_accepted_events() -> None:
    """The strategies are not all rejects: a plain valid event goes the whole way (the accepted branch)."""
    for base in BASES:
        line = to_json(base).encode()
        assert not isinstance(parse_line_plain(line)[1], Rejection), base
        through_everything(line)
    through_everything(to_json({**sort_scan("s", at(1), site=OUTLET), "x": Deep(5000, Num("7" * 5000), True)}).encode())
    through_everything(to_json({**acceptance("a", at(0)), "inspection": inspection(
        "2026-11-11T08:00:00." + "1" * 100_000 + "+08:00")}).encode())
