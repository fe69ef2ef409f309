"""One Kafka message in: an accepted, redacted candidate event, a control message, or a reject; and the output messages.

Personal data stops here (ADR 0008): the candidate carries the redacted
document (keyed hash and masked forms, contract §6) and a keyed digest of the
original content for duplicate detection; the plain value is not kept.

:func:`decode_message` is total: whatever a producer controls (value, key,
headers, sizes, encodings, numbers, nesting) gives back a value, never an
exception. An exception nobody expected is a reject with reason
``internal: <exception class>`` (no message text, which could echo input), logged
once with its traceback frames and offsets. Every reject's output message is
bounded (:data:`MAX_REJECT_MESSAGE`): the reason is cut, the payload left out
past :data:`MAX_REJECT_PAYLOAD`.
"""

from __future__ import annotations

import hashlib
import logging
import traceback
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

import orjson

from greenshield.intake.digest import keyed_digester
from greenshield.rules.dedup import CanonicalError
from greenshield.rules.model import Event, RegistryRecord, Rejection
from greenshield.rules.parse import is_blank, parse_line_plain
from greenshield.rules.privacy import redact_counting, redact_rejected
from greenshield.sdk.sender import Verifier
from greenshield.stream.control import Advance, ControlError, decode_advance, is_control
from greenshield.stream.kafka_records import UndecodableKey
from greenshield.stream.state import partition_of
from greenshield.translog.entries import canonical

log = logging.getLogger("greenshield.worker")

MAX_REJECT_PAYLOAD = 64 * 1024  # a masked payload larger than this is left out of the reject message
MAX_REASON = 1000               # characters of a reject reason (more is cut, with a note)
#: every reject message is smaller than this (payload + reason + the bounded fields), far below
#: the worker producer's max_request_size (2 MiB)
MAX_REJECT_MESSAGE = MAX_REJECT_PAYLOAD + 8 * 1024


@dataclass(slots=True)
class Candidate:
    """A valid event or registry record from ``topic:partition@offset``, not yet de-duplicated.

    A :class:`greenshield.intake.decisions.Candidate`: the worker classifies it as ``run`` does."""

    topic: str
    partition: int
    offset: int
    item: Event | RegistryRecord
    doc: dict[str, Any]
    digest: bytes
    key: tuple[str, str]  # the idempotency key (enterprise_id, event_id)
    dropped: int = 0      # fields of the value not kept in ``doc`` (not in the contract)

    @property
    def source(self) -> str:
        return source_of(self.topic, self.partition)

    @property
    def position(self) -> int:
        """The store's ``position`` of the message (with :attr:`source`, it locates it): its offset."""
        return self.offset


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
    internal: bool = False  # an unexpected exception, not a verdict on the input

    def __post_init__(self) -> None:
        self.rejection = bounded(self.rejection)

    @property
    def source(self) -> str:
        return source_of(self.topic, self.partition)


@dataclass(frozen=True, slots=True)
class Control:
    """A verified control message (the worker applies it to its partition's clock)."""

    topic: str
    partition: int
    offset: int
    advance: Advance


@dataclass(frozen=True, slots=True)
class Context:
    """What decoding needs besides the message: keys and topic names."""

    hmac_key: bytes
    registry_topic: str
    events_topic: str = ""
    control_key: bytes = b""
    events_partitions: int = 0  # > 0: a parcel event must be on its waybill's partition (see misrouted)
    sender: Verifier | None = None  # set: a parcel event must be signed by its own enterprise (see unsigned)


def bounded(rejection: Rejection) -> Rejection:
    """The rejection with a reason every store and the rejects topic take (cut, no NUL, no lone surrogate)."""
    reason = rejection.reason if isinstance(rejection.reason, str) else repr(rejection.reason)
    if len(reason) <= MAX_REASON and reason.isascii() and "\x00" not in reason:
        return rejection
    text = reason[:MAX_REASON].replace("\x00", "\\u0000").encode("utf-8", "backslashreplace").decode("utf-8")
    if len(text) > MAX_REASON or len(reason) > MAX_REASON:
        text = f"{text[:MAX_REASON]}... ({len(reason)} characters, cut)"
    return Rejection(text, rejection.payload, rejection.key)


_SOURCES: dict[tuple[str, int], str] = {}


def source_of(topic: str, partition: int) -> str:
    """The store's ``source`` of a Kafka message; with the offset as ``position`` it locates it."""
    found = _SOURCES.get((topic, partition))
    if found is None:
        found = f"kafka:{topic}:{partition}"
        if len(_SOURCES) < 4096:  # a few topics' partitions: bounded whatever asks
            _SOURCES[(topic, partition)] = found
    return found


