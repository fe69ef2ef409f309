"""JSON text to a value, exactly (contract §7): orjson for the common case, the stdlib otherwise.

Exact integers of any length (:class:`HugeInt`), exact decimals, any nesting, lone
surrogates refused on input; :class:`Invalid` is the error of a text that is not JSON,
and of a value that breaks the contract.
"""

from __future__ import annotations

import json
import re
from decimal import Decimal
from json.decoder import scanstring  # type: ignore[attr-defined]
from typing import Any

import orjson

from greenshield.errors import RulesError

__all__ = ["HugeInt", "Invalid", "decode", "decode_plain", "decode_stored", "holds_float"]


class Invalid(RulesError, ValueError):
    """Raised inside validation; becomes a :class:`Rejection` with this message (a ValueError, so that
    callers of :func:`decode_stored` that catch ValueError for a corrupted text catch it too)."""


_NOT_FLAT = frozenset((float, dict, list))


def holds_float(value: Any) -> bool:
    """Is there a float anywhere in a parsed value? (orjson gives floats for big integers too.)"""
    if type(value) is dict:  # the common case, a flat object, at C speed: the types of its members
        if _NOT_FLAT.isdisjoint(map(type, value.values())):
            return False
    elif type(value) is float:
        return True
    stack = [value]
    while stack:
        node = stack.pop()
        if type(node) is dict:
            node = node.values()
        elif type(node) is not list:
            continue
        for x in node:
            t = type(x)
            if t is float:
                return True
            if t is dict or t is list:
                stack.append(x)
    return False


def decode_plain(line: bytes) -> tuple[Any, bool]:
    """Parse one JSON text (UTF-8); ``plain`` is True when it holds no number but exact integers.

    orjson does the common case. A text holding any non-integer or big number, or one
    orjson refuses, is parsed again by the stdlib on strictly decoded UTF-8, with
    non-integers kept exact as ``Decimal`` (so ``1e0`` is not an int, §7) and
    NaN/Infinity refused; nesting deeper than the stdlib's recursion limit is parsed by
    :func:`_parse_deep` (a line is never rejected for its nesting alone). A text whose
    strings or keys hold a lone surrogate (``"\\ud800"``) is not Unicode text (I-JSON,
    RFC 7493 §2.1; RFC 8259 §8.2): orjson refuses it, and so does this function. Raises
    :class:`Invalid` saying why a text is not JSON; never anything else.
    """
    try:
        obj = orjson.loads(line)
    except orjson.JSONDecodeError:
        obj = _decode_exact(line)
        if _ESCAPED_SURROGATE.search(line) is not None:  # only \\u escapes can make one (UTF-8 cannot)
            bad = _lone_surrogate(obj)
            if bad is not None:
                raise Invalid(f"not valid JSON: lone surrogate \\u{ord(bad):04x} in a string "
                              "(I-JSON, RFC 7493 §2.1)") from None
        return obj, False
    if holds_float(obj):
        return _decode_exact(line), False
    return obj, True


def decode(line: bytes) -> Any:
    """Parse one JSON text; see :func:`decode_plain`."""
    return decode_plain(line)[0]


def decode_stored(text: str | bytes) -> Any:
    """Re-read a document the system stored itself (a canonical doc or payload), exactly and safely.

    The same parser as :func:`decode_plain`: integers of any length (over 4,000 digits as
    :class:`HugeInt`), exact decimals, any nesting, never ``ValueError`` or
    ``RecursionError``. Unlike input, a stored text is trusted to be the store's own, so
    lone surrogates (in docs stored before they were refused) are read back, not refused.
    Raises :class:`Invalid` only for a text that is not JSON at all (a corrupted store).
    """
    line = text.encode("utf-8", "surrogatepass") if isinstance(text, str) else text
    try:
        obj = orjson.loads(line)
    except orjson.JSONDecodeError:
        try:
            return _decode_exact(line.decode("utf-8", "surrogatepass"))
        except UnicodeDecodeError as err:
            raise Invalid(f"not valid JSON: not UTF-8 at byte {err.start} ({err.reason})") from None
    return _decode_exact(line) if holds_float(obj) else obj


_ESCAPED_SURROGATE = re.compile(rb"\\u[dD][89a-fA-F]")


def _first_lone(text: str) -> str | None:
    if text.isascii():
        return None
    try:
        text.encode("utf-8")
    except UnicodeEncodeError as err:
        return text[err.start]
    return None


def _lone_surrogate(value: Any) -> str | None:
    """The first lone surrogate in any string or key of a parsed value (iterative: any depth)."""
    stack = [value]
    while stack:
        node = stack.pop()
        kind = type(node)
        if kind is str:
            bad = _first_lone(node)
            if bad is not None:
                return bad
        elif kind is dict:
            for k, v in node.items():
                bad = _first_lone(k)
                if bad is not None:
                    return bad
                stack.append(v)
        elif kind is list:
            stack.extend(node)
    return None


