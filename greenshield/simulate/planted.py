"""Planted risk on a simulated day: one bad outlet, one bad person, one bad sender, one tiny outlet.

For testing the risk ranking (docs/credit.md). :func:`plant` rewrites a day's events
(deterministically per seed) so that:

* the busiest accepting outlet skips the inspection (IN-1) on 60 % of its acceptances;
* a new courier, registered long ago and suspended from the day's start (two registry
  records), delivers 100 parcels over many stations: every one breaks PR-2;
* one sender (a fresh, well-formed identity) posts 24 parcels across at least three
  enterprises, each found prohibited on X-ray and intercepted in time (no violation of
  the enterprises: a finding of the sender's);
* a new outlet takes in a single parcel without inspection: 1 parcel, 1 violation.
"""

from __future__ import annotations

import random
from collections import Counter, defaultdict
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from greenshield.rules.model import TYPE_RANK
from greenshield.rules.timestamps import parse_instant
from greenshield.simulate import ids

SMALL_SITE = "S99999901"
PERSON = "P99999901"
Ev = dict[str, Any]


@dataclass(frozen=True)
class Planted:
    events: list[Ev]
    outlet: str
    person: str
    sender: tuple[str, str]  # (id_type, id_number): the test hashes it with the store's key
    small_site: str


SENDER_PARCELS = 24  # enough to stand out at orange or red over the region's own rate of prohibited items


def _parcels(events: list[Ev]) -> dict[tuple[str, str], list[Ev]]:
    out: dict[tuple[str, str], list[Ev]] = defaultdict(list)
    for ev in events:
        if ev.get("type") != "registry":
            out[(ev["enterprise_id"], ev["waybill_no"])].append(ev)
    return out


def _order(ev: Ev) -> tuple[Any, ...]:
    """Contract §3.1 order: the instant, then the type's rank, then the event id."""
    return parse_instant(ev["occurred_at"]), TYPE_RANK[ev["type"]], ev["event_id"]


def _first(evs: list[Ev], kind: str) -> Ev | None:
    found = sorted((e for e in evs if e["type"] == kind), key=_order)
    return found[0] if found else None


def _outlet(parcels: dict[tuple[str, str], list[Ev]], rng: random.Random) -> str:
    """The busiest accepting site; 60 % of its acceptances lose their inspection."""
    sites = Counter(a["site_id"] for evs in parcels.values() if (a := _first(evs, "acceptance")) is not None)
    outlet = str(sorted(sites.items(), key=lambda kv: (-kv[1], kv[0]))[0][0])
    for key in sorted(parcels):
        acc = _first(parcels[key], "acceptance")
        if acc is not None and acc["site_id"] == outlet and rng.random() < 0.6:
            acc.pop("inspection", None)
    return outlet


def _person(parcels: dict[tuple[str, str], list[Ev]], outlet: str) -> tuple[str, set[tuple[str, str]]]:
    """A new courier who delivers at many stations of one enterprise (at most 6 parcels each, 100 in all).

    Spread thin over many sites, the person's parcels are a small share of each site's.
    """
    deliveries: dict[str, dict[str, list[Ev]]] = defaultdict(lambda: defaultdict(list))
    for key in sorted(parcels):
        for ev in parcels[key]:
            if ev["type"] == "delivery" and ev["site_id"] != outlet:
                deliveries[key[0]][ev["site_id"]].append(ev)
    enterprise = sorted(deliveries, key=lambda e: (-len(deliveries[e]), e))[0]
    taken: set[tuple[str, str]] = set()
    for site in sorted(deliveries[enterprise]):
        for ev in deliveries[enterprise][site][:6]:
            if len(taken) < 100:
                ev["staff_id"] = PERSON
                taken.add((ev["enterprise_id"], ev["waybill_no"]))
    return enterprise, taken


def _at(text: str, minutes: int) -> str:
    return (datetime.fromisoformat(text) + timedelta(minutes=minutes)).isoformat(timespec="seconds")


