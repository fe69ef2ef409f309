"""The replay control message: "advance the stream clock of this partition to TS", signed by the system.

``greenshield replay`` sends one to every partition of the events topic after the
replayed events. A worker applies it only when its HMAC (the control key, never held by
an enterprise) verifies and ``partition`` is the partition it arrived on; anything else
carrying the ``gs-control`` header is exactly one reject. It only moves the clock
forward, so a replayed valid message is applied again (a no-op), not a reject.
The message's format and who holds the key: ``docs/adr/0016-control-messages.md``.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

import orjson

from greenshield.errors import StreamError
from greenshield.rules.timestamps import Instant, TimestampError, parse_instant
from greenshield.settings import Settings

CONTROL_KEY = b"__greenshield_control__"
CONTROL_HEADER = "gs-control"
SIGNATURE_HEADER = "gs-signature"
ADVANCE = b"advance-v1"
_DOMAIN = b"gs-control-v1\x00"


class ControlError(StreamError, ValueError):
    """A message that claims to be a control message but is not a valid one."""


@dataclass(frozen=True)
class Advance:
    """A verified "advance to ``as_of``" for one partition."""

    as_of: Instant
    as_of_text: str
    partition: int


def _sign(key: bytes, value: bytes) -> str:
    return hmac.new(key, _DOMAIN + value, hashlib.sha256).hexdigest()


def encode_advance(key: bytes, as_of: str, partition: int, issued_at: str) -> tuple[bytes, bytes, list[tuple[str, bytes]]]:
    """``(key, value, headers)`` of a signed control message for ``partition``."""
    if not key:
        raise ValueError("no control key: set GREENSHIELD_CONTROL_KEY (the system's own identity)")
    parse_instant(as_of)
    value = orjson.dumps({"v": 1, "action": "advance", "as_of": as_of, "partition": partition,
                          "issued_at": issued_at, "nonce": secrets.token_hex(8)})
    return CONTROL_KEY, value, [(CONTROL_HEADER, ADVANCE), (SIGNATURE_HEADER, _sign(key, value).encode())]


def is_control(headers: Iterable[Any] | None) -> bool:
    """Does a message carry the control header (valid or not)? Total over any header list."""
    return any(name == CONTROL_HEADER for name, _ in _pairs(headers))


def _pairs(headers: Iterable[Any] | None) -> list[tuple[Any, Any]]:
    """The ``(name, value)`` pairs of a header list; anything that is not a pair is left out."""
    if not headers:
        return []
    try:
        return [h for h in headers if isinstance(h, tuple) and len(h) == 2]
    except TypeError:  # not iterable: no headers a worker could read
        return []


def _only(headers: list[tuple[Any, Any]], name: str) -> bytes | None:
    """The one value of header ``name`` (None when absent); a duplicated or non-bytes one is refused."""
    found = [value for key, value in headers if key == name]
    if len(found) > 1:
        raise ControlError(f"control message with {len(found)} {name} headers (one expected)")
    if not found or found[0] is None:
        return None
    if not isinstance(found[0], bytes):
        raise ControlError(f"control message: header {name} is not bytes")
    return found[0]


def decode_advance(key: bytes, value: bytes | None, headers: Iterable[Any] | None,
                   partition: int) -> Advance:
    """Verify a control message that arrived on ``partition``; raise :class:`ControlError` saying why not.

    Total over what a producer controls: null, duplicated, non-ASCII or oddly typed
    headers and values are each a :class:`ControlError`, never another exception. A
    replayed valid message verifies again (the clock only moves forward, so it is
    harmless and not a reject).
    """
    pairs = _pairs(headers)
    kind = _only(pairs, CONTROL_HEADER)
    if kind != ADVANCE:
        shown = kind[:32].decode("ascii", "replace") if kind is not None else None
        raise ControlError(f"unknown control message kind {shown!r}")
    if not key:
        raise ControlError("control message refused: this worker has no control key configured")
    signature = _only(pairs, SIGNATURE_HEADER)
    if signature is None or not isinstance(value, bytes) or \
            not hmac.compare_digest(signature, _sign(key, value).encode()):
        raise ControlError("control message with a missing or wrong signature (not sent by the system)")
    doc = _object(value)
    if doc.get("action") != "advance" or doc.get("v") != 1:
        raise ControlError("control message: unknown action or version")
    target = doc.get("partition")
    if type(target) is not int or target != partition:
        raise ControlError(f"control message for partition {str(target)[:20]} arrived on {partition}")
    text = doc.get("as_of")
    try:
        return Advance(parse_instant(text), text, partition) if isinstance(text, str) else _bad_instant(text)
    except (TimestampError, ValueError, OverflowError) as err:
        raise ControlError(f"control message: {str(err)[:200]}") from None


def _object(value: bytes) -> dict[str, Any]:
    try:
        doc = orjson.loads(value)
    except orjson.JSONDecodeError:
        raise ControlError("control message: value is not JSON") from None
    if not isinstance(doc, dict):
        raise ControlError("control message: value is not an object")
    return doc


def _bad_instant(value: Any) -> Advance:
    raise ControlError(f"control message: as_of {repr(value)[:40]} is not a timestamp")


def send_advance(producer: Any, topic: str, partitions: int, key: bytes, as_of: str, issued_at: str,
                 timeout: float = 60.0) -> None:
    """Send a signed "advance to ``as_of``" to every partition of the events topic and wait for the acks."""
    futures = []
    for p in range(partitions):
        k, value, headers = encode_advance(key, as_of, p, issued_at)
        futures.append(producer.send(topic, key=k, value=value, headers=headers, partition=p))
    producer.flush(timeout=timeout)
    failed = [f for f in futures if not f.is_done or f.failed()]
    if failed:
        raise RuntimeError(f"{len(failed)} control message(s) not acknowledged: {failed[0].exception!r}")


def control_producer(settings: Settings, bootstrap: str, client_id: str) -> Any:
    """The kafka-python producer that sends control messages: reliable settings, no topic auto-creation."""
    from kafka import KafkaProducer

    from greenshield.sdk.clients import RELIABLE_PRODUCER, common

    return KafkaProducer(**common(bootstrap, client_id, settings.kafka_security), **RELIABLE_PRODUCER,
                         allow_auto_create_topics=False)


def advance_every_partition(producer: Any, settings: Settings, as_of: str) -> int:
    """Advance the clock of every events partition to ``as_of`` (signed now); returns the partition count."""
    partitions = len(producer.partitions_for(settings.events_topic))
    issued = datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
    send_advance(producer, settings.events_topic, partitions, settings.control_key.reveal().encode(), as_of, issued)
    return partitions
