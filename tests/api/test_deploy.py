"""deploy/: the Grafana dashboards and the Prometheus scrape config name metrics the code exports."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.api.apiworld import World
from prometheus_client import generate_latest

from greenshield.api.metrics import ApiMetrics
from greenshield.stream.metrics import WorkerMetrics
from greenshield.settings import Settings
from greenshield.notifier.metrics import NotifierMetrics

DEPLOY = Path(__file__).resolve().parents[2] / "deploy"


def exported() -> set[str]:
    names: set[str] = set()
    for registry in (ApiMetrics().registry, WorkerMetrics().registry, NotifierMetrics().registry):
        for family in registry.collect():
            suffixes = {"counter": ("_total",), "histogram": ("_bucket", "_sum", "_count")}.get(family.type, ("",))
            names.update(family.name + suffix for suffix in suffixes)
    return names


class TestDashboards:
    def test_every_metric_in_a_dashboard_is_exported(self) -> None:
        known = exported()
        for board in (DEPLOY / "grafana" / "dashboards").glob("*.json"):
            doc = json.loads(board.read_text(encoding="utf-8"))
            exprs = [t["expr"] for p in doc["panels"] for t in p.get("targets", [])]
            used = {m for e in exprs for m in re.findall(r"greenshield_[a-z_]+", e)}
            assert used and used <= known, (board.name, used - known)

    def test_prometheus_scrapes_the_worker_the_service_and_the_notifier_ports(self) -> None:
        text = (DEPLOY / "prometheus.yml").read_text()
        defaults = Settings()
        assert f'"worker:{defaults.metrics_port}"' in text and f'"api:{defaults.api_metrics_port}"' in text
        assert f'"notifier:{defaults.notifier_metrics_port}"' in text and "job_name: greenshield-notifier" in text
        compose = (DEPLOY / "docker-compose.yml").read_text()
        assert re.search(r"\n  notifier:\n(    .*\n)*      - notifier\n", compose), "no notifier service"
        jobs = re.findall(r"job_name:\s*(\S+)", text)
        assert len(jobs) == len(set(jobs)), "Prometheus refuses a config with a job name twice"


class TestAlertRules:
    """deploy/alerts.yml: Prometheus's own promtool runs the rule unit tests in deploy/alerts.test.yml."""

    @pytest.fixture
    def promtool(self) -> str:
        found = shutil.which("promtool")
        if found is None:
            reason = "promtool is not installed: apt-get install -y prometheus (.ci/run installs it)"
            if os.environ.get("CI", "").strip().lower() in ("1", "true", "yes", "on"):
                pytest.fail(f"{reason} (CI=true: a missing tool is a failure, not a skip)", pytrace=False)
            pytest.skip(reason)
        return found

    def test_the_rules_fire_on_the_failures_they_name_and_not_otherwise(self, promtool: str) -> None:
        done = subprocess.run([promtool, "test", "rules", "alerts.test.yml"], cwd=DEPLOY,
                              capture_output=True, text=True, timeout=120)
        assert done.returncode == 0, done.stdout + done.stderr
        assert "SUCCESS" in done.stdout

    def test_every_alert_has_a_unit_test(self) -> None:
        alerts = set(re.findall(r"- alert: (\S+)", (DEPLOY / "alerts.yml").read_text()))
        tested = set(re.findall(r"alertname: (\w+)", (DEPLOY / "alerts.test.yml").read_text()))
        assert len(alerts) >= 5 and alerts <= tested, alerts - tested

    def test_every_metric_in_an_alert_is_exported(self) -> None:
        lines = (DEPLOY / "alerts.yml").read_text().splitlines()
        exprs = [line for line in lines if not re.match(r"\s*(summary|runbook|#)", line)]
        used = {m for e in exprs for m in re.findall(r"greenshield_[a-z_]+", e)}
        assert len(used) >= 5 and used <= exported(), used - exported()

    def test_prometheus_loads_the_rules(self) -> None:
        assert re.search(r"rule_files:\s*\n\s*-\s*/etc/prometheus/alerts.yml", (DEPLOY / "prometheus.yml").read_text())
        compose = (DEPLOY / "docker-compose.yml").read_text()
        assert "./alerts.yml:/etc/prometheus/alerts.yml:ro" in compose


class TestServiceMetrics:
    def test_requests_are_counted_by_route_template(self, world: World) -> None:
        """A trace is counted under its route's template, never under the waybill asked for."""
        world.get("/v1/parcels/ZZ000000000001/trace", "regulator")
        world.client.get("/v1/violations")
        text = generate_latest(world.client.app.state.service.metrics.registry).decode()  # type: ignore[attr-defined]
        assert 'route="/v1/parcels/{waybill}/trace"' in text and "ZZ000000000001" not in text
        assert re.search(r'greenshield_api_requests_total\{method="GET",route="/v1/violations",status="401"\} 1', text)

    def test_junk_paths_and_methods_never_become_labels(self, world: World) -> None:
        """Issue 14: labels come from known sets only: 200 junk paths and methods add no series of their own."""
        metrics = world.client.app.state.service.metrics  # type: ignore[attr-defined]
        for i in range(100):
            world.client.get(f"/junk/E{i:07d}/{'x' * (i % 9)}")
            world.client.request(f"JUNK{i}", "/v1/violations")
        world.get("/v1/parcels/ZZ000000000001/trace", "regulator")
        labels = [s.labels for m in metrics.registry.collect() if m.name == "greenshield_api_requests"
                  for s in m.samples if s.name.endswith("_total")]
        routes = {x["route"] for x in labels}
        methods = {x["method"] for x in labels}
        assert routes <= metrics.routes | {"other"} and "/v1/parcels/{waybill}/trace" in routes
        assert methods <= {"GET", "HEAD", "POST", "other"} and "other" in methods
        assert len(labels) < 10, labels
        text = generate_latest(metrics.registry).decode()
        assert "junk" not in text.lower() and "E0000042" not in text
