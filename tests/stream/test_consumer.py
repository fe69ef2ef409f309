"""The worker's librdkafka consumer: security names translated, hostile headers read, offsets with metadata."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import pytest

from greenshield.sdk.clients import librdkafka
from greenshield.stream.consumer import TP, Record, StreamConsumer, feed_config, worker_config
from greenshield.stream.kafka_records import UndecodableKey
from greenshield.settings import Settings

from .raw_producer import send_messages


class TestConfig:
    def test_security_settings_take_librdkafka_names(self) -> None:
        got = librdkafka("b:9092", "me", {"SECURITY_PROTOCOL": "SASL_SSL", "SASL_MECHANISM": "SCRAM-SHA-512",
                                          "SASL_PLAIN_USERNAME": "gs-worker", "SASL_PLAIN_PASSWORD": "pw",
                                          "SSL_CAFILE": "/ca.pem", "SSL_CHECK_HOSTNAME": "false"})
        assert got["security.protocol"] == "SASL_SSL" and got["sasl.mechanisms"] == "SCRAM-SHA-512"
        assert (got["sasl.username"], got["sasl.password"], got["ssl.ca.location"]) == ("gs-worker", "pw", "/ca.pem")
        assert got["ssl.endpoint.identification.algorithm"] == "none"
        assert got["bootstrap.servers"] == "b:9092" and got["client.id"] == "me"

    def test_a_typo_and_an_option_librdkafka_lacks_fail_at_start(self) -> None:
        with pytest.raises(ValueError, match="unknown Kafka security setting"):
            librdkafka("b:9092", "me", {"SASL_USERNAME": "x"})
        with pytest.raises(ValueError, match="no librdkafka counterpart"):
            librdkafka("b:9092", "me", {"SASL_KERBEROS_DOMAIN_NAME": "example"})

    def test_librdkafka_takes_the_worker_and_feed_configurations(self) -> None:
        from confluent_kafka import Consumer

        s = Settings.from_env({})
        for config in (worker_config(s, "127.0.0.1:1", "t"), feed_config(s, "127.0.0.1:1", "t")):
            assert config["fetch.queue.backoff.ms"] == 50 and config["enable.auto.commit"] is False
            Consumer(config).close()  # an unknown or invalid property raises here


class _Answer:
    """One partition of an offsets answer, as librdkafka gives it."""

    def __init__(self, topic: str, partition: int, offset: int, error: Any = None) -> None:
        self.topic, self.partition, self.offset, self.error = topic, partition, offset, error


class _Asker:
    """Answers offset questions from a script: each call takes the next answer per partition."""

    def __init__(self, script: dict[int, list[Any]]) -> None:
        self.script, self.calls = script, []  # type: dict[int, list[Any]], list[list[int]]

    def get_watermark_offsets(self, tp: Any, timeout: float) -> tuple[int, int]:
        from confluent_kafka import KafkaException

        self.calls.append([tp.partition])
        step = self.script[tp.partition].pop(0)
        if not isinstance(step, tuple):
            raise KafkaException(step)
        return step

    def offsets_for_times(self, asked: list[Any], timeout: float) -> list[_Answer]:
        self.calls.append([p.partition for p in asked])
        out = []
        for p in asked:
            step = self.script[p.partition].pop(0)
            out.append(_Answer(p.topic, p.partition, -1, step) if not isinstance(step, int)
                       else _Answer(p.topic, p.partition, step))
        return out


class TestEndOffsets:
    """A partition without a leader yet (a topic just created) is asked again; other errors raise."""

    @pytest.fixture
    def consumer(self) -> Any:
        c = StreamConsumer(worker_config(Settings.from_env({}), "127.0.0.1:1", "t"))
        yield c
        c._asker = None
        c.close()

    def test_a_partition_without_a_leader_is_asked_again_alone(self, consumer: StreamConsumer) -> None:
        from confluent_kafka import KafkaError

        no_leader = KafkaError(KafkaError.NOT_LEADER_FOR_PARTITION)
        consumer._asker = asker = _Asker({0: [7], 1: [no_leader, KafkaError(KafkaError.LEADER_NOT_AVAILABLE), 9]})
        got = consumer.end_offsets([TP("t", 0), TP("t", 1)], timeout=10.0)
        assert got == {TP("t", 0): 7, TP("t", 1): 9}
        assert asker.calls == [[0, 1], [1], [1]]

    def test_watermarks_are_asked_again_while_there_is_no_leader(self, consumer: StreamConsumer) -> None:
        from confluent_kafka import KafkaError, KafkaException

        consumer._asker = asker = _Asker({0: [KafkaError(KafkaError.NOT_LEADER_FOR_PARTITION), (3, 8)]})
        assert consumer.watermarks(TP("t", 0), timeout=10.0) == (3, 8) and asker.calls == [[0], [0]]
        consumer._asker = _Asker({0: [KafkaError(KafkaError.TOPIC_AUTHORIZATION_FAILED)]})
        with pytest.raises(KafkaException, match="TOPIC_AUTHORIZATION_FAILED"):
            consumer.watermarks(TP("t", 0), timeout=10.0)

    def test_other_errors_and_a_spent_budget_raise(self, consumer: StreamConsumer) -> None:
        from confluent_kafka import KafkaError, KafkaException

        consumer._asker = _Asker({0: [KafkaError(KafkaError.TOPIC_AUTHORIZATION_FAILED)]})
        with pytest.raises(KafkaException, match="TOPIC_AUTHORIZATION_FAILED"):
            consumer.end_offsets([TP("t", 0)], timeout=10.0)
        consumer._asker = _Asker({0: [KafkaError(KafkaError.NOT_LEADER_FOR_PARTITION)] * 100})
        started = time.monotonic()
        with pytest.raises(KafkaException, match="NOT_LEADER"):
            consumer.end_offsets([TP("t", 0)], timeout=0.5)
        assert time.monotonic() - started < 5.0


def _read(consumer: StreamConsumer, n: int, timeout: float = 60.0) -> list[Record]:
    got: list[Record] = []
    deadline = time.monotonic() + timeout
    while len(got) < n and time.monotonic() < deadline:
        for records in consumer.poll(7, 0.5).values():  # small batches: many calls of headers()
            got += records
    return got


def _key(i: int) -> bytes | None:
    return None if i % 5 == 0 else b"k%d" % i


def _value(i: int) -> bytes | None:  # a record needs a key or a value (kafka-python's producer)
    return None if i % 7 == 0 and i % 5 else b"v" * (i * 1000)


@pytest.mark.kafka
def test_header_keys_that_are_not_utf8_null_keys_and_values_and_offsets_with_metadata(
        make_topics: Callable[..., Settings]) -> None:
    """300 messages, every third with a header key that is not UTF-8: each comes back, once, in order.

    Many polls, so that CPython specialises the ``headers()`` call (its specialised form
    leaves a failed call's error pending: the consumer must still see it at once).
    """
    settings = make_topics()
    topic, bad = settings.events_topic, b"gs-control\xff\xfe"
    messages: list[tuple[str, int | None, bytes | None, bytes | None, list[tuple[Any, Any]]]] = []
    for i in range(300):
        headers: list[tuple[Any, Any]] = [("a", b"1"), (bad, b"x"), ("b", None)] if i % 3 == 0 else [("n", None)]
        messages.append((topic, 0, _key(i), _value(i), headers))
    send_messages(settings.kafka_bootstrap, messages, security=dict(settings.kafka_security))
    consumer = StreamConsumer(worker_config(settings, settings.kafka_bootstrap, "test-consumer"))
    revoked: list[set[TP]] = []
    try:
        consumer.subscribe([topic], revoked.append)
        got = _read(consumer, 300)
        assert [r.offset for r in got] == list(range(300))
        for i, r in enumerate(got):
            assert (r.topic, r.partition) == (topic, 0)
            assert (r.key, r.value) == (_key(i), _value(i))
            if i % 3 == 0:
                assert r.headers is not None and len(r.headers) == 1
                name = r.headers[0][0]
                assert isinstance(name, UndecodableKey) and name.raw == bad and not name.known
            else:
                assert r.headers == [("n", None)]
        tp = TP(topic, 0)
        assert tp in consumer.assignment()
        consumer.commit({tp: (300, '{"v":1,"mark":null}')})
        assert consumer.committed([tp]) == {tp: (300, '{"v":1,"mark":null}')}
        assert consumer.committed([TP(topic, 1)]) == {TP(topic, 1): (None, None)}
        assert consumer.end_offsets([tp, TP(topic, 1)]) == {tp: 300, TP(topic, 1): 0}
        assert consumer.highwater(tp) == 300
        consumer.seek(tp, 298)
        assert [r.offset for r in _read(consumer, 2)] == [298, 299]
    finally:
        consumer.close()
    assert revoked and tp in revoked[-1]  # leaving the group revokes its partitions
