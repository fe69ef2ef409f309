"""One Kafka message in: an accepted, redacted candidate event, or a Rejection; and the output messages.

Personal data stops here (design note 1): the candidate carries the redacted
document (keyed hash and masked forms, contract §6) and a keyed digest of the
original content for duplicate detection; the plain value is not kept.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import orjson

from greenshield.audit.entries import canonical
from greenshield.audit.stream_sink import keyed_digester
from greenshield.privacy import redact_event
from greenshield.rules.dedup import CanonicalError
from greenshield.rules.model import Event, RegistryRecord, Rejection
from greenshield.rules.parse import is_blank, parse_line_plain

MAX_REJECT_PAYLOAD = 64 * 1024  # a masked payload larger than this is left out of the reject message


@dataclass(slots=True)
class Candidate:
    """A valid event or registry record from ``topic:partition@offset``, not yet de-duplicated."""

    topic: str
    partition: int
    offset: int
    item: Event | RegistryRecord
    doc: dict[str, Any]
    digest: bytes
    key: tuple[str, str]  # the idempotency key (enterprise_id, event_id)

    @property
    def source(self) -> str:
        return source_of(self.topic, self.partition)


@dataclass(slots=True)
class Reject:
    """A rejected message and where it was."""

    topic: str
    partition: int
    offset: int
    rejection: Rejection
    size: int
    sha256: str | None  # of the raw value when it did not parse (the input topic still has it)
    type: str = "unknown"
    enterprise: str = "unknown"

    @property
    def source(self) -> str:
        return source_of(self.topic, self.partition)


def source_of(topic: str, partition: int) -> str:
    """The store's ``source`` of a Kafka message; with the offset as ``position`` it locates it."""
    return f"kafka:{topic}:{partition}"


def _labels(obj: Any) -> tuple[str, str]:
    if not isinstance(obj, dict):
        return "unknown", "unknown"
    kind, ent = obj.get("type"), obj.get("enterprise_id")
    return (kind if isinstance(kind, str) and len(kind) <= 16 else "unknown",
            ent if isinstance(ent, str) and len(ent) == 8 else "unknown")


def decode(topic: str, partition: int, offset: int, value: bytes | None, hmac_key: bytes,
           registry_topic: str) -> Candidate | Reject | None:
    """Validate one message; None for an empty one (a tombstone or a blank line)."""
    if value is None or is_blank(value):
        return None
    obj, item, plain = parse_line_plain(value)
    if isinstance(item, Rejection):
        unparsed = obj is None
        return Reject(topic, partition, offset, item, len(value),
                      hashlib.sha256(value).hexdigest() if unparsed else None, *_labels(obj))
    wrong = _wrong_topic(item, topic == registry_topic)
    if wrong is not None:
        return Reject(topic, partition, offset, Rejection(wrong, redact_event(obj, hmac_key), _key(item)),
                      len(value), None, *_labels(obj))
    try:
        keyed = _digester(hmac_key)(obj, value, plain)  # plain: no number walk, the same digest
    except CanonicalError as err:
        return Reject(topic, partition, offset, Rejection(str(err)), len(value), None, *_labels(obj))
    return Candidate(topic, partition, offset, item, redact_event(obj, hmac_key), keyed, _key(item))


_DIGESTERS: dict[bytes, Callable[[Any, bytes | None, bool], bytes]] = {}


def _digester(key: bytes) -> Callable[[Any, bytes | None, bool], bytes]:
    found = _DIGESTERS.get(key)
    if found is None:
        found = _DIGESTERS[key] = keyed_digester(key)
    return found


def _key(item: Event | RegistryRecord) -> tuple[str, str]:
    return (item.enterprise_id, item.event_id)


def _wrong_topic(item: Event | RegistryRecord, on_registry: bool) -> str | None:
    if on_registry and isinstance(item, Event):
        return f"a {item.type} event on the registry topic (parcel events go to the events topic)"
    if not on_registry and isinstance(item, RegistryRecord):
        return "a registry record on the events topic (registry records go to the registry topic)"
    return None


def reject_message(r: Reject) -> tuple[bytes, bytes]:
    """``(key, value)`` for the rejects topic: reason, source partition and offset, masked payload."""
    payload = r.rejection.payload
    doc: dict[str, Any] = {"v": 1, "topic": r.topic, "partition": r.partition, "offset": r.offset,
                           "reason": r.rejection.reason, "size": r.size}
    if r.rejection.key is not None:
        doc["key"] = list(r.rejection.key)
    if r.sha256 is not None:
        doc["sha256"] = r.sha256
    if payload is not None:
        text = canonical(payload)
        if len(text) <= MAX_REJECT_PAYLOAD:
            doc["payload"] = orjson.Fragment(text)
        else:
            doc["payload_omitted"] = f"masked payload of {len(text)} bytes is over {MAX_REJECT_PAYLOAD}"
    return f"{r.topic}:{r.partition}".encode(), orjson.dumps(doc)


def violation_message(change: dict[str, Any]) -> tuple[bytes, bytes]:
    """``(key, value)`` for the violations topic; ``(waybill_no, rule_id, seq)`` identifies the change."""
    doc = change["doc"]
    value = {"v": 1, "change": change["kind"], "seq": change["seq"], **doc}
    return doc["waybill_no"].encode(), orjson.dumps(value)
