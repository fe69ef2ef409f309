"""Standard Webhooks (v1.0.0) for the sender: secrets, message ids, signatures, payloads, backoff (pure).

A message is ``POST``-ed as JSON ``{"type", "timestamp", "data"}`` with the headers
``webhook-id`` (stable: derived from what the message is about, so every redelivery,
after a crash too, carries the same id), ``webhook-timestamp`` (integer seconds of this
attempt) and ``webhook-signature`` = ``v1,`` + base64 HMAC-SHA256 of ``id.timestamp.body``
under the subscription's secret (``whsec_`` + base64 of 32 random bytes).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import random
import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

SECRET_PREFIX = "whsec_"


def new_secret() -> str:
    return SECRET_PREFIX + base64.b64encode(secrets.token_bytes(32)).decode()


def secret_key(secret: str) -> bytes:
    """The HMAC key of a ``whsec_`` secret (the base64 after the prefix)."""
    if not secret.startswith(SECRET_PREFIX):
        raise ValueError("a webhook secret starts with whsec_")
    return base64.b64decode(secret[len(SECRET_PREFIX):])


def signature(secret: str, msg_id: str, timestamp: int, body: bytes) -> str:
    """The ``webhook-signature`` header value."""
    signed = f"{msg_id}.{timestamp}.".encode() + body
    return "v1," + base64.b64encode(hmac.new(secret_key(secret), signed, hashlib.sha256).digest()).decode()


def headers(secret: str, msg_id: str, timestamp: int, body: bytes) -> dict[str, str]:
    return {"content-type": "application/json", "webhook-id": msg_id, "webhook-timestamp": str(timestamp),
            "webhook-signature": signature(secret, msg_id, timestamp, body)}


def message_id(kind: str, *key: object) -> str:
    """``msg_`` + 32 hex of SHA-256 over the message's identifying key (same key, same id)."""
    text = "\x00".join(["greenshield-message", kind, *(str(k) for k in key)])
    return "msg_" + hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()[:32]


def violation_id(enterprise_id: str, waybill_no: str, rule_id: str, seq: int) -> str:
    """The id of a violation change (contract §8.1 key + its seq): the same on every redelivery."""
    return message_id("violation", enterprise_id, waybill_no, rule_id, seq)


def payload(type_: str, timestamp: str, data: Mapping[str, Any]) -> dict[str, Any]:
    return {"type": type_, "timestamp": timestamp, "data": dict(data)}


@dataclass(frozen=True)
class Backoff:
    """Exponential backoff with jitter: attempt ``n`` (1-based) waits ``min(cap, base * 2**(n-1))`` scaled
    by a random factor in ``[1 - jitter, 1]``; after ``limit`` failed attempts the message is parked."""

    base_ms: int = 1000
    cap_ms: int = 300_000
    limit: int = 20
    jitter: float = 0.5

    def delay_ms(self, attempt: int, rng: random.Random | None = None) -> int:
        full = min(self.cap_ms, self.base_ms * (1 << min(max(attempt - 1, 0), 40)))
        factor = 1.0 - self.jitter * (rng or random).random()
        return max(1, int(full * factor))

    def exhausted(self, attempts: int) -> bool:
        return attempts >= self.limit


def check_callback(url: str, allow_local_http: bool) -> str:
    """``url`` if it may receive messages: HTTPS, or HTTP to 127.0.0.1/localhost when allowed; else ValueError."""
    parts = urlsplit(url)
    if not parts.hostname or parts.username or parts.password or len(url) > 2000:
        raise ValueError("the callback must be an absolute URL with a host and no credentials")
    if parts.scheme == "https":
        return url
    if parts.scheme == "http" and allow_local_http and parts.hostname in ("127.0.0.1", "localhost"):
        return url
    hint = " (http only to 127.0.0.1 or localhost, with GREENSHIELD_NOTIFY_ALLOW_LOCAL_HTTP=1)"
    raise ValueError("the callback must be an https:// URL" + hint)
