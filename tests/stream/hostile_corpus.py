"""What a hostile producer can put on the input topics, by class: values, keys, headers, sizes, numbers.

Pure: builds messages, sends nothing. Every message is a :class:`Hostile` with the
class it belongs to; ``test_hostile.py`` produces them straight onto the topics
(past the SDK, which validates) between the events of a good day.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import orjson

ENTERPRISE = "E3900009"  # an enterprise of its own, so that its parcels never share a good day's waybill
SITE, STAFF, MACHINE, VEHICLE = "S39000001", "P39000001", "X39000001", "V39000001"
AT = "2026-11-11T10:00:00+08:00"
RESIDENT_ID = "110101199003074514"  # a well-formed resident ID number (GB 11643 check digit)
NAME = "欧阳娜娜"

WRONG_TYPES: tuple[Any, ...] = (None, True, 7, 1.5, "s", [], {}, [1, {"a": None}])


@dataclass(frozen=True)
class Hostile:
    """One message as a hostile producer sends it; ``partition`` None lets the key decide."""

    kind: str  # the class, for the counts table
    value: bytes | None
    key: bytes | None = None
    headers: list[tuple[Any, Any]] = field(default_factory=list)
    registry: bool = False  # sent to the registry topic instead of the events topic
    misroute: bool = False  # sent to another partition than its waybill's
    # who signs a valid parcel event (ingest.sender): "self" its own enterprise, "none" nobody,
    # "given" only the headers above, or another enterprise's id (that one's key and name)
    sender: str = "self"


_ids = itertools.count(1)


def _eid() -> str:
    return f"hx-{next(_ids):06d}"


def _waybill() -> str:
    return f"HX{next(_ids):010d}"


def acceptance(**overrides: Any) -> dict[str, Any]:
    doc: dict[str, Any] = {
        "v": 1, "event_id": _eid(), "type": "acceptance", "enterprise_id": ENTERPRISE, "occurred_at": AT,
        "waybill_no": _waybill(), "site_id": SITE, "staff_id": STAFF,
        "sender": {"name": NAME, "id_type": "resident_id", "id_number": RESIDENT_ID, "verified_by": "id_reader"},
        "inspection": {"inspector_id": STAFF, "inspected_at": AT, "result": "passed", "category": "docs"},
        "origin_region": "310000", "destination_region": "320000", "weight_g": 500}
    doc.update(overrides)
    return doc


def _parcel(kind: str, **extra: Any) -> dict[str, Any]:
    return {"v": 1, "event_id": _eid(), "type": kind, "enterprise_id": ENTERPRISE, "occurred_at": AT,
            "waybill_no": _waybill(), "site_id": SITE, "staff_id": STAFF, **extra}


def templates() -> dict[str, dict[str, Any]]:
    """One valid event of every type (fresh ids on every call)."""
    return {
        "acceptance": acceptance(),
        "xray": _parcel("xray", machine_id=MACHINE, result="clear", image_ref="img-1"),
        "manual_check": _parcel("manual_check", result="cleared"),
        "interception": _parcel("interception", reason="prohibited", report_no="R-1"),
        "sort_scan": _parcel("sort_scan"),
        "depart": _parcel("depart", vehicle_id=VEHICLE, to_site_id="S39000002"),
        "arrive": _parcel("arrive", vehicle_id=VEHICLE, from_site_id="S39000002"),
        "delivery": _parcel("delivery", method="hand"),
        "registry": {"v": 1, "event_id": _eid(), "type": "registry", "enterprise_id": ENTERPRISE,
                     "occurred_at": AT, "entity": "staff", "id": "P39000009", "status": "active"},
    }


def _fields(doc: dict[str, Any], prefix: tuple[str, ...] = ()) -> Iterator[tuple[str, ...]]:
    for name, value in doc.items():
        yield (*prefix, name)
        if isinstance(value, dict):
            yield from _fields(value, (*prefix, name))


def _with(doc: dict[str, Any], path: tuple[str, ...], value: Any) -> dict[str, Any]:
    out = dict(doc)
    if len(path) == 1:
        out[path[0]] = value
    else:
        out[path[0]] = _with(out[path[0]], path[1:], value)
    return out


def _renew(doc: dict[str, Any]) -> dict[str, Any]:
    """The same event under a fresh idempotency key (and waybill), so variants never collide."""
    out = {**doc, "event_id": _eid()}
    if "waybill_no" in out and isinstance(out["waybill_no"], str) and out["waybill_no"].startswith("HX"):
        out["waybill_no"] = _waybill()
    return out


def _json(doc: Any) -> bytes:
    return orjson.dumps(doc)


def _raw_string_everywhere(kind: str, escape: str) -> Iterator[Hostile]:
    """``escape`` (JSON text, e.g. ``\\ud800``) appended to every string field of every type."""
    for name, doc in templates().items():
        for path in _fields(doc):
            value = _lookup(doc, path)
            if not isinstance(value, str) or path == ("type",):
                continue
            marker = "\x01MARK\x01"
            text = _json(_with(_renew(doc), path, value + marker)).decode()
            yield Hostile(f"{kind}", text.replace("\\u0001MARK\\u0001", escape).encode(),
                          registry=name == "registry")


def _lookup(doc: dict[str, Any], path: tuple[str, ...]) -> Any:
    for name in path:
        doc = doc[name]
    return doc


def wrong_types() -> Iterator[Hostile]:
    """Every field of every type, with every other JSON type."""
    for name, doc in templates().items():
        for path in _fields(doc):
            value = _lookup(doc, path)
            for wrong in WRONG_TYPES:
                if type(wrong) is type(value) or path in (("event_id",),):
                    continue
                yield Hostile("wrong JSON type", _json(_with(_renew(doc), path, wrong)), registry=name == "registry")


def not_json() -> Iterator[Hostile]:
    for value in (b"{", b"[1,2", b"\x00\x01\x02", b"garbage", b'{"v": 1,}', b"nul", b'"just a string"', b"[]",
                  b"12", b"{}" * 3, b"\xef\xbb\xbf{}", b"NaN", b'{"weight_g": Infinity}'):
        yield Hostile("not JSON / not an object", value)


def invalid_utf8() -> Iterator[Hostile]:
    good = _json(acceptance())
    yield Hostile("invalid UTF-8", good.replace(b'"docs"', b'"\xff\xfe"'))
    yield Hostile("invalid UTF-8", good.replace(NAME.encode(), NAME.encode()[:-1]))
    yield Hostile("invalid UTF-8", b"\xc3\x28")
    yield Hostile("invalid UTF-8", good.replace(b'"E3900009"', b'"E39\xed\xa0\x80009"'))  # an encoded surrogate


def numbers() -> Iterator[Hostile]:
    big = "9" * 400
    huge = "7" * 5000
    for text in ("1e999", "-1e999", "1E400", big, huge, "-0", "0.0", "1.0", "1e0", "-" + big):
        doc = _json(acceptance(weight_g=0)).replace(b'"weight_g":0', b'"weight_g":' + text.encode())
        yield Hostile("numbers (weight_g)", doc)
        extra = _json(acceptance(extra_number=0)).replace(b'"extra_number":0', b'"extra_number":' + text.encode())
        yield Hostile("numbers (extra field)", extra)


def timestamps() -> Iterator[Hostile]:
    for text in ("2026-11-11T10:00:00." + "1" * 300 + "+08:00",
                 "2026-11-11T10:00:00." + "9" * 20_000 + "Z",
                 "10000-01-01T00:00:00Z", "9999-12-31T23:00:00-02:00", "0000-01-01T00:00:00+23:59",
                 "0000-01-01T00:00:00Z", "2026-02-30T00:00:00Z", "2026-11-11T24:00:00Z", "2026-11-11T10:00:60Z",
                 "2026-11-11 10:00:00Z", "2026-11-11T10:00:00+0800", "2026-11-11T10:00:00+24:00",
                 "x" * 900_000):
        yield Hostile("timestamps", _json(acceptance(occurred_at=text)))
        yield Hostile("timestamps (inspected_at)",
                      _json(acceptance(inspection={"inspector_id": STAFF, "inspected_at": text,
                                                   "result": "passed", "category": "docs"})))


def nesting() -> Iterator[Hostile]:
    for depth in (100, 1_000, 100_000):
        deep = "[" * depth + "]" * depth
        doc = _json(acceptance(extra=0)).replace(b'"extra":0', b'"extra":' + deep.encode())
        yield Hostile(f"deep nesting ({depth}, extra field)", doc)
        obj = '{"a":' * depth + "1" + "}" * depth
        yield Hostile(f"deep nesting ({depth}, whole value)", obj.encode())
        sender = _json(acceptance(sender=0)).replace(b'"sender":0', b'"sender":' + ('{"a":' * depth + "1" +
                                                                                  "}" * depth).encode())
        yield Hostile(f"deep nesting ({depth}, sender)", sender)


def big_values() -> Iterator[Hostile]:
    yield Hostile("values near the broker's 1 MiB limit", _json(acceptance(extra="a" * 900_000)))  # the broker takes up to 1 MiB
    yield Hostile("values near the broker's 1 MiB limit", _json(acceptance(site_id="S" * 900_000)))
    yield Hostile("values near the broker's 1 MiB limit", _json(acceptance(
        sender={"name": NAME * 20_000, "id_type": "resident_id", "id_number": RESIDENT_ID * 10_000,
                "verified_by": "id_reader"})))
    yield Hostile("values near the broker's 1 MiB limit", b"[" + b"1," * 450_000 + b"1]")


def personal_data_in_odd_places() -> Iterator[Hostile]:
    """Valid and rejected events that carry an ID number and a name where no field is meant for it."""
    sender = {"Name": NAME, "id_number ": RESIDENT_ID, "name": NAME, "id_type": "resident_id",
              "id_number": RESIDENT_ID, "verified_by": "id_reader", "phone": RESIDENT_ID}
    yield Hostile("personal data in odd keys (accepted)", _json(acceptance(sender=sender)))
    yield Hostile("personal data in odd keys (accepted)", _json(acceptance(
        inspection={"inspector_id": STAFF, "inspected_at": AT, "result": "passed", "category": "docs",
                    "note": f"{NAME} {RESIDENT_ID}"})))
    yield Hostile("personal data in odd keys (accepted)", _json(acceptance(holder={"id": RESIDENT_ID},
                                                                            remark=NAME)))
    yield Hostile("personal data in a rejected line", _json(acceptance(site_id=RESIDENT_ID)))
    yield Hostile("personal data in a rejected line", _json(acceptance(weight_g=RESIDENT_ID, remark=NAME)))
    yield Hostile("personal data in a rejected line", _json({**templates()["registry"], "id": RESIDENT_ID,
                                                             "person": {"id_type": "resident_id",
                                                                        "id_number": RESIDENT_ID}}),
                  registry=True)


def keys_and_values() -> Iterator[Hostile]:
    yield Hostile("null key (accepted)", _json(acceptance()), key=None)
    yield Hostile("null key (rejected)", b"{", key=None)
    yield Hostile("binary key", _json(acceptance()), key=b"\xff\xfe\x00")
    yield Hostile("null value (tombstone)", None, key=b"HX0000000001")
    yield Hostile("null value (tombstone)", None, key=b"staff:P39000009@2026-11-11T02:00:00Z", registry=True)
    yield Hostile("blank value", b"  \n", key=b"x")
    yield Hostile("empty value", b"", key=b"x")
    yield Hostile("parcel event on the registry topic", _json(acceptance()), registry=True)
    yield Hostile("registry record on the events topic", _json(templates()["registry"]))


def misrouted() -> Iterator[Hostile]:
    """Valid parcel events placed by hand on another partition than their waybill's (the parcel would split)."""
    for doc in (acceptance(), _parcel("sort_scan")):
        yield Hostile("valid event on another partition than its waybill's", _json(doc), misroute=True)


