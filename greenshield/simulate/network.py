"""The simulated Yangtze Delta express network: every enterprise's sites, staff, X-ray machines, vehicles
and contract customers, with a registry timeline (who is licensed since when, and the mid-day suspensions).

Times are integer milliseconds since the Unix epoch throughout the simulator.
"""

from __future__ import annotations

import bisect
import math
import random

from greenshield.simulate import ids
from greenshield.simulate.entities import ENTERPRISES, Enterprise, EnterpriseSpec, RegistryRecord, Site
from greenshield.simulate.geography import HUBS, PREFECTURES, prefecture_of
from greenshield.simulate.model import DAY_MS, MINUTE_MS, local_date


class Network:
    """All enterprises of the simulated delta and the registry timeline."""

    def __init__(self, rng: random.Random, parcels: int, start_ms: int) -> None:
        self.start_ms = start_ms
        self.records: list[RegistryRecord] = []
        # id -> sorted [(at_ms, status)] for every entity whose status ever changes
        # (or that is registered only during the day); absent ids are either
        # always-active (in ``_registered``) or unregistered
        self.timeline: dict[str, list[tuple[int, str]]] = {}
        self.site_of_staff: dict[str, Site] = {}
        self.machine_site: dict[str, Site] = {}
        self._used: set[str] = set()
        self._rng = rng
        self._registered: set[str] = set()
        self.enterprises: list[Enterprise] = []
        self.enterprise_cum: list[float] = []
        acc = 0.0
        for spec in ENTERPRISES:
            self.enterprises.append(self._build(spec, parcels))
            acc += spec.share
            self.enterprise_cum.append(acc)
        self._plan_blacklist()
        self.records.sort(key=lambda r: r.at_ms)

    # -- identifiers --------------------------------------------------------

    def new_id(self, prefix: str) -> str:
        rng = self._rng
        while True:
            ident = f"{prefix}{rng.randrange(10**8):08d}"
            if ident not in self._used:
                self._used.add(ident)
                return ident

    # -- registry -------------------------------------------------------------

    def _register(self, ent: str, entity: str, ident: str) -> None:
        """Registered active some time before the day, never changing."""
        rng = self._rng
        at = self.start_ms - rng.randint(2, 900) * DAY_MS + rng.randint(-6 * 3600, 6 * 3600) * 1000
        self.records.append(RegistryRecord(at, ent, entity, ident, "active"))

    def _history(self, ent: str, entity: str, ident: str, changes: list[tuple[int, str]]) -> None:
        """Registered with a status history (first entry normally ``active``)."""
        self.timeline[ident] = sorted(changes)
        for at, status in changes:
            self.records.append(RegistryRecord(at, ent, entity, ident, status))

    def status_at(self, ident: str, at_ms: int) -> str | None:
        """The registry status of ``ident`` at ``at_ms`` (``None``: unregistered)."""
        changes = self.timeline.get(ident)
        if changes is None:
            return "active" if ident in self._registered else None
        status: str | None = None
        for t, s in changes:
            if t <= at_ms:
                status = s
            else:
                break
        return status

    def active(self, ident: str, at_ms: int) -> bool:
        changes = self.timeline.get(ident)
        if changes is None:
            return ident in self._registered
        return self.status_at(ident, at_ms) == "active"

    def _midday(self, lo_h: float = 5.0, hi_h: float = 20.0) -> int:
        """A whole-second instant during the simulated day."""
        return self.start_ms + int(self._rng.uniform(lo_h, hi_h) * 3600) * 1000

    def _past(self, lo_d: int, hi_d: int) -> int:
        return self.start_ms - self._rng.randint(lo_d, hi_d) * DAY_MS - self._rng.randint(0, 86399) * 1000

    # -- building ---------------------------------------------------------------

    def _build(self, spec: EnterpriseSpec, parcels: int) -> Enterprise:
        rng = self._rng
        ent = spec.id
        scale = max(parcels * spec.share, 1.0)
        n_outlets = max(6, min(80, int(math.sqrt(scale) / 1.5)))
        n_stations = max(8, min(90, int(math.sqrt(scale) / 1.3)))
        staff_outlet = max(2, min(10, 2 + int(scale // 8000)))
        staff_station = max(2, min(12, 2 + int(scale // 6000)))
        staff_hub = max(4, min(40, 4 + int(scale // 1500)))

        def make_site(kind: str, region: str, hub_key: str) -> Site:
            site = Site(
                id=self.new_id("S"),
                enterprise_id=ent,
                kind=kind,
                region=region,
                prefecture=prefecture_of(region),
                hub_key=hub_key,
                slot_offset_ms=rng.randrange(0, 120) * MINUTE_MS,
            )
            self._register(ent, "site", site.id)
            self._registered.add(site.id)
            n = {"outlet": staff_outlet, "station": staff_station, "hub": staff_hub}[kind]
            for _ in range(n):
                pid = self.new_id("P")
                self._register(ent, "staff", pid)
                self._registered.add(pid)
                site.staff.append(pid)
                self.site_of_staff[pid] = site
            return site

        hubs: dict[str, Site] = {}
        for key, (_, district, _in_delta) in HUBS.items():
            hub = make_site("hub", district, key)
            for _ in range(rng.randint(3, 5)):
                mid = self.new_id("X")
                self._register(ent, "xray_machine", mid)
                self._registered.add(mid)
                hub.machines.append(mid)
                self.machine_site[mid] = hub
            # a machine decommissioned last month: registry says revoked
            old = self.new_id("X")
            self._history(ent, "xray_machine", old, [(self._past(400, 1500), "active"), (self._past(5, 60), "revoked")])
            hub.decommissioned_machines.append(old)
            self.machine_site[old] = hub
            for pool in (hub.feeder, hub.trunk):
                for _ in range(rng.randint(3, 6) + int(scale // 20000)):
                    vid = self.new_id("V")
                    self._register(ent, "vehicle", vid)
                    self._registered.add(vid)
                    pool.append(vid)
            hubs[key] = hub

        origin_prefs = [p for p in PREFECTURES if p[5] > 0]
        origin_cum = list(_cumsum([float(p[5]) for p in origin_prefs]))
        dest_cum = list(_cumsum([float(p[6]) for p in PREFECTURES]))

        outlets: list[Site] = []
        outlet_weights: list[float] = []
        # every delta hub serves at least one outlet, so the network is connected
        for key, (pref, _, in_delta) in HUBS.items():
            if in_delta:
                p = next(p for p in PREFECTURES if p[0] == pref)
                outlets.append(make_site("outlet", rng.choice(p[7]), key))
                outlet_weights.append(float(p[5]))
        while len(outlets) < n_outlets:
            p = origin_prefs[bisect.bisect_right(origin_cum, rng.random() * origin_cum[-1])]
            outlets.append(make_site("outlet", rng.choice(p[7]), p[4]))
            outlet_weights.append(float(p[5]))
        stations: list[Site] = []
        station_weights: list[float] = []
        seen_prefs: set[str] = set()
        for p in PREFECTURES:
            # one station in each big destination city
            if p[6] >= 3:
                stations.append(make_site("station", rng.choice(p[7]), p[4]))
                station_weights.append(float(p[6]))
                seen_prefs.add(p[0])
        while len(stations) < n_stations:
            p = PREFECTURES[bisect.bisect_right(dest_cum, rng.random() * dest_cum[-1])]
            stations.append(make_site("station", rng.choice(p[7]), p[4]))
            station_weights.append(float(p[6]))
        # a city's parcels spread over its stations
        per_pref: dict[str, int] = {}
        for s in stations:
            per_pref[s.prefecture] = per_pref.get(s.prefecture, 0) + 1
        station_weights = [w / per_pref[s.prefecture] for w, s in zip(station_weights, stations)]
        per_pref = {}
        for s in outlets:
            per_pref[s.prefecture] = per_pref.get(s.prefecture, 0) + 1
        outlet_weights = [w / per_pref[s.prefecture] * (0.5 + rng.random()) for w, s in zip(outlet_weights, outlets)]

        customers: list[str] = []
        for _ in range(rng.randint(5, 9) + int(scale // 10000)):
            cid = self.new_id("C")
            self._register(ent, "contract_customer", cid)
            self._registered.add(cid)
            customers.append(cid)

        e = Enterprise(
            spec=spec,
            hubs=hubs,
            outlets=outlets,
            outlet_cum=list(_cumsum(outlet_weights)),
            stations=stations,
            station_cum=list(_cumsum(station_weights)),
            customers=customers,
            stable_customers=[],
        )
        self._plan_changes(e)
        for site in [*hubs.values(), *outlets, *stations]:
            site.stable_staff = [p for p in site.staff if p not in self.timeline]
            site.stable_machines = [m for m in site.machines if m not in self.timeline]
            site.stable_feeder = [v for v in site.feeder if v not in self.timeline]
            site.stable_trunk = [v for v in site.trunk if v not in self.timeline]
        e.stable_customers = [c for c in customers if c not in self.timeline]
        return e

    def _plan_changes(self, e: Enterprise) -> None:
        """Mid-day registry changes and the entities only faults use."""
        rng = self._rng
        ent = e.spec.id
        hubs = list(e.hubs.values())
        delta_hubs = [h for h in hubs if HUBS[h.hub_key][2]]
        sites = [*delta_hubs, *e.outlets, *e.stations]

        # staff: suspended (one reinstated), revoked, blacklisted during the day
        plans = [("suspended", True), ("suspended", False), ("revoked", False), ("blacklisted", False)]
        for status, reinstated in plans:
            site = rng.choice(delta_hubs) if rng.random() < 0.6 else rng.choice(sites)
            candidates = [p for p in site.staff if p not in self.timeline]
            if len(candidates) < 2:
                continue
            pid = rng.choice(candidates)
            self._registered.discard(pid)
            self.records[:] = [r for r in self.records if r.id != pid]
            at = self._midday(4.0, 18.0)
            changes = [(self._past(30, 900), "active"), (at, status)]
            if reinstated:
                changes.append((at + rng.randint(2 * 3600, 6 * 3600) * 1000, "active"))
            self._history(ent, "staff", pid, changes)
            e.changing_staff.append(pid)
        # a new hire, registered during the day (unregistered before that)
        for _ in range(2):
            site = rng.choice(sites)
            pid = self.new_id("P")
            self._history(ent, "staff", pid, [(self._midday(6.0, 14.0), "active")])
            site.staff.append(pid)
            self.site_of_staff[pid] = site
            e.new_hires.append(pid)
        # former staff: revoked or blacklisted before the day
        for status in ("revoked", "blacklisted", "suspended"):
            pid = self.new_id("P")
            self._history(ent, "staff", pid, [(self._past(200, 1500), "active"), (self._past(3, 150), status)])
            self.site_of_staff[pid] = rng.choice(sites)
            e.former_staff.append(pid)
        e.unregistered_staff = [self.new_id("P") for _ in range(3)]

        # machines: one (sometimes two) suspended for a few hours, then active again
        for hub in rng.sample(delta_hubs, 2 if rng.random() < 0.5 else 1):
            mid = rng.choice(hub.machines)
            self._registered.discard(mid)
            self.records[:] = [r for r in self.records if r.id != mid]
            at = self._midday(6.0, 18.0)
            back = at + rng.randint(2 * 3600, 5 * 3600) * 1000
            self._history(
                ent, "xray_machine", mid,
                [(self._past(100, 1500), "active"), (at, "suspended"), (back, "active")],
            )
            e.changing_machines.append(mid)
        e.unregistered_machines = [self.new_id("X") for _ in range(2)]

        # vehicles: one revoked and one suspended during the day
        for status in ("revoked", "suspended"):
            hub = rng.choice(delta_hubs)
            vid = rng.choice(hub.feeder if rng.random() < 0.5 else hub.trunk)
            if vid in self.timeline:
                continue
            self._registered.discard(vid)
            self.records[:] = [r for r in self.records if r.id != vid]
            self._history(ent, "vehicle", vid, [(self._past(30, 900), "active"), (self._midday(5.0, 17.0), status)])
            e.changing_vehicles.append(vid)
        for _ in range(2):
            vid = self.new_id("V")
            self._history(ent, "vehicle", vid, [(self._past(300, 1500), "active"), (self._past(2, 90), "revoked")])
            e.former_vehicles.append(vid)
        e.unregistered_vehicles = [self.new_id("V") for _ in range(2)]

        # contract customers: one suspended mid-day; one revoked and one blacklisted before
        cid = rng.choice(e.customers)
        self._registered.discard(cid)
        self.records[:] = [r for r in self.records if r.id != cid]
        self._history(ent, "contract_customer", cid, [(self._past(60, 900), "active"), (self._midday(6.0, 16.0), "suspended")])
        e.changing_customers.append(cid)
        for status in ("revoked", "blacklisted"):
            cid = self.new_id("C")
            self._history(ent, "contract_customer", cid, [(self._past(200, 900), "active"), (self._past(5, 120), status)])
            e.former_customers.append(cid)
        e.unregistered_customers = [self.new_id("C")]

    def _plan_blacklist(self) -> None:
        """The regional blacklist (revision 2 §8.2): for each enterprise B, a person blacklisted as staff
        of the next enterprise A and re-registered at B under a new staff id; and a holder of a B staff
        id blacklisted during the day. Only PR-3 faults use these staff ids."""
        rng, born = self._rng, local_date(self.start_ms)
        ents = self.enterprises
        for i, b in enumerate(ents):
            a = ents[(i + 1) % len(ents)]
            sites = [*b.hubs.values(), *b.outlets, *b.stations]
            person = {"id_type": "resident_id", "id_number": ids.resident_id(rng, born)}
            old, new, banned = self.new_id("P"), self.new_id("P"), self._past(30, 200)
            self.timeline[old] = [(self._past(400, 1500), "active"), (banned, "blacklisted")]
            for at, status in self.timeline[old]:
                self.records.append(RegistryRecord(at, a.spec.id, "staff", old, status, person))
            self.records.append(RegistryRecord(banned, a.spec.id, "person", f"BL-{a.spec.id}-{i + 1}",
                                               "blacklisted", person))
            self._holder(b, new, self._past(2, 25), person, rng.choice(sites))
            b.reregistered.append(new)
            other = {"id_type": "resident_id", "id_number": ids.resident_id(rng, born)}
            held, at = self.new_id("P"), self._midday(4.0, 16.0)
            self._holder(b, held, self._past(30, 400), other, rng.choice(sites))
            self.records.append(RegistryRecord(at, b.spec.id, "person", f"BL-{b.spec.id}-D{i + 1}",
                                               "blacklisted", other))
            b.blacklisted_midday.append((held, at))

    def _holder(self, e: Enterprise, staff: str, since: int, person: dict[str, str], site: Site) -> None:
        """An active staff id of ``e`` held by ``person`` from ``since`` (never in a site's regular pool)."""
        self.records.append(RegistryRecord(since, e.spec.id, "staff", staff, "active", person))
        self.timeline[staff] = [(since, "active")]
        self.site_of_staff[staff] = site

    # -- choice helpers -----------------------------------------------------------

    def pick_enterprise(self, rng: random.Random) -> Enterprise:
        return self.enterprises[bisect.bisect_right(self.enterprise_cum, rng.random() * self.enterprise_cum[-1])]


def _cumsum(values: list[float]) -> list[float]:
    out: list[float] = []
    acc = 0.0
    for v in values:
        acc += v
        out.append(acc)
    return out


def pick_weighted(rng: random.Random, items: list[Site], cum: list[float]) -> Site:
    i = bisect.bisect_right(cum, rng.random() * cum[-1])
    return items[min(i, len(items) - 1)]
