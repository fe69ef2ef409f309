"""The keyed duplicate digest of a line's original content (contract §7): HMAC of its canonical digest.

Only this 16-byte digest of the plain content is kept (ADR 0008); it tells
exact from conflicting duplicates across runs and entry points.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Callable
from typing import Any

from greenshield.rules.dedup import canonical, digest

DEDUP_PREFIX = b"dedup\x00"

#: ``(value, raw line, plain) -> digest``; ``plain`` (from the parser) skips the number walk, same digest
Digester = Callable[[Any, bytes | None, bool], Any]


def keyed_digest(key: bytes, obj: Any, raw: bytes | None = None) -> bytes:
    """The stored duplicate digest of an event's original content: HMAC of its canonical digest."""
    return hmac.new(key, DEDUP_PREFIX + digest(obj, raw), hashlib.sha256).digest()[:16]


def keyed_digester(key: bytes) -> Callable[[Any, bytes | None, bool], bytes]:
    """:func:`keyed_digest` with the key bound once (the HMAC's keyed state is copied, not rebuilt).

    Hot path (once per message): the copy is OpenSSL's own HMAC object when the standard
    library has one (``hmac.HMAC._hmac``: cheaper per message than ``HMAC.copy``, which
    builds a Python wrapper), else the portable ``HMAC.copy``; the same digest.
    """
    wrapper = hmac.new(key, DEDUP_PREFIX, hashlib.sha256)
    base: Any = getattr(wrapper, "_hmac", None) or wrapper

    def keyed(obj: Any, raw: bytes | None = None, plain: bool = False) -> bytes:
        h = base.copy()
        h.update(digest(obj, raw, plain))
        digest_: bytes = h.digest()
        return digest_[:16]

    return keyed


def unkeyed_digest(obj: Any, raw: bytes | None = None, plain: bool = False) -> int:
    """``check``'s digest (no key, nothing stored): 64 bits of the canonical form, enough within one run."""
    return hash(canonical(obj, plain=plain))
