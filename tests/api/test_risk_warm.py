"""The warm snapshot of the latest risk rankings: what it serves, to whom, when it is refreshed, and its thread."""

from __future__ import annotations

import dataclasses
import time
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from tests.api.apiworld import ENTERPRISE, OTHER, World, make_tokens
from tests.support.day import copy_store
from fastapi.testclient import TestClient

from greenshield.api.app import check, create_app
from greenshield.api.routes_risk import RiskWarmer, usable_behind
from greenshield.store import schema as t
from greenshield.store.intake_files import Intake
from greenshield.translog.keys import hmac_key
from greenshield.store.risk_report import risk_report
from greenshield.store.database import Store
from greenshield.store.verdicts import latest_parcel_instant
from greenshield.risk.model import KINDS, default_model
from greenshield.settings import Settings

OWN_KINDS = ("enterprise", "site", "staff", "machine", "vehicle")


def warmer(world: World) -> RiskWarmer:
    found = world.client.app.state.risk_warmer  # type: ignore[attr-defined]
    assert isinstance(found, RiskWarmer)
    return found


def fresh(world: World, kind: str, top: int, enterprise: str | None = None, window_s: int | None = None
          ) -> dict[str, Any]:
    """``risk_report`` now at the latest parcel event, with the fields the API adds, for the snapshot's answer."""
    with world.store.read() as conn:
        cut = latest_parcel_instant(conn)
        assert cut is not None
        entry = conn.execute(sa.select(sa.func.max(t.audit_log.c.id))).scalar()
        doc = risk_report(conn, kind, cut[0], default_model(), window_s, top, enterprise, behind=usable_behind(conn))
    return {**doc, "snapshot": True, "computed_for_entry": entry}


def add_later_parcels(world: World, parcels: int = 40) -> int:
    """Parcel events of a later day, fed as the worker feeds them (the latest parcel instant moves on)."""
    from greenshield.simulate import generate_lines

    with world.store.read() as conn:
        cut = latest_parcel_instant(conn)
    assert cut is not None
    start = datetime.fromtimestamp(cut[0] + 86400, tz=timezone.utc)
    lines = [x for x in generate_lines(parcels, 11, start=start) if b'"type":"registry"' not in x]
    intake = Intake(world.store, hmac_key(world.settings))
    intake.feed(lines, "later")
    world.client.app.state.service.sequencer.integrate()  # type: ignore[attr-defined]
    assert intake.stats.stored > 0
    return intake.stats.stored


def test_a_latest_request_on_a_changed_store_gets_the_snapshot(world: World) -> None:
    """After the store changed, the latest ranking is still the snapshot: exactly ``risk_report`` on the earlier state."""
    assert warmer(world).step()
    expected = {kind: fresh(world, kind, 20) for kind in KINDS}
    whole = fresh(world, "site", 1000)
    add_later_parcels(world)
    for kind in KINDS:
        assert world.get(f"/v1/risk/{kind}", "regulator").json() == expected[kind], kind
    assert world.get("/v1/risk/site?top=1000", "regulator").json() == whole
    assert world.get("/v1/risk/site?window=30d", "regulator").json() == expected["site"]  # the default window
    now = world.get("/v1/risk/site?window=7d", "regulator").json()  # another window: computed on the new state
    assert now["snapshot"] is False and now["as_of"] > expected["site"]["as_of"]


def test_an_explicit_as_of_is_computed_on_the_store_as_it_is(world: World) -> None:
    """``as_of`` bypasses the snapshot, even at the snapshot's own instant: the store's events count as they are now."""
    assert warmer(world).step()
    snap = world.get("/v1/risk/site", "regulator").json()
    add_later_parcels(world)
    at = snap["as_of"].replace("+", "%2B")
    r = world.get(f"/v1/risk/site?as_of={at}", "regulator").json()
    assert r["snapshot"] is False and r["computed_for_entry"] > snap["computed_for_entry"]
    assert r["as_of"] == snap["as_of"]
    with world.store.read() as conn:
        entry = conn.execute(sa.select(sa.func.max(t.audit_log.c.id))).scalar()
    assert r["computed_for_entry"] == entry


