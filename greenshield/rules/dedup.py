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


_SMALL = 10**30  # integers below this are written as digits; beyond, as exact scientific text


def _exact(d: Decimal) -> str:
    """Exact, context-free canonical text of a finite decimal: ``\x00num:<digits>e<exp>``."""
    sign, digits, exp = d.as_tuple()
    text = "".join(map(str, digits)).rstrip("0") or "0"
    exp = int(exp) + len(digits) - len(text) if text != "0" else 0
    return f"\x00num:{'-' if sign and text != '0' else ''}{text}e{exp}"


def _number(value: int | float | Decimal) -> Any:
    """One canonical form per JSON number value: 100, 100.0 and 1e2 agree; 0.1 and 0.10…01 do not."""
    if type(value) is int:
        return value if -_SMALL < value < _SMALL else _exact(Decimal(value))
    if type(value) is float:
        return _number(int(value)) if value.is_integer() else _exact(Decimal(repr(value)))
    d = value  # Decimal, from the exact parser
    if d.is_finite() and d == d.to_integral_value() and d.adjusted() < 30:
        return int(d)
    return _exact(d)  # type: ignore[arg-type]


def _normalise(value: Any) -> Any:
    """Numbers in canonical form; containers are copied."""
    kind = type(value)
    if kind is float or kind is int or isinstance(value, Decimal):
        return _number(value)
    if kind is dict:
        return {k: _normalise(v) for k, v in value.items()}
    if kind is list:
        return [_normalise(v) for v in value]
    return value


def _has_float(value: Any) -> bool:
    """Does the value hold a number whose canonical form differs from its plain encoding?"""
    kind = type(value)
    if kind is float or isinstance(value, Decimal):
        return True
    if kind is int:
        return not -_SMALL < value < _SMALL
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


_MAY_HOLD_FLOAT = re.compile(rb"[0-9][.eE]|[0-9]{30}")


def canonical(obj: Any, raw: bytes | None = None) -> bytes:
    """The canonical JSON text of a value: sorted keys, integral numbers as integers.

    ``raw``, the JSON text ``obj`` was parsed from, lets the float walk be skipped
    when no number in it can be a float (no digit followed by ``.``/``e``/``E``).
    """
    try:
        if (raw is None or _MAY_HOLD_FLOAT.search(raw) is not None) and _has_float(obj):
            obj = _normalise(obj)
        return _dumps(obj)
    except (ValueError, RecursionError) as err:
        raise CanonicalError(f"value cannot be put in canonical form: {err}") from None


def digest(obj: Any, raw: bytes | None = None) -> bytes:
    """16-byte digest of a JSON value's canonical form; stable across processes (for stores)."""
    return hashlib.blake2b(canonical(obj, raw), digest_size=16).digest()


class Deduplicator:
    """Remembers the first accepted copy of every key; memory is one 64-bit digest per key."""

    def __init__(self) -> None:
        self._seen: dict[str, int] = {}

    def __len__(self) -> int:
        return len(self._seen)

    def check(self, enterprise_id: str, event_id: str, obj: Any, raw: bytes | None = None) -> Seen:
        """Classify a valid line; a NEW one is remembered as the first accepted copy."""
        key = f"{enterprise_id}/{event_id}"
        d = hash(canonical(obj, raw))  # 64 bits suffice: only copies of one key are compared
        first = self._seen.get(key)
        if first is None:
            self._seen[key] = d
            return Seen.NEW
        return Seen.EXACT if first == d else Seen.CONFLICT
