"""The notifier's kafka-python consumer of the violations topic: its own group, offsets committed by hand."""

from __future__ import annotations

from typing import Any

from greenshield.settings import Settings


def consumer_of(settings: Settings, bootstrap: str | None = None) -> Any:
    """The notifier's kafka-python consumer of the violations topic (its own group, manual commits)."""
    from kafka import KafkaConsumer

    from greenshield.sdk.clients import common

    consumer = KafkaConsumer(**common(bootstrap or settings.kafka_bootstrap, "greenshield-notifier",
                                      settings.kafka_security),
                             group_id=settings.notifier_group, enable_auto_commit=False,
                             auto_offset_reset="earliest", max_poll_interval_ms=300_000,
                             # a killed notifier's partitions move to its restart within ~10 s, not 45
                             session_timeout_ms=10_000, heartbeat_interval_ms=3_000)
    consumer.subscribe([settings.violations_topic])
    return consumer
