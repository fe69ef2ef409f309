"""Registry records of the simulated network: everything used is registered, and some licences lapse mid-day."""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime, timedelta, timezone
from typing import Any

from tests.simulate.simdays import Day, instant

START = datetime(2026, 11, 11, tzinfo=timezone(timedelta(hours=8)))


class Registry:
    """Status of an id at an instant, replayed from registry records (latest ``occurred_at <= t`` wins)."""

    def __init__(self, events: list[dict[str, Any]]) -> None:
        self.history: dict[str, list[tuple[datetime, str]]] = defaultdict(list)
        self.entity: dict[str, str] = {}
        for ev in events:
            if ev["type"] == "registry":
                self.history[ev["id"]].append((instant(ev["occurred_at"]), ev["status"]))
                self.entity[ev["id"]] = ev["entity"]
        for h in self.history.values():
            h.sort(key=lambda x: x[0])

    def status(self, ident: str, at: datetime) -> str | None:
        found = None
        for t, s in self.history.get(ident, ()):
            if t <= at:
                found = s
        return found


def references(ev: dict[str, Any]) -> list[tuple[str, str]]:
    """(entity, id) of every registry-checked reference of a parcel event."""
    refs = [("site", ev["site_id"])]
    if "staff_id" in ev:
        refs.append(("staff", ev["staff_id"]))
    if "machine_id" in ev:
        refs.append(("xray_machine", ev["machine_id"]))
    if "vehicle_id" in ev:
        refs.append(("vehicle", ev["vehicle_id"]))
    if "contract_customer_id" in ev:
        refs.append(("contract_customer", ev["contract_customer_id"]))
    if isinstance(ev.get("inspection"), dict) and "inspector_id" in ev["inspection"]:
        refs.append(("staff", ev["inspection"]["inspector_id"]))
    return refs


class TestRegistryRecords:
    """The day opens with registry records of every entity kind, and changes some during the day."""

    def test_every_entity_kind_registered(self, clean_day: Day) -> None:
        kinds = {ev["entity"] for ev in clean_day.registry()}
        assert kinds == {"site", "staff", "xray_machine", "vehicle", "contract_customer", "person"}  # §8.2

    def test_several_enterprises(self, clean_day: Day) -> None:
        assert len({ev["enterprise_id"] for ev in clean_day.events}) >= 4

    def test_mid_day_changes(self, clean_day: Day) -> None:
        day_end = START + timedelta(hours=24)
        changes = {
            (ev["entity"], ev["status"])
            for ev in clean_day.registry()
            if START <= instant(ev["occurred_at"]) < day_end
        }
        for expected in [
            ("staff", "suspended"), ("staff", "revoked"), ("staff", "blacklisted"), ("staff", "active"),
            ("xray_machine", "suspended"), ("xray_machine", "active"),
            ("vehicle", "revoked"), ("contract_customer", "suspended"),
        ]:
            assert expected in changes, expected

    def test_a_machine_is_suspended_for_a_few_hours(self, clean_day: Day) -> None:
        reg = Registry(clean_day.events)
        windows = []
        for ident, hist in reg.history.items():
            if reg.entity[ident] == "xray_machine":
                for (t1, s1), (t2, s2) in zip(hist, hist[1:]):
                    if s1 == "suspended" and s2 == "active" and t1 >= START:
                        windows.append(t2 - t1)
        assert windows and all(timedelta(hours=1) <= w <= timedelta(hours=6) for w in windows)


class TestReferences:
    """In a day without faults every reference is active when used; faults use the lapsed ones."""

    def test_clean_day_uses_only_active_entities(self, clean_day: Day) -> None:
        reg = Registry(clean_day.events)
        for ev in clean_day.events:
            if ev["type"] == "registry":
                continue
            at = instant(ev["occurred_at"])
            for entity, ident in references(ev):
                assert reg.entity.get(ident) == entity, (entity, ident)
                assert reg.status(ident, at) == "active", (ev, ident)

    def test_staff_who_lose_their_licence_work_before_that(self, clean_day: Day) -> None:
        reg = Registry(clean_day.events)
        lapsing = {
            ident for ident, hist in reg.history.items()
            if reg.entity[ident] == "staff" and any(s != "active" and t >= START for t, s in hist)
        }
        used = {ev.get("staff_id") for ev in clean_day.events if ev["type"] != "registry"}
        assert lapsing & used

    def test_pr2_faults_use_staff_not_active_at_the_time(self, faulty_day: Day) -> None:
        reg = Registry(faulty_day.events)
        pr2 = {m["waybill_no"] for m in faulty_day.manifest if m.get("intended_rule") == "PR-2"}
        assert pr2
        for waybill, evs in faulty_day.parcels().items():
            if waybill not in pr2:
                continue
            bad = [
                ident for ev in evs for entity, ident in references(ev)
                if entity == "staff" and reg.status(ident, instant(ev["occurred_at"])) not in (None, "active")
            ]
            assert bad, waybill
