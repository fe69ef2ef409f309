"""The service's Prometheus metrics, on a port of their own (``GREENSHIELD_API_METRICS_PORT``, 9109).

=====================================  ======================  ================================
name                                   labels                  meaning
=====================================  ======================  ================================
greenshield_api_requests_total         route, method, status   requests answered
greenshield_api_request_seconds        route (histogram)       time to answer
greenshield_api_ingest_events_total    status                  POST /v1/events results
=====================================  ======================  ================================

Every label comes from a known set, so junk requests cannot grow the metrics: ``route``
is one of the app's route templates (``/v1/parcels/{waybill}/trace``), ``unmatched`` or
``other``, never a value from the request; ``method`` an HTTP method of RFC 9110 or
``other``; ``status`` a three-digit code; ``status`` of ingest one of the answer's
statuses. The registry is per app, so tests can build several apps.
"""

from __future__ import annotations

from collections.abc import Iterable

from prometheus_client import CollectorRegistry, Counter, Histogram

BUCKETS = (0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "CONNECT", "TRACE"})
INGEST_STATUSES = frozenset({"accepted", "duplicate", "rejected", "rolled_back"})
OTHER = "other"


class ApiMetrics:
    """The metric families of one app."""

    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        self.registry = r = registry or CollectorRegistry()
        self.routes: frozenset[str] = frozenset({"unmatched"})  # the app's templates, set by create_app
        self.requests = Counter("greenshield_api_requests", "Requests answered.", ("route", "method", "status"),
                                registry=r)
        self.seconds = Histogram("greenshield_api_request_seconds", "Time to answer a request.", ("route",),
                                 buckets=BUCKETS, registry=r)
        self.ingest = Counter("greenshield_api_ingest_events", "Events of POST /v1/events, by result.",
                              ("status",), registry=r)

    def known_routes(self, templates: Iterable[str]) -> None:
        """The route templates ``route`` may take (besides ``unmatched`` and ``other``)."""
        self.routes = frozenset(templates) | {"unmatched"}

    def observe(self, route: str, method: str, status: int, seconds: float) -> None:
        route = route if route in self.routes else OTHER
        method = method if method in METHODS else OTHER
        code = str(status) if 100 <= status <= 599 else OTHER
        self.requests.labels(route, method, code).inc()
        self.seconds.labels(route).observe(seconds)

    def ingested(self, counts: dict[str, int]) -> None:
        for status, n in counts.items():
            if n:
                self.ingest.labels(status if status in INGEST_STATUSES else OTHER).inc(n)

    def serve(self, port: int, addr: str = "127.0.0.1") -> None:
        """Expose ``/metrics`` on ``addr:port`` (a daemon thread)."""
        from prometheus_client import start_http_server

        start_http_server(port, addr=addr, registry=self.registry)
