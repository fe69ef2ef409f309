"""The enterprise SDK: validation before sending, keys per contract §1.3, reliable sends, security pass-through."""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Callable
from pathlib import Path
from typing import Any

import orjson
import pytest

from greenshield.sdk.clients import security_options
from greenshield.sdk.producer import DeliveryError, DeliveryTimeout, GreenShieldProducer, InvalidEvent
from greenshield.settings import Settings

from .conftest import consume_all

SAMPLE = Path(__file__).resolve().parents[1] / "data" / "sample-day.jsonl"

XRAY = {"v": 1, "event_id": "x-1", "type": "xray", "enterprise_id": "E1000001",
        "occurred_at": "2026-11-11T08:00:00.250+08:00", "waybill_no": "WB12345678", "site_id": "S00000001",
        "staff_id": "P00000001", "machine_id": "X00000001", "result": "clear"}
STAFF = {"v": 1, "event_id": "r-1", "type": "registry", "enterprise_id": "E1000001",
         "occurred_at": "2026-11-11T08:00:00.5+08:00", "entity": "staff", "id": "P00000001", "status": "active"}


class _Future:
    """Done at once, like kafka-python's future of a message acknowledged (or refused) before flush()."""

    def __init__(self, error: BaseException | None = None) -> None:
        self.error = error
        self.is_done = True
        self.exception = error

    def failed(self) -> bool:
        return self.error is not None

    def add_callback(self, fn: Callable[..., None], *args: Any) -> None:
        if self.error is None:
            fn(*args, None)

    def add_errback(self, fn: Callable[..., None], *args: Any) -> None:
        if self.error is not None:
            fn(*args, self.error)


class FakeKafka:
    """Records what would be sent."""

    def __init__(self, error: BaseException | None = None) -> None:
        self.sent: list[tuple[str, bytes, bytes]] = []
        self.headers: list[list[tuple[str, bytes]] | None] = []
        self.error = error
        self.closed = False

    def send(self, topic: str, key: bytes, value: bytes, headers: list[tuple[str, bytes]] | None = None) -> _Future:
        self.sent.append((topic, key, value))
        self.headers.append(headers)
        return _Future(self.error)

    def flush(self, timeout: float | None = None) -> None:
        pass

    def close(self, timeout: float | None = None) -> None:
        self.closed = True


def sdk(fake: FakeKafka, enterprise: str | None = "E1000001") -> GreenShieldProducer:
    return GreenShieldProducer("unused:9092", enterprise, producer=fake)


class TestKeys:
    def test_a_parcel_event_is_keyed_by_its_waybill_on_the_events_topic(self) -> None:
        """send() puts an xray on gs.events.v1 with key waybill_no."""
        fake = FakeKafka()
        sdk(fake).send(XRAY)
        assert fake.sent[0][:2] == ("gs.events.v1", b"WB12345678")

    def test_a_registry_record_is_keyed_by_entity_id_and_utc_instant(self) -> None:
        """§1.3: staff:P00000001@<UTC instant>, the fraction kept so distinct instants stay distinct."""
        fake = FakeKafka()
        sdk(fake).send_registry(STAFF)
        assert fake.sent[0][:2] == ("gs.registry.v1", b"staff:P00000001@2026-11-11T00:00:00.5Z")

    def test_a_line_goes_to_the_topic_of_its_type(self) -> None:
        """send_line routes registry lines to the registry topic and parcel lines to events, bytes unchanged."""
        fake = FakeKafka()
        producer = sdk(fake)
        line = orjson.dumps(STAFF)
        producer.send_line(line + b"\n")
        producer.send_line(orjson.dumps(XRAY))
        assert [t for t, _, _ in fake.sent] == ["gs.registry.v1", "gs.events.v1"]
        assert fake.sent[0][2] == line

    def test_a_blank_line_sends_nothing(self) -> None:
        """Contract §7: blank lines are skipped."""
        fake = FakeKafka()
        assert sdk(fake).send_line(b"  \r\n") is None
        assert fake.sent == []


