"""De-duplication by the idempotency key ``(enterprise_id, event_id)`` (contract §2, §7).

A line is compared with the first *accepted* copy of its key, as JSON values:
key order and whitespace do not matter, ``100`` equals ``100.0``, ``true`` is not
``1``, and a member set to ``null`` differs from an absent one. Only a 16-byte
digest of the canonical form is kept per key, never the content.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Hashable, MutableMapping
from decimal import Decimal
from enum import Enum
from json.encoder import encode_basestring_ascii as _escape
from typing import Any

import orjson

from greenshield.errors import RulesError

_SORT = orjson.OPT_SORT_KEYS


class Seen(Enum):
    NEW = "new"
    EXACT = "exact duplicate"
    CONFLICT = "conflicting duplicate"


class CanonicalError(RulesError, ValueError):
    """A value that is not JSON (a non-string key, a foreign type): it has no canonical form."""


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


def _is_number(value: Any) -> bool:
    kind = type(value)
    return kind is float or kind is int or isinstance(value, Decimal)


def _normalise(value: Any, wrap: Callable[[str], Any]) -> Any:
    """Numbers in canonical form; containers are copied (iteratively: any depth)."""
    kind = type(value)
    if kind is not dict and kind is not list:
        return _number(value, wrap) if _is_number(value) else value
    root: Any = {} if kind is dict else []
    stack: list[tuple[Any, Any]] = [(value, root)]
    while stack:
        src, dst = stack.pop()
        for k, v in (src.items() if type(src) is dict else enumerate(src)):
            t = type(v)
            if t is dict or t is list:
                c: Any = {} if t is dict else []
                stack.append((v, c))
            else:
                c = _number(v, wrap) if _is_number(v) else v
            if type(dst) is dict:
                dst[k] = c
            else:
                dst.append(c)
    return root


def _tagged(text: str) -> dict[str, str]:
    return {"\x00num": text}


def _has_float(value: Any) -> bool:
    """Does the value hold a number whose canonical form differs from its plain encoding? (Iterative.)"""
    stack = [value]
    while stack:
        node = stack.pop()
        kind = type(node)
        if kind is dict:
            stack.extend(node.values())
        elif kind is list:
            stack.extend(node)
        elif kind is float or isinstance(node, Decimal):
            return True
        elif kind is int and not -_SMALL < node < _SMALL:
            return True
    return False


class _Raw(str):
    """Text :func:`_encode_deep` copies as it is (punctuation, a key with its colon)."""


def _int_text(value: int) -> str:
    try:
        return int.__repr__(value)
    except ValueError:  # beyond CPython's int-to-string limit: Decimal has none
        return str(Decimal(value))


def _float_text(value: float) -> str:
    if value != value:
        return "NaN"
    if value in (float("inf"), float("-inf")):
        return "Infinity" if value > 0 else "-Infinity"
    return float.__repr__(value)


def _encode_deep(value: Any) -> str:
    """``json.dumps(value, sort_keys=True, separators=(",", ":"))`` without recursion or the int limit.

    The same text the stdlib writes (ASCII, ``\\uXXXX`` escapes), for values it cannot
    write: nested deeper than its recursion limit, or integers over 4,300 digits.
    """
    parts: list[str] = []
    todo: list[Any] = [value]
    while todo:
        v = todo.pop()
        t = type(v)
        if t is _Raw:
            parts.append(v)
        elif t is str:
            parts.append(_escape(v))
        elif v is None or v is True or v is False:
            parts.append("null" if v is None else "true" if v else "false")
        elif t is int:
            parts.append(_int_text(v))
        elif t is float:
            parts.append(_float_text(v))
        elif t is dict:
            if not v:
                parts.append("{}")
                continue
            todo.append(_Raw("}"))
            items = sorted(v.items())
            for i in range(len(items) - 1, -1, -1):
                todo.append(items[i][1])
                todo.append(_Raw(("{" if i == 0 else ",") + _escape(items[i][0]) + ":"))
        elif t is list:
            if not v:
                parts.append("[]")
                continue
            todo.append(_Raw("]"))
            for i in range(len(v) - 1, -1, -1):
                todo.append(v[i])
                todo.append(_Raw("[" if i == 0 else ","))
        else:
            raise TypeError(f"{t.__name__} is not JSON")
    return "".join(parts)


def canonical(obj: Any, raw: bytes | None = None, plain: bool = False) -> bytes:
    """The canonical JSON text of a value: sorted keys, one text per number value. Total on parsed JSON.

    Exact numbers are written as raw JSON number text (an ``orjson.Fragment``), so
    they never equal a string. ``plain`` (from :func:`greenshield.rules.exact_json.decode_plain`)
    says the value holds no number but 64-bit integers, so the number walk is skipped;
    ``raw`` is accepted for compatibility and not needed. What orjson cannot write (integers
    beyond 64 bits, lone surrogates, nesting over 255) is written by the stdlib encoder as
    before (exact numbers as tagged objects), and what the stdlib cannot write either
    (nesting beyond its recursion limit, integers over 4,300 digits) by :func:`_encode_deep`,
    the same text without those limits. :class:`CanonicalError` only for values that are not
    JSON at all (non-string keys, foreign types).
    """
    try:
        walk = not plain and _has_float(obj)
        try:
            return orjson.dumps(_normalise(obj, orjson.Fragment) if walk else obj, option=_SORT)
        except orjson.JSONEncodeError:
            pass
        value = _normalise(obj, _tagged) if walk else obj
        try:
            return json.dumps(value, sort_keys=True, separators=(",", ":")).encode()
        except (RecursionError, ValueError) as err:
            if "ircular" in str(err):  # not a tree: never from a parser, and never terminating below
                raise CanonicalError("value cannot be put in canonical form: a circular reference") from None
            return _encode_deep(value).encode()
    except (TypeError, ValueError) as err:  # NaN, a non-string key, a foreign type: not JSON
        raise CanonicalError(f"value cannot be put in canonical form: {err}") from None


def digest(obj: Any, raw: bytes | None = None, plain: bool = False) -> bytes:
    """16-byte digest of a JSON value's canonical form; stable across processes (for stores).

    ``plain`` as for :func:`canonical`: the same bytes, without the walk over the value.
    """
    return hashlib.blake2b(canonical(obj, raw, plain), digest_size=16).digest()


def first_copy(seen: MutableMapping[Hashable, Any], key: Hashable, digest: Any) -> Seen:
    """The one duplicate decision (contract §7), for every entry point: the first copy of a key wins.

    ``seen`` maps each key to the digest of its first accepted copy (None: purged, a copy
    cannot be told apart and counts as an exact duplicate); a new key is remembered there.
    A conflicting copy does not replace the first.
    """
    if key not in seen:
        seen[key] = digest
        return Seen.NEW
    first = seen[key]
    return Seen.EXACT if first is None or first == digest else Seen.CONFLICT


def conflict_reason(key: tuple[str, str]) -> str:
    """The reject reason of a conflicting duplicate (contract §7), the same for every entry point."""
    return f"conflicting duplicate of ({key[0]}, {key[1]}): same key, different content"


class Deduplicator:
    """Remembers the first accepted copy of every key; memory is one 64-bit digest per key."""

    def __init__(self) -> None:
        self._seen: dict[Hashable, Any] = {}

    def __len__(self) -> int:
        return len(self._seen)

    def check(self, enterprise_id: str, event_id: str, obj: Any, plain: bool = False) -> Seen:
        """Classify a valid line; a NEW one is remembered as the first accepted copy."""
        d = hash(canonical(obj, plain=plain))  # 64 bits suffice: only copies of one key are compared
        return first_copy(self._seen, f"{enterprise_id}/{event_id}", d)
