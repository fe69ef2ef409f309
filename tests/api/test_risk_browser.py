"""The risk page in headless Chromium (as tests/api/test_dashboard_browser.py): it shows what the API answers.

Over a planted day (tests/api/riskworld.py) served with a province's own model: the map's
cities carry ``/v1/risk/city``'s levels, each kind's ranking starts with the API's first and
a click shows its violation ids, the credit table has ``/v1/credit``'s grades and the
previous period's, times are Beijing time, and an enterprise sees only its own.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from tests.api.apiworld import ENTERPRISE, make_tokens
from tests.api.riskworld import seed_risk_store
from tests.api.test_dashboard_browser import ARTIFACTS, ROOT, beijing, playwright_dir  # noqa: F401  (a fixture)

from greenshield.store.database import Store
from greenshield.devtools.process import free_port, stop_child

pytestmark = pytest.mark.browser
KINDS = ("enterprise", "site", "staff", "sender", "machine", "vehicle", "city")
REGION = ("31", "32", "33", "34")  # the provinces of the vendored map


@pytest.fixture(scope="module")
def risk_seeded(tmp_path_factory: pytest.TempPathFactory) -> Path:
    base = tmp_path_factory.mktemp("risk")
    seed_risk_store(base)
    return base


@pytest.fixture
def risk_server(risk_seeded: Path, tmp_path: Path) -> Iterator[tuple[str, dict[str, str]]]:
    """``greenshield serve`` over a copy of the planted store, with its model; stopped by its pid afterwards."""
    base_dir = tmp_path / "store"
    shutil.copytree(risk_seeded, base_dir)
    db_url = f"sqlite:///{base_dir / 'day.db'}"
    store = Store.open(db_url)
    try:
        tokens = make_tokens(store)
    finally:
        store.close()
    port = free_port()
    env = {**os.environ, "GREENSHIELD_DATA_DIR": str(base_dir / "var"), "GREENSHIELD_HMAC_KEY": "test-hmac-key",
           "GREENSHIELD_CHECKPOINT_EVERY_SECONDS": "3600", "GREENSHIELD_RISK_MODEL": str(base_dir / "risk-model.toml")}
    log = (tmp_path / "serve.log").open("wb")
    proc = subprocess.Popen([sys.executable, "-m", "greenshield.cli", "serve", "--db", db_url, "--host", "127.0.0.1",
                             "--port", str(port), "--metrics-port", "0"],
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
    done = subprocess.run(["node", str(Path(__file__).with_name("risk_browser.cjs")), base, tokens["regulator"],
                           tokens["enterprise"], str(ARTIFACTS), str(profile)],
                          env={**os.environ, "PLAYWRIGHT_DIR": str(playwright_dir)},
                          capture_output=True, text=True, timeout=240)
    assert done.returncode == 0, done.stderr[-3000:]
    result: dict[str, Any] = json.loads(done.stdout)
    return result


class Api:
    def __init__(self, base: str, token: str) -> None:
        self.base, self.headers = base, {"Authorization": f"Bearer {token}"}

    def get(self, path: str) -> httpx.Response:
        return httpx.get(f"{self.base}{path}", headers=self.headers, timeout=60)


def check_regulator(page: dict[str, Any], api: Api) -> None:
    city = api.get("/v1/risk/city?top=1000").json()
    levels = {r["source"]: r["level"] or "" for r in city["results"]}
    shown = {(p["code"], p["level"]) for p in page["map"]}
    assert shown == {(code, levels.get(code, "")) for code, _ in shown}  # every city: the API's level, or none
    assert {c for c in levels if c.startswith(REGION)} <= {code for code, _ in shown}  # each city with parcels drawn
    coloured = {lv for _, lv in shown if lv}
    assert len(coloured) >= 3, shown  # the planted day paints red, orange and yellow cities
    fills = {p["level"]: p["fill"] for p in page["map"]}
    assert len(set(fills.values())) == len(fills)  # one colour per level, none for "no level"
    for kind in KINDS:
        report = api.get(f"/v1/risk/{kind}?top=10").json()
        ranking = page["rankings"][kind]
        assert ranking["sources"] == [r["source"] for r in report["results"]], kind
        first = report["results"][0]
        assert ranking["evidence"]["source"] == first["source"], kind
        assert ranking["evidence"]["ids"] == first["violation_ids"], kind  # the ids behind the score, one click away
        assert ranking["evidence"]["rules"] == first["violations"], kind
    assert page["rankings"]["staff"]["evidence"]["ids"]  # the planted courier's violations are listed
    assert page["asOf"] == {"text": beijing(city["as_of"]), "value": city["as_of"]}


def check_credit(page: dict[str, Any], api: Api) -> None:
    now = api.get("/v1/credit").json()
    before = {g["enterprise_id"]: g["grade"] for g in api.get("/v1/credit?period=2026-10").json()["grades"]}
    assert now["period"] == "2026-11"
    rank = {"A": 1, "B": 2, "C": 3, "D": 4}
    expected = {(g["enterprise_id"], g["grade"], before.get(g["enterprise_id"], "—"),
                 "down" if rank[g["grade"]] > rank[before[g["enterprise_id"]]] else
                 "up" if rank[g["grade"]] < rank[before[g["enterprise_id"]]] else "same")
                for g in now["grades"]}
    shown = {(r["enterprise"], r["grade"].split()[0], r["previous"], r["change"].split()[-1]) for r in page["credit"]}
    assert shown == expected
    assert "down" in {e[3] for e in expected}  # the planted day lowers grades: the change is shown
    warnings = api.get("/v1/warnings?limit=100").json()["items"]
    assert [(w["subject_kind"], w["subject_id"], w["at"]) for w in warnings] == \
        [(w["kind"], w["subject"], w["at"]) for w in page["warnings"]]
    risk = next(w for w in page["warnings"] if w["kind"] != "credit")
    assert risk["shown"] == beijing(risk["at"])


def test_the_risk_page_shows_the_apis_risk_credit_and_warnings(playwright_dir: Path,  # noqa: F811
                                                               risk_server: tuple[str, dict[str, str]],
                                                               tmp_path: Path) -> None:
    base, tokens = risk_server
    page = drive(playwright_dir, base, tokens, tmp_path / "chromium-profile")
    regulator = Api(base, tokens["regulator"])
    assert page["anonymous"] == 401
    assert page["foreign"] == [] and page["errors"] == []  # nothing from outside, no script or CSP errors
    assert page["regulator"]["error"] == "" and page["regulator"]["url"].endswith("/risk")
    assert page["regulator"]["known"] == ["2026-11-30 14:05:00 北京时间 (UTC+8)", "2027-01-01 00:05:07 北京时间 (UTC+8)"]
    check_regulator(page["regulator"], regulator)
    check_credit(page["regulator"], regulator)
    first = regulator.get("/v1/violations?status=open&limit=50").json()["items"][0]
    assert (page["dashboardWaybill"], page["dashboardTime"]) == (first["waybill_no"], beijing(first["occurred_at"]))
    assert (ARTIFACTS / "risk.png").stat().st_size > 20_000


def test_an_enterprise_sees_only_its_own_risk(playwright_dir: Path,  # noqa: F811
                                              risk_server: tuple[str, dict[str, str]], tmp_path: Path) -> None:
    """The API refuses or filters, and the page shows nothing of another enterprise."""
    base, tokens = risk_server
    own, regulator = Api(base, tokens["enterprise"]), Api(base, tokens["regulator"])
    for kind in ("city", "sender"):
        assert own.get(f"/v1/risk/{kind}").status_code == 403
    assert {g["enterprise_id"] for g in own.get("/v1/credit").json()["grades"]} == {ENTERPRISE}
    page = drive(playwright_dir, base, tokens, tmp_path / "chromium-profile")["enterprise"]
    assert page["url"].endswith("/risk") and page["dashboard"] == 403 and page["error"] == ""
    assert page["map"] == 0 and page["mapNote"] and not page["dashboardLink"]
    assert {r["enterprise"] for r in page["credit"]} == {ENTERPRISE}
    assert page["warnings"] and {w["enterprise"] for w in page["warnings"]} == {ENTERPRISE}
    for kind in ("enterprise", "site", "staff", "machine"):
        assert page["rankings"][kind]["sources"], kind
        assert set(page["rankings"][kind]["enterprises"]) == {ENTERPRISE}, kind
    for kind in ("city", "sender"):
        assert page["rankings"][kind]["sources"] == [] and "regulators only" in page["rankings"][kind]["note"]
    others = {g["enterprise_id"] for g in regulator.get("/v1/credit").json()["grades"]} - {ENTERPRISE}
    foreign_sources = {r["source"] for kind in ("site", "staff", "machine", "vehicle")
                       for r in regulator.get(f"/v1/risk/{kind}?top=1000").json()["results"]
                       if r["enterprise_id"] != ENTERPRISE}
    assert others and foreign_sources
    assert not [x for x in others | foreign_sources if x in page["text"]]
