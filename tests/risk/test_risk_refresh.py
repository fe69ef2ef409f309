"""The service's catch-up policy: a small backlog is caught up by the request, a large one in the background.

While a background catch-up runs (one at a time) a ranking is computed from the side tables
as they stand, not from ``events`` (the slow reference), unless they are too far behind.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path

import orjson
import pytest

from greenshield.api import routes_risk
from greenshield.store import risk_data, risk_index
from greenshield.store.pipeline import Audit, open_audit
from greenshield.store.pipeline import run as run_pipeline
from greenshield.store.risk_report import risk_report
from tests.support.store import settings_for
from greenshield.store.verdicts import latest_parcel_instant
from greenshield.risk.model import default_model
from greenshield.rules.pack import default_pack
from greenshield.rules.timestamps import parse_instant
from greenshield.simulate.day import Simulation

MODEL = default_model()


@pytest.fixture(scope="module")
def lines() -> list[bytes]:
    events = [e for e in Simulation(300, 11, fault_rate=0.2).events() if e["type"] != "registry"]
    return [orjson.dumps(e) for e in sorted(events, key=lambda e: parse_instant(e["occurred_at"]))]


@pytest.fixture
def audit(tmp_path: Path) -> Iterator[Audit]:
    opened = open_audit(settings_for(tmp_path / "var", "sqlite://"), f"sqlite:///{tmp_path / 'day.db'}")
    yield opened
    opened.close()


def behind_by(audit: Audit) -> int:
    with audit.store.read() as conn:
        at = risk_index.position(conn)
    assert at is not None
    return max(0, at[1] - at[0])


def test_a_small_backlog_is_caught_up_by_the_request_a_large_one_in_the_background(
        audit: Audit, lines: list[bytes], monkeypatch: pytest.MonkeyPatch) -> None:
    guard = threading.Lock()
    run_pipeline(audit, [("a", lines[:1500])], default_pack())
    assert routes_risk.keep_up(audit.store, guard) is None and behind_by(audit) == 0  # first build: here
    run_pipeline(audit, [("b", lines[1500:2000])], default_pack())
    assert routes_risk.keep_up(audit.store, guard) is None and behind_by(audit) == 0  # 500 <= SYNC_BACKLOG

    monkeypatch.setattr(routes_risk, "SYNC_BACKLOG", 100)
    run_pipeline(audit, [("c", lines[2000:])], default_pack())
    backlog = behind_by(audit)
    assert backlog > 100
    with guard:  # a catch-up is running: the request neither waits nor starts another
        assert routes_risk.keep_up(audit.store, guard) is None
        assert behind_by(audit) == backlog

    def no_events_path(*_: object) -> None:
        raise AssertionError("ranked from events")

    monkeypatch.setattr(risk_data, "_event_exposure", no_events_path)
    with audit.store.read() as conn:
        latest = latest_parcel_instant(conn)
        assert latest is not None
        assert routes_risk.usable_behind(conn)  # backlog <= BEHIND_MAX
        assert risk_report(conn, "site", latest[0], MODEL, behind=True)["results"]  # from the tables as they stand
        with pytest.raises(AssertionError, match="ranked from events"):
            risk_report(conn, "site", latest[0], MODEL)  # behind the store: the reference path
        monkeypatch.setattr(routes_risk, "BEHIND_MAX", backlog - 1)
        assert not routes_risk.usable_behind(conn)  # too far behind: the service ranks from events

    thread = routes_risk.keep_up(audit.store, guard)
    assert thread is not None
    thread.join(timeout=60)
    assert not thread.is_alive() and not guard.locked() and behind_by(audit) == 0