def test_the_warmer_steps_only_when_the_store_changed_and_picks_the_change_up(world: World) -> None:
    """A step on an unchanged store computes nothing; after new events the next step ranks at their instant."""
    w = warmer(world)
    assert w.step() and not w.step()
    before = world.get("/v1/risk/site", "regulator").json()
    add_later_parcels(world)
    assert world.get("/v1/risk/site", "regulator").json() == before  # until the next step
    assert w.step() and not w.step()
    expected = fresh(world, "site", 20)  # after the step: it caught the side tables up
    after = world.get("/v1/risk/site", "regulator").json()
    assert after == expected and after["as_of"] > before["as_of"]
    assert after["computed_for_entry"] > before["computed_for_entry"]


def test_an_enterprise_gets_exactly_its_own_view_from_the_snapshot(world: World) -> None:
    """Cut from the regulator's whole ranking: equal to ``risk_report(enterprise=...)``, never another's source."""
    assert warmer(world).step()
    for who, enterprise in (("enterprise", ENTERPRISE), ("other", OTHER)):
        for kind in OWN_KINDS:
            for top in (1000, 3):
                doc = world.get(f"/v1/risk/{kind}?top={top}", who).json()
                assert doc == fresh(world, kind, top, enterprise), (who, kind, top)
                assert doc["results"] and {x["enterprise_id"] for x in doc["results"]} == {enterprise}
        for kind in ("sender", "city"):
            assert world.get(f"/v1/risk/{kind}", who).status_code == 403
    regulator = world.get("/v1/risk/site?top=1000", "regulator").json()
    assert {x["enterprise_id"] for x in regulator["results"]} - {ENTERPRISE} != set()  # there was more to keep out


def test_without_a_snapshot_the_ranking_is_computed(world: World) -> None:
    """A cold service (no step yet) computes as before, and says so."""
    doc = world.get("/v1/risk/site", "regulator").json()
    assert doc["snapshot"] is False and doc == {**fresh(world, "site", 20), "snapshot": False}


def test_setting_zero_turns_it_off(seeded: Path, tmp_path: Path) -> None:
    """``GREENSHIELD_RISK_WARM_SECONDS=0``: no warmer, every latest ranking is computed; negative is refused."""
    assert Settings.from_env({"GREENSHIELD_RISK_WARM_SECONDS": "0"}).risk_warm_seconds == 0
    assert Settings.from_env({}).risk_warm_seconds == 30
    settings = dataclasses.replace(copy_store(seeded, tmp_path), risk_warm_seconds=0)
    with pytest.raises(ValueError, match="GREENSHIELD_RISK_WARM_SECONDS"):
        check(dataclasses.replace(settings, risk_warm_seconds=-1))
    store = Store.open(settings.db_url)
    try:
        app = create_app(settings, store, upkeep_seconds=3600)
        assert app.state.risk_warmer is None
        with TestClient(app) as client:
            auth = {"Authorization": f"Bearer {make_tokens(store)['regulator']}"}
            assert client.get("/v1/risk/site", headers=auth).json()["snapshot"] is False
    finally:
        store.close()


def test_the_thread_warms_at_start_and_stops_on_shutdown(seeded: Path, tmp_path: Path) -> None:
    """With background work on, the warmer's thread steps at start; the app's shutdown stops it."""
    settings = dataclasses.replace(copy_store(seeded, tmp_path), risk_warm_seconds=3600)
    store = Store.open(settings.db_url)
    try:
        app = create_app(settings, store, upkeep_seconds=3600)
        auth = {"Authorization": f"Bearer {make_tokens(store)['regulator']}"}
        w = app.state.risk_warmer
        assert isinstance(w, RiskWarmer) and not w.thread.is_alive()
        with TestClient(app) as client:
            deadline = time.monotonic() + 60
            while w.marker is None and time.monotonic() < deadline:  # waiting for the first step, not timing it
                time.sleep(0.05)
            assert w.thread.is_alive() and set(w.rankings) == set(KINDS)
            assert client.get("/v1/risk/site", headers=auth).json()["snapshot"] is True
        assert w.stopped.is_set() and not w.thread.is_alive()
    finally:
        store.close()