def _labels(obj: Any) -> tuple[str, str]:
    if not isinstance(obj, dict):
        return "unknown", "unknown"
    kind, ent = obj.get("type"), obj.get("enterprise_id")
    return (kind if isinstance(kind, str) and len(kind) <= 16 else "unknown",
            ent if isinstance(ent, str) and len(ent) == 8 else "unknown")


Decoded = Candidate | Reject | Control | None


def decode_message(topic: str, partition: int, offset: int, key: Any, value: Any, headers: Any,
                   ctx: Context) -> Decoded:
    """One Kafka message, whatever it holds: a candidate, a reject, a verified control message, or None.

    Never raises (see the module docstring). ``key`` is not used: a message is what
    its value says (the SDK keys by waybill for placement only).
    """
    try:
        return _decode_message(topic, partition, offset, value, headers, ctx)
    except Exception as err:  # anything unforeseen: one reject, one log line, the stream goes on
        return internal_reject(topic, partition, offset, value, err)


def _decode_message(topic: str, partition: int, offset: int, value: Any, headers: Any, ctx: Context) -> Decoded:
    if not isinstance(value, bytes | None):
        value = bytes(value) if isinstance(value, bytearray | memoryview) else None
    if headers:
        wrong = undecodable_header(headers)
        if wrong is not None:
            return Reject(topic, partition, offset, Rejection(wrong), len(value or b""), _sha(value))
        if topic == ctx.events_topic and is_control(headers):
            return _control(topic, partition, offset, value, headers, ctx)
    got = decode(topic, partition, offset, value, ctx.hmac_key, ctx.registry_topic)
    if not isinstance(got, Candidate) or not isinstance(got.item, Event):
        return got
    if ctx.sender is not None:
        assert value is not None  # a candidate has a value
        unsigned = not_its_sender(got, value, headers, ctx.sender)
        if unsigned is not None:
            return unsigned
    if ctx.events_partitions:
        return misrouted(got, ctx.events_partitions) or got
    return got


def not_its_sender(c: Candidate, value: bytes, headers: Any, sender: Verifier) -> Reject | None:
    """A parcel event not signed by its own enterprise: one reject ``enterprise_mismatch``, nothing else changes.

    It takes no idempotency key (only stored events do), so the real owner's event
    with the same ``event_id`` is still accepted later. The reject is labelled with the
    sender the signature proves (who then sees it among its own rejects), or with nobody
    (the regulator's): never with the enterprise the event claims, whose rejects it is not.
    """
    assert isinstance(c.item, Event)
    reason, who = sender.check(headers, value, c.item.enterprise_id)
    if reason is None:
        return None
    key = (who, c.item.event_id) if who != "unknown" else None  # the reject is the proven sender's, or nobody's
    return Reject(c.topic, c.partition, c.offset, Rejection(reason, None, key), len(value), None,
                  c.item.type, who)


def misrouted(c: Candidate, partitions: int) -> Reject | None:
    """A parcel event on another partition than its waybill's: one reject, or the parcel would be split.

    A parcel's state lives on one partition (the murmur2 hash of its key, the
    ``waybill_no``, as Kafka's default partitioner places it, contract §1.2); an event
    placed elsewhere by hand or by a client with another partitioner would be judged
    apart from the rest of its parcel, and rebuilt elsewhere after a restart.
    """
    assert isinstance(c.item, Event)
    home = partition_of(c.item.waybill_no, partitions)
    if home == c.partition:
        return None
    reason = (f"misrouted: waybill_no {c.item.waybill_no} belongs on partition {home} of the events topic "
              f"(its key hashed by murmur2, Kafka's default partitioner), not {c.partition}")
    return Reject(c.topic, c.partition, c.offset, Rejection(reason, None, c.key), 0, None, c.item.type,
                  c.item.enterprise_id)


def undecodable_header(headers: Any) -> str | None:
    """Why a header list cannot be read as the record format says (names are UTF-8 strings); None if it can."""
    try:
        pairs = list(headers)
    except TypeError:
        return f"undecodable record: headers are a {type(headers).__name__}, not a list"
    for i, pair in enumerate(pairs):
        if not isinstance(pair, tuple) or len(pair) != 2:
            return f"undecodable record: header {i} is not a (name, value) pair"
        name, content = pair
        if isinstance(name, UndecodableKey):
            at = f"header {i}" if name.known else "header"  # librdkafka does not say which one
            return f"undecodable record: {at} name is not UTF-8 ({len(name.raw)} bytes)"
        if not isinstance(name, str):
            return f"undecodable record: header {i} name is a {type(name).__name__}, not a string"
        if content is not None and not isinstance(content, bytes):
            return f"undecodable record: header {i} value is a {type(content).__name__}, not bytes"
    return None


