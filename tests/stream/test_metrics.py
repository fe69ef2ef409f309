"""The worker's Prometheus metrics: conventional names, the labels the issue asks for, counted from decisions."""

from __future__ import annotations

import urllib.request
from collections.abc import Callable

import pytest
from prometheus_client.parser import text_string_to_metric_families

from greenshield.devtools.process import free_port
from greenshield.settings import Settings

from .helpers import WorkerThread, advance, batch_verdict, open_violations, sample_lines, send_raw, send_valid, wait_until

pytestmark = pytest.mark.kafka


def _scrape(port: int) -> dict[str, list[tuple[dict[str, str], float]]]:
    text = urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10).read().decode()
    out: dict[str, list[tuple[dict[str, str], float]]] = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            out.setdefault(sample.name, []).append((sample.labels, sample.value))
    return out


def _total(samples: dict[str, list[tuple[dict[str, str], float]]], name: str, **labels: str) -> float:
    return sum(v for got, v in samples.get(name, []) if all(got.get(k) == x for k, x in labels.items()))


def test_metrics_count_what_the_worker_decided(pipeline: Callable[..., tuple[Settings, str]]) -> None:
    """Consumed, accepted, rejected and duplicated by type and enterprise; violations by rule; lag, latency, age."""
    settings, db = pipeline()
    lines = sample_lines()
    port = free_port()
    with WorkerThread(settings, db) as running:
        running.metrics.serve(port)
        send_valid(settings, lines + lines[:10])
        send_raw(settings, settings.events_topic, [(None, b"{oops")])
        advance(settings)
        assert wait_until(lambda: open_violations(db) == batch_verdict(lines))
        assert wait_until(lambda: _total(_scrape(port), "greenshield_events_rejected_total") == 1)
        # gauges are refreshed by the worker's housekeeping, after a fetch has told it the high water: wait
        # until a refresh has seen every partition's watermark (not just the first one's)
        every = {str(p) for p in range(settings.events_partitions)}
        assert wait_until(lambda: {labels["partition"] for labels, _ in _scrape(port).get(
            "greenshield_watermark_age_seconds", [])} == every and "greenshield_consumer_lag_messages" in _scrape(port))
        samples = _scrape(port)
    assert _total(samples, "greenshield_events_accepted_total") == len(lines)
    assert _total(samples, "greenshield_events_accepted_total", type="registry") == 204
    assert _total(samples, "greenshield_events_duplicated_total") == 10
    assert _total(samples, "greenshield_events_rejected_total", type="unknown", enterprise="unknown") == 1
    assert _total(samples, "greenshield_events_consumed_total") >= len(lines) + 11
    enterprises = {labels["enterprise"] for labels, _ in samples["greenshield_events_accepted_total"]}
    assert all(e.startswith("E") and len(e) == 8 for e in enterprises)
    # registry versions may reach the worker after the events they license: a violation opened on
    # stale reference data is retracted when they arrive, so the net count is the batch verdict's
    opened = _total(samples, "greenshield_violations_opened_total")
    assert opened - _total(samples, "greenshield_violations_retracted_total") == 22
    assert opened >= 22
    assert _total(samples, "greenshield_violations_opened_total", rule="XR-1") >= 1
    assert {labels["partition"] for labels, _ in samples["greenshield_consumer_lag_messages"]} >= {"0"}
    assert _total(samples, "greenshield_store_commit_seconds_count") >= 1
    assert {labels["partition"] for labels, _ in samples["greenshield_watermark_age_seconds"]} == every
    assert _total(samples, "greenshield_store_unavailable") == 0


def test_readiness_and_future_dated_events(pipeline: Callable[..., tuple[Settings, str]]) -> None:
    """``greenshield_worker_ready`` is 1 while the worker holds partitions; an event dated 2099 is
    accepted, counted in ``greenshield_events_future_dated_total``, and does not move stream time there."""
    import orjson

    settings, db = pipeline()
    port = free_port()
    future = {"v": 1, "type": "sort_scan", "enterprise_id": "E1000001", "event_id": "future-1",
              "waybill_no": "WB09999999", "occurred_at": "2099-01-01T00:00:00Z", "site_id": "S00000001",
              "staff_id": "P00000001"}
    with WorkerThread(settings, db) as running:
        running.metrics.serve(port)
        assert wait_until(lambda: _total(_scrape(port), "greenshield_worker_ready") == 1)
        send_valid(settings, [orjson.dumps(future)])
        assert wait_until(lambda: _total(_scrape(port), "greenshield_events_accepted_total") == 1)
        samples = _scrape(port)
        marks = [state.clock.watermark() for state in running.worker.parts.states.values()]
    assert _total(samples, "greenshield_events_future_dated_total", enterprise="E1000001") == 1
    import time
    assert all(mark is None or mark[0] <= time.time() + 3600 for mark in marks)  # arrival + 1 h at most
    assert any(mark is not None for mark in marks)
