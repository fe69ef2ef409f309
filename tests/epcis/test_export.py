"""EPCIS exports of a simulated day: schema-valid, every event type mapped, hash IDs right, scoped, no personal data."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
from tests.api.apiworld import ENTERPRISE, OTHER, World

from greenshield import cli
from greenshield.store import schema as t
from greenshield.epcis.hashid import event_hash_id
from greenshield.epcis.mapping import CONTEXT, STEPS, object_event

import sqlalchemy as sa


def _personal(lines: list[bytes]) -> set[str]:
    """Every plain sender name and ID number of the input (as tests/store/test_privacy.py collects them)."""
    found: set[str] = set()
    for line in lines:
        try:
            sender = json.loads(line).get("sender")
        except (ValueError, AttributeError):
            continue
        if isinstance(sender, dict):
            found.update(v.strip() for k in ("name", "id_number") if isinstance(v := sender.get(k), str)
                         and len(v.strip()) >= 2)
    return found


def _leaks(blob: bytes, values: set[str]) -> list[str]:
    tokens = {m.decode() for m in re.findall(rb"[0-9A-Za-z]+", blob)}
    return sorted(v for v in values if (v in tokens if v.isascii() else v.encode() in blob))


def _check(doc: dict[str, Any], validator: Any) -> list[dict[str, Any]]:
    """Valid against the GS1 schema; every eventID is the recomputed CBV 2.0 hash ID; the events."""
    validator.validate(doc)
    events = doc["epcisBody"]["eventList"]
    for ev in events:
        assert ev["eventID"] == event_hash_id(ev, doc["@context"])
        assert re.fullmatch(r"ni:///sha-256;[0-9a-f]{64}\?ver=CBV2\.0", ev["eventID"])
    return events


def _waybills(seeded: Path, enterprise: str | None = None, limit: int = 40) -> list[str]:
    engine = sa.create_engine(f"sqlite:///{seeded / 'day.db'}")
    q = sa.select(t.events.c.waybill_no).where(t.events.c.waybill_no.is_not(None)).distinct().limit(limit)
    if enterprise:
        q = q.where(t.events.c.enterprise_id == enterprise)
    with engine.connect() as conn:
        found = [r[0] for r in conn.execute(q)]
    engine.dispose()
    return found


@pytest.fixture
def gs(monkeypatch: pytest.MonkeyPatch, seeded: Path) -> Any:
    monkeypatch.setenv("GREENSHIELD_DATA_DIR", str(seeded / "var"))
    monkeypatch.setenv("GREENSHIELD_HMAC_KEY", "test-hmac-key")
    return lambda *argv: cli.main([str(a) for a in argv])


def _db(world: World) -> str:
    return world.settings.db_url


class TestMapping:
    EVENT = {"event_id": "e-1", "enterprise_id": "E1000001", "type": "depart", "occurred_at": "2026-11-11T08:00:00.5+08:00",
             "waybill_no": "YT0000000001", "site_id": "S31000001", "staff_id": "P10000001", "vehicle_id": "V10000001",
             "to_site_id": "S32000001", "result": None}

    def test_a_depart_is_departing_in_transit_to_its_destination(self) -> None:
        ev = object_event(self.EVENT)
        assert (ev["bizStep"], ev["disposition"], ev["action"]) == ("departing", "in_transit", "OBSERVE")
        assert ev["eventTimeZoneOffset"] == "+08:00" and "bizLocation" not in ev
        assert ev["readPoint"] == {"id": "https://greenshield.example/id/site/S31000001"}
        assert ev["destinationList"] == [{"type": "location", "destination": "https://greenshield.example/id/site/S32000001"}]
        assert ev["epcList"] == ["https://greenshield.example/id/parcel/E1000001/YT0000000001"]
        assert (ev["gs:staffID"], ev["gs:vehicleID"], ev["gs:eventRef"]) == ("P10000001", "V10000001", "e-1")

    def test_the_hash_id_covers_the_staff_id(self) -> None:
        assert object_event(self.EVENT)["eventID"] != object_event({**self.EVENT, "staff_id": "P10000002"})["eventID"]

    def test_results_pick_the_disposition(self) -> None:
        xray = {**self.EVENT, "type": "xray", "machine_id": "X10000001"}
        assert [object_event({**xray, "result": r})["disposition"] for r in ("clear", "suspicious", "prohibited")] == \
            ["conformant", "in_progress", "non_conformant"]
        refused = {**self.EVENT, "type": "acceptance", "inspection": {"inspector_id": "P2", "result": "refused",
                                                                       "category": "secret free text"}}
        ev = object_event(refused)
        assert (ev["bizStep"], ev["disposition"], ev["action"], ev["gs:inspectorID"]) == \
            ("accepting", "non_conformant", "ADD", "P2")
        assert "secret free text" not in json.dumps(ev)

    def test_an_event_without_offset_is_refused(self) -> None:
        with pytest.raises(ValueError):
            object_event({**self.EVENT, "occurred_at": "2026-11-11T08:00:00"})


class TestCommand:
    def test_waybills_of_a_simulated_day_validate_with_every_event_type(
            self, gs: Any, seeded: Path, tmp_path: Path, validator: Any, day_lines: list[bytes],
            capsys: pytest.CaptureFixture[str]) -> None:
        out = tmp_path / "export.jsonld"
        waybills = _waybills(seeded, limit=400)
        assert gs("export", "epcis", *waybills, "--db", f"sqlite:///{seeded / 'day.db'}", "-o", out) == 0
        doc = json.loads(out.read_bytes())
        events = _check(doc, validator)
        assert {ev["bizStep"] for ev in events} == {s for s, _, _ in STEPS.values()}
        assert {ev["epcList"][0].rsplit("/", 1)[1] for ev in events} == set(waybills)
        staffed = [ev["gs:staffID"] for ev in events if "gs:staffID" in ev]  # 可倒查: the person, namespaced
        assert len(staffed) > len(events) // 2 and all(re.fullmatch(r"P[0-9]{8}", s) for s in staffed)
        assert _leaks(out.read_bytes() + capsys.readouterr().out.encode(), _personal(day_lines)) == []
        assert len(_personal(day_lines)) > 20

    def test_a_window_and_its_limit(self, gs: Any, seeded: Path, tmp_path: Path, validator: Any,
                                    capsys: pytest.CaptureFixture[str]) -> None:
        db = f"sqlite:///{seeded / 'day.db'}"
        span = ("--since", "2000-01-01T00:00:00Z", "--until", "2100-01-01T00:00:00+08:00")
        assert gs("export", "epcis", *span, "--db", db, "--limit", "5") == 3
        assert "more than 5 events" in capsys.readouterr().err
        out = tmp_path / "all.jsonld"
        assert gs("export", "epcis", *span, "--db", db, "--enterprise", ENTERPRISE, "-o", out) == 0
        events = _check(json.loads(out.read_bytes()), validator)
        assert events and all(ev["gs:enterpriseID"] == ENTERPRISE for ev in events)

    def test_usage_errors(self, gs: Any, seeded: Path, capsys: pytest.CaptureFixture[str]) -> None:
        db = f"sqlite:///{seeded / 'day.db'}"
        assert gs("export", "epcis", "--db", db) == 2
        assert gs("export", "epcis", "YT00000001", "--since", "2026-01-01T00:00:00Z", "--db", db) == 2
        assert gs("export", "epcis", "--since", "yesterday", "--until", "2026-01-01T00:00:00Z", "--db", db) == 2
        assert capsys.readouterr().err.count("greenshield export epcis:") == 3


class TestRoute:
    def test_a_waybill_for_the_regulator_and_its_own_enterprise(self, world: World, seeded: Path, validator: Any) -> None:
        waybill = _waybills(seeded, ENTERPRISE, 1)[0]
        r = world.get(f"/v1/epcis/events?waybill={waybill}", "regulator")
        assert r.status_code == 200 and r.headers["content-type"].startswith("application/ld+json")
        assert _check(r.json(), validator)
        mine = world.get(f"/v1/epcis/events?waybill={waybill}", "enterprise")
        assert mine.status_code == 200
        assert {ev["gs:enterpriseID"] for ev in _check(mine.json(), validator)} == {ENTERPRISE}

    def test_another_enterprises_parcel_is_404_and_naming_it_403(self, world: World, seeded: Path) -> None:
        theirs = next(w for w in _waybills(seeded, ENTERPRISE, 400) if w not in set(_waybills(seeded, OTHER, 10_000)))
        r = world.get(f"/v1/epcis/events?waybill={theirs}", "other")
        assert r.status_code == 404 and theirs not in r.text
        assert world.get("/v1/epcis/events?waybill=NOSUCHWAYBILL1", "regulator").status_code == 404
        span = "since=2000-01-01T00:00:00Z&until=2100-01-01T00:00:00Z"
        assert world.get(f"/v1/epcis/events?{span}&enterprise_id={ENTERPRISE}", "other").status_code == 403
        window = world.get(f"/v1/epcis/events?{span}&perPage=1000", "other").json()["epcisBody"]["eventList"]
        assert window and {ev["gs:enterpriseID"] for ev in window} == {OTHER}

    def test_a_window_pages_by_link(self, world: World, validator: Any) -> None:
        url: str | None = "/v1/epcis/events?since=2000-01-01T00:00:00Z&until=2100-01-01T00:00:00Z&perPage=400"
        seen: list[str] = []
        pages = 0
        while url:
            r = world.get(url, "regulator")
            assert r.status_code == 200
            seen += [ev["eventID"] for ev in _check(r.json(), validator)]
            link = r.headers.get("link")
            url = link[1:link.index(">")] if link else None
            pages += 1
        with world.store.read() as conn:
            parcel_events = conn.execute(sa.select(sa.func.count()).select_from(t.events)
                                         .where(t.events.c.type != "registry")).scalar_one()
        assert pages > 1 and len(seen) == parcel_events

    def test_bad_requests(self, world: World) -> None:
        for query in ("", "since=2026-01-01T00:00:00Z", "waybill=YT00000001&since=2026-01-01T00:00:00Z&until=2026-01-02T00:00:00Z",
                      "since=2026-01-01T00:00:00Z&until=2026-01-02T00:00:00Z&perPage=100000",
                      "waybill=YT00000001&nextPageToken=5"):
            assert world.get(f"/v1/epcis/events?{query}", "regulator").status_code in (400, 422), query
        assert world.client.get("/v1/epcis/events?waybill=YT00000001").status_code == 401
