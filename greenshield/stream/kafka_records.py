"""Kafka records whose header keys are not UTF-8: read them, instead of failing the whole fetch.

:func:`install` makes kafka-python's record parser total (a record whose header key is not
UTF-8 is read again, with the key as an :class:`UndecodableKey`); :func:`undecodable_headers`
does the same for a failed ``Message.headers()`` of confluent-kafka. The worker turns such a
record into one reject. Why the parser is patched rather than the error caught:
``docs/adr/0017-undecodable-header-keys.md``.
"""

from __future__ import annotations

from typing import Any

_INSTALLED = False


class UndecodableKey(str):
    """A header key that is not UTF-8: ``str`` (decoded with U+FFFD replacements), the bytes in ``raw``."""

    raw: bytes
    known: bool  # is the header's position in the list the one it had on the wire?

    def __new__(cls, raw: bytes, known: bool = True) -> UndecodableKey:
        key = super().__new__(cls, raw.decode("utf-8", "replace"))
        key.raw = raw
        key.known = known
        return key


def undecodable_headers(err: BaseException) -> list[tuple[str, bytes | None]]:
    """What ``headers()`` that raised ``err`` stands for: one header, its key not UTF-8, its position unknown."""
    return [(UndecodableKey(_undecoded(err), known=False), None)]


def _undecoded(err: BaseException) -> bytes:
    """The bytes of the first key that failed (the innermost ``UnicodeDecodeError`` of the chain)."""
    found, seen = b"", 0
    at: BaseException | None = err
    while at is not None and seen < 1000:
        if isinstance(at, UnicodeDecodeError) and isinstance(at.object, bytes):
            found = at.object
        at, seen = at.__cause__ or at.__context__, seen + 1
    return found


def install() -> None:
    """Make kafka-python's record parser read non-UTF-8 header keys (idempotent, process-wide)."""
    global _INSTALLED
    if _INSTALLED:
        return
    from kafka.record.default_records import DefaultRecordBatch

    strict = DefaultRecordBatch._read_msg

    def _read_msg(self: Any, *args: Any) -> Any:
        try:
            return strict(self, *args)
        except UnicodeDecodeError:  # only a header key is decoded there; ``_pos`` is still at the record
            return _read_lenient(self)

    DefaultRecordBatch._read_msg = _read_msg
    _INSTALLED = True


def _read_lenient(batch: Any) -> Any:
    """kafka-python 3.0's ``DefaultRecordBatch._read_msg`` with non-UTF-8 header keys kept as :class:`UndecodableKey`."""
    from kafka.errors import CorruptRecordError
    from kafka.record.default_records import ControlRecord, DefaultRecord
    from kafka.record.util import decode_varint

    buffer, pos = batch._buffer, batch._pos
    length, pos = decode_varint(buffer, pos)
    start = pos
    _, pos = decode_varint(buffer, pos)  # attributes
    ts_delta, pos = decode_varint(buffer, pos)
    timestamp = batch.max_timestamp if batch.timestamp_type == batch.LOG_APPEND_TIME else batch.first_timestamp + ts_delta
    offset_delta, pos = decode_varint(buffer, pos)
    key, pos = _nullable(buffer, pos)
    value, pos = _nullable(buffer, pos)
    count, pos = decode_varint(buffer, pos)
    if count < 0:
        raise CorruptRecordError(f"Found invalid number of record headers {count}")
    headers: list[tuple[str, bytes | None]] = []
    for _ in range(count):
        key_len, pos = decode_varint(buffer, pos)
        if key_len < 0:
            raise CorruptRecordError(f"Invalid negative header key size {key_len}")
        raw = bytes(buffer[pos:pos + key_len])
        pos += key_len
        try:
            name: str = raw.decode("utf-8")
        except UnicodeDecodeError:
            name = UndecodableKey(raw)
        header_value, pos = _nullable(buffer, pos)
        headers.append((name, header_value))
    if pos - start != length:
        raise CorruptRecordError(f"Invalid record size: expected to read {length} bytes in record payload, "
                                 f"but instead read {pos - start}")
    batch._pos = pos
    kind = ControlRecord if batch.is_control_batch else DefaultRecord
    return kind(length, batch.base_offset + offset_delta, timestamp, batch.timestamp_type, key, value, headers)


def _nullable(buffer: bytearray, pos: int) -> tuple[bytes | None, int]:
    from kafka.record.util import decode_varint

    size, pos = decode_varint(buffer, pos)
    if size < 0:
        return None, pos
    return bytes(buffer[pos:pos + size]), pos + size
