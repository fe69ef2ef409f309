"""The notifier's Prometheus metrics: totals and gauges only, no subscription, callback or department as a label.

The metrics, their labels and what they bound are listed in docs/sharing.md ("Metrics and alerts").
"""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

from greenshield.share.scope import TYPES

OUTCOMES = ("2xx", "3xx", "4xx", "5xx", "timeout", "connect", "error")
_TIMEOUTS = frozenset({"TimeoutError", "timeout", "ReadTimeout"})
_CONNECT = frozenset({"ConnectionRefusedError", "ConnectionResetError", "ConnectionAbortedError", "BrokenPipeError",
                      "RemoteDisconnected", "gaierror", "ConnectionError", "SSLError", "SSLCertVerificationError"})
_LATENCY = (0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.0, 5.0, 10.0, 30.0, 60.0, 300.0)


def outcome_class(status: int | None, error: str | None) -> str:
    """The ``outcome`` label of one attempt: its status class, or the kind of error (a bounded set)."""
    if status is not None:
        return f"{status // 100}xx" if 200 <= status < 600 else "error"
    if error in _TIMEOUTS:
        return "timeout"
    return "connect" if error in _CONNECT else "error"


class NotifierMetrics:
    """The metric families of one notifier (its own registry, so tests can run several in one process)."""

    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        self.registry = r = registry or CollectorRegistry()
        self.queued = Counter("greenshield_notifier_messages_queued", "Outbox rows written (one per subscription "
                              "and message).", ("type",), registry=r)
        self.delivered = Counter("greenshield_notifier_messages_delivered", "Messages the receiver answered 2xx.",
                                 registry=r)
        self.parked = Counter("greenshield_notifier_messages_parked", "Messages parked after the attempt limit.",
                              registry=r)
        self.attempts = Counter("greenshield_notifier_attempts", "Delivery attempts by outcome class.",
                                ("outcome",), registry=r)
        self.parked_subscriptions = Gauge("greenshield_notifier_parked_subscriptions",
                                          "Subscriptions parked now (waiting for a redrive).", registry=r)
        self.pending = Gauge("greenshield_notifier_outbox_pending", "Outbox rows waiting to be sent to active subscriptions.", registry=r)
        self.intake_seconds = Histogram("greenshield_notifier_intake_seconds",
                                        "Violations-topic record timestamp to the outbox commit.",
                                        buckets=_LATENCY, registry=r)
        self.delivery_seconds = Histogram("greenshield_notifier_delivery_seconds",
                                          "Outbox row queued to the receiver's 2xx answer.", buckets=_LATENCY,
                                          registry=r)
        for name in OUTCOMES:
            self.attempts.labels(name)
        for kind in TYPES:
            self.queued.labels(kind)

    def queued_type(self, kind: str) -> str:
        return kind if kind in TYPES else "other"

    def attempt(self, status: int | None, error: str | None, outcome: str, queued_ms: int, at_ms: int) -> None:
        """Count one attempt (``outcome``: the outbox's ``delivered`` / ``failed`` / ``parked``)."""
        self.attempts.labels(outcome_class(status, error)).inc()
        if outcome == "delivered":
            self.delivered.inc()
            if queued_ms > 0:
                self.delivery_seconds.observe(max(0.0, (at_ms - queued_ms) / 1000))
        elif outcome == "parked":
            self.parked.inc()

    def serve(self, port: int, addr: str = "127.0.0.1") -> None:
        """Expose ``/metrics`` on ``addr:port`` (a daemon thread)."""
        from prometheus_client import start_http_server

        start_http_server(port, addr=addr, registry=self.registry)
