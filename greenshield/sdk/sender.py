"""Who sent a parcel event: each enterprise signs its messages, the worker checks that the signer is the event's enterprise.

A Kafka record does not say which authenticated principal produced it, so the
broker's ACLs alone cannot stop enterprise B from writing an event that claims
``enterprise_id`` A on the shared events topic. Every parcel event therefore carries::

    gs-sender      the enterprise id that signed it (ASCII)
    gs-sender-sig  hex HMAC-SHA256(sender key of that enterprise, b"gs-sender-v1\\x00" + id + b"\\x00" + value)

An enterprise's sender key is derived from the system's master sender key
(:func:`enterprise_key`), so the workers hold one secret and an enterprise holds
only its own key (in its credentials file, beside its Kafka password). The regulator's
own tools (``send`` of a mixed file, the API's streaming ingest, the demo) hold the
master key and sign as the enterprise each event names. The reasoning, and why not one
topic per enterprise or public-key signatures, is in ``docs/security.md``.
"""

from __future__ import annotations

import functools
import hashlib
import hmac
import re
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any

from greenshield.errors import SdkError

if TYPE_CHECKING:
    from greenshield.settings import Settings

SENDER_HEADER = "gs-sender"
SIGNATURE_HEADER = "gs-sender-sig"
MISMATCH = "enterprise_mismatch"
_DOMAIN = b"gs-sender-v1\x00"
_KEY_DOMAIN = b"gs-sender-key-v1\x00"
_ENTERPRISE = re.compile(r"E[0-9]{7}")


class SenderError(SdkError, ValueError):
    """A producer was asked to sign an event of an enterprise it does not speak for."""


def enterprise_key(master: bytes, enterprise_id: str) -> bytes:
    """The sender key of one enterprise, derived from the master key (HMAC-SHA256, domain-separated)."""
    if not _ENTERPRISE.fullmatch(enterprise_id):
        raise ValueError(f"enterprise id {enterprise_id!r} is not E + 7 digits")
    return hmac.digest(master, _KEY_DOMAIN + enterprise_id.encode(), "sha256")


def signature(key: bytes, enterprise_id: str, value: bytes) -> bytes:
    """The ``gs-sender-sig`` header value of ``value`` signed as ``enterprise_id``."""
    return _mac(key)(enterprise_id.encode(), value)


@functools.lru_cache(maxsize=4096)
def _mac(key: bytes) -> Callable[[bytes, bytes], bytes]:
    """HMAC-SHA256 (RFC 2104) under ``key`` with the padded key states computed once, not per message.

    ``hmac.digest`` sets the key up again on every call, which is most of its cost on a
    500-byte event; copying the two prepared SHA-256 states is not.
    """
    padded = (hashlib.sha256(key).digest() if len(key) > 64 else key).ljust(64, b"\x00")
    inner = hashlib.sha256(bytes(b ^ 0x36 for b in padded))
    outer = hashlib.sha256(bytes(b ^ 0x5C for b in padded))
    inner.update(_DOMAIN)

    def sign(enterprise_id: bytes, value: bytes) -> bytes:
        i = inner.copy()
        i.update(enterprise_id)
        i.update(b"\x00")
        i.update(value)
        o = outer.copy()
        o.update(i.digest())
        return o.hexdigest().encode()

    return sign


class Signer:
    """Adds the sender headers to a parcel event: as one enterprise, or (system) as the enterprise each event names."""

    def __init__(self, *, enterprise_id: str | None = None, key: bytes = b"", master: bytes = b"") -> None:
        if (enterprise_id is None) == (not master):
            raise ValueError("a signer is either one enterprise's (enterprise_id and key) or the system's (master)")
        if enterprise_id is not None and (not key or not _ENTERPRISE.fullmatch(enterprise_id)):
            raise ValueError("an enterprise signer needs its enterprise id (E + 7 digits) and its sender key")
        self.enterprise_id = enterprise_id
        self._key = key
        self._master = master

    @classmethod
    def for_enterprise(cls, enterprise_id: str, key: bytes) -> Signer:
        return cls(enterprise_id=enterprise_id, key=key)

    @classmethod
    def system(cls, master: bytes) -> Signer:
        return cls(master=master)

    def headers(self, enterprise_id: str, value: bytes) -> list[tuple[str, bytes]]:
        """The two headers for ``value``, an event of ``enterprise_id``; :class:`SenderError` if not ours to sign."""
        if self.enterprise_id is not None:
            if enterprise_id != self.enterprise_id:
                raise SenderError(f"{MISMATCH}: this producer speaks for {self.enterprise_id}, "
                                  f"not for enterprise_id {enterprise_id!r}")
            key = self._key
        else:
            key = _derived(self._master, enterprise_id)
        return [(SENDER_HEADER, enterprise_id.encode()), (SIGNATURE_HEADER, signature(key, enterprise_id, value))]