def headers() -> Iterator[Hostile]:
    good = _json(acceptance())
    for hs in ([("x-note", None)], [("x-note", b"\xff\xfe")], [("x-note", "ñ".encode())],
               [("", b"")], [("x-" * 1000, b"v" * 10_000)]):
        yield Hostile("odd headers on an event (accepted)", _json(acceptance()), headers=hs)
    yield Hostile("invalid UTF-8 header key", _json(acceptance()), headers=[(b"gs-control\xff\xfe", b"x")])
    yield Hostile("invalid UTF-8 header key", _json(acceptance()), headers=[(b"x\xc3\x28", b"x")],
                  registry=True)
    yield Hostile("invalid UTF-8 header key", _json(templates()["registry"]),
                  headers=[(b"x\xc3\x28", b"x")], registry=True)
    del good


def senders() -> Iterator[Hostile]:
    """Valid parcel events not signed by their own enterprise: each one reject ``enterprise_mismatch``."""
    yield Hostile("event not signed by its enterprise", _json(acceptance()), sender="none")
    yield Hostile("event not signed by its enterprise", _json(acceptance()), sender="E3999998")
    yield Hostile("event not signed by its enterprise", _json(acceptance()), sender="given",
                  headers=[("gs-sender", ENTERPRISE.encode()), ("gs-sender-sig", b"00" * 32)])
    yield Hostile("event not signed by its enterprise", _json(acceptance()), sender="given",
                  headers=[("gs-sender", ENTERPRISE.encode()), ("gs-sender", ENTERPRISE.encode()),
                           ("gs-sender-sig", b"00" * 32)])
    yield Hostile("event not signed by its enterprise", _json(acceptance()), sender="given",
                  headers=[("gs-sender", b"\xff" * 8), ("gs-sender-sig", None)])


