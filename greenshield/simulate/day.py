"""A simulated "Double 11" day: parcel journeys merged into one time-ordered stream.

Parcels are generated in order of acceptance time and every event of a parcel is
at or after that time, so pending events (kept in one-minute buckets) can be
released, before each new parcel, up to the minute before its acceptance: the
stream comes out sorted by ``occurred_at`` (as instants; ties in generation order,
registry records first) while only the events of parcels still in flight are
held in memory (about 180 MB at the peak of a 1-million-event day, as bytes).

Determinism: every random choice comes from ``random.Random`` objects seeded
with strings derived from the seed; nothing reads the clock or global state.
"""

from __future__ import annotations

import bisect
import random
from collections.abc import Callable, Iterator
from datetime import datetime
from typing import Any

import orjson

from greenshield.simulate import faults, ids
from greenshield.simulate.model import CST_OFFSET_MS, Ev, format_ts, local_date, to_ms
from greenshield.simulate.network import (
    DAY_MS,
    HOUR_MS,
    HUBS,
    MINUTE_MS,
    Enterprise,
    Network,
    RegistryRecord,
    Site,
    pick_weighted,
    travel_ms,
)

Payload = dict[str, Any] | bytes  # an event, or a malformed line (noise)
_SEQ_BITS = 40  # pending events are keyed time << _SEQ_BITS | sequence

DEFAULT_START = "2026-11-11T00:00:00+08:00"

# acceptances per hour of the day: a Double 11 profile with an evening peak
DAY_PROFILE: tuple[int, ...] = (6, 4, 2, 1, 1, 1, 2, 4, 7, 9, 10, 10, 9, 9, 10, 11, 12, 13, 14, 16, 17, 15, 11, 8)
_PROFILE_CUM: list[float] = []
_acc = 0.0
for _w in DAY_PROFILE:
    _acc += _w
    _PROFILE_CUM.append(_acc / sum(DAY_PROFILE))
del _acc

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

# per enterprise: (share written in Z, share written with +00:00, share with a fraction)
_TS_STYLE: dict[str, tuple[float, float, float]] = {
    "E3100001": (0.05, 0.0, 0.02),
    "E3100002": (0.10, 0.05, 0.0),
    "E3200001": (0.10, 0.0, 0.5),
    "E3300001": (0.15, 0.02, 0.03),
    "E3300002": (0.0, 0.0, 0.05),
}

NOISE_EXPECT = {
    "exact_duplicate": "drop",
    "conflicting_duplicate": "reject",
    "malformed_json": "reject",
    "no_offset": "reject",
}


def parse_start(text: str) -> datetime:
    """An RFC 3339 timestamp with an offset (``Z`` allowed)."""
    dt = datetime.fromisoformat(text.strip())
    if dt.tzinfo is None:
        raise ValueError(f"start time {text!r} has no UTC offset")
    return dt


