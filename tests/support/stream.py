"""Test support for the stream pipeline on a real broker: a settings' topics made and dropped, a topic read back.

Tests (and benchmarks) that share one broker give each run its own topic prefix,
create its topics with :func:`create_test_topics` and drop them afterwards with
:func:`delete_test_topics`; :func:`consume_all` reads what was published.
"""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any

from greenshield.sdk.clients import security_options
from greenshield.settings import Settings, read_credentials
from greenshield.stream.topics import admin_client, create_topics, topic_specs


def kafka_security() -> dict[str, str]:
    """The test broker's super-user login from ``GREENSHIELD_TEST_KAFKA_CREDENTIALS`` (``{}``: plaintext broker).

    Test support only (``make test`` starts a secure broker and sets it); the pipeline
    itself reads its login from :class:`~greenshield.settings.Settings`.
    """
    path = os.environ.get("GREENSHIELD_TEST_KAFKA_CREDENTIALS", "").strip()
    return read_credentials(Path(path))[0] if path else {}


def kafka_client(bootstrap: str) -> dict[str, Any]:
    """kafka-python options of a raw test client of the test broker: its address and the super user's login."""
    return {"bootstrap_servers": bootstrap, **security_options(kafka_security())}


def create_test_topics(settings: Settings) -> None:
    """Create every topic of ``settings`` (its prefix) on its broker, with the default replication of 1."""
    admin = admin_client(settings)
    try:
        create_topics(admin, topic_specs(settings))
    finally:
        admin.close()


def delete_test_topics(settings: Settings) -> None:
    """Delete every topic of ``settings``; best effort, errors are ignored (the names are unique anyway)."""
    admin = admin_client(settings)
    try:
        admin.delete_topics([s.name for s in topic_specs(settings)])
    except Exception:  # cleanup is best effort
        pass
    finally:
        admin.close()


def consume_all(bootstrap: str, topic: str, partitions: int, expected: int, timeout: float = 60.0,
                security: dict[str, str] | None = None) -> list[Any]:
    """Read a topic from the beginning until ``expected`` messages are in (or the timeout passes).

    ``security``: the login (default: the test broker's super user, :func:`kafka_security`).
    """
    from kafka import KafkaConsumer, TopicPartition

    login = security_options(kafka_security() if security is None else security)
    consumer = KafkaConsumer(bootstrap_servers=bootstrap, auto_offset_reset="earliest",
                             enable_auto_commit=False, group_id=None, **login)
    try:
        consumer.assign([TopicPartition(topic, p) for p in range(partitions)])
        out: list[Any] = []
        deadline = time.monotonic() + timeout
        while len(out) < expected and time.monotonic() < deadline:
            for records in consumer.poll(timeout_ms=500).values():
                out.extend(records)
        return out
    finally:
        consumer.close()
