"""De-duplication by the idempotency key ``(enterprise_id, event_id)`` (contract §2, §7).

A line is compared with the first *accepted* copy of its key, as JSON values:
key order and whitespace do not matter, ``100`` equals ``100.0``, ``true`` is not
``1``, and a member set to ``null`` differs from an absent one. Only a 16-byte
digest of the canonical form is kept per key, never the content.
"""

from __future__ import annotations

import hashlib
import json
from decimal import Decimal
from enum import Enum
from collections.abc import Callable
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


def _exact_text(d: Decimal) -> str:
    """Exact, context-free canonical number text of a finite decimal: ``<digits>e<exp>``."""
    sign, digits, exp = d.as_tuple()
    text = "".join(map(str, digits)).rstrip("0") or "0"
    exp = int(exp) + len(digits) - len(text) if text != "0" else 0
    return f"{'-' if sign and text != '0' else ''}{text}e{exp}"


def _number(value: int | float | Decimal, wrap: Callable[[str], Any]) -> Any:
    """One canonical form per JSON number value: 100, 100.0 and 1e2 agree; 0.1 and 0.10…01 do not.

    Integers below 10**30 stay integers; any other number becomes ``wrap(exact text)``.
    """
    if type(value) is int:
        return value if -_SMALL < value < _SMALL else wrap(_exact_text(Decimal(value)))
    if type(value) is float:
        return _number(int(value), wrap) if value.is_integer() else wrap(_exact_text(Decimal(repr(value))))
    d = value  # Decimal, from the exact parser
    if d.is_finite() and d == d.to_integral_value() and d.adjusted() < 30:  # type: ignore[union-attr]
        return int(d)
    return wrap(_exact_text(d))  # type: ignore[arg-type]


def _normalise(value: Any, wrap: Callable[[str], Any]) -> Any:
    """Numbers in canonical form; containers are copied."""
    kind = type(value)
    if kind is float or kind is int or isinstance(value, Decimal):
        return _number(value, wrap)
    if kind is dict:
        return {k: _normalise(v, wrap) for k, v in value.items()}
    if kind is list:
        return [_normalise(v, wrap) for v in value]
    return value


def _tagged(text: str) -> dict[str, str]:
    return {"\x00num": text}


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


def canonical(obj: Any, raw: bytes | None = None, plain: bool = False) -> bytes:
    """The canonical JSON text of a value: sorted keys, one text per number value.

    Exact numbers are written as raw JSON number text (an ``orjson.Fragment``), so
    they never equal a string. ``plain`` (from :func:`greenshield.rules.parse.decode_plain`)
    says the value holds no number but 64-bit integers, so the number walk is skipped;
    ``raw`` is accepted for compatibility and not needed.
    """
    try:
        walk = not plain and _has_float(obj)
        try:
            return orjson.dumps(_normalise(obj, orjson.Fragment) if walk else obj, option=_SORT)
        except orjson.JSONEncodeError:
            # lone surrogates: the stdlib encoder escapes them (exact numbers as tagged objects)
            value = _normalise(obj, _tagged) if walk else obj
            return json.dumps(value, sort_keys=True, separators=(",", ":")).encode()
    except (ValueError, RecursionError) as err:
        raise CanonicalError(f"value cannot be put in canonical form: {err}") from None


def digest(obj: Any, raw: bytes | None = None, plain: bool = False) -> bytes:
    """16-byte digest of a JSON value's canonical form; stable across processes (for stores).

    ``plain`` as for :func:`canonical`: the same bytes, without the walk over the value.
    """
    return hashlib.blake2b(canonical(obj, raw, plain), digest_size=16).digest()


class Deduplicator:
    """Remembers the first accepted copy of every key; memory is one 64-bit digest per key."""

    def __init__(self) -> None:
        self._seen: dict[str, int] = {}

    def __len__(self) -> int:
        return len(self._seen)

    def check(self, enterprise_id: str, event_id: str, obj: Any, plain: bool = False) -> Seen:
        """Classify a valid line; a NEW one is remembered as the first accepted copy."""
        key = f"{enterprise_id}/{event_id}"
        d = hash(canonical(obj, plain=plain))  # 64 bits suffice: only copies of one key are compared
        first = self._seen.get(key)
        if first is None:
            self._seen[key] = d
            return Seen.NEW
        return Seen.EXACT if first == d else Seen.CONFLICT
