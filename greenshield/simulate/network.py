"""The simulated Yangtze Delta express network: geography, enterprises and their
sites, staff, X-ray machines, vehicles and contract customers, with a registry
timeline (who is licensed since when, and the mid-day suspensions).

Times are integer milliseconds since the Unix epoch throughout the simulator.
"""

from __future__ import annotations

import bisect
import math
import random
from dataclasses import dataclass, field

from greenshield.simulate import ids
from greenshield.simulate.model import local_date

HOUR_MS = 3_600_000
DAY_MS = 24 * HOUR_MS
MINUTE_MS = 60_000

# ---------------------------------------------------------------------------
# Geography: real GB/T 2260 codes. (prefecture code, name, lat, lon, hub key,
# outlet weight, destination weight, county-level district codes)
# ---------------------------------------------------------------------------

PREFECTURES: tuple[tuple[str, str, float, float, str, int, int, tuple[str, ...]], ...] = (
    ("310100", "上海", 31.23, 121.47, "SH", 30, 22, (
        "310101", "310104", "310105", "310106", "310107", "310109", "310110", "310112",
        "310113", "310114", "310115", "310116", "310117", "310118", "310120", "310151")),
    ("320100", "南京", 32.06, 118.80, "NJ", 8, 8, (
        "320102", "320104", "320105", "320106", "320111", "320113", "320114", "320115")),
    ("320200", "无锡", 31.49, 120.31, "SZ", 5, 4, ("320205", "320206", "320211", "320213", "320214", "320281")),
    ("320300", "徐州", 34.26, 117.18, "NJ", 2, 3, ("320302", "320303", "320311")),
    ("320400", "常州", 31.81, 119.97, "SZ", 3, 3, ("320402", "320404", "320411", "320412")),
    ("320500", "苏州", 31.30, 120.58, "SZ", 12, 8, (
        "320505", "320506", "320507", "320508", "320509", "320582", "320583", "320585")),
    ("320600", "南通", 31.98, 120.89, "SZ", 3, 3, ("320602", "320612", "320681")),
    ("320700", "连云港", 34.60, 119.22, "NJ", 1, 1, ("320703", "320707")),
    ("320800", "淮安", 33.61, 119.02, "NJ", 1, 1, ("320803", "320812")),
    ("320900", "盐城", 33.35, 120.16, "NJ", 1, 2, ("320902", "320903")),
    ("321000", "扬州", 32.39, 119.41, "NJ", 2, 2, ("321002", "321003")),
    ("321100", "镇江", 32.19, 119.45, "NJ", 1, 1, ("321102", "321111")),
    ("321200", "泰州", 32.46, 119.92, "NJ", 1, 1, ("321202", "321203")),
    ("321300", "宿迁", 33.96, 118.28, "NJ", 2, 1, ("321302", "321311")),
    ("330100", "杭州", 30.27, 120.15, "HZ", 16, 9, (
        "330102", "330105", "330106", "330108", "330109", "330110", "330113", "330114")),
    ("330200", "宁波", 29.87, 121.55, "NB", 5, 4, ("330203", "330205", "330206", "330211", "330212")),
    ("330300", "温州", 28.00, 120.67, "WZ", 4, 3, ("330302", "330303", "330304", "330381", "330382")),
    ("330400", "嘉兴", 30.75, 120.76, "HZ", 3, 2, ("330402", "330411", "330481")),
    ("330500", "湖州", 30.87, 120.09, "HZ", 2, 1, ("330502", "330503")),
    ("330600", "绍兴", 30.00, 120.58, "HZ", 3, 2, ("330602", "330603", "330604")),
    ("330700", "金华", 29.08, 119.65, "YW", 14, 2, ("330702", "330703", "330782", "330783")),
    ("330800", "衢州", 28.94, 118.87, "YW", 1, 1, ("330802",)),
    ("330900", "舟山", 30.02, 122.11, "NB", 1, 1, ("330902",)),
    ("331000", "台州", 28.66, 121.42, "NB", 3, 2, ("331002", "331003", "331004")),
    ("331100", "丽水", 28.45, 119.92, "YW", 1, 1, ("331102",)),
    # outside the delta: destinations only
    ("110100", "北京", 39.90, 116.40, "BJ", 0, 6, ("110101", "110105", "110108")),
    ("440100", "广州", 23.13, 113.26, "GZ", 0, 3, ("440106", "440111")),
    ("440300", "深圳", 22.54, 114.06, "GZ", 0, 4, ("440305", "440306", "440307")),
    ("510100", "成都", 30.66, 104.06, "CD", 0, 3, ("510104", "510107")),
    ("500100", "重庆", 29.56, 106.55, "CD", 0, 2, ("500105", "500112")),
    ("420100", "武汉", 30.59, 114.31, "WH", 0, 3, ("420106", "420111")),
)

# hub key -> (prefecture code, district code of the hub, in the delta?)
HUBS: dict[str, tuple[str, str, bool]] = {
    "SH": ("310100", "310118", True),   # 青浦
    "SZ": ("320500", "320507", True),   # 相城
    "NJ": ("320100", "320115", True),   # 江宁
    "HZ": ("330100", "330109", True),   # 萧山
    "NB": ("330200", "330212", True),   # 鄞州
    "YW": ("330700", "330782", True),   # 义乌
    "WZ": ("330300", "330303", True),   # 龙湾
    "BJ": ("110100", "110115", False),  # 大兴
    "GZ": ("440100", "440111", False),  # 白云
    "CD": ("510100", "510116", False),  # 双流
    "WH": ("420100", "420112", False),  # 东西湖
}

