"""How a rejection's reason shows a value: its JSON type and size, never a string (contract §2).

Reasons go to reject files, topics, the store and logs; :func:`bounded` cuts one to
:data:`MAX_REASON` characters as a safety net.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from greenshield.rules.exact_json import HugeInt

MAX_REASON = 300  # characters: a reason is a sentence, never a copy of the input


def describe(value: Any) -> str:
    """A value as a reason may show it: its JSON type and size; only small integers and literals as they are.

    Reasons go to reject files, topics, the store and logs, so they never echo a string
    (any of them may be personal data, and may be megabytes long).
    """
    kind = type(value)
    if value is None or kind is bool:
        return "null" if value is None else "true" if value else "false"
    if kind is int and -10**6 < value < 10**6:
        return str(value)
    if kind is int:
        try:
            return f"an integer of {len(str(abs(value)))} digits"
        except ValueError:  # over CPython's int-to-string limit (never from the parser: HugeInt)
            return "an integer of over 4300 digits"
    if kind is HugeInt:
        return f"an integer of {len(value.as_tuple().digits)} digits"
    if kind is str:
        return f"a string of {len(value)} characters"
    if kind is list:
        return f"an array of {len(value)} items"
    if kind is dict:
        return f"an object of {len(value)} members"
    return "a number"


def bounded(reason: str) -> str:
    """A reason cut to :data:`MAX_REASON` characters (a safety net: reasons are built short)."""
    return reason if len(reason) <= MAX_REASON else reason[:MAX_REASON - 3] + "..."


def type_name(value: Any) -> str:
    if value is None:
        return "null"
    return {bool: "boolean", int: "integer", HugeInt: "integer", float: "number", Decimal: "number", str: "string",
            list: "array", dict: "object"}.get(type(value), type(value).__name__)
