"""The service's state: the store, its keys and sequencer, the rule pack, and the upkeep between requests.

One :class:`Service` per app (``app.state.service``). In embedded mode the service
is a pipeline, as ``greenshield run`` is: it evaluates verdicts after its own
ingests (never by itself, so it cannot race a stream worker that feeds the same
store) and runs the audit log's sequencer (so auditor-query entries get leaves and
checkpoints get signed on the policy's schedule; sequencers take turns by lock). In streaming mode the stream
worker does both, and the service only reads, records queries and publishes.
Upkeep that writes runs under one lock, so verdicts are never evaluated twice at once.
"""

from __future__ import annotations

import collections
import logging
import threading
import time
from dataclasses import dataclass, field
from typing import Any

from starlette.requests import Request

from greenshield.api.metrics import ApiMetrics
from greenshield.risk.model import default_model, load_model
from greenshield.rules.pack import RulePack
from greenshield.settings import Settings
from greenshield.store import stats, tokens
from greenshield.store.audit_log import Sequencer
from greenshield.store.database import Store
from greenshield.store.pipeline import Audit, run as run_pipeline
from greenshield.store.positions import latest_event_id
from greenshield.store.queries import record
from greenshield.store.verdicts import last_evaluation

log = logging.getLogger("greenshield.api")
INGEST_MODES = ("embedded", "streaming")
RATE_WINDOW_S = 60.0
STATS_CACHE = 64  # scopes whose figures are kept


class EventRate:
    """Events per second, from samples of the stored-event count over the last minute (wall clock)."""

    def __init__(self, clock: Any = time.monotonic) -> None:
        self.clock = clock
        self.samples: collections.deque[tuple[float, int]] = collections.deque()
        self.lock = threading.Lock()

    def sample(self, total: int) -> float:
        now = self.clock()
        with self.lock:
            self.samples.append((now, total))
            while len(self.samples) > 2 and now - self.samples[0][0] > RATE_WINDOW_S:
                self.samples.popleft()
            (t0, n0), (t1, n1) = self.samples[0], self.samples[-1]
        return max(0.0, (n1 - n0) / (t1 - t0)) if t1 > t0 else 0.0


@dataclass
class Service:
    settings: Settings
    audit: Audit
    pack: RulePack
    owns_store: bool = True
    producer: Any = None
    rate: EventRate = field(default_factory=EventRate)
    metrics: ApiMetrics = field(default_factory=ApiMetrics)
    producer_lock: threading.Lock = field(default_factory=threading.Lock)
    stats_lock: threading.Lock = field(default_factory=threading.Lock)
    unevaluated: bool = False  # an ingest's evaluation failed: upkeep tries again
    stats_cache: dict[stats.Scope, tuple[int, dict[str, Any]]] = field(default_factory=dict)
    upkeep_lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def store(self) -> Store:
        return self.audit.store

    @property
    def embedded(self) -> bool:
        return self.settings.api_ingest_mode == "embedded"

    @property
    def sequencer(self) -> Sequencer:
        return self.audit.sequencer

    def kafka_producer(self) -> Any:
        """Streaming mode's producer (the enterprise SDK), connected on first use."""
        with self.producer_lock:
            if self.producer is None:
                self.producer = self._connect()
        return self.producer

    def _connect(self) -> Any:
        from greenshield.sdk.producer import GreenShieldProducer
        from greenshield.sdk.sender import signer_for

        s = self.settings
        # the service vouches for the enterprise of each token (checked before this): it signs as the system
        return GreenShieldProducer(s.kafka_bootstrap, None, events_topic=s.events_topic,
                                   registry_topic=s.registry_topic, security=s.kafka_security,
                                   client_id="greenshield-api", signer=signer_for(s))

    def lookup_token(self, token: str) -> tokens.Token | None:
        with self.store.read() as conn:
            return tokens.lookup(conn, token)

    def record(self, query: str, params: dict[str, Any], results: int) -> None:
        """Write a query to the audit log (``params`` hold no personal data; a sender only as its HMAC)."""
        record(self.store, query, params, results)

    def statistics(self, scope: stats.Scope) -> tuple[dict[str, Any], float]:
        """The figures of ``scope`` and the events-per-second rate.

        Figures are computed once per state of the store (the entry id the statistics
        have caught up to): fifty dashboards polling an unchanged store cost one query.
        """
        rate = self.refresh_stats()
        with self.stats_lock:
            with self.store.read() as conn:
                version = stats.entries_seen(conn)
                cached = self.stats_cache.get(scope)
                if cached is not None and cached[0] == version:
                    return cached[1], rate
                found = stats.statistics(conn, scope)
            if len(self.stats_cache) >= STATS_CACHE:
                self.stats_cache.clear()
            self.stats_cache[scope] = (version, found)
        return found, rate

    def refresh_stats(self) -> float:
        """Catch the statistics up with the store; return the events-per-second rate."""
        stats.refresh(self.store)
        with self.store.read() as conn:
            total = stats.events_total(conn)
        return self.rate.sample(total)

    def evaluate(self) -> None:
        """Embedded mode, after an ingest: bring verdicts up to the latest stored event; sequence the log.

        Only the service's own ingests call it (and upkeep, to retry one that failed), so a
        service left in embedded mode beside a stream worker never evaluates the worker's events.
        """
        if not self.embedded:
            return
        with self.upkeep_lock:
            self.unevaluated = True
            with self.store.read() as conn:
                fresh = latest_event_id(conn) > last_evaluation(conn).events_seen
            if fresh:  # the stored grades tighten their enterprises' packs, as in `greenshield run`
                path = self.settings.risk_model_file
                model = load_model(path) if path is not None else default_model()
                report = run_pipeline(self.audit, [], self.pack, model=model)
                log.info("event=evaluated %s", report.summary())
            self.unevaluated = False
            self.sequencer.integrate()

    def upkeep(self) -> None:
        """One round of the background work: sequence the log (embedded mode), refresh the statistics."""
        try:
            if self.embedded and self.unevaluated:
                self.evaluate()
            elif self.embedded:
                with self.upkeep_lock:
                    self.sequencer.integrate()
            self.refresh_stats()
        except Exception as err:  # the next round retries; the store may be restarting
            log.warning("event=upkeep_failed type=%s", type(err).__name__)

    def close(self) -> None:
        """Sequence what is pending, sign a checkpoint (embedded mode), close the producer and the store."""
        if self.producer is not None:
            self.producer.close()
        if self.embedded:
            with self.upkeep_lock:
                self.sequencer.integrate(close=True)
        if self.owns_store:
            self.store.close()


def service_of(request: Request) -> Service:
    service: Service = request.app.state.service
    return service


class Upkeep:
    """A daemon thread that runs :meth:`Service.upkeep` every ``interval`` seconds until stopped."""

    def __init__(self, service: Service, interval: float) -> None:
        self.service, self.interval = service, interval
        self.stopped = threading.Event()
        self.thread = threading.Thread(target=self._loop, name="greenshield-upkeep", daemon=True)

    def start(self) -> None:
        self.thread.start()

    def _loop(self) -> None:
        while not self.stopped.wait(self.interval):
            self.service.upkeep()

    def stop(self) -> None:
        self.stopped.set()
        self.thread.join(timeout=30)
