"""The simulated network's entities: enterprises and their sites, and the registry records they make."""

from __future__ import annotations

from dataclasses import dataclass, field


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
