"""The enterprise SDK: validate events against the contract, key them, and send them reliably.

    from greenshield.sdk.producer import GreenShieldProducer

    with GreenShieldProducer.from_credentials("kafka.example:9092", "E1000001.json") as gs:
        gs.send({"v": 1, "type": "acceptance", "event_id": "a-1", ...})
    # leaving the block flushes: every event is acknowledged by all in-sync replicas

An invalid event, or one naming another ``enterprise_id``, is an :class:`InvalidEvent`
here, before it is sent; parcel events are signed with the credentials' sender key.
Why it checks, signs and keys as it does: docs/adr/0021-enterprise-sdk-checks.md.
"""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Mapping, Sequence
from pathlib import Path
from types import TracebackType
from typing import Any

import orjson

from greenshield.errors import SdkError
from greenshield.rules.model import Event, RegistryRecord, Rejection
from greenshield.rules.parse import is_blank, parse_line, validate
from greenshield.rules.timestamps import format_utc_exact
from greenshield.sdk.sender import SenderError, Signer

log = logging.getLogger("greenshield.producer")


class InvalidEvent(SdkError, ValueError):
    """An event the contract rejects; nothing was sent. ``reason`` says why."""

    def __init__(self, reason: str, event_id: str | None = None) -> None:
        where = f"event {event_id}: " if event_id else ""
        super().__init__(where + reason)
        self.reason = reason
        self.event_id = event_id


#: one message the broker did not acknowledge: its Kafka key, its event_id, the error
Failure = tuple[str, str | None, BaseException]
MAX_REPORTED = 10_000  # failures kept per flush beyond this are counted, not listed


class DeliveryError(SdkError):
    """Some messages were not acknowledged by the broker (after all retries).

    ``failed`` lists them as ``(key, event_id, error)``; only the messages of this
    flush (or :meth:`GreenShieldProducer.deliver` call), never earlier ones: the
    producer is usable again at once.
    """

    def __init__(self, message: str, failed: list[Failure] | None = None) -> None:
        super().__init__(message)
        self.failed: list[Failure] = failed or []


class DeliveryTimeout(DeliveryError):
    """The broker did not acknowledge within the timeout; the messages may still arrive (resend: idempotent keys)."""


def registry_key(record: RegistryRecord) -> str:
    """Contract §1.3: ``<entity>:<id>@<occurred_at as a UTC instant>`` (fraction kept, exact)."""
    return f"{record.entity}:{record.id}@{format_utc_exact(record.at)}"


def message_key(item: Event | RegistryRecord) -> str:
    """The Kafka key of an accepted event or record."""
    return item.waybill_no if isinstance(item, Event) else registry_key(item)


def _dumps(obj: Any) -> bytes:
    try:
        return orjson.dumps(obj)
    except orjson.JSONEncodeError:  # integers beyond 64 bits
        return json.dumps(obj, ensure_ascii=False, separators=(",", ":")).encode()


