"""A store for the risk page: a day of planted risk across 31 October and 1 November, warnings and grades recorded.

Besides the planted sources (greenshield.simulate.planted), acceptances from a few cities
lose their inspection at a city's own rate, so that the map shows several levels; the day
spans two credit periods, so that the credit table shows grade changes.

``python -m tests.api.riskworld DIR`` (from the repo root) builds it in ``DIR`` (``DIR/day.db``, keys in ``DIR/var``), for
the README's screenshot (tests/demo/dashboard_screenshot.cjs).
"""

from __future__ import annotations

import random
import sys
from datetime import datetime
from pathlib import Path
from typing import Any

import orjson

from greenshield.store.pipeline import open_audit
from greenshield.store.pipeline import run as run_pipeline
from greenshield.store.risk_report import record_credit, record_risk_warnings
from greenshield.store.stats import prefecture_of
from tests.support.store import settings_for
from greenshield.store.verdicts import latest_parcel_instant
from greenshield.risk.model import KINDS, load_model
from greenshield.rules.pack import default_pack
from greenshield.settings import Settings
from greenshield.simulate.day import Simulation
from greenshield.simulate.planted import plant

PARCELS, SEED = 1200, 11
START = datetime.fromisoformat("2026-10-31T14:00:00+08:00")
PERIODS = ("2026-10", "2026-11")
CITY_SKIPS = {"320500": 0.9, "330100": 0.35, "320100": 0.6, "330300": 1.0}  # share of acceptances not inspected
# a province's own model (what it leaves out keeps the defaults): levels on an absolute scale, per 1,000 parcels
MODEL = """[model]
name = "greenshield-risk-demo"
version = "1"

[risk.levels]
basis = "per_mille"
blue = 60.0
yellow = 290.0
orange = 320.0
red = 340.0
"""


def _skip_inspections(events: list[dict[str, Any]]) -> None:
    rng = random.Random(SEED)
    for ev in events:
        share = CITY_SKIPS.get(prefecture_of(ev.get("origin_region")) or "") if ev["type"] == "acceptance" else None
        if share is not None and rng.random() < share:
            ev.pop("inspection", None)


def risk_lines() -> list[bytes]:
    """The planted day, with the cities' skipped inspections."""
    events = plant(list(Simulation(PARCELS, SEED, fault_rate=0.01, start=START).events()), SEED).events
    _skip_inspections(events)
    return [orjson.dumps(e) for e in events]


def model_file(base: Path) -> Path:
    path = base / "risk-model.toml"
    path.write_text(MODEL)
    return path


def seed_risk_store(base: Path) -> Settings:
    """The day in ``base/day.db`` and the model in ``base/risk-model.toml`` (serve it with GREENSHIELD_RISK_MODEL);
    the risk warnings at the latest parcel and both periods' grades recorded."""
    settings = settings_for(base / "var", f"sqlite:///{base / 'day.db'}")
    model = load_model(model_file(base))
    audit = open_audit(settings)
    try:
        run_pipeline(audit, [("risk-day.jsonl", risk_lines())], default_pack())
        with audit.store.read() as conn:
            latest = latest_parcel_instant(conn)
        assert latest is not None
        for kind in KINDS:
            record_risk_warnings(audit.store, kind, latest[0], model)
        for period in PERIODS:
            record_credit(audit.store, period, model)
        audit.sequencer.integrate(close=True)
    finally:
        audit.close()
    return settings


if __name__ == "__main__":
    out = Path(sys.argv[1])
    out.mkdir(parents=True, exist_ok=True)
    print(seed_risk_store(out).db_url)
