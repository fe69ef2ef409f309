"""The worker's output producer (violations, rejects) on librdkafka: acks=all, idempotent, flushed before the commit.

The same two calls as kafka-python's producer, which the worker used before (why it moved:
ADR 0005): :meth:`OutputProducer.send`
queues one message and returns its :class:`Delivery`; :meth:`OutputProducer.flush` waits
until every queued message is acknowledged by all in-sync replicas or the timeout passed.
A message not delivered by then is a delivery that is not ``is_done`` (or ``failed()``):
the worker raises ``PublishError`` and retries the batch (output is at-least-once).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

log = logging.getLogger("greenshield.worker")

#: librdkafka's names for :data:`greenshield.sdk.clients.RELIABLE_PRODUCER`
RELIABLE: Mapping[str, Any] = {
    "acks": "all",
    "enable.idempotence": True,
    "max.in.flight.requests.per.connection": 5,
    "message.timeout.ms": 120_000,  # kafka-python's delivery_timeout_ms
}


class Delivery:
    """One message's delivery report (kafka-python's future, as much of it as the worker reads)."""

    __slots__ = ("is_done", "exception")

    def __init__(self) -> None:
        self.is_done = False
        self.exception: Any = None

    def failed(self) -> bool:
        return self.exception is not None

    def report(self, err: Any, _msg: Any) -> None:
        self.is_done = True
        if err is not None:
            from confluent_kafka import KafkaException

            self.exception = KafkaException(err)


class OutputProducer:
    """A confluent-kafka producer with the worker's reliable settings (see the module docstring)."""

    def __init__(self, config: Mapping[str, Any]) -> None:
        from confluent_kafka import Producer

        self._p = Producer({**config, **RELIABLE, "error_cb": self._on_error})

    def send(self, topic: str, key: bytes | None = None, value: bytes = b"") -> Delivery:
        delivery = Delivery()
        while True:
            try:
                self._p.produce(topic, value, key, on_delivery=delivery.report)
                return delivery
            except BufferError:  # the local queue is full: serve delivery reports, then again
                self._p.poll(0.1)

    def flush(self, timeout: float) -> int:
        """Wait for every queued message's delivery report; how many are still queued (0: all reported)."""
        left: int = self._p.flush(timeout)
        return left

    def close(self) -> None:
        self._p.flush(10.0)

    @staticmethod
    def _on_error(err: Any) -> None:
        if err.fatal():  # an idempotence guarantee broke: every pending delivery fails, the batch is retried
            log.error("event=producer_fatal error=%s", err)
        else:
            log.warning("event=producer_error error=%s", err)


def output_config(base: Mapping[str, Any]) -> dict[str, Any]:
    """The worker's producer settings on top of :func:`greenshield.sdk.clients.librdkafka`'s connection ones."""
    return {**base, "linger.ms": 5, "batch.size": 512 * 1024, "message.max.bytes": 2 * 1024 * 1024 + 64 * 1024,
            "allow.auto.create.topics": False}
