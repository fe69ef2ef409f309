"""The worker's Prometheus metrics, counted from the decisions the worker gets back (never inside rules).

:class:`WorkerMetrics` holds them, one registry per worker; :class:`Labels` keeps label
values to known sets, so junk cannot grow the metrics. Every metric, its labels and
meaning: ``docs/adr/0020-worker-metrics.md``.
"""

from __future__ import annotations

import re

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

from greenshield.rules.model import TYPE_RANK

UNKNOWN = "unknown"
OTHER = "other"
TYPES = frozenset({*TYPE_RANK, "registry", "control", UNKNOWN})
_ENTERPRISE = re.compile(r"E[0-9]{7}")
MAX_ENTERPRISES = 10_000  # enterprise label values kept at most (more become "other")


class Labels:
    """The known label values: a value outside them is ``other``."""

    def __init__(self) -> None:
        self.enterprises: set[str] = {UNKNOWN, "system"}

    def admit(self, enterprise: str) -> None:
        """An enterprise of an accepted event or registry record becomes a label value."""
        if enterprise not in self.enterprises and len(self.enterprises) < MAX_ENTERPRISES \
                and isinstance(enterprise, str) and _ENTERPRISE.fullmatch(enterprise):
            self.enterprises.add(enterprise)

    def type(self, kind: str) -> str:
        return kind if kind in TYPES else OTHER

    def enterprise(self, enterprise: str) -> str:
        return enterprise if enterprise in self.enterprises else OTHER


class WorkerMetrics:
    """The metric families of one worker."""

    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        self.registry = r = registry or CollectorRegistry()
        labels = ("type", "enterprise")
        self.consumed = Counter("greenshield_events_consumed", "Messages read from the input topics.",
                                labels, registry=r)
        self.accepted = Counter("greenshield_events_accepted", "New events stored.", labels, registry=r)
        self.rejected = Counter("greenshield_events_rejected", "Inputs rejected (written to the rejects).",
                                labels, registry=r)
        self.duplicated = Counter("greenshield_events_duplicated", "Exact duplicates dropped.", labels,
                                  registry=r)
        self.opened = Counter("greenshield_violations_opened", "Violation status changes to open.",
                              ("rule",), registry=r)
        self.retracted = Counter("greenshield_violations_retracted",
                                 "Violation status changes to retracted.", ("rule",), registry=r)
        self.lag = Gauge("greenshield_consumer_lag_messages", "Messages not yet consumed, per partition.",
                         ("topic", "partition"), registry=r)
        self.commit_seconds = Histogram(
            "greenshield_store_commit_seconds", "Duration of one batch's store transaction.",
            buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0), registry=r)
        self.watermark_age = Gauge("greenshield_watermark_age_seconds",
                                   "Wall-clock time minus the partition's event-time watermark.",
                                   ("partition",), registry=r)
        self.future_dated = Counter(
            "greenshield_events_future_dated", "New parcel events dated beyond wall clock + max_future_seconds "
            "(accepted; they do not move stream time past that).", ("enterprise",), registry=r)
        self.ready = Gauge("greenshield_worker_ready",
                           "1 once the worker has checked its topics, read the registry and holds partitions; "
                           "0 while it waits for the store.", registry=r)
        self.internal_errors = Counter("greenshield_messages_internal_errors",
                                       "Messages rejected because decoding them raised an unexpected exception.",
                                       registry=r)
        self.fields_dropped = Counter("greenshield_fields_dropped",
                                      "Fields of accepted events not kept because the contract does not name them.",
                                      ("type",), registry=r)
        self.store_refused = Counter("greenshield_store_refused_rows",
                                     "Messages rejected because the store refused their row (its content).",
                                     registry=r)
        self.labels = Labels()
        self.store_unavailable = Gauge("greenshield_store_unavailable",
                                       "1 while the worker waits for the store to come back.", registry=r)

    def serve(self, port: int, addr: str = "127.0.0.1") -> None:
        """Expose ``/metrics`` on ``addr:port`` (a daemon thread)."""
        from prometheus_client import start_http_server

        start_http_server(port, addr=addr, registry=self.registry)