class Simulation:
    """One simulated day. Iterating twice gives the same events (deterministic per seed).

    ``manifest`` lists every injected fault and noise line of the latest complete
    run: ``{"kind": "fault", "waybill_no", "enterprise_id", "intended_rule", "variant"}``
    or ``{"kind": "noise", "waybill_no", "enterprise_id", "event_id", "noise", "expect"}``.

    With ``shared_waybill_rate`` > 0, that share of parcels reuse the waybill number of
    an earlier parcel of another enterprise (contract §8.1: still two parcels, each judged
    apart), listed as ``{"kind": "shared_waybill", "waybill_no", "enterprise_id", "owner"}``.
    The choice has its own random stream, so the rest of the day is the same as without it.
    """

    def __init__(
        self,
        parcels: int,
        seed: int,
        fault_rate: float = 0.05,
        start: datetime | None = None,
        noise_rate: float = 0.0,
        shared_waybill_rate: float = 0.0,
    ) -> None:
        if parcels < 0:
            raise ValueError("parcels must be >= 0")
        if not 0.0 <= fault_rate <= 1.0:
            raise ValueError("fault_rate must be within [0, 1]")
        if not 0.0 <= noise_rate <= 1.0:
            raise ValueError("noise_rate must be within [0, 1]")
        if not 0.0 <= shared_waybill_rate <= 1.0:
            raise ValueError("shared_waybill_rate must be within [0, 1]")
        self.shared_waybill_rate = shared_waybill_rate
        self.parcels = parcels
        self.seed = seed
        self.fault_rate = fault_rate
        self.noise_rate = noise_rate
        self.start = start if start is not None else parse_start(DEFAULT_START)
        self.start_ms = to_ms(self.start)
        self.manifest: list[dict[str, Any]] = []

    # -- public iterators ---------------------------------------------------------

    def network(self) -> Network:
        """The network (sites, staff, registry timeline) the run uses."""
        return Network(random.Random(f"greenshield-network/{self.seed}"), self.parcels, self.start_ms)

    def timed_events(self) -> Iterator[tuple[int, dict[str, Any]]]:
        """``(epoch_ms, event)`` in time order. Malformed-JSON noise has no dict form and is left out."""
        for t, ev in _Run(self, as_bytes=False).run():
            if isinstance(ev, dict):
                yield t, ev

    def events(self) -> Iterator[dict[str, Any]]:
        """Events in time order (registry records interleaved at their times)."""
        for _, ev in self.timed_events():
            yield ev

    def timed_lines(self) -> Iterator[tuple[int, bytes]]:
        """``(epoch_ms, JSON line ending in a newline)`` in time order."""
        for t, line in _Run(self, as_bytes=True).run():
            assert isinstance(line, bytes)
            yield t, line

    def lines(self) -> Iterator[bytes]:
        """JSON Lines, each ending in a newline, in time order."""
        for _, line in _Run(self, as_bytes=True).run():
            assert isinstance(line, bytes)
            yield line

    def shuffled_lines(self) -> list[bytes]:
        """Every line, in a random order seeded by the seed (holds all lines in memory)."""
        out = list(self.lines())
        random.Random(f"greenshield-shuffle/{self.seed}").shuffle(out)
        return out


def _identity(d: dict[str, Any]) -> dict[str, Any]:
    return d


_OPT = orjson.OPT_APPEND_NEWLINE


def _dumps(d: dict[str, Any]) -> bytes:
    # copied: orjson's own result object keeps a buffer several times its length
    return bytes(memoryview(orjson.dumps(d, option=_OPT)))


