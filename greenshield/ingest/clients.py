"""Kafka client configuration in one place: bootstrap, security pass-through, producer defaults.

Security settings (SASL, TLS) come from ``Settings.kafka_security``, i.e. the
``GREENSHIELD_KAFKA_SECURITY_*`` variables, and pass through to every client
under their kafka-python names::

    GREENSHIELD_KAFKA_SECURITY_SECURITY_PROTOCOL=SASL_SSL
    GREENSHIELD_KAFKA_SECURITY_SASL_MECHANISM=SCRAM-SHA-512
    GREENSHIELD_KAFKA_SECURITY_SASL_PLAIN_USERNAME=...
    GREENSHIELD_KAFKA_SECURITY_SASL_PLAIN_PASSWORD=...
    GREENSHIELD_KAFKA_SECURITY_SSL_CAFILE=/etc/greenshield/ca.pem

Names are checked once, here, so a typo fails at start with a clear ``ValueError``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

SECURITY_OPTIONS: frozenset[str] = frozenset({
    "security_protocol",
    "sasl_mechanism",
    "sasl_plain_username",
    "sasl_plain_password",
    "sasl_kerberos_service_name",
    "sasl_kerberos_domain_name",
    "ssl_cafile",
    "ssl_certfile",
    "ssl_keyfile",
    "ssl_password",
    "ssl_crlfile",
    "ssl_ciphers",
    "ssl_check_hostname",
})
_BOOLEAN_OPTIONS = frozenset({"ssl_check_hostname"})
SECURITY_PROTOCOLS = ("PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL")

#: producer settings every Green Shield producer uses: nothing acknowledged before
#: every in-sync replica has it; retries cannot duplicate or reorder (idempotence)
RELIABLE_PRODUCER: Mapping[str, Any] = {
    "acks": "all",
    "enable_idempotence": True,
    "retries": 2_147_483_647,
    "max_in_flight_requests_per_connection": 5,
    "delivery_timeout_ms": 120_000,
}


def security_options(raw: Mapping[str, str]) -> dict[str, Any]:
    """kafka-python keyword arguments for the configured security settings."""
    out: dict[str, Any] = {}
    for name, value in raw.items():
        key = name.lower()
        if key not in SECURITY_OPTIONS:
            known = ", ".join(sorted(SECURITY_OPTIONS))
            raise ValueError(f"unknown Kafka security setting {name!r} (known: {known})")
        out[key] = _boolean(key, value) if key in _BOOLEAN_OPTIONS else value
    protocol = out.get("security_protocol")
    if protocol is not None and protocol not in SECURITY_PROTOCOLS:
        raise ValueError(f"security_protocol {protocol!r} is not one of {', '.join(SECURITY_PROTOCOLS)}")
    return out


def _boolean(key: str, value: str) -> bool:
    if value.lower() in ("1", "true", "yes", "on"):
        return True
    if value.lower() in ("0", "false", "no", "off"):
        return False
    raise ValueError(f"Kafka security setting {key}={value!r}: expected true or false")


def common(bootstrap: str, client_id: str, security: Mapping[str, str] | None = None) -> dict[str, Any]:
    """The options every client (producer, consumer, admin) shares."""
    return {
        "bootstrap_servers": bootstrap,
        "client_id": client_id,
        "reconnect_backoff_max_ms": 2000,
        **security_options(security or {}),
    }
