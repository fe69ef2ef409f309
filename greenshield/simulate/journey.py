"""Parcel journeys of the simulated day: outlet, hubs, screening and delivery, with the staff, machines,
vehicles and customers on duty, and the injected faults (:mod:`greenshield.simulate.faults`)."""

from __future__ import annotations

import random
from typing import Any

from greenshield.simulate import faults, ids
from greenshield.simulate.entities import Enterprise, Site
from greenshield.simulate.geography import HUBS, travel_ms
from greenshield.simulate.model import CST_OFFSET_MS, DAY_MS, HOUR_MS, MINUTE_MS, Ev, format_ts, local_date
from greenshield.simulate.network import Network, pick_weighted

CATEGORIES = (
    "clothing", "clothing", "shoes", "cosmetics", "electronics", "mobile_phone", "books", "documents",
    "food", "snacks", "toys", "household", "daily_necessities", "sports", "tea", "silk", "small_appliance",
)
INTERCEPT_REASONS = (
    "管制刀具", "易燃液体", "锂电池超标", "仿真枪支", "烟花爆竹", "压缩气体", "疑似毒品", "腐蚀性物品",
    "prohibited: flammable liquid", "prohibited: controlled knife",
)
DELIVERY_METHODS = ("hand", "hand", "hand", "hand", "locker", "locker", "locker", "station", "station", "hand")

P_CONTRACT = 0.3  # parcels from contract customers (merchants on Double 11)
P_SUSPICIOUS = 0.03
P_PROHIBITED = 0.004


