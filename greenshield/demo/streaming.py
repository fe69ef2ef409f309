"""The simulated day, paced, into a sink: Kafka through the producer SDK, or the embedded pipeline.

:func:`stream_day` takes :meth:`greenshield.simulate.Simulation.timed_lines` (time
order). The registry's history (records dated before the day: who is licensed since
when) goes first, at once; then the day's lines at ``rate`` lines per second, so a
day of 5,000 parcels (about 55,000 lines) takes about 9 minutes at 100/s. When the
sink falls behind by more than a second's worth, the pace carries on from there
instead of bursting.

Kafka mode ends with replay's control message (:mod:`greenshield.stream.control`):
after every line is acknowledged, each partition's stream clock is advanced to the
time of the last line sent, so deadlines up to then are final (the watermark would
otherwise trail the allowed lateness behind), and the demo waits until the worker
group's committed offsets reach the end of the events and registry topics — the
worker commits offsets only after the store has committed.
"""

from __future__ import annotations

import itertools
import threading
import time
from collections.abc import Callable, Iterator
from datetime import datetime, timezone
from typing import Any, Protocol

from greenshield.demo.orchestrator import DemoError
from greenshield.demo.progress import Counters

ACCEPTANCE = b'"type":"acceptance"'
HISTORY_CHUNK = 2000


class Sink(Protocol):
    def feed(self, lines: list[bytes]) -> None: ...
    def tick(self) -> None: ...
    def finish(self, as_of_ms: int | None, stop: threading.Event) -> None: ...
    def close(self) -> None: ...


def as_of_text(ms: int) -> str:
    """RFC 3339 (UTC) of an epoch-milliseconds instant, milliseconds kept when there are any."""
    dt = datetime.fromtimestamp(ms / 1000, timezone.utc)
    return dt.strftime("%Y-%m-%dT%H:%M:%S") + (f".{ms % 1000:03d}" if ms % 1000 else "") + "Z"


def stream_day(lines: Iterator[tuple[int, bytes]], day_start_ms: int, sink: Sink, counters: Counters, rate: float,
               stop: threading.Event, until: float | None = None,
               clock: Callable[[], float] = time.monotonic, sleep: Callable[[float], None] = time.sleep) -> str:
    """Feed the day to ``sink``; returns why it ended: ``"day complete"``, ``"duration"`` or ``"stopped"``.

    ``until`` is a ``clock()`` reading at which streaming stops.
    """
    rest: Iterator[tuple[int, bytes]] = lines
    batch: list[bytes] = []
    for t, line in rest:
        if t >= day_start_ms:
            rest = itertools.chain([(t, line)], rest)
            break
        batch.append(line)
        counters.sim_ms = t
        if len(batch) >= HISTORY_CHUNK:
            _feed(sink, counters, batch, history=True)
            batch = []
        if stop.is_set():
            return "stopped"
    _feed(sink, counters, batch, history=True)
    start, paced = clock(), 0
    while True:
        if stop.is_set():
            return "stopped"
        now = clock()
        if until is not None and now >= until:
            return "duration"
        due = int((now - start) * rate) - paced
        if due > max(rate, 1.0):  # more than a second behind: go on at the rate from here, no burst
            start += (due - max(rate, 1.0)) / rate
            due = int(max(rate, 1.0))
        if due <= 0:
            sink.tick()
            sleep(min(0.05, max(0.001, (paced + 1) / rate - (clock() - start))))
            continue
        taken = list(itertools.islice(rest, due))
        if taken:
            counters.sim_ms = taken[-1][0]
            _feed(sink, counters, [line for _, line in taken])
            paced += len(taken)
        sink.tick()
        if len(taken) < due:
            return "day complete"


def _feed(sink: Sink, counters: Counters, batch: list[bytes], history: bool = False) -> None:
    if not batch:
        return
    sink.feed(batch)
    counters.sent += len(batch)
    if history:
        counters.history += len(batch)
    counters.accepted_parcels += sum(1 for line in batch if ACCEPTANCE in line)


# --------------------------------------------------------------------------- Kafka


class KafkaSink:
    """Lines to the events and registry topics with the enterprise SDK (:class:`GreenShieldProducer`)."""

    def __init__(self, settings: Any, bootstrap: str, counters: Counters) -> None:
        from greenshield.sdk.producer import GreenShieldProducer
        from greenshield.sdk.sender import signer_for

        self.settings = settings
        self.bootstrap = bootstrap
        self.counters = counters
        self.producer = GreenShieldProducer(bootstrap, None, events_topic=settings.events_topic,
                                            registry_topic=settings.registry_topic,
                                            security=settings.kafka_security, client_id="greenshield-demo",
                                            signer=signer_for(settings))
        self.lag: int | None = None

    def feed(self, lines: list[bytes]) -> None:
        from greenshield.sdk.producer import InvalidEvent

        for line in lines:
            try:
                self.producer.send_line(line)
            except InvalidEvent:
                self.counters.refused += 1
        self.tick()

    def tick(self) -> None:
        self.counters.acked = self.producer.acked
        if self.producer.failed:
            raise DemoError(f"{self.producer.failed} event(s) were not acknowledged by Kafka at {self.bootstrap}")

    def finish(self, as_of_ms: int | None, stop: threading.Event, timeout: float = 180.0) -> None:
        """Flush, advance every partition's clock to ``as_of_ms``, wait for the worker to commit everything."""
        from greenshield.stream.control import advance_every_partition, control_producer

        s = self.settings
        self.counters.phase = "waiting for Kafka to acknowledge every event"
        self.producer.flush(timeout=120)
        self.tick()
        if as_of_ms is not None:
            as_of = as_of_text(as_of_ms)
            self.counters.phase = f"advancing the stream clock to {as_of}"
            control = control_producer(s, self.bootstrap, "greenshield-demo-control")
            try:
                advance_every_partition(control, s, as_of)
            finally:
                control.close(timeout=10)
        self.wait_caught_up(stop, timeout)

    def wait_caught_up(self, stop: threading.Event, timeout: float) -> None:
        from greenshield.stream.group_lag import GroupLag

        deadline = time.monotonic() + timeout
        with GroupLag(self.settings, self.bootstrap, "greenshield-demo-lag", "greenshield-demo-admin") as lag:
            while not stop.is_set():
                self.lag = lag.lag()
                self.counters.phase = f"waiting for the worker to catch up ({self.lag:,} messages behind)"
                if self.lag == 0:
                    return
                if time.monotonic() >= deadline:
                    raise DemoError(f"the worker did not catch up within {timeout:.0f}s ({self.lag} messages "
                                    "behind); see its log")
                stop.wait(0.5)

    def close(self) -> None:
        self.producer.close(timeout=10)


# --------------------------------------------------------------------------- embedded


class EmbeddedSink:
    """Lines into the store through :class:`~greenshield.demo.embedded.EmbeddedPipeline`; a verdict round every
    ``every`` seconds."""

    def __init__(self, pipeline: Any, every: float = 2.0) -> None:
        self.pipeline = pipeline
        self.every = every
        self._last = time.monotonic()

    def feed(self, lines: list[bytes]) -> None:
        self.pipeline.feed(lines)

    def tick(self) -> None:
        if time.monotonic() - self._last >= self.every:
            self.pipeline.evaluate()
            self._last = time.monotonic()

    def finish(self, as_of_ms: int | None, stop: threading.Event) -> None:
        self.pipeline.evaluate()  # as of the latest stored parcel event, as `greenshield run` does
        self._last = time.monotonic()

    def close(self) -> None:
        pass