@functools.lru_cache(maxsize=4096)
def _derived(master: bytes, enterprise_id: str) -> bytes:
    return enterprise_key(master, enterprise_id)


class Verifier:
    """The worker's check: the event is signed, by its own enterprise."""

    def __init__(self, master: bytes) -> None:
        if not master:
            raise ValueError("a sender verifier needs the master sender key")
        self._master = master

    def check(self, headers: Iterable[tuple[Any, Any]] | None, value: bytes, enterprise_id: str
              ) -> tuple[str | None, str]:
        """``(reason or None, authenticated sender or "unknown")`` for an event claiming ``enterprise_id``.

        The reason starts with ``enterprise_mismatch``; it names ids only (no payload text).
        """
        sender, sig, problem = _sender_headers(headers)
        if problem is not None:
            return f"{MISMATCH}: {problem}", "unknown"
        assert sender is not None and sig is not None
        who = sender.decode("ascii")
        expected = _mac(_derived(self._master, who))(sender, value)
        if not hmac.compare_digest(expected, sig):
            return (f"{MISMATCH}: the {SIGNATURE_HEADER} header does not verify with {who}'s sender key "
                    "(signed by another key, or the message was changed)"), "unknown"
        if who != enterprise_id:
            return (f"{MISMATCH}: signed by {who} but enterprise_id is {enterprise_id}; "
                    "an enterprise reports only its own events"), who
        return None, who


_ABSENT = object()


def _sender_headers(headers: Iterable[tuple[Any, Any]] | None) -> tuple[bytes | None, bytes | None, str | None]:
    sender: Any = _ABSENT
    sig: Any = _ABSENT
    for name, content in headers or ():
        if name == SENDER_HEADER:
            if sender is not _ABSENT:
                return None, None, f"the {SENDER_HEADER} header appears more than once"
            sender = content
        elif name == SIGNATURE_HEADER:
            if sig is not _ABSENT:
                return None, None, f"the {SIGNATURE_HEADER} header appears more than once"
            sig = content
    if sender is _ABSENT or sig is _ABSENT:
        missing = " and ".join(h for h, v in ((SENDER_HEADER, sender), (SIGNATURE_HEADER, sig)) if v is _ABSENT)
        return None, None, f"the event is not signed (no {missing} header); every parcel event is signed by its enterprise"
    # plain byte tests, not regexes: this runs once per event on the worker's hot path
    if not isinstance(sender, bytes) or len(sender) != 8 or sender[:1] != b"E" or not sender[1:].isdigit():
        return None, None, f"the {SENDER_HEADER} header is not an enterprise id (E + 7 digits)"
    if not isinstance(sig, bytes) or len(sig) != 64:  # a non-hex one of 64 bytes simply does not verify
        return None, None, f"the {SIGNATURE_HEADER} header is not 64 lowercase hex digits"
    return sender, sig, None


def signer_for(settings: Settings) -> Signer:
    """How a command signs: as the enterprise of its credentials file, else as the system (the master key).

    In development the master key is the data directory's ``sender.key`` (made on first
    use); in production a command without an enterprise's credentials needs
    ``GREENSHIELD_SENDER_KEY`` (:class:`~greenshield.translog.keys.KeyConfigError` otherwise).
    """
    from greenshield.translog.keys import sender_key

    if settings.enterprise_id:
        return Signer.for_enterprise(settings.enterprise_id, bytes.fromhex(settings.enterprise_key.reveal()))
    return Signer.system(sender_key(settings))