class TestValidation:
    @pytest.mark.parametrize("change, reason", [
        ({"occurred_at": "2026-11-11T08:00:00"}, "RFC 3339"),
        ({"waybill_no": "wb-1"}, "waybill_no"),
        ({"result": "maybe"}, "result"),
        ({"v": 2}, "unknown contract version"),
    ])
    def test_an_invalid_event_raises_and_sends_nothing(self, change: dict[str, Any], reason: str) -> None:
        """The enterprise sees the contract's reason at its end; nothing reaches Kafka."""
        fake = FakeKafka()
        with pytest.raises(InvalidEvent, match=reason):
            sdk(fake).send({**XRAY, **change})
        assert fake.sent == []

    def test_invalid_json_is_refused(self) -> None:
        """A line that is not JSON raises InvalidEvent."""
        with pytest.raises(InvalidEvent, match="not valid JSON"):
            sdk(FakeKafka()).send_line(b"{oops")

    def test_another_enterprises_event_is_refused(self) -> None:
        """An enterprise's producer only sends that enterprise's events."""
        with pytest.raises(InvalidEvent, match="not this producer's E1000001"):
            sdk(FakeKafka()).send({**XRAY, "enterprise_id": "E2000002"})

    def test_a_registry_record_through_send_is_refused(self) -> None:
        """send() takes parcel events; registry records go through send_registry()."""
        with pytest.raises(InvalidEvent, match="send_registry"):
            sdk(FakeKafka()).send(STAFF)

    def test_an_enterprise_producer_signs_as_itself_and_the_worker_agrees(self, tmp_path: Path) -> None:
        """From the credentials file alone: the login, the enterprise id, and a signature the master verifies."""
        from greenshield.stream import principals
        from greenshield.sdk.sender import Verifier

        path, _, _ = principals.write_credentials(tmp_path, principals.enterprise("E1000001"), Settings(), b"master")
        fake = FakeKafka()
        producer = GreenShieldProducer.from_credentials("unused:9092", path, producer=fake)
        assert producer.enterprise_id == "E1000001"
        producer.send(XRAY)
        (_, _, value), headers = fake.sent[0], fake.headers[0]
        assert Verifier(b"master").check(headers, value, "E1000001") == (None, "E1000001")
        with pytest.raises(InvalidEvent, match="enterprise_mismatch"):
            producer.send({**XRAY, "enterprise_id": "E2000002"})
        with pytest.raises(InvalidEvent, match="only the registry feed"):
            producer.send_line(orjson.dumps(STAFF))
        assert len(fake.sent) == 1

    def test_the_systems_producer_signs_each_event_as_its_enterprise(self) -> None:
        from greenshield.sdk.sender import Signer, Verifier

        fake = FakeKafka()
        producer = GreenShieldProducer("unused:9092", None, producer=fake, signer=Signer.system(b"master"))
        producer.send(XRAY)
        producer.send({**XRAY, "event_id": "x-2", "enterprise_id": "E2000002"})
        producer.send_registry(STAFF)  # the registry topic's writer is the broker's ACL, not a signature
        checks = [Verifier(b"master").check(h, v, e) for (_, _, v), h, e in
                  zip(fake.sent[:2], fake.headers[:2], ("E1000001", "E2000002"))]
        assert checks == [(None, "E1000001"), (None, "E2000002")] and fake.headers[2] is None

    def test_a_failed_delivery_surfaces_at_flush(self) -> None:
        """A message the broker never acknowledged makes flush() raise DeliveryError."""
        producer = sdk(FakeKafka(error=RuntimeError("broker gone")))
        producer.send(XRAY)
        with pytest.raises(DeliveryError, match="1 of 1"):
            producer.flush()

    def test_a_failed_delivery_fails_that_flush_only_and_names_the_messages(self) -> None:
        """Issue 14: the failure is reported once, with key and event_id; the next flush of good sends passes."""
        fake = FakeKafka(error=RuntimeError("broker gone"))
        producer = sdk(fake)
        producer.send(XRAY)
        producer.send_registry(STAFF)
        with pytest.raises(DeliveryError, match="2 of 2") as caught:
            producer.flush()
        assert [(k, e) for k, e, _ in caught.value.failed] == [
            ("WB12345678", "x-1"), ("staff:P00000001@2026-11-11T00:00:00.5Z", "r-1")]
        assert all(isinstance(err, RuntimeError) for _, _, err in caught.value.failed)
        fake.error = None
        producer.send({**XRAY, "event_id": "x-2"})
        producer.flush()  # recovered: no DeliveryError from the earlier failure
        assert producer.failed == 2 and producer.acked == 1

    def test_a_flush_timeout_is_a_delivery_timeout(self) -> None:
        """kafka-python's KafkaTimeoutError from flush() becomes DeliveryTimeout (a DeliveryError: 503 in the API)."""
        from kafka.errors import KafkaTimeoutError

        class Slow(FakeKafka):
            def flush(self, timeout: float | None = None) -> None:
                raise KafkaTimeoutError("Timeout waiting for future")

        producer = sdk(Slow())
        producer.send(XRAY)
        with pytest.raises(DeliveryTimeout):
            producer.flush(timeout=0.1)

    def test_deliver_reports_only_its_own_lines(self) -> None:
        """deliver(): the failures of this call's lines, with keys; a later call with good lines passes."""
        fake = FakeKafka(error=RuntimeError("refused"))
        producer = sdk(fake)
        with pytest.raises(DeliveryError) as caught:
            producer.deliver([orjson.dumps(XRAY), b"  "])
        assert [(k, e) for k, e, _ in caught.value.failed] == [("WB12345678", "x-1")]
        fake.error = None
        producer.deliver([orjson.dumps({**XRAY, "event_id": "x-2"})])
        producer.flush()  # deliver's failures are never reported to a later flush()


