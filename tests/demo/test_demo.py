"""``greenshield demo`` end to end, bounded (``--duration 30s``, a small rate), in both modes.

Each run checks the issue's three things: the API shows violations while the demo
runs (``GET /v1/violations`` with the regulator token it printed), the audit log
verifies afterwards (``greenshield audit verify`` exits 0), and no process of the demo
is left running (the children its state file names, and any process naming its
store). The Kafka run uses the session's broker through ``--bootstrap``, so the demo
neither starts nor stops a broker; the broker must still answer afterwards and the
run's own topics must be gone.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import httpx
import pytest

from greenshield.devtools.process import running
from tests.support.stream import kafka_client, kafka_security

ROOT = Path(__file__).resolve().parents[2]
DURATION = "30s"
# about 2,200 lines: at 50/s the day outlasts the 30 s, so the run ends by --duration, mid-day
ARGS = ("--parcels", "200", "--rate", "50", "--fault-rate", "0.2", "--noise-rate", "0.02", "--seed", "3",
        "--duration", DURATION, "--port", "0")


class DemoRun:
    """The demo as a child process; its output collected by a thread."""

    def __init__(self, data_dir: Path, *extra: str) -> None:
        env = {k: v for k, v in os.environ.items() if not k.startswith("GREENSHIELD_")}
        env["GREENSHIELD_LOG_LEVEL"] = "WARNING"
        if "--bootstrap" in extra and os.environ.get("GREENSHIELD_KAFKA_CREDENTIALS"):
            # the test broker is secure: the demo logs in to it as its super user
            env["GREENSHIELD_KAFKA_CREDENTIALS"] = os.environ["GREENSHIELD_KAFKA_CREDENTIALS"]
        self.data_dir = data_dir
        self.proc = subprocess.Popen([sys.executable, "-m", "greenshield.cli", "demo", *ARGS,
                                      "--data-dir", str(data_dir), *extra],
                                     stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, cwd=ROOT,
                                     env=env)
        self.lines: list[str] = []
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self.lines.append(line.rstrip("\n"))

    @property
    def output(self) -> str:
        return "\n".join(self.lines)

    def find(self, pattern: str, timeout: float) -> re.Match[str]:
        deadline = time.monotonic() + timeout
        while True:
            found = re.search(pattern, self.output)
            if found:
                return found
            if self.proc.poll() is not None or time.monotonic() > deadline:
                pytest.fail(f"no {pattern!r} in the demo's output:\n{self.output[-3000:]}")
            time.sleep(0.2)

    def wait(self, timeout: float) -> int:
        try:
            code = self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            pytest.fail(f"the demo did not end within {timeout:.0f}s:\n{self.output[-3000:]}")
        self.reader.join(timeout=10)
        return code

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()


def _violations_during_the_run(run: DemoRun) -> list[dict[str, Any]]:
    url = run.find(r"Dashboard\s+(http://127\.0\.0\.1:\d+/)", 180).group(1)
    token = run.find(r"regulator token: (gs_\S+)", 10).group(1)
    headers = {"Authorization": f"Bearer {token}"}
    assert httpx.get(f"{url}v1/violations", timeout=10).status_code == 401  # a token is needed
    while run.proc.poll() is None:
        try:
            page = httpx.get(f"{url}v1/violations", params={"status": "open"}, headers=headers, timeout=10)
        except httpx.HTTPError:
            break  # the run ended meanwhile
        assert page.status_code == 200, page.text
        items: list[dict[str, Any]] = page.json()["items"]
        if items:
            return items
        time.sleep(1)
    pytest.fail(f"the API showed no violation while the demo ran:\n{run.output[-3000:]}")


def _check_after(run: DemoRun, expect_children: set[str]) -> dict[str, Any]:
    state: dict[str, Any] = json.loads((run.data_dir / "demo.json").read_text())
    assert state["state"] == "stopped"
    assert {c["name"] for c in state["children"]} == expect_children
    for child in state["children"]:
        assert not running(child["pid"], child["started"]), f"{child['name']} (pid {child['pid']}) still runs"
        assert child["stopped"] == "stopped", child  # by SIGTERM, in time
    assert not running(state["demo_pid"], state["demo_started"])
    store = str(run.data_dir / "greenshield.db")
    for proc in Path("/proc").iterdir():  # nothing else that names the store either
        if proc.name.isdigit() and proc.name != str(os.getpid()):
            try:
                cmdline = (proc / "cmdline").read_bytes().decode(errors="replace")
            except OSError:
                continue
            assert store not in cmdline, f"pid {proc.name} still runs: {cmdline!r}"
    env = {**os.environ, "GREENSHIELD_DATA_DIR": str(run.data_dir)}
    verify = subprocess.run([sys.executable, "-m", "greenshield.cli", "audit", "verify", "--db", state["db_url"]],
                            capture_output=True, text=True, env=env, cwd=ROOT, timeout=120)
    assert verify.returncode == 0, verify.stdout + verify.stderr
    assert verify.stdout.startswith("OK: ")
    assert f"--duration {DURATION[:-1]}s has passed" in run.output
    assert "greenshield audit verify --db" in run.output and "greenshield violations --db" in run.output
    return state


def test_embedded_demo(tmp_path: Path) -> None:
    run = DemoRun(tmp_path / "demo", "--embedded")
    try:
        items = _violations_during_the_run(run)
        assert {"waybill_no", "rule_id", "status", "enterprise_id"} <= set(items[0])
        assert run.wait(120) == 0, run.output[-3000:]
    finally:
        run.stop()
    state = _check_after(run, {"service"})
    assert state["first_violation_seconds"] is not None


@pytest.mark.kafka
def test_kafka_demo(tmp_path: Path, kafka_bootstrap: str) -> None:
    from kafka import KafkaAdminClient

    from greenshield.devtools.kafka_broker import probe

    run = DemoRun(tmp_path / "demo", "--bootstrap", kafka_bootstrap)
    try:
        items = _violations_during_the_run(run)
        assert items[0]["status"] == "open"
        assert run.wait(180) == 0, run.output[-3000:]
    finally:
        run.stop()
    state = _check_after(run, {"worker", "service"})
    assert state["broker"]["ours"] is False and "the demo leaves it running" in run.output
    probe(kafka_bootstrap, timeout=20.0, security=kafka_security())  # the broker the demo did not start still runs
    assert state["topic_prefix"]
    admin = KafkaAdminClient(**kafka_client(kafka_bootstrap))
    try:  # the run's topics are deleted (the broker may list them for a moment longer)
        deadline = time.monotonic() + 30
        while [t for t in admin.list_topics() if t.startswith(state["topic_prefix"])]:
            assert time.monotonic() < deadline, "the demo's topics were not deleted"
            time.sleep(0.5)
    finally:
        admin.close()
