"""Test support for the stream pipeline on a real broker: a settings' topics made and dropped, a topic read back.

Tests (and benchmarks) that share one broker give each run its own topic prefix,
create its topics with :func:`create_test_topics` and drop them afterwards with
:func:`delete_test_topics`; :func:`consume_all` reads what was published.
"""

from __future__ import annotations

import time
from typing import Any

from greenshield.ingest.topics import admin_client, create_topics, topic_specs
from greenshield.settings import Settings


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


def consume_all(bootstrap: str, topic: str, partitions: int, expected: int, timeout: float = 60.0) -> list[Any]:
    """Read a topic from the beginning until ``expected`` messages are in (or the timeout passes)."""
    from kafka import KafkaConsumer, TopicPartition

    consumer = KafkaConsumer(bootstrap_servers=bootstrap, auto_offset_reset="earliest",
                             enable_auto_commit=False, group_id=None)
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