class Journeys:
    """Builds one parcel's events at a time; every random choice comes from ``rng`` (and the shared-waybill
    choice from ``shared_rng``), in the order the day has always drawn them."""

    def __init__(self, rng: random.Random, net: Network, start_ms: int, fault_rate: float,
                 shared_waybill_rate: float, shared_rng: random.Random, waybill_next: dict[str, int],
                 manifest: list[dict[str, Any]]) -> None:
        self.rng = rng
        self._random = rng.random
        self.net = net
        self._timeline = net.timeline
        self.start_ms = start_ms
        self.fault_rate = fault_rate
        self.shared_waybill_rate = shared_waybill_rate
        self.shared_rng = shared_rng
        self.waybill_next = waybill_next
        self.recent: dict[str, list[str]] = {}  # enterprise -> its latest waybills not yet shared
        self.manifest = manifest

    # -- choices ----------------------------------------------------------------------

    def _staff(self, site: Site, t: int) -> str:
        pool = site.staff
        p = pool[int(self._random() * len(pool))]
        if p in self._timeline and not self.net.active(p, t):
            pool = site.stable_staff
            p = pool[int(self.rng.random() * len(pool))]
        return p

    def _machine(self, hub: Site, t: int) -> str:
        pool = hub.machines
        m = pool[int(self.rng.random() * len(pool))]
        if m in self.net.timeline and not self.net.active(m, t):
            pool = hub.stable_machines
            m = pool[int(self.rng.random() * len(pool))]
        return m

    def _vehicle(self, pool: list[str], stable: list[str], dep: int, arr: int) -> str:
        v = pool[int(self.rng.random() * len(pool))]
        if v in self.net.timeline and not (
            self.net.active(v, dep) and self.net.active(v, arr + 10 * MINUTE_MS)
        ):
            v = stable[int(self.rng.random() * len(stable))]
        return v

    def _slot(self, t: int, period: int, offset: int) -> int:
        """The first scheduled departure at or after ``t``."""
        base = self.start_ms + offset
        k = -((base - t) // period)  # ceil((t - base) / period)
        return base + k * period

    def _minutes(self, lo: float, hi: float) -> int:
        return int((lo + self._random() * (hi - lo)) * 60) * 1000

    def _waybill(self, e: Enterprise) -> str:
        n = self.waybill_next[e.spec.id]
        self.waybill_next[e.spec.id] = n + 1 + int(self.rng.random() * 9)
        return f"{e.spec.waybill_prefix}{n:0{e.spec.waybill_digits}d}"

    def _shared_waybill(self, e: Enterprise, own: str) -> str:
        """``own``, or (at the shared-waybill rate) a recent waybill of another enterprise, shared once."""
        rate = self.shared_waybill_rate
        if rate <= 0.0:
            return own
        rng = self.shared_rng
        if rng.random() < rate:
            others = sorted(k for k, v in self.recent.items() if k != e.spec.id and v)
            if others:
                owner = others[int(rng.random() * len(others))]
                pool = self.recent[owner]
                waybill = pool.pop(int(rng.random() * len(pool)))
                self.manifest.append({"kind": "shared_waybill", "waybill_no": waybill,
                                      "enterprise_id": e.spec.id, "owner": owner})
                return waybill
        pool = self.recent.setdefault(e.spec.id, [])
        pool.append(own)
        if len(pool) > 64:
            del pool[0]
        return own

    def _customer(self, e: Enterprise, t: int) -> str:
        c = e.customers[int(self.rng.random() * len(e.customers))]
        if c in self.net.timeline and not self.net.active(c, t):
            c = e.stable_customers[int(self.rng.random() * len(e.stable_customers))]
        return c

    # -- one parcel -----------------------------------------------------------------

    def parcel(self, t0: int) -> tuple[Enterprise, str, list[Ev]]:
        """One parcel accepted at ``t0``: its enterprise, waybill and events (a fault among them at the fault rate)."""
        rng = self.rng
        net = self.net
        e = net.pick_enterprise(rng)
        fault: str | None = None
        if rng.random() < self.fault_rate:
            fault = faults.RULES[int(rng.random() * len(faults.RULES))]
        outlet = pick_weighted(rng, e.outlets, e.outlet_cum)
        if fault == "XR-2":
            outlet = self._outlet_near_suspended_machine(e, t0) or outlet
        station = pick_weighted(rng, e.stations, e.station_cum)
        if fault == "XR-1" and (station.hub_key == outlet.hub_key or not HUBS[station.hub_key][2]):
            # screened only at the second hub: needs a second hub within a few hours
            station = rng.choice([s for s in e.stations if s.hub_key != outlet.hub_key and HUBS[s.hub_key][2]])
        h1 = e.hubs[outlet.hub_key]
        h2 = e.hubs[station.hub_key]
        waybill = self._shared_waybill(e, self._waybill(e))
        variant = ""
        evs: list[Ev] = []

        acceptance = self._acceptance(e, outlet, station, t0)
        # outlet -> first hub
        ready = t0 + self._minutes(10, 60)
        if fault == "XR-4":
            ready = t0 + self._minutes(24.5 * 60, 28 * 60)
            variant = "held_at_outlet"
        dep = self._slot(ready, 2 * HOUR_MS, outlet.slot_offset_ms) + int(rng.random() * 600) * 1000
        arr = dep + travel_ms(rng, outlet.prefecture, h1.prefecture)
        v = self._vehicle(h1.feeder, h1.stable_feeder, dep, arr)
        tr1 = ""
        if fault == "TR-1":
            tr1 = "missing_acceptance" if rng.random() < 0.5 else "late_acceptance"
            variant = tr1
        else:
            evs.append(acceptance)
            evs.append(Ev(dep, "depart", outlet.id, self._staff(outlet, dep), {"vehicle_id": v, "to_site_id": h1.id}))
        evs.append(Ev(arr, "arrive", h1.id, self._staff(h1, arr), {"vehicle_id": v, "from_site_id": outlet.id}))
        t = arr + self._minutes(5, 40)
        evs.append(Ev(t, "sort_scan", h1.id, self._staff(h1, t), None))
        t += self._minutes(1, 20)
        if fault == "XR-1":
            variant = "screened_only_at_next_hub"
            stopped = False
        else:
            mode = fault if fault in ("XR-2", "XR-3", "PH-1", "PH-2") else ("clear" if tr1 else "normal")
            t, stopped, v2 = self._screen(evs, h1, t, mode)
            variant = v2 or variant
        if tr1 == "late_acceptance":
            # the outlet's acceptance record is entered at the hub more than 6h late
            t = evs[0].t + 6 * HOUR_MS + self._minutes(5, 150)
            acceptance.t = t
            acceptance.site = h1.id
            acceptance.staff = self._staff(h1, t)
            inspection = acceptance.extra["inspection"]
            assert isinstance(inspection, dict)
            inspection["inspector_id"] = self._staff(h1, t)
            inspection["inspected_at"] = format_ts(t - int(rng.random() * 150) * 1000)
            customer = acceptance.extra.get("contract_customer_id")
            if isinstance(customer, str) and not net.active(customer, t):
                acceptance.extra["contract_customer_id"] = self._customer(e, t)
            evs.append(acceptance)
        if not stopped:
            dep = self._slot(t + self._minutes(10, 40), HOUR_MS, h1.slot_offset_ms) + int(rng.random() * 600) * 1000
            last = h1
            if h2 is not h1:
                arr = dep + travel_ms(rng, h1.prefecture, h2.prefecture)
                v = self._vehicle(h1.trunk, h1.stable_trunk, dep, arr)
                evs.append(Ev(dep, "depart", h1.id, self._staff(h1, dep), {"vehicle_id": v, "to_site_id": h2.id}))
                evs.append(Ev(arr, "arrive", h2.id, self._staff(h2, arr), {"vehicle_id": v, "from_site_id": h1.id}))
                t = arr + self._minutes(5, 40)
                evs.append(Ev(t, "sort_scan", h2.id, self._staff(h2, t), None))
                if fault == "XR-1":
                    t += self._minutes(1, 20)
                    evs.append(self._xray(h2, t, self._machine(h2, t), "clear"))
                dep = self._slot(t + self._minutes(10, 40), HOUR_MS, h2.slot_offset_ms) + int(rng.random() * 600) * 1000
                last = h2
            arr = dep + travel_ms(rng, last.prefecture, station.prefecture)
            v = self._vehicle(last.feeder, last.stable_feeder, dep, arr)
            evs.append(Ev(dep, "depart", last.id, self._staff(last, dep), {"vehicle_id": v, "to_site_id": station.id}))
            evs.append(Ev(arr, "arrive", station.id, self._staff(station, arr), {"vehicle_id": v, "from_site_id": last.id}))
            t = self._delivery_time(arr + self._minutes(20, 180))
            method = DELIVERY_METHODS[int(rng.random() * len(DELIVERY_METHODS))]
            evs.append(Ev(t, "delivery", station.id, self._staff(station, t), {"method": method}))

        if fault is not None and fault in faults.POST_HOC:
            variant = faults.apply(fault, faults.FaultContext(rng, net, e, evs))
        if fault is not None:
            self.manifest.append(
                {"kind": "fault", "waybill_no": waybill, "enterprise_id": e.spec.id, "intended_rule": fault, "variant": variant}
            )
        return e, waybill, evs

    def _acceptance(self, e: Enterprise, outlet: Site, station: Site, t: int) -> Ev:
        rng = self.rng
        extra: dict[str, object] = {}
        if rng.random() < P_CONTRACT:
            extra["contract_customer_id"] = self._customer(e, t)
            if rng.random() < 0.25:
                extra["sender"] = ids.sender(rng, local_date(t))
        else:
            extra["sender"] = ids.sender(rng, local_date(t))
        staff = self._staff(outlet, t)
        inspector = staff if rng.random() < 0.7 else self._staff(outlet, t)
        extra["inspection"] = {
            "inspector_id": inspector,
            "inspected_at": format_ts(t - int(rng.random() * 150) * 1000),
            "result": "passed",
            "category": CATEGORIES[int(rng.random() * len(CATEGORIES))],
        }
        extra["origin_region"] = outlet.region
        extra["destination_region"] = station.prefecture if rng.random() < 0.1 else station.region
        extra["weight_g"] = max(20, int(rng.lognormvariate(6.6, 0.9)))
        return Ev(t, "acceptance", outlet.id, staff, extra)

    def _outlet_near_suspended_machine(self, e: Enterprise, t0: int) -> Site | None:
        """An outlet feeding a hub whose machine is suspended a couple of hours after ``t0``."""
        for mid in e.changing_machines:
            if not self.net.active(mid, t0 + 2 * HOUR_MS):
                hub_key = self.net.machine_site[mid].hub_key
                options = [o for o in e.outlets if o.hub_key == hub_key]
                if options:
                    return self.rng.choice(options)
        return None

    def _xray(self, hub: Site, t: int, machine: str, result: str) -> Ev:
        extra: dict[str, object] = {"machine_id": machine, "result": result}
        if self.rng.random() < 0.8:
            extra["image_ref"] = f"xr/{machine}/{t // 1000}"
        return Ev(t, "xray", hub.id, self._staff(hub, t), extra)

    def _interception(self, hub: Site, t: int) -> Ev:
        extra: dict[str, object] = {"reason": INTERCEPT_REASONS[int(self.rng.random() * len(INTERCEPT_REASONS))]}
        if self.rng.random() < 0.7:
            extra["report_no"] = f"GA{local_date(t).strftime('%Y%m%d')}{int(self.rng.random() * 10**6):06d}"
        return Ev(t, "interception", hub.id, self._staff(hub, t), extra)

    def _screen(self, evs: list[Ev], hub: Site, t: int, mode: str) -> tuple[int, bool, str]:
        """Screening at the first hub: returns (time, parcel stopped?, fault variant)."""
        rng = self.rng
        if mode == "XR-2":
            bad = [m for m in hub.machines if m in self.net.timeline and not self.net.active(m, t)]
            if bad:
                machine, variant = rng.choice(bad), "suspended_machine"
            elif rng.random() < 0.7:
                machine, variant = rng.choice(hub.decommissioned_machines), "revoked_machine"
            else:
                machine, variant = rng.choice(self._ent(hub).unregistered_machines), "unregistered_machine"
            evs.append(self._xray(hub, t, machine, "clear"))
            t += self._minutes(3, 20)
            evs.append(self._xray(hub, t, self._machine(hub, t), "clear"))
            return t, False, variant
        if mode == "XR-3":
            evs.append(self._xray(hub, t, self._machine(hub, t), "suspicious"))
            t += self._minutes(3, 20)
            evs.append(self._xray(hub, t, self._machine(hub, t), "clear"))
            return t, False, "rescanned_without_manual_check"
        if mode == "PH-1":
            evs.append(self._xray(hub, t, self._machine(hub, t), "clear"))
            t += self._minutes(10, 60)
            evs.append(self._xray(hub, t, self._machine(hub, t), "prohibited"))
            t += self._minutes(5, 60)
            evs.append(self._interception(hub, t))
            return t, False, "shipped_after_interception"
        if mode == "PH-2":
            r = rng.random()
            if r < 0.35:
                evs.append(self._xray(hub, t, self._machine(hub, t), "suspicious"))
                t += self._minutes(5, 40)
                evs.append(Ev(t, "manual_check", hub.id, self._staff(hub, t), {"result": "prohibited"}))
                return t, True, "manual_check_prohibited_not_intercepted"
            evs.append(self._xray(hub, t, self._machine(hub, t), "prohibited"))
            if r < 0.7:
                return t, True, "not_intercepted"
            t += self._minutes(130, 360)
            evs.append(self._interception(hub, t))
            return t, True, "intercepted_late"
        r = rng.random() if mode == "normal" else 1.0
        if r < P_PROHIBITED:
            evs.append(self._xray(hub, t, self._machine(hub, t), "prohibited"))
            t += self._minutes(5, 90)
            evs.append(self._interception(hub, t))
            return t, True, ""
        if r < P_PROHIBITED + P_SUSPICIOUS:
            evs.append(self._xray(hub, t, self._machine(hub, t), "suspicious"))
            t += self._minutes(5, 40)
            if rng.random() < 0.1:
                evs.append(Ev(t, "manual_check", hub.id, self._staff(hub, t), {"result": "prohibited"}))
                t += self._minutes(5, 70)
                evs.append(self._interception(hub, t))
                return t, True, ""
            evs.append(Ev(t, "manual_check", hub.id, self._staff(hub, t), {"result": "cleared"}))
            return t, False, ""
        evs.append(self._xray(hub, t, self._machine(hub, t), "clear"))
        return t, False, ""

    def _ent(self, site: Site) -> Enterprise:
        return _ent_of(self.net, site)

    def _delivery_time(self, t: int) -> int:
        """Couriers deliver between 07:30 and 21:30 local time."""
        local = (t + CST_OFFSET_MS) % DAY_MS
        open_ms, close_ms = 7 * HOUR_MS + 30 * MINUTE_MS, 21 * HOUR_MS + 30 * MINUTE_MS
        if local < open_ms:
            return t + (open_ms - local) + self._minutes(0, 180)
        if local > close_ms:
            return t + (DAY_MS - local) + open_ms + self._minutes(0, 180)
        return t


def _ent_of(net: Network, site: Site) -> Enterprise:
    for e in net.enterprises:
        if e.spec.id == site.enterprise_id:
            return e
    raise LookupError(site.enterprise_id)
