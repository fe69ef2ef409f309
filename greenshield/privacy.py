"""Personal data of contract §6: masked display forms and the keyed hash of an ID number."""

from __future__ import annotations

import hashlib
import hmac
from typing import Any

from greenshield.rules.documents import trim

PERSONAL_FIELDS = ("name", "id_number")


def mask_id_number(number: str) -> str:
    """First 3 and last 2 characters, the rest ``*``; only the last one when shorter than 8."""
    if len(number) < 8:
        return "*" * (len(number) - 1) + number[-1:]
    return number[:3] + "*" * (len(number) - 5) + number[-2:]


def mask_name(name: str) -> str:
    """The first character, the rest ``*``."""
    return name[:1] + "*" * (len(name) - 1)


def id_hash(key: bytes, id_type: str, id_number: str) -> str:
    """HMAC-SHA-256 of the normalised (trimmed) type and number, lowercase hex."""
    message = f"{trim(id_type)}\x1f{trim(id_number)}".encode()
    return hmac.new(key, message, hashlib.sha256).hexdigest()


def redact_sender(sender: Any, key: bytes | None = None) -> Any:
    """A copy of a ``sender`` value with the name and ID number masked (and hashed when keyed).

    Whatever is not a string is dropped rather than echoed: it cannot be masked.
    """
    if not isinstance(sender, dict):
        return None if sender is None else "<redacted>"
    out: dict[str, Any] = {k: v for k, v in sender.items() if k not in PERSONAL_FIELDS}
    name, number = sender.get("name"), sender.get("id_number")
    if isinstance(name, str):
        out["name_masked"] = mask_name(trim(name))
    if isinstance(number, str):
        out["id_number_masked"] = mask_id_number(trim(number))
        if key is not None and isinstance(sender.get("id_type"), str):
            out["id_hash"] = id_hash(key, sender["id_type"], number)
    return out


def redact_event(obj: Any, key: bytes | None = None) -> Any:
    """A copy of a parsed event with its ``sender`` redacted; other values are shared."""
    if not isinstance(obj, dict) or "sender" not in obj:
        return obj
    out = dict(obj)
    out["sender"] = redact_sender(obj["sender"], key)
    return out
