"""Start-up and catch-up: the worker's topics checked and clients opened; partition states matched to the assignment.

A partition the worker gains (or got back after losing it) is rebuilt from the store with
the clock saved beside its committed offset (docs/adr/0008-stream-worker.md, "State").
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from greenshield.settings import Settings
from greenshield.stream.partitions import Partitions
from greenshield.stream.registry_feed import RegistryFeed

WORKER_TOPICS = ("events", "registry", "violations", "rejects")  # it reads two and writes two; nothing else


class Rebalance:
    """Remembers revoked (or lost) partitions: their state is dropped and rebuilt from the store."""

    def __init__(self) -> None:
        self.revoked: set[Any] = set()

    def on_revoked(self, revoked: set[Any]) -> None:
        self.revoked.update(revoked)


def connect(settings: Settings, bootstrap: str, rebalance: Rebalance) -> tuple[Any, Any, RegistryFeed]:
    """Check the topics (raising TopicsError with what is wrong); the consumer, output producer and registry feed."""
    from greenshield.sdk.clients import librdkafka
    from greenshield.stream.consumer import StreamConsumer, feed_config, worker_config
    from greenshield.stream.topics import admin_client, require_topics, topic_specs

    s = settings
    admin = admin_client(s, bootstrap, "greenshield-worker-admin")
    try:
        require_topics(admin, [t for t in topic_specs(s) if t.role in WORKER_TOPICS])
    finally:
        admin.close()
    consumer = StreamConsumer(worker_config(s, bootstrap, "greenshield-worker"))
    consumer.subscribe([s.events_topic, s.registry_topic], rebalance.on_revoked)
    from greenshield.stream.output import OutputProducer, output_config

    # librdkafka, as the consumer (ADR 0005): acks=all, idempotent, flushed before the store commit
    producer = OutputProducer(output_config(librdkafka(bootstrap, "greenshield-worker", s.kafka_security)))
    reader = StreamConsumer(feed_config(s, bootstrap, "greenshield-worker-registry"))
    return consumer, producer, RegistryFeed(reader, s.registry_topic, s.registry_partitions)


def reconcile(consumer: Any, rebalance: Rebalance, parts: Partitions, topic: str, wall: Callable[[], float]) -> None:
    """Make the partition states match the assignment (rebuilding revoked or new ones from the store)."""
    from greenshield.stream.consumer import TP

    assigned = {tp.partition for tp in consumer.assignment() if tp.topic == topic}
    revoked = {tp.partition for tp in rebalance.revoked if tp.topic == topic}
    rebalance.revoked.clear()
    missing = parts.keep(assigned, revoked)
    if not missing:
        return
    clocks = {}
    saved = consumer.committed([TP(topic, p) for p in missing])
    for p in missing:
        clocks[p] = clock = parts.new_clock()
        clock.restore(saved.get(TP(topic, p), (None, None))[1])  # the clock saved with the offsets
        clock.saw_message(wall())  # idle from now on, as far as the backstop is concerned
    parts.build(clocks)
