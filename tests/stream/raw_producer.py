"""A producer that sends what a hostile client can put on the wire, not only what kafka-python allows.

kafka-python's ``send`` refuses header values that are ``None`` and header keys that
are not ``str``, yet the protocol carries both (other clients send null header
values, and a header key is only bytes on the wire). For the tests these checks are
bypassed, nothing else: the record batches are kafka-python's own.
"""

from __future__ import annotations

import builtins
import contextlib
from collections.abc import Iterable, Iterator
from typing import Any
from unittest import mock

import kafka.producer.kafka as _producer_module
import kafka.producer.producer_batch as _batch_module

from tests.support.stream import kafka_client


class RawHeaderKey(str):
    """A header key whose wire bytes are ``raw`` (which need not be UTF-8)."""

    raw: bytes

    def __new__(cls, raw: bytes) -> RawHeaderKey:
        made = super().__new__(cls, raw.decode("utf-8", "replace"))
        made.raw = raw
        return made

    def encode(self, encoding: str = "utf-8", errors: str = "strict") -> bytes:
        return self.raw


def _len(value: Any) -> int:
    return 0 if value is None else builtins.len(value)


@contextlib.contextmanager
def _unchecked_headers() -> Iterator[None]:
    with mock.patch.object(_producer_module, "all", lambda _: True, create=True), \
            mock.patch.object(_batch_module, "len", _len, create=True):
        yield


def wire_headers(headers: Iterable[tuple[Any, Any]]) -> list[tuple[str, bytes | None]]:
    """Headers as the producer takes them: bytes keys become :class:`RawHeaderKey`."""
    return [(RawHeaderKey(k) if isinstance(k, bytes) else k, v) for k, v in headers]


def send_messages(bootstrap: str, messages: Iterable[tuple[str, int | None, bytes | None, bytes | None,
                                                            list[tuple[Any, Any]]]],
                  linger_ms: int = 5, security: dict[str, str] | None = None) -> list[tuple[str, int, int]]:
    """Send ``(topic, partition, key, value, headers)`` as they are; wait for every ack; where each one went."""
    from kafka import KafkaProducer

    from greenshield.sdk.clients import security_options

    login = {"bootstrap_servers": bootstrap, **security_options(security)} if security is not None \
        else kafka_client(bootstrap)
    producer = KafkaProducer(**login, acks="all", max_request_size=8 * 1024 * 1024,
                             linger_ms=linger_ms)
    futures = []
    try:
        with _unchecked_headers():
            for topic, partition, key, value, headers in messages:
                futures.append(producer.send(topic, key=key, value=value, headers=wire_headers(headers),
                                             partition=partition))
        producer.flush(timeout=120)
    finally:
        producer.close(timeout=10)
    failed = [f.exception for f in futures if f.failed()]
    if failed:
        raise RuntimeError(f"{len(failed)} of {len(futures)} message(s) not acknowledged: {failed[0]!r}")
    done = [f.get(timeout=0) for f in futures]
    return [(d.topic, d.partition, d.offset) for d in done]
