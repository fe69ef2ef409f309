"""One message in: a redacted candidate or a reject whose payload never carries plain personal data."""

from __future__ import annotations

import hashlib

import orjson

from greenshield.stream.decode import Candidate, Reject, decode, reject_message

KEY = b"hmac-key"
SENDER = {"name": "李四", "id_type": "resident_id", "id_number": "110101199003074514", "verified_by": "id_reader"}
ACCEPTANCE = {"v": 1, "event_id": "a-1", "type": "acceptance", "enterprise_id": "E1000001",
              "occurred_at": "2026-11-11T08:00:00+08:00", "waybill_no": "WB00000001", "site_id": "S00000001",
              "staff_id": "P00000001", "sender": SENDER, "origin_region": "110000",
              "destination_region": "110000", "weight_g": 100}


def run(value: bytes | None, topic: str = "gs.events.v1") -> Candidate | Reject | None:
    return decode(topic, 2, 41, value, KEY, "gs.registry.v1")


class TestDecode:
    def test_a_valid_acceptance_is_redacted_before_anything_keeps_it(self) -> None:
        """The candidate's doc holds masked forms and the keyed hash, never the name or number."""
        got = run(orjson.dumps(ACCEPTANCE))
        assert isinstance(got, Candidate)
        text = orjson.dumps(got.doc).decode()
        assert "李四" not in text and "110101199003074514" not in text
        assert got.doc["sender"]["id_number_masked"] == "110*************14"
        assert got.source == "kafka:gs.events.v1:2" and got.offset == 41

    def test_junk_is_rejected_with_its_size_and_digest_but_not_its_bytes(self) -> None:
        """A 900 kB junk payload: the reject names size and SHA-256; the input topic keeps the bytes."""
        junk = b"\x00junk" * 180_000
        got = run(junk)
        assert isinstance(got, Reject)
        key, value = reject_message(got)
        doc = orjson.loads(value)
        assert key == b"gs.events.v1:2"
        assert (doc["partition"], doc["offset"], doc["size"]) == (2, 41, len(junk))
        assert doc["sha256"] == hashlib.sha256(junk).hexdigest()
        assert "payload" not in doc and len(value) < 1000

    def test_a_wrong_schema_reject_keeps_the_masked_payload(self) -> None:
        """A parseable but invalid acceptance: the reject shows the masked sender, not the plain one."""
        got = run(orjson.dumps({**ACCEPTANCE, "weight_g": 0}))
        assert isinstance(got, Reject)
        _, value = reject_message(got)
        text = value.decode()
        assert "weight_g" in orjson.loads(value)["reason"]
        assert "李四" not in text and "110101199003074514" not in text and "李*" in text

    def test_a_registry_record_on_the_events_topic_is_rejected(self) -> None:
        """Registry records belong on the compacted registry topic."""
        record = {"v": 1, "event_id": "r-1", "type": "registry", "enterprise_id": "E1000001",
                  "occurred_at": "2026-11-11T08:00:00Z", "entity": "staff", "id": "P00000001", "status": "active"}
        got = run(orjson.dumps(record))
        assert isinstance(got, Reject) and "registry topic" in got.rejection.reason
        assert isinstance(run(orjson.dumps(record), topic="gs.registry.v1"), Candidate)

    def test_a_blank_message_is_skipped(self) -> None:
        """A blank value is neither an event nor a reject (contract §7, blank lines)."""
        assert run(b"  \n") is None
        assert run(b"") is None

    def test_a_tombstone_is_one_reject(self) -> None:
        """A message without a value is no event; on the registry topic it would erase history."""
        got = run(None)
        assert isinstance(got, Reject) and "tombstone" in got.rejection.reason
        on_registry = run(None, topic="gs.registry.v1")
        assert isinstance(on_registry, Reject) and "never deleted" in on_registry.rejection.reason


class TestDigestAcrossPaths:
    """The worker's duplicate digest is the one intake (`run`, POST /v1/events) stores for the same content,
    whether or not the value holds numbers that need the exact walk (100 = 100.0 = 1e2)."""

    def test_the_worker_digest_equals_the_intake_digest(self) -> None:
        from greenshield.store.intake_files import keyed_digest
        from greenshield.rules.exact_json import decode as parse_json

        for line in (orjson.dumps({**ACCEPTANCE, "note": 100}),                         # plain: no walk
                     orjson.dumps({**ACCEPTANCE, "note": 100}).replace(b'"note":100', b'"note":1e2'),  # exact walk
                     orjson.dumps({**ACCEPTANCE, "note": 0.5}),
                     orjson.dumps({**ACCEPTANCE, "note": 18_446_744_073_709_551_615})):
            got = run(line)
            assert isinstance(got, Candidate), got
            assert got.digest == keyed_digest(KEY, parse_json(line), line)

    def test_equal_values_written_differently_share_the_digest(self) -> None:
        """100 and 1e2 (and key order) are the same JSON value, so the same digest: an exact duplicate."""
        first = run(orjson.dumps({**ACCEPTANCE, "note": 100}))
        again = run(orjson.dumps(dict(reversed(list({**ACCEPTANCE, "note": 100}.items())))).replace(
            b'"note":100', b'"note":1e2'))
        assert isinstance(first, Candidate) and isinstance(again, Candidate)
        assert first.digest == again.digest