class _Run:
    """The state of one pass over the day."""

    def __init__(self, sim: Simulation, as_bytes: bool) -> None:
        self.sim = sim
        # bytes: events are rendered as soon as made (compact, and invisible to the
        # garbage collector while they wait); dicts: malformed-JSON noise is left out
        self.as_bytes = as_bytes
        self.render: Callable[[dict[str, Any]], Payload] = _dumps if as_bytes else _identity
        self.net = sim.network()
        self.rng = random.Random(f"greenshield-parcels/{sim.seed}")
        self._random = self.rng.random
        self._timeline = self.net.timeline
        self.start_ms = sim.start_ms
        self.waybill_next: dict[str, int] = {}
        self.shared_rng = random.Random(f"greenshield-shared/{sim.seed}")
        self.recent: dict[str, list[str]] = {}  # enterprise -> its latest waybills not yet shared
        self.event_counter: dict[str, int] = {}
        self.manifest: list[dict[str, Any]] = []
        for e in self.net.enterprises:
            d = e.spec.waybill_digits
            self.waybill_next[e.spec.id] = self.rng.randrange(10 ** (d - 1), 3 * 10 ** (d - 1))
            self.event_counter[e.spec.id] = self.rng.randrange(1000, 100000)

    # -- the merge loop -----------------------------------------------------------

    def run(self) -> Iterator[tuple[int, Payload]]:
        """``(time, event)`` in time order: dicts, or JSON lines when ``as_bytes``."""
        # pending events in one-minute buckets, each {time << 32 | sequence: event}: no
        # per-event container that the garbage collector would have to traverse
        buckets: dict[int, dict[int, Payload]] = {}
        seq = 0
        reg_counter: dict[str, int] = {}
        for rec in self.net.records:
            n = reg_counter.get(rec.enterprise_id, 0) + 1
            reg_counter[rec.enterprise_id] = n
            b = rec.at_ms // MINUTE_MS
            bucket = buckets.get(b)
            if bucket is None:
                bucket = buckets[b] = {}
            bucket[rec.at_ms << _SEQ_BITS | seq] = self.render(_registry_event(rec, n))
            seq += 1
        n_parcels = self.sim.parcels
        released = min(buckets, default=0) - 1  # every bucket <= this one has been released
        for i in range(n_parcels):
            t0 = self._acceptance_time(i, n_parcels)
            # every event still to come is at or after t0: buckets before t0's are complete
            upto = t0 // MINUTE_MS - 1
            if upto > released:
                yield from _release(buckets, released, upto)
                released = upto
            for t, payload in self._parcel(t0):
                b = t // MINUTE_MS
                bucket = buckets.get(b)
                if bucket is None:
                    bucket = buckets[b] = {}
                bucket[t << _SEQ_BITS | seq] = payload
                seq += 1
        if buckets:
            yield from _release(buckets, released, max(buckets))
        self.sim.manifest = self.manifest

    def _acceptance_time(self, i: int, n: int) -> int:
        """Acceptance instants rise with ``i``: a jittered grid through the day profile."""
        u = (i + self.rng.random()) / n
        h = min(bisect.bisect_right(_PROFILE_CUM, u), 23)
        lo = _PROFILE_CUM[h - 1] if h else 0.0
        frac = (u - lo) / (_PROFILE_CUM[h] - lo)
        return self.start_ms + int((h + min(max(frac, 0.0), 0.999999)) * 3600) * 1000

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
        rate = self.sim.shared_waybill_rate
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

    def _parcel(self, t0: int) -> list[tuple[int, Payload]]:
        rng = self.rng
        net = self.net
        e = net.pick_enterprise(rng)
        fault: str | None = None
        if rng.random() < self.sim.fault_rate:
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
        return self._emit(e, waybill, evs)

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

    # -- emission ---------------------------------------------------------------------

    def _emit(self, e: Enterprise, waybill: str, evs: list[Ev]) -> list[tuple[int, Payload]]:
        rng = self.rng
        ent = e.spec.id
        p_z, p_utc, p_frac = _TS_STYLE.get(ent, (0.0, 0.0, 0.0))
        noise_at = -1
        noise_kind = ""
        if rng.random() < self.sim.noise_rate and evs:
            noise_kind = faults.NOISE_KINDS[int(rng.random() * len(faults.NOISE_KINDS))]
            noise_at = int(rng.random() * len(evs))
        out: list[tuple[int, Payload]] = []
        append = out.append
        render = self.render
        random_ = rng.random
        p_zu = p_z + p_utc
        style = e.spec.event_id_style
        base = self.event_counter[ent]
        self.event_counter[ent] = base + len(evs)
        dotted = f"{ent.lower()}.ev."
        for k, ev in enumerate(evs):
            t = ev.t
            if p_frac and random_() < p_frac:
                t += 1 + int(random_() * 999)
            if p_zu:
                r = random_()
                if r < p_z:
                    ts = format_ts(t, 0, "Z")
                elif r < p_zu:
                    ts = format_ts(t, 0, "+00:00")
                else:
                    ts = format_ts(t)
            else:
                ts = format_ts(t)
            if style == "waybill":
                eid = f"{waybill}-{k + 1:02d}"
            elif style == "counter":
                eid = f"EV{base + k + 1:011d}"
            else:
                eid = f"{dotted}{base + k + 1:09d}"
            d: dict[str, Any] = {
                "v": 1,
                "event_id": eid,
                "type": ev.type,
                "enterprise_id": ent,
                "waybill_no": waybill,
                "occurred_at": ts,
                "site_id": ev.site,
            }
            if ev.staff is not None:
                d["staff_id"] = ev.staff
            if ev.extra:
                d.update(ev.extra)
            append((t, render(d)))
            if k == noise_at:
                noisy = self._noise(noise_kind, d, t)
                if noisy is not None:
                    append((t, noisy))
                self.manifest.append(
                    {
                        "kind": "noise",
                        "waybill_no": waybill,
                        "enterprise_id": ent,
                        "event_id": eid,
                        "noise": noise_kind,
                        "expect": NOISE_EXPECT[noise_kind],
                    }
                )
        return out

    def _noise(self, kind: str, d: dict[str, Any], t: int) -> Payload | None:
        rng = self.rng
        copy: dict[str, Any] = orjson.loads(orjson.dumps(d))
        if kind == "exact_duplicate":
            return self.render(copy)
        if kind == "conflicting_duplicate":
            # same key, different content, and no difference to any rule
            if copy["type"] == "acceptance":
                copy["weight_g"] = int(copy["weight_g"]) + 1 + int(rng.random() * 50)
            elif copy["type"] == "xray":
                copy["image_ref"] = f"xr/retry/{t // 1000}"
            else:
                copy["retransmit"] = 1
            return self.render(copy)
        if kind == "no_offset":
            copy["occurred_at"] = format_ts(t, CST_OFFSET_MS, "")
            return self.render(copy)
        text = orjson.dumps(d).decode()
        cut = text[: 10 + int(rng.random() * (len(text) - 12))]
        return (cut + "\n").encode() if self.as_bytes else None