_COORDS: dict[str, tuple[float, float]] = {p[0]: (p[2], p[3]) for p in PREFECTURES}
_PREF_OF_DISTRICT: dict[str, str] = {d: p[0] for p in PREFECTURES for d in p[7]}
for _hub_pref, _hub_district, _ in HUBS.values():
    _PREF_OF_DISTRICT[_hub_district] = _hub_pref


def prefecture_of(district: str) -> str:
    return _PREF_OF_DISTRICT[district]


_DRIVE_MINUTES: dict[tuple[str, str], float] = {}


def _drive_minutes(from_pref: str, to_pref: str) -> float:
    """Typical driving minutes between two prefectures (great circle x 1.2 road factor)."""
    (la1, lo1), (la2, lo2) = _COORDS[from_pref], _COORDS[to_pref]
    p1, p2 = math.radians(la1), math.radians(la2)
    a = math.sin((p2 - p1) / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(math.radians(lo2 - lo1) / 2) ** 2
    km = 2 * 6371 * math.asin(math.sqrt(a)) * 1.2
    speed = 70.0 if km < 400 else 85.0
    return 30 + km / speed * 60


def travel_ms(rng: random.Random, from_pref: str, to_pref: str) -> int:
    """Driving time between two prefectures (same prefecture: a short urban run), whole seconds."""
    if from_pref == to_pref:
        return int((18 + rng.random() * 50) * 60) * 1000
    key = (from_pref, to_pref)
    minutes = _DRIVE_MINUTES.get(key)
    if minutes is None:
        minutes = _DRIVE_MINUTES[key] = _drive_minutes(from_pref, to_pref)
    return int(minutes * (0.9 + rng.random() * 0.3) * 60) * 1000


# ---------------------------------------------------------------------------
# Enterprises
# ---------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class EnterpriseSpec:
    id: str
    name: str
    waybill_prefix: str
    waybill_digits: int
    event_id_style: str  # "waybill" | "counter" | "dotted"
    share: float


ENTERPRISES: tuple[EnterpriseSpec, ...] = (
    EnterpriseSpec("E3100001", "沪通速递", "YT", 13, "waybill", 0.28),
    EnterpriseSpec("E3100002", "申运快递", "ST", 12, "counter", 0.16),
    EnterpriseSpec("E3200001", "苏宁达物流", "JD", 14, "dotted", 0.18),
    EnterpriseSpec("E3300001", "之江快运", "ZT", 12, "waybill", 0.24),
    EnterpriseSpec("E3300002", "甬韵速运", "YD", 13, "counter", 0.14),
)


@dataclass(slots=True)
class Site:
    id: str
    enterprise_id: str
    kind: str  # "outlet" | "hub" | "station"
    region: str  # county-level GB/T 2260 code
    prefecture: str
    hub_key: str
    slot_offset_ms: int
    staff: list[str] = field(default_factory=list)
    stable_staff: list[str] = field(default_factory=list)
    machines: list[str] = field(default_factory=list)
    stable_machines: list[str] = field(default_factory=list)
    decommissioned_machines: list[str] = field(default_factory=list)
    feeder: list[str] = field(default_factory=list)  # hubs: vans serving outlets and stations
    trunk: list[str] = field(default_factory=list)  # hubs: line-haul trucks
    stable_feeder: list[str] = field(default_factory=list)
    stable_trunk: list[str] = field(default_factory=list)


@dataclass(slots=True)
class Enterprise:
    spec: EnterpriseSpec
    hubs: dict[str, Site]
    outlets: list[Site]
    outlet_cum: list[float]
    stations: list[Site]
    station_cum: list[float]
    customers: list[str]  # active contract customers (some get suspended mid-day)
    stable_customers: list[str]
    # entities only fault injection uses
    former_staff: list[str] = field(default_factory=list)
    unregistered_staff: list[str] = field(default_factory=list)
    unregistered_machines: list[str] = field(default_factory=list)
    former_vehicles: list[str] = field(default_factory=list)
    unregistered_vehicles: list[str] = field(default_factory=list)
    former_customers: list[str] = field(default_factory=list)
    unregistered_customers: list[str] = field(default_factory=list)
    changing_staff: list[str] = field(default_factory=list)
    new_hires: list[str] = field(default_factory=list)
    changing_machines: list[str] = field(default_factory=list)
    changing_vehicles: list[str] = field(default_factory=list)
    changing_customers: list[str] = field(default_factory=list)
    # revision 2 §8.2: staff ids held by a person blacklisted under another enterprise's staff id (before
    # the day), and (staff id, instant) of holders blacklisted during the day
    reregistered: list[str] = field(default_factory=list)
    blacklisted_midday: list[tuple[str, int]] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class RegistryRecord:
    at_ms: int
    enterprise_id: str
    entity: str
    id: str
    status: str
    person: dict[str, str] | None = None  # revision 2 §8.2: the holder of a staff id, the subject of a person


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
