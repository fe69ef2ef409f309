"""Fault injection: one intended rule per faulty parcel.

Rules that change the shape of a journey (XR-1, XR-2, XR-3, XR-4, PH-1, PH-2,
TR-1) are built by the journey builder in :mod:`greenshield.simulate.journey`; the
others are applied here to a finished, clean journey. Each fault is made
"clean": the parcel breaks its intended rule and no other one.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass

from greenshield.simulate import ids
from greenshield.simulate.entities import Enterprise
from greenshield.simulate.model import Ev, local_date
from greenshield.simulate.network import Network

RULES: tuple[str, ...] = (
    "RN-1", "RN-2", "RN-3",
    "IN-1", "IN-2",
    "XR-1", "XR-2", "XR-3", "XR-4",
    "PH-1", "PH-2",
    "TR-1",
    "TK-1", "TK-2",
    "PR-1", "PR-2", "PR-3",
)

# faults the journey builder makes itself
STRUCTURAL: frozenset[str] = frozenset({"XR-1", "XR-2", "XR-3", "XR-4", "PH-1", "PH-2", "TR-1"})

NOISE_KINDS: tuple[str, ...] = ("exact_duplicate", "conflicting_duplicate", "malformed_json", "no_offset")


@dataclass(slots=True)
class FaultContext:
    rng: random.Random
    net: Network
    ent: Enterprise
    evs: list[Ev]


def _acceptance(c: FaultContext) -> Ev:
    for ev in c.evs:
        if ev.type == "acceptance":
            return ev
    raise LookupError("journey has no acceptance")


def _status_variant(c: FaultContext, ident: str, t: int, when: str) -> str:
    status = c.net.status_at(ident, t)
    return f"{status or 'unregistered'}_{when}"


def _rn1(c: FaultContext) -> str:
    acc = _acceptance(c)
    acc.extra.pop("contract_customer_id", None)
    if c.rng.random() < 0.4:
        acc.extra.pop("sender", None)
        return "no_sender"
    sender, variant = ids.incomplete_sender(c.rng, local_date(acc.t))
    acc.extra["sender"] = sender
    return f"incomplete_sender:{variant}"


def _rn2(c: FaultContext) -> str:
    acc = _acceptance(c)
    sender = acc.extra.get("sender")
    if not isinstance(sender, dict):
        sender = ids.sender(c.rng, local_date(acc.t))
        acc.extra["sender"] = sender
    kind, number, variant = ids.bad_document(c.rng, local_date(acc.t))
    sender["id_type"] = kind
    sender["id_number"] = number
    return variant


def _rn3(c: FaultContext) -> str:
    acc = _acceptance(c)
    acc.extra.pop("sender", None)
    t = acc.t
    late = [cid for cid in c.ent.changing_customers if not c.net.active(cid, t) and c.net.status_at(cid, t)]
    if late:
        cid = c.rng.choice(late)
        variant = _status_variant(c, cid, t, "midday")
    else:
        cid = c.rng.choice([*c.ent.former_customers, *c.ent.unregistered_customers])
        variant = _status_variant(c, cid, t, "before")
    acc.extra["contract_customer_id"] = cid
    return variant


def _in1(c: FaultContext) -> str:
    _acceptance(c).extra.pop("inspection", None)
    return "no_inspection"


def _in2(c: FaultContext) -> str:
    inspection = _acceptance(c).extra.get("inspection")
    assert isinstance(inspection, dict)
    inspection["result"] = "refused"
    return "refused_but_shipped"


def _legs(evs: list[Ev]) -> list[tuple[int, int]]:
    """(depart index, arrive index) of every leg."""
    out: list[tuple[int, int]] = []
    for i, ev in enumerate(evs):
        if ev.type == "depart":
            for j in range(i + 1, len(evs)):
                if evs[j].type == "arrive":
                    out.append((i, j))
                    break
    return out


def _tk1(c: FaultContext) -> str:
    rng = c.rng
    legs = _legs(c.evs)
    i, j = rng.choice(legs)
    dep, arr = c.evs[i], c.evs[j]
    r = rng.random()
    if r < 0.25:
        del dep.extra["vehicle_id"]
        del arr.extra["vehicle_id"]
        return "no_vehicle"
    if r < 0.4:
        del dep.extra["vehicle_id"]
        return "no_vehicle_on_depart"
    if r < 0.5:
        del arr.extra["vehicle_id"]
        return "no_vehicle_on_arrive"
    late = [v for v in c.ent.changing_vehicles if not c.net.active(v, dep.t) and c.net.status_at(v, dep.t)]
    if late:
        vid = rng.choice(late)
        variant = _status_variant(c, vid, dep.t, "midday")
    else:
        vid = rng.choice([*c.ent.former_vehicles, *c.ent.unregistered_vehicles])
        variant = _status_variant(c, vid, dep.t, "before")
    dep.extra["vehicle_id"] = vid
    arr.extra["vehicle_id"] = vid
    return variant


def _other_site(c: FaultContext, not_ids: set[str]) -> str:
    sites = [*c.ent.hubs.values(), *c.ent.stations]
    while True:
        s = c.rng.choice(sites)
        if s.id not in not_ids:
            return s.id


def _tk2(c: FaultContext) -> str:
    rng = c.rng
    evs = c.evs
    legs = _legs(evs)
    i, j = rng.choice(legs)
    dep, arr = evs[i], evs[j]
    variant = rng.choice(("wrong_site", "from_mismatch", "vehicle_swap", "missing_arrive", "double_arrive"))
    if variant == "wrong_site":
        arr.site = _other_site(c, {arr.site, dep.site})
    elif variant == "from_mismatch":
        arr.extra["from_site_id"] = _other_site(c, {arr.site, dep.site})
    elif variant == "vehicle_swap":
        pool = [v for h in c.ent.hubs.values() for v in h.stable_feeder + h.stable_trunk if v != dep.extra.get("vehicle_id")]
        arr.extra["vehicle_id"] = rng.choice(pool)
    elif variant == "missing_arrive":
        del evs[j]
    else:
        # a second unloading scan, by someone whose licence cannot lapse in between
        staff = arr.staff
        site = c.net.site_of_staff.get(staff) if staff is not None else None
        if site is not None:
            staff = rng.choice(site.stable_staff)
        dup = Ev(arr.t + rng.randint(30, 150) * 1000, "arrive", arr.site, staff, dict(arr.extra))
        evs.insert(j + 1, dup)
    return variant


def _pr1(c: FaultContext) -> str:
    rng = c.rng
    ev = rng.choice(c.evs)
    r = rng.random()
    if r < 0.3:
        ev.staff = None
        return f"missing_staff:{ev.type}"
    if r < 0.45:
        inspection = _acceptance(c).extra.get("inspection")
        if isinstance(inspection, dict):
            del inspection["inspector_id"]
            return "missing_inspector"
    if r < 0.7:
        hires = [p for p in c.ent.new_hires if c.net.status_at(p, ev.t) is None]
        if hires:
            ev.staff = rng.choice(hires)
            return f"not_yet_registered:{ev.type}"
    ev.staff = rng.choice(c.ent.unregistered_staff)
    return f"unregistered_staff:{ev.type}"


def _pr2(c: FaultContext) -> str:
    rng = c.rng
    acc = _acceptance(c)
    inspection = acc.extra.get("inspection")
    use_inspector = isinstance(inspection, dict) and rng.random() < 0.2
    ev = acc if use_inspector else rng.choice(c.evs)
    t = ev.t
    late = [p for p in c.ent.changing_staff if c.net.status_at(p, t) not in (None, "active")]
    same_site = [p for p in late if c.net.site_of_staff[p].id == ev.site]
    if same_site or late:
        pid = rng.choice(same_site or late)
        variant = _status_variant(c, pid, t, "midday")
    else:
        pid = rng.choice(c.ent.former_staff)
        variant = _status_variant(c, pid, t, "before")
    if use_inspector:
        assert isinstance(inspection, dict)
        inspection["inspector_id"] = pid
        return f"inspector:{variant}"
    ev.staff = pid
    return f"{variant}:{ev.type}"


def _pr3(c: FaultContext) -> str:
    """An active staff id held by a blacklisted person: re-registered after a blacklisting elsewhere
    (revision 2 §8.2), or blacklisted during the day before the event."""
    rng = c.rng
    acc = _acceptance(c)
    inspection = acc.extra.get("inspection")
    use_inspector = isinstance(inspection, dict) and rng.random() < 0.2
    ev = acc if use_inspector else rng.choice(c.evs)
    midday = [p for p, at in c.ent.blacklisted_midday if at <= ev.t]
    if midday and rng.random() < 0.5:
        pid, variant = rng.choice(midday), "blacklisted_midday"
    else:
        pid, variant = rng.choice(c.ent.reregistered), "reregistered_elsewhere"
    if use_inspector:
        assert isinstance(inspection, dict)
        inspection["inspector_id"] = pid
        return f"inspector:{variant}"
    ev.staff = pid
    return f"{variant}:{ev.type}"


POST_HOC: dict[str, Callable[[FaultContext], str]] = {
    "RN-1": _rn1,
    "RN-2": _rn2,
    "RN-3": _rn3,
    "IN-1": _in1,
    "IN-2": _in2,
    "TK-1": _tk1,
    "TK-2": _tk2,
    "PR-1": _pr1,
    "PR-2": _pr2,
    "PR-3": _pr3,
}


def apply(rule: str, ctx: FaultContext) -> str:
    """Inject ``rule`` into a finished clean journey; returns the variant name."""
    return POST_HOC[rule](ctx)