class TestSecurity:
    def test_sasl_and_tls_settings_pass_through_under_kafka_python_names(self) -> None:
        """GREENSHIELD_KAFKA_SECURITY_* become kafka-python keyword arguments."""
        settings = Settings.from_env({
            "GREENSHIELD_KAFKA_SECURITY_SECURITY_PROTOCOL": "SASL_SSL",
            "GREENSHIELD_KAFKA_SECURITY_SASL_MECHANISM": "SCRAM-SHA-512",
            "GREENSHIELD_KAFKA_SECURITY_SASL_PLAIN_USERNAME": "gs",
            "GREENSHIELD_KAFKA_SECURITY_SASL_PLAIN_PASSWORD": "pw",
            "GREENSHIELD_KAFKA_SECURITY_SSL_CHECK_HOSTNAME": "false",
        })
        assert security_options(settings.kafka_security) == {
            "security_protocol": "SASL_SSL", "sasl_mechanism": "SCRAM-SHA-512",
            "sasl_plain_username": "gs", "sasl_plain_password": "pw", "ssl_check_hostname": False}

    def test_an_unknown_security_setting_is_a_configuration_error(self) -> None:
        """A typo fails at start instead of being ignored."""
        with pytest.raises(ValueError, match="unknown Kafka security setting 'sasl_pasword'"):
            security_options({"sasl_pasword": "x"})


@pytest.mark.kafka
class TestOnTheBroker:
    def test_the_sample_day_arrives_keyed_with_every_waybill_on_one_partition(
            self, make_topics: Callable[..., Settings]) -> None:
        """432 parcel events and 204 registry records, acks=all, keys per contract, one partition per waybill."""
        settings = make_topics()
        with GreenShieldProducer(settings.kafka_bootstrap, None, events_topic=settings.events_topic,
                                 registry_topic=settings.registry_topic, security=settings.kafka_security) as producer:
            config = producer._producer.config
            assert config["acks"] == -1 or config["acks"] == "all"
            assert config["enable_idempotence"] is True
            for line in SAMPLE.read_bytes().splitlines():
                producer.send_line(line)
        assert producer.acked == 636
        events = consume_all(settings.kafka_bootstrap, settings.events_topic, 6, 432)
        registry = consume_all(settings.kafka_bootstrap, settings.registry_topic, 1, 204)
        assert len(events) == 432 and len(registry) == 204
        partitions: dict[bytes, set[int]] = defaultdict(set)
        for m in events:
            assert m.key == orjson.loads(m.value)["waybill_no"].encode()
            partitions[m.key].add(m.partition)
        assert all(len(p) == 1 for p in partitions.values())
        assert len(Counter(m.partition for m in events)) > 1
        for m in registry:
            doc = orjson.loads(m.value)
            assert m.key.decode().startswith(f"{doc['entity']}:{doc['id']}@")
            assert m.key.decode().endswith("Z")

    def test_after_a_refused_message_the_next_flush_succeeds(self, make_topics: Callable[..., Settings]) -> None:
        """Issue 14: one message over the topic's max.message.bytes fails that flush (named by key and event_id);
        a good send afterwards is delivered and flushes cleanly (before the fix every later flush failed)."""
        from greenshield.stream.topics import admin_client

        settings = make_topics()
        small = f"{settings.topic_prefix}small.v1"
        admin = admin_client(settings)
        try:
            admin.create_topics({small: {"num_partitions": 1, "replication_factor": 1,
                                         "configs": {"max.message.bytes": "2048"}}}, wait_for_metadata=True)
        finally:
            admin.close()
        big = {**XRAY, "event_id": "big-1", "note": "x" * 8000}  # an extra field: valid, but 8 KB
        with GreenShieldProducer(settings.kafka_bootstrap, None, events_topic=small,
                                 registry_topic=settings.registry_topic, security=settings.kafka_security) as producer:
            producer.send(big)
            with pytest.raises(DeliveryError, match="1 of 1") as caught:
                producer.flush(timeout=60)
            assert [(k, e) for k, e, _ in caught.value.failed] == [("WB12345678", "big-1")]
            producer.send({**XRAY, "event_id": "good-1"})
            producer.flush(timeout=60)
            producer.deliver([orjson.dumps({**XRAY, "event_id": "good-2"})], timeout=60)
        got = consume_all(settings.kafka_bootstrap, small, 1, 2)
        assert [orjson.loads(m.value)["event_id"] for m in got] == ["good-1", "good-2"]
