"""Request parameters shared by the routes: instants, cursors, the JSON response, error docs."""

from __future__ import annotations

import base64
import binascii
from typing import Any

import orjson
from starlette.responses import JSONResponse

from greenshield.api.errors import bad_request
from greenshield.api.models import Error
from greenshield.rules.timestamps import Instant, TimestampError, format_utc, parse_instant

ERRORS: dict[int | str, dict[str, Any]] = {
    401: {"model": Error, "description": "no valid token (missing, unknown or revoked)"},
    403: {"model": Error, "description": "the token's role lacks the right, or another enterprise was asked for"},
    422: {"model": Error, "description": "a parameter is malformed (its value is not echoed)"},
}
NOT_FOUND: dict[int | str, dict[str, Any]] = {404: {"model": Error, "description": "no such thing visible to this token"}}
BAD: dict[int | str, dict[str, Any]] = {400: {"model": Error, "description": "a parameter is malformed"}}
RFC3339 = r"^[0-9]{4}-[0-9]{2}-[0-9]{2}[Tt][0-9]{2}:[0-9]{2}:[0-9]{2}(\.[0-9]{1,9})?([Zz]|[+-][0-9]{2}:[0-9]{2})$"


class Json(JSONResponse):
    """JSON by orjson (non-ASCII kept as UTF-8)."""

    def render(self, content: Any) -> bytes:
        return orjson.dumps(content)


def instant(name: str, text: str | None) -> Instant | None:
    if text is None:
        return None
    try:
        return parse_instant(text)
    except TimestampError:
        raise bad_request(f"{name} must be an RFC 3339 timestamp with an offset") from None


def since_text(at: Instant | None) -> str | None:
    """The contract §5 text of the first whole second at or after ``at``."""
    if at is None:
        return None
    return format_utc((at[0] + 1, "") if at[1].strip("0") else at)


def until_text(at: Instant | None) -> str | None:
    """The contract §5 text of the last whole second at or before ``at``."""
    return format_utc(at) if at is not None else None


def encode_cursor(key: tuple[str, ...] | None) -> str | None:
    if key is None:
        return None
    return base64.urlsafe_b64encode(orjson.dumps(list(key))).decode().rstrip("=")


def decode_cursor(text: str | None) -> tuple[str, str, str] | None:
    """The key ``(waybill_no, enterprise_id, rule_id)`` a page ended on (see ``stats.violation_page``)."""
    if text is None:
        return None
    try:
        value = orjson.loads(base64.urlsafe_b64decode(text + "=" * (-len(text) % 4)))
    except (binascii.Error, ValueError):
        raise bad_request("cursor is not one this service gave out") from None
    if not (isinstance(value, list) and len(value) == 3 and all(isinstance(v, str) and len(v) <= 64 for v in value)):
        raise bad_request("cursor is not one this service gave out")
    return value[0], value[1], value[2]