def _control(topic: str, partition: int, offset: int, value: bytes | None, headers: Iterable[Any],
             ctx: Context) -> Control | Reject:
    try:
        return Control(topic, partition, offset, decode_advance(ctx.control_key, value, headers, partition))
    except ControlError as err:
        return Reject(topic, partition, offset, Rejection(str(err)), len(value or b""), _sha(value), "control")


def internal_reject(topic: str, partition: int, offset: int, value: Any, err: BaseException) -> Reject:
    """The reject of a message whose decoding raised ``err``, logged once (frames and class, never the message)."""
    frames = " < ".join(f"{f.filename.rsplit('/', 1)[-1]}:{f.lineno} {f.name}"
                        for f in reversed(traceback.extract_tb(err.__traceback__)))
    name = type(err).__name__[:60]
    log.error("event=decode_internal_error topic=%s partition=%d offset=%d error=%s traceback=%s",
              topic, partition, offset, name, frames)
    raw = value if isinstance(value, bytes) else None
    return Reject(topic, partition, offset, Rejection(f"internal: {name}"), len(raw or b""), _sha(raw),
                  internal=True)


def _sha(value: bytes | None) -> str | None:
    return hashlib.sha256(value).hexdigest() if value is not None else None


def decode(topic: str, partition: int, offset: int, value: bytes | None, hmac_key: bytes,
           registry_topic: str) -> Candidate | Reject | None:
    """Validate one message; None for a blank one (contract §7: skipped, not rejected).

    A message without a value (a tombstone) is one reject: it is no event, and on the
    compacted registry topic it would erase a version of the registry's history.
    """
    if value is None:
        return Reject(topic, partition, offset, Rejection(_TOMBSTONE[topic == registry_topic]), 0, None)
    if is_blank(value):
        return None
    obj, item, plain = parse_line_plain(value)
    if isinstance(item, Rejection):
        unparsed = obj is None
        return Reject(topic, partition, offset, item, len(value),
                      hashlib.sha256(value).hexdigest() if unparsed else None, *_labels(obj))
    wrong = _wrong_topic(item, topic == registry_topic)
    if wrong is not None:
        return Reject(topic, partition, offset, Rejection(wrong, redact_rejected(obj, hmac_key), _key(item)),
                      len(value), None, *_labels(obj))
    try:
        keyed = _digester(hmac_key)(obj, value, plain)  # plain: no number walk, the same digest
    except CanonicalError as err:
        return Reject(topic, partition, offset, Rejection(str(err)), len(value), None, *_labels(obj))
    doc, dropped = redact_counting(obj, hmac_key)
    return Candidate(topic, partition, offset, item, doc, keyed, _key(item), dropped)


_TOMBSTONE = {False: "a message without a value (a tombstone) is not an event",
              True: "a tombstone on the registry topic: registry history is never deleted"}

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
    """``(key, value)`` for the rejects topic: reason, source partition and offset, masked payload.

    The value is always below :data:`MAX_REJECT_MESSAGE` bytes and always encodes.
    """
    doc: dict[str, Any] = {"v": 1, "topic": r.topic, "partition": r.partition, "offset": r.offset,
                           "reason": r.rejection.reason, "size": r.size}
    if r.rejection.key is not None:
        doc["key"] = [bounded(Rejection(str(k)[:128])).reason for k in r.rejection.key]
    if r.sha256 is not None:
        doc["sha256"] = r.sha256
    if r.rejection.payload is not None:
        _add_payload(doc, r.rejection.payload)
    return f"{r.topic}:{r.partition}".encode(), orjson.dumps(doc)


def _add_payload(doc: dict[str, Any], payload: Any) -> None:
    try:
        text = canonical(payload)
    except (ValueError, TypeError, RecursionError) as err:
        doc["payload_omitted"] = f"masked payload could not be encoded ({type(err).__name__})"
        return
    if len(text) <= MAX_REJECT_PAYLOAD:
        doc["payload"] = orjson.Fragment(text)
    else:
        doc["payload_omitted"] = f"masked payload of {len(text)} bytes is over {MAX_REJECT_PAYLOAD}"


def violation_message(change: dict[str, Any]) -> tuple[bytes, bytes]:
    """``(key, value)`` for the violations topic.

    The key stays the ``waybill_no`` (contract §1.2's placement: both enterprises' parcels
    of a waybill share a partition); the value carries the parcel's ``enterprise_id``, and
    ``(enterprise_id, waybill_no, rule_id, seq)`` identifies the change (contract §8.1), for
    consumers that de-duplicate.
    """
    doc = change["doc"]
    value = {"v": 1, "change": change["kind"], "seq": change["seq"], **doc}
    return doc["waybill_no"].encode(), orjson.dumps(value)
