"""The worker's offsets: queued once their batch's store transaction committed, then committed with the clocks."""

from __future__ import annotations

import logging
from typing import Any

from greenshield.stream.state import PartitionState

log = logging.getLogger("greenshield.worker")


class Offsets:
    """Offsets (with each events partition's clock as metadata) waiting for their commit, and the next positions."""

    def __init__(self) -> None:
        self.pending: dict[Any, Any] = {}
        self.next: dict[Any, int] = {}

    def queue(self, offsets: dict[Any, int], events_topic: str, states: dict[int, PartitionState]) -> None:
        for tp, offset in offsets.items():
            state = states.get(tp.partition) if tp.topic == events_topic else None
            meta = state.clock.to_metadata() if state is not None else ""
            self.pending[tp] = (offset, meta)
            self.next[tp] = offset

    def commit(self, consumer: Any) -> None:
        """Commit the pending offsets of partitions still assigned; on failure keep them for the next try."""
        if not self.pending:
            return
        from confluent_kafka import KafkaException

        from greenshield.stream.consumer import CommitFailed

        pending, self.pending = self.pending, {}
        assigned = consumer.assignment()
        mine = {tp: om for tp, om in pending.items() if tp in assigned}
        if not mine:
            return
        try:
            consumer.commit(mine)
        except CommitFailed as err:  # the partitions moved: the new owner's store check covers them
            log.warning("event=commit_failed reason=rebalance error=%r", err)
        except KafkaException as err:
            log.warning("event=commit_failed error=%r", err)
            for tp, om in mine.items():
                self.pending.setdefault(tp, om)
