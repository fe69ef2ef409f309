"""The dashboard in headless Chromium (Debian's package, driven by playwright-core): the page shows the API's figures.

Seeds a store, runs ``greenshield serve`` on a free port of 127.0.0.1, signs in as a
regulator and an auditor, and saves screenshots to ``artifacts/``. playwright-core is
installed from npm into ``var/playwright`` on first use (never committed). Without
Chromium, node or npm the test is skipped with the reason; under ``CI=true`` that is
a failure (`.ci/run` installs the ``chromium`` package).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import httpx
import pytest
from tests.api.apiworld import make_tokens
from tests.support.day import copy_store

from greenshield.store.database import Store
from greenshield.devtools.process import free_port, stop_child

ROOT = Path(__file__).resolve().parents[2]
CHROMIUM = Path("/usr/bin/chromium")
PLAYWRIGHT_DIR = ROOT / "var" / "playwright"
PLAYWRIGHT = "playwright-core@1.65.1"
ARTIFACTS = ROOT / "artifacts"

pytestmark = pytest.mark.browser


def beijing(text: str) -> str:
    """An RFC 3339 instant as the pages show it: ``2026-11-30 14:05:00 北京时间 (UTC+8)``."""
    at = datetime.fromisoformat(text.replace("Z", "+00:00")).astimezone(timezone(timedelta(hours=8)))
    return at.strftime("%Y-%m-%d %H:%M:%S") + " 北京时间 (UTC+8)"


def _unavailable(reason: str) -> None:
    if os.environ.get("CI", "").strip().lower() in ("1", "true", "yes", "on"):
        pytest.fail(f"{reason} (CI=true: a missing browser is a failure, not a skip)", pytrace=False)
    pytest.skip(reason)


@pytest.fixture(scope="module")
def playwright_dir() -> Path:
    """Chromium is there and playwright-core is installed (installing it from npm when missing)."""
    if not CHROMIUM.exists():
        _unavailable("Chromium is not installed: apt-get install -y chromium")
    node, npm = shutil.which("node"), shutil.which("npm")
    if node is None or npm is None:
        _unavailable("node and npm are needed to drive Chromium (playwright-core)")
    if not (PLAYWRIGHT_DIR / "node_modules" / "playwright-core" / "package.json").exists():
        PLAYWRIGHT_DIR.mkdir(parents=True, exist_ok=True)
        done = subprocess.run([str(npm), "install", "--no-audit", "--no-fund", "--prefix", str(PLAYWRIGHT_DIR),
                               PLAYWRIGHT], capture_output=True, text=True, timeout=300)
        if done.returncode != 0:
            _unavailable(f"npm install {PLAYWRIGHT} failed: {done.stderr[-500:]}")
    return PLAYWRIGHT_DIR


@pytest.fixture
def server(seeded: Path, tmp_path: Path) -> Iterator[tuple[str, dict[str, str]]]:
    """``greenshield serve`` over a copy of the seeded store; stopped by its pid afterwards."""
    settings = copy_store(seeded, tmp_path)
    store = Store.open(settings.db_url)
    try:
        tokens = make_tokens(store)
    finally:
        store.close()
    port = free_port()
    env = {**os.environ, "GREENSHIELD_DATA_DIR": str(settings.data_dir), "GREENSHIELD_HMAC_KEY": "test-hmac-key",
           "GREENSHIELD_CHECKPOINT_EVERY_SECONDS": "3600"}
    log = (tmp_path / "serve.log").open("wb")
    proc = subprocess.Popen([sys.executable, "-m", "greenshield.cli", "serve", "--db", settings.db_url,
                             "--host", "127.0.0.1", "--port", str(port), "--metrics-port", "0"],
                            env=env, stdout=log, stderr=subprocess.STDOUT, cwd=ROOT)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                if httpx.get(f"{base}/healthz", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if proc.poll() is not None or time.monotonic() > deadline:
                raise AssertionError(f"serve did not start: {(tmp_path / 'serve.log').read_text()[-2000:]}")
            time.sleep(0.2)
        yield base, tokens
    finally:
        stop_child(proc, timeout=20)
        log.close()


def drive(playwright_dir: Path, base: str, tokens: dict[str, str], profile: Path) -> dict[str, Any]:
    ARTIFACTS.mkdir(exist_ok=True)
    done = subprocess.run(["node", str(Path(__file__).with_name("dashboard_browser.cjs")), base, tokens["regulator"],
                           tokens["auditor"], str(ARTIFACTS), str(profile)],
                          env={**os.environ, "PLAYWRIGHT_DIR": str(playwright_dir)},
                          capture_output=True, text=True, timeout=180)
    assert done.returncode == 0, done.stderr[-3000:]
    result: dict[str, Any] = json.loads(done.stdout)
    return result


def test_the_dashboard_shows_the_apis_figures(playwright_dir: Path, server: tuple[str, dict[str, str]],
                                              tmp_path: Path) -> None:
    """KPIs, compliance rates and the prefecture table on the page equal GET /v1/stats; proofs verify in the page."""
    base, tokens = server
    page = drive(playwright_dir, base, tokens, tmp_path / "chromium-profile")
    stats = httpx.get(f"{base}/v1/stats", headers={"Authorization": f"Bearer {tokens['regulator']}"}).json()

    assert page["anonymous"] == 401
    assert page["foreign"] == [] and page["errors"] == []  # nothing from outside, no script or CSP errors
    assert page["failedAfterSignOut"] == []
    assert int(page["kpi"]["kpi-open"]) == stats["violations"]["open"]
    assert int(page["kpi"]["kpi-retracted"]) == stats["violations"]["retracted"]
    assert int(page["kpi"]["kpi-events-total"]) == stats["events"]["total"]
    rates = {s["system"]: s["compliance_rate"] for s in stats["systems"]}
    for system in ("RN", "IN", "XR"):
        assert float(page["kpi"][f"kpi-rate-{system}"]) == rates[system]
    assert page["kpiText"] == f"{rates['RN'] * 100:.2f}%"
    shown = {(r["prefecture"], r["name"], int(r["parcels"].replace(",", "")), int(r["open"].replace(",", "")))
             for r in page["prefectures"]}
    assert shown == {(c["prefecture"] or "", c["name"], c["parcels"], c["open"]) for c in stats["by_prefecture"]}
    assert ["实名收寄 Real-name", "收寄验视 Inspection", "过机安检 X-ray screening"] == page["labels"][2:]
    assert all(c["drawn"] for c in page["charts"]) and len(page["charts"]) == 3
    assert page["traceRows"] > 0 and page["drilled"] in page["traceTitle"] and page["refreshed"]
    assert page["proofs"] and set(page["proofs"]) == {"verified"}, page["proofText"]
    assert page["lastCheckpoint"].startswith("size ")
    # times in Beijing time, the zone named (the API's are UTC): the trace on both pages, as /v1 gives it
    trace = httpx.get(f"{base}/v1/parcels/{page['drilled']}/trace",
                      headers={"Authorization": f"Bearer {tokens['regulator']}"}).json()
    expected = [beijing(e["occurred_at"]) for e in trace["events"]]
    assert page["traceTimes"] == expected and page["auditorTimes"] == expected
    assert (ARTIFACTS / "dashboard.png").stat().st_size > 10_000
