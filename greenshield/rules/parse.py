"""A line of input as a typed value or a Rejection (contract §1, §2, §7): decode, then validate.

Total: any bytes give an accepted value or a Rejection, never a raise; a rejected line's
payload is masked (:func:`greenshield.rules.privacy.redact_rejected`). :func:`restore`
rebuilds the store's own redacted docs with the same validator.
"""

from __future__ import annotations

from typing import Any

import orjson

from greenshield.rules.exact_json import Invalid, decode_plain, holds_float
from greenshield.rules.fast_path import fast_validate as _fast
from greenshield.rules.model import Event, RegistryRecord, Rejection
from greenshield.rules.privacy import redact_rejected
from greenshield.rules.reasons import bounded
from greenshield.rules.validator import validate_or_raise as _validate

JSON_WHITESPACE = b" \t\r\n"

__all__ = ["facts_of", "is_blank", "parse_line", "parse_line_plain", "restore", "validate"]


def validate(obj: Any) -> Event | RegistryRecord | Rejection:
    """A parsed JSON value as an accepted event or record, or a Rejection with its reason."""
    fast = _fast(obj)
    if fast is not None:
        return fast
    try:
        return _validate(obj)
    except Invalid as err:
        return Rejection(bounded(str(err)), payload=redact_rejected(obj) if type(obj) is dict else None)


def restore(doc: Any, sender_complete: bool, sender_document_ok: bool) -> Event | RegistryRecord:
    """Rebuild a stored, already redacted event, trusting the sender facts decided at intake.

    Only for the system's own store: input from outside always goes through :func:`validate`.
    """
    return _validate(doc, (sender_complete, sender_document_ok))


def facts_of(item: Event | RegistryRecord) -> tuple[bool, bool]:
    """The sender facts to store beside a redacted event, for :func:`restore`."""
    a = item.acceptance if isinstance(item, Event) else None
    return (a.sender_complete, a.sender_document_ok) if a is not None else (False, False)


def parse_line(line: bytes) -> tuple[Any, Event | RegistryRecord | Rejection]:
    """Decode and validate one line; the parsed value comes back too, for de-duplication."""
    obj, item, _ = parse_line_plain(line)
    return obj, item


def parse_line_plain(line: bytes) -> tuple[Any, Event | RegistryRecord | Rejection, bool]:
    """:func:`parse_line`, plus whether the value is *plain* (see :func:`decode_plain`)."""
    try:
        obj = orjson.loads(line)  # decode_plain's common case, inline (one call less per line)
    except orjson.JSONDecodeError:
        obj = None
    if obj is not None and not holds_float(obj):
        plain = True
    else:
        try:
            obj, plain = decode_plain(line)
        except Invalid as err:
            return None, Rejection(bounded(str(err))), False
    fast = _fast(obj)
    return obj, (fast if fast is not None else validate(obj)), plain


def is_blank(line: bytes) -> bool:
    """Contract §7: a line of JSON whitespace only is skipped, not rejected."""
    return not line.strip(JSON_WHITESPACE)
