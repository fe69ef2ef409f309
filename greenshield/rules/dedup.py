"""De-duplication by the idempotency key ``(enterprise_id, event_id)`` (contract §2, §7).

A line is compared with the first *accepted* copy of its key, as JSON values:
key order and whitespace do not matter, ``100`` equals ``100.0``, ``true`` is not
``1``, and a member set to ``null`` differs from an absent one. Only a 16-byte
digest of the canonical form is kept per key, never the content.
"""

from __future__ import annotations

import hashlib
import json
import re
from decimal import Decimal
from enum import Enum
from typing import Any

import orjson

_SORT = orjson.OPT_SORT_KEYS


class Seen(Enum):
    NEW = "new"
    EXACT = "exact duplicate"
    CONFLICT = "conflicting duplicate"


class CanonicalError(ValueError):
    """A value too deep to put in canonical form."""


def _normalise(value: Any) -> Any:
    """Integral floats become ints (100.0 == 100); containers are copied only when they change."""
    kind = type(value)
    if kind is float:
        return int(value) if value.is_integer() else value
    if kind is Decimal:
        if value.is_finite() and value == value.to_integral_value():
            return int(value)
        return float(value)
    if kind is dict:
        return {k: _normalise(v) for k, v in value.items()}
    if kind is list:
        return [_normalise(v) for v in value]
    return value


def _has_float(value: Any) -> bool:
    kind = type(value)
    if kind is float or kind is Decimal:
        return True
    if kind is dict:
        return any(_has_float(v) for v in value.values())
    if kind is list:
        return any(_has_float(v) for v in value)
    return False


def _dumps(obj: Any) -> bytes:
    try:
        return orjson.dumps(obj, option=_SORT)
    except orjson.JSONEncodeError:
        # integers beyond 64 bits, lone surrogates: the stdlib encoder, same canonical rules
        return json.dumps(obj, sort_keys=True, separators=(",", ":")).encode()


_MAY_HOLD_FLOAT = re.compile(rb"[0-9][.eE]")


def digest(obj: Any, raw: bytes | None = None) -> bytes:
    """16-byte digest of a JSON value's canonical form.

    ``raw``, the JSON text ``obj`` was parsed from, lets the float walk be skipped
    when no number in it can be a float (no digit followed by ``.``/``e``/``E``).
    """
    try:
        if (raw is None or _MAY_HOLD_FLOAT.search(raw) is not None) and _has_float(obj):
            obj = _normalise(obj)
        data = _dumps(obj)
    except (ValueError, RecursionError) as err:
        raise CanonicalError(f"value cannot be put in canonical form: {err}") from None
    return hashlib.blake2b(data, digest_size=16).digest()


class Deduplicator:
    """Remembers the first accepted copy of every key; memory is one 64-bit digest per key."""

    def __init__(self) -> None:
        self._seen: dict[str, int] = {}

    def __len__(self) -> int:
        return len(self._seen)

    def check(self, enterprise_id: str, event_id: str, obj: Any, raw: bytes | None = None) -> Seen:
        """Classify a valid line; a NEW one is remembered as the first accepted copy."""
        key = f"{enterprise_id}/{event_id}"
        d = int.from_bytes(digest(obj, raw)[:8], "little")  # 8 bytes suffice within one key
        first = self._seen.get(key)
        if first is None:
            self._seen[key] = d
            return Seen.NEW
        return Seen.EXACT if first == d else Seen.CONFLICT
