"""The worker's per-message decode is total (issue 14): arbitrary bytes, event-shaped JSON, keys and header
lists in, a value out, never an exception; every reject's message is below the size bound. No broker needed."""

from __future__ import annotations

import json
from typing import Any

import orjson
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from greenshield.stream.control import encode_advance
from greenshield.stream.decode import (
    MAX_REJECT_MESSAGE, Candidate, Context, Control, Reject, decode_message, reject_message)
from greenshield.stream.kafka_records import UndecodableKey
from greenshield.stream.batch import reject_row as _reject_row

EVENTS, REGISTRY = "gs.events.v1", "gs.registry.v1"
CONTROL_KEY = b"fuzz-control-key"
CTX = Context(b"fuzz-hmac-key", REGISTRY, EVENTS, CONTROL_KEY)

ODD_TEXT = st.sampled_from(["\ud800", "\udfff", "\x00", "\u0085", "李四", "110101199003074514", "", " ",
                            "2026-11-11T08:00:00+08:00", "0000-01-01T00:00:00+23:59", "2026-11-11T08:00:00." + "9" * 300
                            + "Z", "99999-01-01T00:00:00Z", "E1000001", "WB00000001", "acceptance", "registry"])
TEXT = st.one_of(st.text(max_size=40), ODD_TEXT)
NUMBER = st.one_of(st.integers(), st.integers(min_value=10**300, max_value=10**420), st.floats(allow_nan=True),
                   st.decimals(allow_nan=False, allow_infinity=False).map(str).map(float))
JSON = st.recursive(st.one_of(st.none(), st.booleans(), NUMBER, TEXT),
                    lambda inner: st.one_of(st.lists(inner, max_size=4),
                                            st.dictionaries(TEXT, inner, max_size=4)), max_leaves=20)
FIELDS = ["v", "event_id", "type", "enterprise_id", "occurred_at", "waybill_no", "site_id", "staff_id", "sender",
          "inspection", "machine_id", "result", "entity", "id", "status", "weight_g", "origin_region",
          "destination_region", "contract_customer_id", "Name", "id_number ", "person"]
TYPES = st.sampled_from(["acceptance", "xray", "manual_check", "interception", "sort_scan", "depart", "arrive",
                         "delivery", "registry"])
BASE = {"v": 1, "event_id": "f-1", "enterprise_id": "E1000001", "occurred_at": "2026-11-11T08:00:00+08:00",
        "waybill_no": "WB00000001", "site_id": "S00000001", "staff_id": "P00000001"}


@st.composite
def event_like(draw: Any) -> bytes:
    """A JSON text close to an event: the base fields, a type, some fields replaced by arbitrary JSON."""
    doc: dict[str, Any] = {**BASE, "type": draw(TYPES)}
    for name in draw(st.lists(st.sampled_from(FIELDS), max_size=5)):
        doc[name] = draw(JSON)
    if draw(st.booleans()):
        doc["sender"] = {"name": draw(TEXT), "id_type": draw(TEXT), "id_number": draw(TEXT), "verified_by": draw(TEXT)}
    text = json.dumps(doc, ensure_ascii=draw(st.booleans()), default=str)
    try:
        return text.encode("utf-8")
    except UnicodeEncodeError:  # lone surrogates with ensure_ascii=False: as a careless producer would send them
        return text.encode("utf-8", "surrogatepass")


def _deep(n: int) -> bytes:
    return b'{"v": 1, "type": "xray", "x": ' + b"[" * n + b"]" * n + b"}"


VALUES = st.one_of(st.none(), st.binary(max_size=200), event_like(), st.sampled_from([_deep(1000), _deep(5000)]),
                   st.just(b"\xef\xbb\xbf{}"), st.just(b"  \n"))
NAMES = st.one_of(st.sampled_from(["gs-control", "gs-signature"]), st.text(max_size=12),
                  st.binary(max_size=12), st.binary(min_size=1, max_size=12).map(lambda b: UndecodableKey(b + b"\xff")))
HEADER_VALUES = st.one_of(st.none(), st.binary(max_size=80), st.sampled_from([b"advance-v1", b"\xff" * 64]),
                          st.text(max_size=10), st.integers())
HEADER = st.one_of(st.tuples(NAMES, HEADER_VALUES), st.integers(), st.none(), st.tuples(NAMES))
HEADERS = st.one_of(st.none(), st.lists(HEADER, max_size=4), st.integers(), st.binary(max_size=4))


def _check(got: Any) -> None:
    assert got is None or isinstance(got, (Candidate, Reject, Control)), got
    if isinstance(got, Reject):
        key, value = reject_message(got)
        assert len(value) < MAX_REJECT_MESSAGE
        assert orjson.loads(value)["offset"] == 7
        _reject_row(got)  # the rejects row can be built too (no exception from its payload)


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(topic=st.sampled_from([EVENTS, REGISTRY]), key=st.one_of(st.none(), st.binary(max_size=16)),
       value=VALUES, headers=HEADERS)
def test_decode_message_returns_a_value_for_any_message(topic: str, key: bytes | None, value: bytes | None,
                                                        headers: Any) -> None:
    _check(decode_message(topic, 3, 7, key, value, headers, CTX))


@settings(max_examples=200, deadline=None)
@given(value=st.one_of(st.none(), st.binary(max_size=120), JSON.map(lambda v: json.dumps(v, default=str).encode())),
       extra=st.lists(st.tuples(NAMES, HEADER_VALUES), max_size=3), signature=HEADER_VALUES,
       partition=st.integers(min_value=-1, max_value=7))
def test_a_message_claiming_to_be_control_is_a_control_or_one_reject(value: bytes | None, extra: list[Any],
                                                                     signature: Any, partition: int) -> None:
    """Forged, truncated, null or oddly typed control messages; a signed one for another partition."""
    _, signed, good = encode_advance(CONTROL_KEY, "2026-11-13T00:00:00Z", partition, "x")
    for v, headers in ((value, [("gs-control", b"advance-v1"), ("gs-signature", signature), *extra]),
                       (signed, good + extra), (signed[:-3], good)):
        got = decode_message(EVENTS, 3, 7, b"k", v, headers, CTX)
        _check(got)
        assert isinstance(got, (Reject, Control))
        if isinstance(got, Control):
            assert got.partition == 3 and partition == 3 and v == signed


def test_a_signed_control_message_for_its_partition_is_a_control() -> None:
    _, value, headers = encode_advance(CONTROL_KEY, "2026-11-13T00:00:00Z", 3, "x")
    assert isinstance(decode_message(EVENTS, 3, 7, b"k", value, headers, CTX), Control)
