"""The worker's per-batch metrics: what was consumed, accepted, duplicated, rejected, refused and changed."""

from __future__ import annotations

from typing import Any

from greenshield.rules.model import Event
from greenshield.stream.batch import Batch, Outcome, item_kind
from greenshield.stream.metrics import WorkerMetrics
from greenshield.stream.state import PartitionState


def count_batch(m: WorkerMetrics, states: dict[int, PartitionState], batch: Batch, outcome: Outcome) -> None:
    """The batch's metrics: counted per distinct (type, enterprise), labels looked up once per distinct value."""
    labels = m.labels
    admit = labels.admit
    for ent in {c.item.enterprise_id for c in outcome.fresh} | {c.item.enterprise_id for c in outcome.duplicates}:
        admit(ent)

    def counted(metric: Any, found: dict[tuple[str, str], int]) -> None:
        bounded: dict[tuple[str, str], int] = {}
        for (kind, ent), n in found.items():
            key = (labels.type(kind), labels.enterprise(ent))
            bounded[key] = bounded.get(key, 0) + n
        for (kind, ent), n in bounded.items():
            metric.labels(kind, ent).inc(n)

    caps = {p: state.clock.future_cap() for p, state in states.items()}
    accepted: dict[tuple[str, str], int] = {}
    future: dict[str, int] = {}
    dropped: dict[str, int] = {}
    for c in outcome.fresh:
        item = c.item
        if type(item) is Event:
            label = (item.type, item.enterprise_id)
            cap = caps.get(c.partition)
            if cap is not None and item.at > cap:
                future[item.enterprise_id] = future.get(item.enterprise_id, 0) + 1
        else:
            label = ("registry", item.enterprise_id)
        accepted[label] = accepted.get(label, 0) + 1
        if c.dropped:
            dropped[label[0]] = dropped.get(label[0], 0) + c.dropped
    duplicated: dict[tuple[str, str], int] = {}
    for c in outcome.duplicates:
        label = (item_kind(c), c.item.enterprise_id)
        duplicated[label] = duplicated.get(label, 0) + 1
    rejected: dict[tuple[str, str], int] = {}
    internal = 0
    for r in outcome.rejects:
        label = (r.type, r.enterprise)
        rejected[label] = rejected.get(label, 0) + 1
        internal += r.internal
    counted(m.consumed, batch.consumed)
    counted(m.accepted, accepted)
    counted(m.duplicated, duplicated)
    counted(m.rejected, rejected)
    bounded_future: dict[str, int] = {}
    for ent, n in future.items():
        bounded_ent = labels.enterprise(ent)
        bounded_future[bounded_ent] = bounded_future.get(bounded_ent, 0) + n
    for ent, n in bounded_future.items():
        m.future_dated.labels(ent).inc(n)
    if internal:
        m.internal_errors.inc(internal)
    if outcome.refused:
        m.store_refused.inc(outcome.refused)
    bounded_dropped: dict[str, int] = {}
    for kind, n in dropped.items():
        bounded_kind = labels.type(kind)
        bounded_dropped[bounded_kind] = bounded_dropped.get(bounded_kind, 0) + n
    for kind, n in bounded_dropped.items():
        m.fields_dropped.labels(kind).inc(n)
    count_changes(m, outcome.changes)


def count_changes(m: WorkerMetrics, changes: list[dict[str, Any]]) -> None:
    """Opened and retracted violations, per rule."""
    for change in changes:
        rule = change["doc"]["rule_id"]
        if change["kind"] == "retracted":
            m.retracted.labels(rule).inc()
        elif change["kind"] == "opened":
            m.opened.labels(rule).inc()