class GreenShieldProducer:
    """Sends one enterprise's events and registry records to the pipeline's topics.

    ``enterprise_id=None`` accepts every enterprise's events: for the regulator's own
    tools (``greenshield send``/``replay`` of a mixed file), never for an enterprise.
    """

    def __init__(
        self,
        bootstrap: str,
        enterprise_id: str | None,
        *,
        events_topic: str = "gs.events.v1",
        registry_topic: str = "gs.registry.v1",
        security: Mapping[str, str] | None = None,
        linger_ms: int = 20,
        batch_size: int = 256 * 1024,
        compression_type: str | None = None,
        client_id: str | None = None,
        producer: Any = None,
        signer: Signer | None = None,
    ) -> None:
        if signer is not None and signer.enterprise_id is not None:
            if enterprise_id not in (None, signer.enterprise_id):
                raise ValueError(f"the sender key is {signer.enterprise_id}'s, not {enterprise_id}'s")
            enterprise_id = signer.enterprise_id
        self.enterprise_id = enterprise_id
        self.signer = signer
        self.events_topic = events_topic
        self.registry_topic = registry_topic
        self.sent = 0
        self.acked = 0
        self.failed = 0  # ever (the demo shows it); flush() reports only its own
        self._failures: list[Failure] = []  # since the last flush()
        self._unlisted = 0  # failures since the last flush() beyond MAX_REPORTED
        self._window = 0  # messages sent since the last flush()
        self._lock = threading.Lock()
        self._renew_lock = threading.Lock()
        connection = (bootstrap, security, linger_ms, batch_size, compression_type,
                      client_id or f"greenshield-sdk-{enterprise_id or 'system'}")
        self._connection: tuple[Any, ...] | None = None if producer is not None else connection
        self._producer = producer if producer is not None else self._connect(*connection)

    @classmethod
    def from_credentials(cls, bootstrap: str, path: str | Path, **options: Any) -> GreenShieldProducer:
        """The producer of the enterprise whose credentials file is ``path``: its login, its id, its signature."""
        from greenshield.settings import read_credentials

        security, enterprise_id, key = read_credentials(Path(path))
        if not enterprise_id:
            raise ValueError(f"{path}: not an enterprise's credentials (no enterprise_id)")
        return cls(bootstrap, enterprise_id, security={**security, **options.pop("security", {})},
                   signer=Signer.for_enterprise(enterprise_id, bytes.fromhex(key)), **options)

    @staticmethod
    def _connect(bootstrap: str, security: Mapping[str, str] | None, linger_ms: int, batch_size: int,
                 compression_type: str | None, client_id: str) -> Any:
        from kafka import KafkaProducer

        from greenshield.sdk.clients import RELIABLE_PRODUCER, common

        return KafkaProducer(
            **common(bootstrap, client_id, security),
            **RELIABLE_PRODUCER,
            linger_ms=linger_ms,
            batch_size=batch_size,
            compression_type=compression_type,
            allow_auto_create_topics=False,
        )

    # ----------------------------------------------------------------- sending

    def send(self, event: Mapping[str, Any] | bytes | str) -> Any:
        """Validate and send one parcel event; returns the send future. Raises :class:`InvalidEvent`."""
        item, value = self._accept(event)
        if not isinstance(item, Event):
            raise InvalidEvent("a registry record: send it with send_registry()", item.event_id)
        return self._send(self.events_topic, item.waybill_no, value, item.event_id, headers=self._sign(item, value))

    def send_registry(self, record: Mapping[str, Any] | bytes | str) -> Any:
        """Validate and send one registry record (compacted topic, key per §1.3)."""
        item, value = self._accept(record)
        if not isinstance(item, RegistryRecord):
            raise InvalidEvent(f"a {item.type} event, not a registry record: send it with send()", item.event_id)
        return self._send(self.registry_topic, registry_key(item), value, item.event_id)

    def send_line(self, line: bytes) -> Any:
        """Send one JSON Lines line to whichever topic its type belongs to; blank lines send nothing."""
        if is_blank(line):
            return None
        item, value = self._accept(line)
        return self._send(self._topic(item), message_key(item), value, item.event_id, headers=self._sign(item, value))

    def deliver(self, lines: list[bytes], timeout: float | None = None,
                extra: Sequence[tuple[str, bytes, bytes]] = ()) -> None:
        """Send JSON Lines lines (and ``extra`` ``(topic, key, value)`` messages, unchecked: the service's
        rejects) and wait for their acknowledgement; raise for these messages only.

        Safe for threads sharing one producer (the service): each call sees only its own
        failures (:class:`DeliveryError`, with their keys) or :class:`DeliveryTimeout`,
        never another call's, and a failure does not outlive the call.
        """
        from kafka.errors import KafkaTimeoutError

        items = [self._accept(line) for line in lines if not is_blank(line)]  # InvalidEvent before any send
        producer = self._producer
        sent: list[tuple[str, str | None, Any]] = []
        for item, value in items:
            key = message_key(item)
            future = self._send(self._topic(item), key, value, item.event_id, mine=False, producer=producer,
                                headers=self._sign(item, value))
            sent.append((key, item.event_id, future))
        for topic, raw_key, value in extra:
            future = self._send_raw(producer, topic, raw_key, value)
            sent.append((raw_key.decode(errors="replace"), None, future))
        try:
            producer.flush(timeout=timeout)
        except KafkaTimeoutError:
            pass  # answered below from the futures
        pending = sum(1 for _, _, f in sent if not f.is_done)
        failed: list[Failure] = [(k, e, f.exception) for k, e, f in sent if f.is_done and f.failed()]
        if failed:
            self._renew(producer)
        if pending:
            raise DeliveryTimeout(f"{pending} of {len(sent)} message(s) not acknowledged within {timeout} s", failed)
        if failed:
            raise DeliveryError(_failed_text(len(failed), len(sent), failed[0][2]), failed)

    def _topic(self, item: Event | RegistryRecord) -> str:
        return self.events_topic if isinstance(item, Event) else self.registry_topic

    def _accept(self, event: Mapping[str, Any] | bytes | str) -> tuple[Event | RegistryRecord, bytes]:
        if isinstance(event, (bytes, str)):
            value = event.encode() if isinstance(event, str) else bytes(event)
            value = value.rstrip(b"\r\n")
            _, item = parse_line(value)
        else:
            obj = dict(event)
            value = _dumps(obj)
            item = validate(obj)
        if isinstance(item, Rejection):
            raise InvalidEvent(item.reason, _event_id(item))
        if isinstance(item, RegistryRecord) and self.signer is not None and self.signer.enterprise_id is not None:
            raise InvalidEvent("a registry record: only the registry feed states those (an enterprise's "
                               "credentials may not write the registry topic)", item.event_id)
        if self.enterprise_id is not None and item.enterprise_id != self.enterprise_id:
            raise InvalidEvent(f"enterprise_mismatch: enterprise_id {item.enterprise_id} is not this producer's "
                               f"{self.enterprise_id}", item.event_id)
        return item, value

    def _sign(self, item: Event | RegistryRecord, value: bytes) -> list[tuple[str, bytes]] | None:
        """The sender headers of a parcel event (registry records are the registry feed's, authorised by the broker)."""
        if self.signer is None or not isinstance(item, Event):
            return None
        try:
            return self.signer.headers(item.enterprise_id, value)
        except SenderError as err:
            raise InvalidEvent(str(err), item.event_id) from None

    def _send(self, topic: str, key: str, value: bytes, event_id: str | None, mine: bool = True,
              producer: Any = None, headers: list[tuple[str, bytes]] | None = None) -> Any:
        """Send one message; ``mine``: its failure is reported by the next :meth:`flush`."""
        future = (producer or self._producer).send(topic, key=key.encode(), value=value, headers=headers)
        with self._lock:
            self.sent += 1
            self._window += mine
        future.add_callback(self._on_ack)
        future.add_errback(self._on_error, key, event_id, mine)
        return future

    def _send_raw(self, producer: Any, topic: str, key: bytes, value: bytes) -> Any:
        future = producer.send(topic, key=key, value=value)
        with self._lock:
            self.sent += 1
        future.add_callback(self._on_ack)
        future.add_errback(self._on_error, key.decode(errors="replace"), None, False)
        return future

    def _on_ack(self, _: Any) -> None:
        with self._lock:
            self.acked += 1

    def _on_error(self, key: str, event_id: str | None, mine: bool, err: BaseException) -> None:
        with self._lock:
            self.failed += 1
            if not mine:
                return
            if len(self._failures) < MAX_REPORTED:
                self._failures.append((key, event_id, err))
            else:
                self._unlisted += 1

    # ----------------------------------------------------------------- lifecycle

    def flush(self, timeout: float | None = None) -> None:
        """Block until everything sent so far is acknowledged.

        Raises :class:`DeliveryError` listing the messages sent since the previous
        ``flush()`` that failed (then forgets them: the next flush reports only its own),
        or :class:`DeliveryTimeout` when ``timeout`` passes first (nothing is forgotten).
        """
        from kafka.errors import KafkaTimeoutError

        producer = self._producer
        try:
            producer.flush(timeout=timeout)
        except KafkaTimeoutError as err:
            raise DeliveryTimeout(f"messages not acknowledged within {timeout} s: {err}") from err
        with self._lock:
            failed, unlisted, window = self._failures, self._unlisted, self._window
            self._failures, self._unlisted, self._window = [], 0, 0
        if failed:
            self._renew(producer)
            raise DeliveryError(_failed_text(len(failed) + unlisted, window, failed[0][2]), failed)

    def _renew(self, broken: Any) -> None:
        """Replace a client that failed for good with a fresh one (ours only, never one passed in).

        kafka-python's idempotent producer turns *fatal* on a non-retriable error (a
        message over the topic's ``max.message.bytes``, a deleted topic): every later
        send fails. The next messages go through a new client instead.
        """
        manager = getattr(broken, "_transaction_manager", None)
        if self._connection is None or manager is None or not manager.has_fatal_error():
            return
        with self._renew_lock:
            if self._producer is not broken:
                return  # another thread renewed it
            self._producer = self._connect(*self._connection)
        log.warning("event=producer_renewed reason=fatal_delivery_error")
        broken.close(timeout=5)

    def close(self, timeout: float | None = None) -> None:
        self._producer.close(timeout=timeout)

    def __enter__(self) -> GreenShieldProducer:
        return self

    def __exit__(self, kind: type[BaseException] | None, err: BaseException | None,
                 tb: TracebackType | None) -> None:
        try:
            if kind is None:
                self.flush()
        finally:
            self.close()


def _failed_text(failed: int, sent: int, first: BaseException) -> str:
    return f"{failed} of {sent} message(s) were not delivered; first error: {first!r}"


def _event_id(rejection: Rejection) -> str | None:
    payload = rejection.payload
    value = payload.get("event_id") if isinstance(payload, dict) else None
    return value if isinstance(value, str) else None
