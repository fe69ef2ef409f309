"""The registry for every partition: each worker reads the whole compacted registry topic itself.

This is the worker's global table. It reads every partition of the registry topic
from the beginning (no consumer group: every worker needs all of it), validates
each record, keeps the first accepted copy of each ``(enterprise_id, event_id)``
and hands new records to the partition states in topic order, which is the
arrival order that breaks same-instant ties (contract §1.3; the key carries
entity and instant, so same-instant versions share a partition).

Storing registry records and rejecting bad ones is not done here but by the
worker that owns the registry partition in the consumer group, exactly once. The
feed takes exactly what that worker accepts: a record whose headers cannot be read
is skipped here and rejected there, and nothing in a record stops the feed (an
unexpected exception skips the record, logged with its offset).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import Any

from greenshield.rules.dedup import CanonicalError, digest
from greenshield.rules.model import RegistryRecord
from greenshield.rules.parse import is_blank, parse_line
from greenshield.stream.consumer import TP, StreamConsumer

Listener = Callable[[RegistryRecord], None]
log = logging.getLogger("greenshield.worker")


class RegistryFeed:
    """Every valid registry record seen so far, in order; new ones go to ``listener``."""

    def __init__(self, consumer: StreamConsumer, topic: str, partitions: int) -> None:
        """``consumer``: a :class:`~greenshield.stream.consumer.StreamConsumer` not in the group (assigned here)."""
        self.consumer = consumer
        self.parts = [TP(topic, p) for p in range(partitions)]
        consumer.assign(self.parts, beginning=True)
        self.records: list[RegistryRecord] = []
        self._seen: dict[tuple[str, str], bytes] = {}
        self.listener: Listener = lambda r: None

    def poll(self, timeout_ms: int = 0) -> int:
        """Take what has arrived; how many new records."""
        new = 0
        for messages in self.consumer.poll(10_000, timeout_ms / 1000).values():
            for m in messages:
                new += self._take_message(m)
        return new

    def _take_message(self, m: Any) -> int:
        from greenshield.stream.decode import undecodable_header

        try:
            if m.headers and undecodable_header(m.headers) is not None:
                return 0  # the owner worker rejects it
            return self._take(m.value)
        except Exception as err:  # the owner worker rejects it as internal; the feed goes on
            log.error("event=registry_record_skipped partition=%s offset=%s error=%s", m.partition, m.offset,
                      type(err).__name__)
            return 0

    def catch_up(self, timeout: float = 60.0) -> int:
        """Read up to the registry's end offsets as of now (so everything sent before is applied)."""
        deadline = time.monotonic() + timeout
        ends = self.consumer.end_offsets(self.parts, timeout=timeout)
        new = 0
        while not all(self._reached(tp, end) for tp, end in ends.items()):
            if time.monotonic() > deadline:
                raise TimeoutError(f"registry topic not read to its end within {timeout:.0f}s")
            new += self.poll(timeout_ms=200)
        return new

    def _reached(self, tp: TP, end: int) -> bool:
        if end <= 0:
            return True
        position = self.consumer.position(tp)
        if position is None:  # nothing read from it yet: is it empty (everything compacted away)?
            low, _ = self.consumer.watermarks(tp)
            return low >= end
        return position >= end

    def _take(self, value: bytes | None) -> int:
        if value is None or is_blank(value):
            return 0
        obj, item = parse_line(value)
        if not isinstance(item, RegistryRecord):
            return 0
        try:
            d = digest(obj, value)
        except CanonicalError:
            return 0
        key = (item.enterprise_id, item.event_id)
        if key in self._seen:
            return 0  # exact duplicate, or a conflicting one (the owner worker rejects it)
        self._seen[key] = d
        self.records.append(item)
        self.listener(item)
        return 1

    def close(self) -> None:
        self.consumer.close()
