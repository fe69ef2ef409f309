"""A consumer group's lag: messages of the events and registry topics it has not committed yet."""

from __future__ import annotations

from typing import Any

from greenshield.settings import Settings


class GroupLag:
    """Messages of the events and registry topics that the worker group has not committed yet."""

    def __init__(self, settings: Settings, bootstrap: str, client_id: str = "greenshield-lag",
                 admin_client_id: str = "greenshield-admin") -> None:
        self.settings, self.bootstrap = settings, bootstrap
        self.client_id, self.admin_client_id = client_id, admin_client_id

    def __enter__(self) -> GroupLag:
        from kafka import KafkaConsumer, TopicPartition

        from greenshield.sdk.clients import common
        from greenshield.stream.topics import admin_client

        s = self.settings
        self.admin = admin_client(s, self.bootstrap, self.admin_client_id)
        self.consumer = KafkaConsumer(**common(self.bootstrap, self.client_id, s.kafka_security),
                                      group_id=None, enable_auto_commit=False)
        self.parts = [TopicPartition(topic, p) for topic in (s.events_topic, s.registry_topic)
                      for p in sorted(self.consumer.partitions_for_topic(topic) or ())]
        return self

    def lag(self) -> int:
        ends = self.consumer.end_offsets(self.parts)
        committed = committed_offsets(self.admin, self.settings.worker_group)
        total = 0
        for tp in self.parts:
            done = committed.get(tp)
            offset = done.offset if done is not None and done.offset >= 0 else 0
            total += max(0, ends.get(tp, 0) - offset)
        return total

    def __exit__(self, *_: object) -> None:
        self.consumer.close()
        self.admin.close()


def committed_offsets(admin: Any, group: str) -> dict[Any, Any]:
    """The group's committed offsets (kafka-python 2.x and 3.x name the call differently)."""
    old = getattr(admin, "list_consumer_group_offsets", None)
    if old is not None:
        return dict(old(group))
    found: dict[Any, Any] = admin.list_group_offsets(group).get(group, {})
    return found