def _decode_exact(line: bytes | str) -> Any:
    if isinstance(line, bytes):
        try:
            text = line.decode("utf-8")
        except UnicodeDecodeError as err:
            raise Invalid(f"not valid JSON: not UTF-8 at byte {err.start} ({err.reason})") from None
    else:
        text = line
    try:
        return json.loads(text, parse_float=Decimal, parse_int=_int_literal, parse_constant=_no_constant)
    except json.JSONDecodeError as err:
        raise Invalid(f"not valid JSON: {err.msg} at line {err.lineno} column {err.colno} (char {err.pos})") from None
    except RecursionError:
        return _parse_deep(text)
    except ValueError as err:
        raise Invalid(f"not valid JSON: {err}") from None


_WS = re.compile(r"[ \t\n\r]*")
_NUMBER = re.compile(r"(-?(?:0|[1-9][0-9]*))(\.[0-9]+)?([eE][-+]?[0-9]+)?")
_LITERALS = {"true": True, "false": False, "null": None}


def _skip(text: str, pos: int) -> int:
    """The position after the JSON whitespace at ``pos``."""
    m = _WS.match(text, pos)
    return m.end() if m is not None else pos


def _fail(msg: str, pos: int) -> Invalid:
    return Invalid(f"not valid JSON: {msg} at char {pos}")


def _atom(text: str, pos: int) -> tuple[Any, int]:
    """A string, number or literal at ``pos`` (after whitespace), and the position after it."""
    c = text[pos:pos + 1]
    if c == '"':
        try:
            found: tuple[str, int] = scanstring(text, pos + 1, True)
            return found
        except json.JSONDecodeError as err:
            raise _fail(err.msg.removesuffix(" at"), err.pos) from None
    m = _NUMBER.match(text, pos)
    if m is not None:
        whole, frac, exp = m.groups()
        number = _int_literal(whole) if not frac and not exp else Decimal(m.group())
        return number, m.end()
    for word, literal in _LITERALS.items():
        if text.startswith(word, pos):
            return literal, pos + len(word)
    if text.startswith(("NaN", "Infinity", "-Infinity"), pos):
        raise Invalid("not valid JSON: NaN and Infinity are not JSON")
    raise _fail("Expecting value", pos)


def _key(text: str, pos: int) -> tuple[str, int]:
    pos = _skip(text, pos)
    if text[pos:pos + 1] != '"':
        raise _fail("Expecting property name enclosed in double quotes", pos)
    key, pos = _atom(text, pos)
    pos = _skip(text, pos)
    if text[pos:pos + 1] != ":":
        raise _fail("Expecting ':' delimiter", pos)
    return key, pos + 1


def _parse_deep(text: str) -> Any:
    """The stdlib's reading of a JSON text (the same numbers, strings and errors) without recursion.

    Only for texts nested deeper than the stdlib's recursion limit; linear in the text.
    """
    stack: list[tuple[Any, str | None]] = []  # open containers, each with its pending key
    pos = _skip(text, 0)
    while True:
        c = text[pos:pos + 1]
        if c == "{" or c == "[":
            pos = _skip(text, pos + 1)
            if text[pos:pos + 1] == ("}" if c == "{" else "]"):
                value: Any = {} if c == "{" else []
                pos += 1
            elif c == "{":
                key, pos = _key(text, pos)
                stack.append(({}, key))
                pos = _skip(text, pos)
                continue
            else:
                stack.append(([], None))
                continue
        else:
            value, pos = _atom(text, pos)
        while True:  # a value is complete: put it in its container, close what closes
            pos = _skip(text, pos)
            if not stack:
                if pos != len(text):
                    raise _fail("Extra data", pos)
                return value
            container, pending = stack[-1]
            if pending is None:
                container.append(value)
            else:
                container[pending] = value
            c = text[pos:pos + 1]
            close = "]" if pending is None else "}"
            if c == ",":
                if pending is None:
                    pos = _skip(text, pos + 1)
                else:
                    next_key, pos = _key(text, pos + 1)
                    stack[-1] = (container, next_key)
                    pos = _skip(text, pos)
                break
            if c != close:
                raise _fail(f"Expecting ',' delimiter or '{close}'", pos)
            stack.pop()
            value, pos = container, pos + 1


class HugeInt(Decimal):
    """An integer literal too long for ``int()`` (over 4,000 digits): still a JSON integer."""


def _int_literal(text: str) -> int | Decimal:
    return int(text) if len(text) <= 4000 else HugeInt(text)


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")