def _sender(parcels: dict[tuple[str, str], list[Ev]], rng: random.Random, outlet: str,
            person: str) -> tuple[dict[str, str], list[tuple[str, str]]]:
    """24 parcels of one sender over at least three enterprises, each found prohibited and intercepted."""
    identity = ids.sender(rng, date(2026, 11, 11))
    identity["id_type"], identity["id_number"] = "resident_id", ids.resident_id(rng, date(2026, 11, 11))
    by_ent: dict[str, list[tuple[str, str]]] = defaultdict(list)
    for key in sorted(parcels):
        evs = parcels[key]
        acc, xray = _first(evs, "acceptance"), _first(evs, "xray")
        if acc is None or xray is None or acc["site_id"] == outlet or any(e.get("staff_id") == person for e in evs):
            continue
        by_ent[key[0]].append(key)
    chosen = [k for ent in sorted(by_ent) for k in by_ent[ent][:6]][:SENDER_PARCELS]
    if len({k[0] for k in chosen}) < 3 or len(chosen) < SENDER_PARCELS:
        raise ValueError("the day is too small to plant a sender across three enterprises")
    for key in chosen:
        evs = parcels[key]
        acc, xray = _first(evs, "acceptance"), _first(evs, "xray")
        assert acc is not None and xray is not None
        acc["sender"] = dict(identity)
        acc.pop("contract_customer_id", None)
        xray["result"] = "prohibited"
        keep = [e for e in evs if _order(e) <= _order(xray)]
        keep.append({"v": 1, "event_id": f"{key[1]}-planted-int", "type": "interception", "enterprise_id": key[0],
                     "waybill_no": key[1], "occurred_at": _at(xray["occurred_at"], 20), "site_id": xray["site_id"],
                     "staff_id": xray.get("staff_id"), "reason": "管制刀具"})
        parcels[key] = keep
    return identity, chosen


def _small(parcels: dict[tuple[str, str], list[Ev]], outlet: str, taken: set[tuple[str, str]]) -> None:
    """One parcel moves from its outlet to a new one, and loses its inspection there."""
    for key in sorted(parcels):
        evs = parcels[key]
        acc = _first(evs, "acceptance")
        if key in taken or acc is None or acc["site_id"] == outlet or "inspection" not in acc:
            continue
        old = acc["site_id"]
        for ev in evs:
            for name in ("site_id", "to_site_id", "from_site_id"):
                if ev.get(name) == old:
                    ev[name] = SMALL_SITE
        acc.pop("inspection")
        return


def plant(events: list[Ev], seed: int) -> Planted:
    """The day's events with the planted risk (a new list; the input's dicts are copied first)."""
    rng = random.Random(f"greenshield-planted/{seed}")
    events = [dict(e) for e in events]
    for ev in events:
        for nested in ("inspection", "sender"):
            if isinstance(ev.get(nested), dict):
                ev[nested] = dict(ev[nested])
    registry = [e for e in events if e.get("type") == "registry"]
    parcels = _parcels(events)
    outlet = _outlet(parcels, rng)
    identity, chosen = _sender(parcels, rng, outlet, PERSON)
    enterprise, delivered = _person({k: v for k, v in parcels.items() if k not in set(chosen)}, outlet)
    start = str(min((e for evs in parcels.values() for e in evs), key=_order)["occurred_at"])
    for n, (at, status) in enumerate((("2020-01-01T00:00:00+08:00", "active"), (start, "suspended"))):
        registry.append({"v": 1, "event_id": f"planted-person-{n}", "type": "registry", "enterprise_id": enterprise,
                         "occurred_at": at, "entity": "staff", "id": PERSON, "status": status})
    _small(parcels, outlet, set(chosen) | delivered)
    out = registry + [e for key in sorted(parcels) for e in parcels[key]]
    return Planted(out, outlet, PERSON, (identity["id_type"], identity["id_number"]), SMALL_SITE)