def control_messages(partition: int) -> Iterator[Hostile]:
    """Forged and truncated control messages (rejected); their signatures never verify."""
    value = _json({"v": 1, "action": "advance", "as_of": "2030-01-01T00:00:00Z", "partition": partition,
                   "issued_at": "2026-11-29T00:00:00Z", "nonce": "00"})
    key = b"__greenshield_control__"
    for hs in ([("gs-control", b"advance-v1"), ("gs-signature", None)],
               [("gs-control", b"advance-v1"), ("gs-signature", "é".encode())],
               [("gs-control", b"advance-v1"), ("gs-signature", b"\xff" * 64)],
               [("gs-control", b"advance-v1"), ("gs-signature", b"00" * 32)],
               [("gs-control", None)],
               [("gs-control", b"\xff")],
               [("gs-control", b"advance-v1"), ("gs-control", b"advance-v1")],
               [("gs-control", b"advance-v1")]):
        yield Hostile("forged control message", value, key=key, headers=hs)
    yield Hostile("forged control message", None, key=key, headers=[("gs-control", b"advance-v1")])
    yield Hostile("truncated control message", value[:20], key=key,
                  headers=[("gs-control", b"advance-v1"), ("gs-signature", b"ab" * 32)])


def duplicates_of(good: list[bytes]) -> Iterator[Hostile]:
    """Exact and conflicting copies of a good day's parcel events, keyed like the originals."""
    parcels = [orjson.loads(line) for line in good if b'"registry"' not in line][:20]
    for doc in parcels[:10]:
        yield Hostile("exact duplicate of a good event", _json(doc), key=doc["waybill_no"].encode())
    for doc in parcels[10:]:
        yield Hostile("conflicting duplicate of a good event", _json({**doc, "staff_id": "P39000777"}),
                      key=doc["waybill_no"].encode())


def corpus(partitions: int) -> list[Hostile]:
    """Every class, in a fixed order."""
    out: list[Hostile] = []
    for make in (not_json, invalid_utf8, numbers, timestamps, nesting, big_values, personal_data_in_odd_places,
                 keys_and_values, headers, misrouted, wrong_types, senders):
        out.extend(make())
    out.extend(_raw_string_everywhere("lone surrogate in a string", "\\ud800"))
    out.extend(_raw_string_everywhere("lone surrogate in a string", "\\udfff"))
    out.extend(_raw_string_everywhere("NUL in a string", "\\u0000"))
    for p in range(partitions):
        out.extend(control_messages(p))
    return out