class TestEveryMessageIsAValue:
    """decode_message is total (issue 14): headers, nulls and unforeseen exceptions are values, and a
    reject's message always fits the producer's limit."""

    CTX = None  # set below

    def msg(self, value: object, headers: object = None, topic: str = "gs.events.v1") -> object:
        from greenshield.stream.decode import Context, decode_message

        return decode_message(topic, 2, 41, None, value, headers,
                              Context(KEY, "gs.registry.v1", "gs.events.v1", b"control-key"))

    def test_a_parcel_event_off_its_waybills_partition_is_one_misrouted_reject(self) -> None:
        """Placed by hand (or by another partitioner) elsewhere, the parcel would be split: one reject."""
        from greenshield.stream.decode import Context, decode_message
        from greenshield.stream.state import partition_of

        ctx = Context(KEY, "gs.registry.v1", "gs.events.v1", b"control-key", 6)
        home = partition_of(ACCEPTANCE["waybill_no"], 6)
        value = orjson.dumps(ACCEPTANCE)
        assert isinstance(decode_message("gs.events.v1", home, 1, None, value, None, ctx), Candidate)
        got = decode_message("gs.events.v1", (home + 1) % 6, 1, None, value, None, ctx)
        assert isinstance(got, Reject) and got.rejection.reason.startswith("misrouted:")
        assert f"partition {home}" in got.rejection.reason and got.rejection.key == ("E1000001", "a-1")

    def test_a_header_name_that_is_not_utf8_is_an_undecodable_record(self) -> None:
        from greenshield.stream.kafka_records import UndecodableKey

        got = self.msg(orjson.dumps(ACCEPTANCE), [(UndecodableKey(b"gs-control\xff\xfe"), b"advance-v1")])
        assert isinstance(got, Reject) and got.rejection.reason.startswith("undecodable record: header 0 name")

    def test_bytes_names_and_odd_header_values_are_rejects(self) -> None:
        for headers in ([(b"gs-control", b"x")], [("a", "str value")], [("a",)], 5):
            got = self.msg(orjson.dumps(ACCEPTANCE), headers)
            assert isinstance(got, Reject) and got.rejection.reason.startswith("undecodable record"), headers

    def test_a_bad_control_message_is_a_control_reject(self) -> None:
        got = self.msg(b"{}", [("gs-control", b"advance-v1"), ("gs-signature", None)])
        assert isinstance(got, Reject) and got.type == "control" and "signature" in got.rejection.reason

    def test_a_valid_control_message_is_a_control_value(self) -> None:
        from greenshield.stream.control import encode_advance
        from greenshield.stream.decode import Control

        _, value, headers = encode_advance(b"control-key", "2026-11-13T00:00:00Z", 2, "x")
        got = self.msg(value, headers)
        assert isinstance(got, Control) and got.advance.as_of_text == "2026-11-13T00:00:00Z"
        assert isinstance(self.msg(value, headers, topic="gs.registry.v1"), Reject)  # not a registry record

    def test_an_unexpected_exception_is_an_internal_reject_logged_once_without_input(
            self, monkeypatch: object, caplog: object) -> None:
        import logging

        import greenshield.stream.decode as d

        def boom(obj: object, key: object = None) -> object:
            raise KeyError("110101199003074514")

        monkeypatch.setattr(d, "redact_counting", boom)  # type: ignore[attr-defined]
        with caplog.at_level(logging.ERROR, logger="greenshield.worker"):  # type: ignore[attr-defined]
            got = self.msg(orjson.dumps(ACCEPTANCE))
        assert isinstance(got, Reject) and got.internal and got.rejection.reason == "internal: KeyError"
        lines = [r.getMessage() for r in caplog.records]  # type: ignore[attr-defined]
        assert len(lines) == 1 and "offset=41" in lines[0] and "traceback=" in lines[0] and "boom" in lines[0]
        assert "110101199003074514" not in lines[0]

    def test_a_huge_reason_is_cut_so_the_reject_message_fits(self) -> None:
        """A 5 MB reason (an echoed value) made a reject over max_request_size, retried for ever."""
        from greenshield.stream.decode import MAX_REASON, MAX_REJECT_MESSAGE
        from greenshield.rules.model import Rejection

        r = Reject("gs.events.v1", 2, 41, Rejection("bad: " + "\u0085\x00\ud800" * 2_000_000, {"x": "y" * 10**6}),
                   6_000_000, None)
        _, value = reject_message(r)
        assert len(value) < MAX_REJECT_MESSAGE
        doc = orjson.loads(value)
        assert len(doc["reason"]) < MAX_REASON + 100 and "\x00" not in doc["reason"]
        assert "payload" not in doc and "payload_omitted" in doc

    def test_a_payload_that_cannot_be_encoded_is_omitted(self) -> None:
        from greenshield.rules.model import Rejection

        deep: dict = {}  # type: ignore[type-arg]
        node = deep
        for _ in range(100_000):
            node["a"] = node = {}
        _, value = reject_message(Reject("gs.events.v1", 2, 41, Rejection("deep", deep), 10, None))
        assert "could not be encoded" in orjson.loads(value)["payload_omitted"]

    def test_dropped_fields_are_counted_on_the_candidate(self) -> None:
        """Non-contract members (top level, sender, inspection) are dropped from the doc and counted."""
        event = {**ACCEPTANCE, "b": 2, "sender": {**ACCEPTANCE["sender"], "Name": "y"},
                 "inspection": {"inspector_id": "P00000001", "inspected_at": "2026-11-11T08:00:00+08:00",
                                "result": "passed", "category": "docs", "extra": 2}}
        got = self.msg(orjson.dumps(event))
        assert isinstance(got, Candidate) and got.dropped == 3
        assert "b" not in got.doc and "Name" not in got.doc["sender"] and "extra" not in got.doc["inspection"]
        plain = self.msg(orjson.dumps(ACCEPTANCE))
        assert isinstance(plain, Candidate) and plain.dropped == 0