def _release(buckets: dict[int, dict[int, Payload]], after: int, upto: int) -> Iterator[tuple[int, Payload]]:
    """Pop and yield, in order, every bucket with ``after < index <= upto``."""
    if upto - after <= 20_000:
        indices: Iterator[int] | list[int] = iter(range(after + 1, upto + 1))
    else:
        indices = sorted(b for b in buckets if after < b <= upto)
    for b in indices:
        bucket = buckets.pop(b, None)
        if bucket:
            for key in sorted(bucket):
                yield key >> _SEQ_BITS, bucket[key]


def _ent_of(net: Network, site: Site) -> Enterprise:
    for e in net.enterprises:
        if e.spec.id == site.enterprise_id:
            return e
    raise LookupError(site.enterprise_id)


def _registry_event(rec: RegistryRecord, n: int) -> dict[str, Any]:
    return {
        "v": 1,
        "event_id": f"reg:{n:07d}",
        "type": "registry",
        "enterprise_id": rec.enterprise_id,
        "occurred_at": format_ts(rec.at_ms),
        "entity": rec.entity,
        "id": rec.id,
        "status": rec.status,
        **({"person": dict(rec.person)} if rec.person is not None else {}),
    }


def generate(
    parcels: int,
    seed: int,
    fault_rate: float = 0.05,
    start: datetime | None = None,
    noise_rate: float = 0.0,
) -> Iterator[dict[str, Any]]:
    """Events of a simulated day, in time order (see :class:`Simulation`)."""
    return Simulation(parcels, seed, fault_rate, start, noise_rate).events()


def generate_lines(
    parcels: int,
    seed: int,
    fault_rate: float = 0.05,
    start: datetime | None = None,
    noise_rate: float = 0.0,
    shuffle: bool = False,
) -> Iterator[bytes]:
    """The same as JSON Lines (bytes, each ending in ``\\n``); ``shuffle`` gives a seeded random order."""
    sim = Simulation(parcels, seed, fault_rate, start, noise_rate)
    if shuffle:
        return iter(sim.shuffled_lines())
    return sim.lines()
