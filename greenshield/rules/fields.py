"""Readers of one field of a JSON object: its value when it has the contract's type and format, else :class:`Invalid`.

Each error names the field and the fault (:mod:`greenshield.rules.reasons`).
"""

from __future__ import annotations

import re
from typing import Any

from greenshield.rules.exact_json import Invalid
from greenshield.rules.formats import FORMATS
from greenshield.rules.reasons import describe, type_name
from greenshield.rules.timestamps import TimestampError, parse_instant


def string_field(obj: dict[str, Any], name: str, required: bool = True) -> str | None:
    value = obj.get(name)
    if value is None:
        if required:
            raise Invalid(f"missing required field {name!r}")
        return None
    if type(value) is not str:
        raise Invalid(f"field {name!r}: expected a string, got {type_name(value)}")
    return value


def formatted_field(obj: dict[str, Any], name: str, kind: str, required: bool = True) -> str | None:
    value = string_field(obj, name, required)
    if value is not None:
        pattern, desc = FORMATS[kind]
        if pattern.fullmatch(value) is None:
            raise Invalid(f"field {name!r}: {describe(value)} is not {desc}")
    return value


def matching_field(obj: dict[str, Any], name: str, pattern: re.Pattern[str], desc: str) -> str:
    value = string_field(obj, name)
    assert value is not None  # required fields never come back None
    if pattern.fullmatch(value) is None:
        raise Invalid(f"field {name!r}: {describe(value)} is not {desc}")
    return value


def choice_field(obj: dict[str, Any], name: str, allowed: tuple[str, ...]) -> str:
    value = string_field(obj, name)
    if value is None or value not in allowed:
        raise Invalid(f"field {name!r}: {describe(value)} is not one of {', '.join(allowed)}")
    return value


def timestamp_field(obj: dict[str, Any], name: str) -> tuple[tuple[int, str], str]:
    text = string_field(obj, name)
    assert text is not None
    try:
        return parse_instant(text), text
    except TimestampError as err:
        raise Invalid(f"field {name!r}: {err}") from None


def object_field(obj: dict[str, Any], name: str) -> dict[str, Any] | None:
    value = obj.get(name)
    if value is not None and type(value) is not dict:
        raise Invalid(f"field {name!r}: expected an object, got {type_name(value)}")
    return value
