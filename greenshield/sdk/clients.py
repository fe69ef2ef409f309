"""Kafka client configuration in one place: bootstrap, security pass-through, producer defaults.

Security settings (SASL, TLS) come from ``Settings.kafka_security``, i.e. the
``GREENSHIELD_KAFKA_SECURITY_*`` variables, and pass through to every client
under their kafka-python names (:func:`common`); the worker's librdkafka consumer
takes the same settings translated to librdkafka's names (:func:`librdkafka`)::

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


#: kafka-python's security option -> librdkafka's property (the worker's consumer, stream/consumer.py)
LIBRDKAFKA_SECURITY: Mapping[str, str] = {
    "security_protocol": "security.protocol",
    "sasl_mechanism": "sasl.mechanisms",
    "sasl_plain_username": "sasl.username",
    "sasl_plain_password": "sasl.password",
    "sasl_kerberos_service_name": "sasl.kerberos.service.name",
    "ssl_cafile": "ssl.ca.location",
    "ssl_certfile": "ssl.certificate.location",
    "ssl_keyfile": "ssl.key.location",
    "ssl_password": "ssl.key.password",
    "ssl_crlfile": "ssl.crl.location",
    "ssl_ciphers": "ssl.cipher.suites",
}


def librdkafka(bootstrap: str, client_id: str, security: Mapping[str, str] | None = None) -> dict[str, Any]:
    """:func:`common` for a librdkafka (confluent-kafka) client: the same settings under librdkafka's names.

    ``ssl_check_hostname`` is librdkafka's ``ssl.endpoint.identification.algorithm``
    (``https`` or ``none``); ``sasl_kerberos_domain_name`` has no librdkafka
    counterpart and is refused (librdkafka takes the broker's host name).
    """
    out: dict[str, Any] = {"bootstrap.servers": bootstrap, "client.id": client_id,
                           "reconnect.backoff.max.ms": 2000}
    for key, value in security_options(security or {}).items():
        if key == "ssl_check_hostname":
            out["ssl.endpoint.identification.algorithm"] = "https" if value else "none"
        elif key in LIBRDKAFKA_SECURITY:
            out[LIBRDKAFKA_SECURITY[key]] = value
        else:
            raise ValueError(f"Kafka security setting {key!r} has no librdkafka counterpart "
                             "(the stream worker's consumer is librdkafka)")
    return out


def kafka_errors() -> tuple[type[Exception], ...]:
    """What a kafka-python client raises when the broker or the network fails (for ``except`` outside ``stream``/``sdk``)."""
    from kafka.errors import KafkaError

    return (KafkaError,)
