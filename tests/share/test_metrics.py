"""The notifier's metrics move with what it does: queued, delivered, attempts by class, parked and redriven,
the backlog of active subscriptions; no subscription, callback or department in any label (no timings)."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from prometheus_client import generate_latest

from tests.share.sharekit import OnePollConsumer, Receiver, Record, copy, department, subscribe, topic_values, route_values, wait_until

from greenshield.store.database import Store
from greenshield.settings import Settings
from greenshield.store import outbox
from greenshield.notifier.metrics import NotifierMetrics, outcome_class
from greenshield.notifier.service import Deliverer, Notifier
from greenshield.share.scope import TYPES


class Ticking:
    """A deliverer ticking on its own thread, with its own metrics."""

    def __init__(self, settings: Settings, store: Store) -> None:
        self.metrics = NotifierMetrics()
        self.deliverer = Deliverer(settings, store, metrics=self.metrics)
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._loop, daemon=True)
        self.thread.start()

    def _loop(self) -> None:
        while not self.stop.is_set():
            self.deliverer.tick()
            self.stop.wait(0.01)

    def value(self, name: str, **labels: str) -> float:
        return self.metrics.registry.get_sample_value(name, labels) or 0.0

    def close(self) -> None:
        self.stop.set()
        self.thread.join()
        self.deliverer.close()


def test_deliveries_are_counted_as_2xx_with_their_latency(world: tuple[Settings, Store], receiver: Receiver) -> None:
    settings, store = world
    values = topic_values(store)[:20]
    sub = subscribe(store, department(store, "all"), receiver.url)
    route_values(store, values)
    running = Ticking(settings, store)
    try:
        assert wait_until(lambda: running.value("greenshield_notifier_messages_delivered_total") >= len(values))
    finally:
        running.close()
    assert running.value("greenshield_notifier_messages_delivered_total") == len(values) == len(receiver.got)
    assert running.value("greenshield_notifier_attempts_total", outcome="2xx") == len(values)
    assert running.value("greenshield_notifier_attempts_total", outcome="5xx") == 0
    assert running.value("greenshield_notifier_delivery_seconds_count") == len(values)
    running.deliverer.refresh_gauges()
    assert running.value("greenshield_notifier_outbox_pending") == 0
    text = generate_latest(running.metrics.registry).decode()
    assert sub.id not in text and str(receiver.port) not in text and sub.token_id not in text


def test_failures_park_and_a_redrive_clears_the_parked_gauge(world: tuple[Settings, Store],
                                                             receiver: Receiver) -> None:
    settings, store = world
    values = topic_values(store)[:3]
    sub = subscribe(store, department(store, "all"), receiver.url)
    route_values(store, values)
    receiver.status = 503
    running = Ticking(settings, store)
    try:
        assert wait_until(lambda: running.value("greenshield_notifier_messages_parked_total") == 1)
        running.deliverer.refresh_gauges()
        assert running.value("greenshield_notifier_parked_subscriptions") == 1
        assert running.value("greenshield_notifier_outbox_pending") == 0  # a parked subscription's rows wait
        assert running.value("greenshield_notifier_attempts_total", outcome="5xx") == settings.notify_max_attempts
        assert running.value("greenshield_notifier_messages_delivered_total") == 0
        receiver.status = 200
        outbox.change(store, sub.id, "redrive")
        running.deliverer.refresh_gauges()
        assert running.value("greenshield_notifier_parked_subscriptions") == 0
        assert wait_until(lambda: running.value("greenshield_notifier_messages_delivered_total") == len(values))
    finally:
        running.close()
    assert running.value("greenshield_notifier_attempts_total", outcome="2xx") == len(values)


def test_a_receiver_that_is_down_counts_as_connect(world: tuple[Settings, Store], receiver: Receiver) -> None:
    settings, store = world
    subscribe(store, department(store, "all"), receiver.url)
    route_values(store, topic_values(store)[:1])
    receiver.stop()
    running = Ticking(settings, store)
    try:
        assert wait_until(lambda: running.value("greenshield_notifier_attempts_total", outcome="connect") >= 2)
    finally:
        running.close()
    assert running.value("greenshield_notifier_messages_delivered_total") == 0


def test_the_backlog_gauge_counts_active_subscriptions_only(world: tuple[Settings, Store],
                                                            receiver: Receiver) -> None:
    settings, store = world
    values = topic_values(store)[:10]
    active = subscribe(store, department(store, "all", "one"), receiver.url)
    paused = subscribe(store, department(store, "all", "two"), receiver.url)
    outbox.change(store, paused.id, "pause")
    assert route_values(store, values) == 2 * len(values)
    deliverer = Deliverer(settings, store, metrics=NotifierMetrics())
    try:
        deliverer.refresh_gauges()
        assert deliverer.metrics.registry.get_sample_value("greenshield_notifier_outbox_pending") == len(values)
        outbox.change(store, active.id, "pause")
        deliverer.refresh_gauges()
        assert deliverer.metrics.registry.get_sample_value("greenshield_notifier_outbox_pending") == 0
    finally:
        deliverer.close()


def test_intake_counts_queued_rows_by_type_and_the_intake_time(world: tuple[Settings, Store],
                                                               receiver: Receiver) -> None:
    import orjson

    settings, store = world
    values = topic_values(store)[:12]
    subscribe(store, department(store, "all"), receiver.url)
    consumer = OnePollConsumer([Record(orjson.dumps(v), outbox.now_ms()) for v in values] + [Record(b"junk", 1)])
    metrics = NotifierMetrics()
    notifier = Notifier(settings, store, consumer, metrics=metrics)
    try:
        offered = notifier.intake()  # the violations, and the seeded day's stored blacklistings and warnings
    finally:
        notifier.deliverer.close()
    kinds = {f"violation.{v['change']}" for v in values}
    family = next(m for m in metrics.registry.collect() if m.name == "greenshield_notifier_messages_queued")
    queued = {s.labels["type"]: s.value for s in family.samples if s.name.endswith("_total")}
    assert sum(queued[k] for k in kinds) == len(values) and all(queued[k] for k in kinds), queued
    assert sum(queued.values()) == offered > len(values) and set(queued) <= {*TYPES, "other"}
    assert metrics.registry.get_sample_value("greenshield_notifier_intake_seconds_count") == len(values) + 1
    assert consumer.commits == 1


@pytest.mark.parametrize(("status", "error", "expected"), [
    (200, None, "2xx"), (204, None, "2xx"), (301, None, "3xx"), (404, None, "4xx"), (503, None, "5xx"),
    (700, None, "error"), (None, "TimeoutError", "timeout"), (None, "ConnectionRefusedError", "connect"),
    (None, "RemoteDisconnected", "connect"), (None, "sub_0123 https://x.example/", "error"),
])
def test_outcome_classes_are_a_fixed_set(status: int | None, error: str | None, expected: str) -> None:
    assert outcome_class(status, error) == expected


def test_the_command_serves_metrics_and_goes_on_without_them_when_the_port_is_taken() -> None:
    import dataclasses
    from urllib.request import urlopen

    from greenshield.commands.notifier import serve_metrics
    from greenshield.devtools.process import free_port

    port = free_port()
    settings = dataclasses.replace(Settings(), notifier_metrics_port=port)
    assert serve_metrics(NotifierMetrics(), settings, None) == port
    text = urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5).read().decode()
    assert "greenshield_notifier_attempts_total" in text and "greenshield_events_consumed" not in text
    assert serve_metrics(NotifierMetrics(), settings, None) == 0  # taken now: logged, delivery goes on
    assert serve_metrics(NotifierMetrics(), settings, 0) == 0  # --metrics-port 0: off
    assert Settings.from_env({"GREENSHIELD_NOTIFIER_METRICS_PORT": "0"}).notifier_metrics_port == 0
    assert Settings.from_env({}).notifier_metrics_port == 9110 != Settings().metrics_port
