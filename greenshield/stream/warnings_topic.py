"""Publishing warnings on ``gs.warnings.v1`` (key ``<subject_kind>:<subject_id>``, value the warning's JSON).

A command publishes every warning it computed, stored before or not, so a run whose
publish failed is repaired by running it again; a consumer keeps one per
(subject, ``at``, ``level``). A warning holds no personal data (a sender is its keyed hash).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from greenshield.settings import Settings


def warning_key(warning: dict[str, Any]) -> bytes:
    return f"{warning['subject_kind']}:{warning['subject_id']}".encode()


def publish_warnings(settings: Settings, warnings: Sequence[dict[str, Any]], bootstrap: str | None = None,
                     timeout: float = 30.0) -> int:
    """Send the warnings and wait for every acknowledgement; raises on a missing topic or a failed send."""
    from kafka import KafkaProducer

    from greenshield.sdk.clients import RELIABLE_PRODUCER, common
    from greenshield.stream.topics import ensure_topics
    from greenshield.translog.entries import canonical

    address = bootstrap or settings.kafka_bootstrap
    ensure_topics(settings, ["warnings"], address)
    producer = KafkaProducer(**common(address, "greenshield-warnings", settings.kafka_security), **RELIABLE_PRODUCER)
    try:
        futures = [producer.send(settings.warnings_topic, key=warning_key(w), value=canonical(w)) for w in warnings]
        producer.flush(timeout=timeout)
        for future in futures:
            future.get(timeout=timeout)
    finally:
        producer.close(timeout=timeout)
    return len(futures)
