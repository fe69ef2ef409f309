"""One poll as the worker handles it: the decoded :class:`Batch` and the :class:`Outcome` of its transactions."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from greenshield.rules.model import Event, Rejection
from greenshield.store import intake_stream as sink
from greenshield.stream.decode import Candidate, Context, Control, Reject, decode_message
from greenshield.stream.partitions import Applied
from greenshield.stream.state import PartitionState


@dataclass
class Batch:
    """What one poll brought, decoded: candidates and rejects in arrival order."""

    items: list[Candidate | Reject] = field(default_factory=list)
    controls: list[Control] = field(default_factory=list)
    decoded_controls: list[tuple[Any, Control]] = field(default_factory=list)  # (tp, control) to apply
    view: Any = None  # the assignment and partition states it was decoded against
    offsets: dict[Any, int] = field(default_factory=dict)
    consumed: Counter[tuple[str, str]] = field(default_factory=Counter)
    messages: int = 0


@dataclass
class Outcome:
    """What a committed batch (or the committed parts of a bisected one) did, for metrics and tests."""

    fresh: list[Candidate] = field(default_factory=list)
    duplicates: list[Candidate] = field(default_factory=list)
    rejects: list[Reject] = field(default_factory=list)
    changes: list[dict[str, Any]] = field(default_factory=list)
    late: int = 0  # registry records reached in this transaction
    refused: int = 0  # rows the store refused, now rejects
    grades: Applied | None = None  # stored grades applied in this transaction

    def merge(self, other: Outcome) -> None:
        self.fresh += other.fresh
        self.duplicates += other.duplicates
        self.rejects += other.rejects
        self.changes += other.changes
        self.late += other.late
        self.refused += other.refused
        self.grades = other.grades or self.grades


def poll_batch(consumer: Any, size: int, wait: float) -> dict[Any, list[Any]]:
    """Up to ``size`` messages: one poll waiting up to ``wait`` seconds, topped up by polls that do not wait."""
    records: dict[Any, list[Any]] = consumer.poll(size, wait)
    total = sum(len(v) for v in records.values())
    while 0 < total < size:
        more = consumer.poll(size - total, 0)
        if not more:
            break
        for tp, msgs in more.items():
            records.setdefault(tp, []).extend(msgs)
            total += len(msgs)
    return records


def decode_batch(records: dict[Any, list[Any]], assigned: Any, view: Any, events_topic: str,
                 states: dict[int, PartitionState], ctx: Context, now: float) -> Batch:
    """Decode a poll (pure but for the clocks' arrival times ``now``); control messages are only collected.

    Hot path (once per message): per-partition work is done once per partition.
    """
    batch = Batch()
    batch.view = view
    items, controls = batch.items, batch.decoded_controls
    consumed: dict[tuple[str, str], int] = {}
    for tp, messages in records.items():
        if not messages:
            continue
        if tp not in assigned or (tp.topic == events_topic and tp.partition not in states):
            continue  # revoked meanwhile: the new owner reads these
        state = states.get(tp.partition) if tp.topic == events_topic else None
        if state is not None:
            state.clock.saw_message(now)  # the same arrival time for every message of the poll
        batch.messages += len(messages)
        batch.offsets[tp] = messages[-1].offset + 1
        topic, partition = tp.topic, tp.partition
        for m in messages:
            got = decode_message(topic, partition, m.offset, m.key, m.value, m.headers, ctx)
            if got is None:
                continue
            kind = type(got)
            if kind is Candidate:
                item = got.item  # type: ignore[union-attr]
                label = (item.type if type(item) is Event else "registry", item.enterprise_id)
            elif kind is Control:
                controls.append((tp, got))  # type: ignore[arg-type]
                continue
            else:
                label = (got.type, got.enterprise)  # type: ignore[union-attr]
            items.append(got)  # type: ignore[arg-type]
            consumed[label] = consumed.get(label, 0) + 1
    batch.consumed.update(consumed)
    return batch


def item_kind(c: Candidate) -> str:
    """The metrics' and rejects' type of a candidate: the event's type, or ``registry``."""
    return c.item.type if isinstance(c.item, Event) else "registry"


def reject_row(r: Reject) -> dict[str, Any]:
    """The ``rejects`` row of ``r``; a masked payload that cannot be encoded is left out (never a failed batch)."""
    try:
        return sink.reject_row(r.source, r.offset, r.rejection)
    except (ValueError, TypeError, RecursionError) as err:
        reason = f"{r.rejection.reason} (masked payload not stored: {type(err).__name__})"
        return sink.reject_row(r.source, r.offset, Rejection(reason, None, r.rejection.key))
