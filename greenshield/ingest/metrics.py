"""The worker's Prometheus metrics, counted from the decisions the worker gets back (never inside rules).

=====================================================  ========================  ==========================
name                                                   labels                    meaning
=====================================================  ========================  ==========================
greenshield_events_consumed_total                      type, enterprise          messages read (events + registry)
greenshield_events_accepted_total                      type, enterprise          new events stored
greenshield_events_rejected_total                      type, enterprise          rejects written
greenshield_events_duplicated_total                    type, enterprise          exact duplicates dropped
greenshield_violations_opened_total                    rule                      status changes to open
greenshield_violations_retracted_total                 rule                      status changes to retracted
greenshield_consumer_lag_messages                      topic, partition          high water - position
greenshield_store_commit_seconds                       (histogram)               one batch's store transaction
greenshield_watermark_age_seconds                      partition                 wall clock - watermark
greenshield_store_unavailable                          (gauge 0/1)               the worker is waiting for the store
=====================================================  ========================  ==========================

A label whose value is unknown (a line that did not parse) is ``unknown``. Each
worker has its own registry, so tests can run several in one process.
"""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

UNKNOWN = "unknown"


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
        self.store_unavailable = Gauge("greenshield_store_unavailable",
                                       "1 while the worker waits for the store to come back.", registry=r)

    def serve(self, port: int, addr: str = "127.0.0.1") -> None:
        """Expose ``/metrics`` on ``addr:port`` (a daemon thread)."""
        from prometheus_client import start_http_server

        start_http_server(port, addr=addr, registry=self.registry)
