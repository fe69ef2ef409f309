"""Contract JSON for the rule-core tests, and a runner through the real batch pipeline.

Every builder returns the plain dict an enterprise would send (contract §1), so a
test reads as the input it describes. ``ABSENT`` leaves a member out; ``None``
writes a JSON ``null``. Times are written with :func:`at` as hours/minutes/seconds
after ``2026-11-11T08:00:00+08:00`` (= ``2026-11-11T00:00:00Z``); :func:`utc`
gives the same instant as the checker writes it (whole seconds, ``Z``).

    events = [acceptance("acc", at(0)), xray("xr", at(1)), delivery("dlv", at(2))]
    out = check(events)                 # standard registry: everything licensed
    assert out.rules() == {"TK-2"}      # delivery at the station while at the hub
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Any

import orjson

from greenshield.rules.batch import BatchChecker, RejectedLine, Stats
from greenshield.rules.model import Violation
from greenshield.rules.pack import RulePack, default_pack
from greenshield.rules.timestamps import parse_instant


class _Absent:
    def __repr__(self) -> str:
        return "ABSENT"


ABSENT: Any = _Absent()
"""A member left out of the JSON object (``None`` is an explicit ``null``)."""

# ------------------------------------------------------------------ identifiers

ENTERPRISE = "E1000001"
OTHER_ENTERPRISE = "E2000002"
WAYBILL = "YT0000000001"
OUTLET = "S31000001"      # where the parcel is accepted
HUB = "S31000002"         # where it is screened and sorted
STATION = "S31000003"     # where it is delivered from
ELSEWHERE = "S31000009"   # a site the parcel should not be at
CLERK = "P10000001"       # the outlet's clerk: staff of the acceptance
INSPECTOR = "P10000002"   # inspects on acceptance
HANDLER = "P10000003"     # hub and transport staff
COURIER = "P10000004"     # delivers
MACHINE = "X10000001"
VEHICLE = "V10000001"
VEHICLE_2 = "V10000002"
CUSTOMER = "C10000001"
STAFF = (CLERK, INSPECTOR, HANDLER, COURIER)

LICENSED_SINCE = "2026-01-01T00:00:00+08:00"

# ------------------------------------------------------------------ times

BASE = datetime(2026, 11, 11, 0, 0, 0, tzinfo=timezone.utc)   # 2026-11-11T08:00:00+08:00


def _offset(tz: str) -> timedelta:
    if tz in ("Z", "z"):
        return timedelta(0)
    sign = 1 if tz[0] == "+" else -1
    return sign * timedelta(hours=int(tz[1:3]), minutes=int(tz[4:6]))


def at(h: float = 0, m: float = 0, s: float = 0, frac: str = "", tz: str = "+08:00") -> str:
    """RFC 3339 text of BASE + h:m:s, written in offset ``tz``, with fraction digits ``frac``."""
    local = (BASE + timedelta(hours=h, minutes=m, seconds=s)).astimezone(timezone(_offset(tz)))
    return local.strftime("%Y-%m-%dT%H:%M:%S") + (f".{frac}" if frac else "") + tz


def utc(h: float = 0, m: float = 0, s: float = 0) -> str:
    """BASE + h:m:s as the checker writes ``occurred_at``: UTC, whole seconds, ``Z``."""
    return (BASE + timedelta(hours=h, minutes=m, seconds=s)).strftime("%Y-%m-%dT%H:%M:%SZ")


# ------------------------------------------------------------------ GB 11643-1999

def gb11643_check_char(body17: str) -> str:
    """The ISO 7064 MOD 11-2 check character, from first principles (not the code under test).

    Position i (18 at the left, 1 for the check char itself) weighs 2**(i-1) mod 11;
    the check value c makes the weighted sum of all 18 positions ≡ 1 (mod 11); 10 is ``X``.
    """
    assert len(body17) == 17 and body17.isascii() and body17.isdigit()
    total = sum(int(ch) * pow(2, 17 - k, 11) for k, ch in enumerate(body17))
    c = (12 - total % 11) % 11
    return "X" if c == 10 else str(c)


def with_check(body17: str) -> str:
    return body17 + gb11643_check_char(body17)


def wrong_check(body17: str) -> str:
    """The same 17 digits with a check character that is wrong."""
    good = gb11643_check_char(body17)
    return body17 + ("0" if good != "0" else "1")


def resident_id(province: str = "31", county: str = "0101", birth: str = "19900307", seq: str = "123") -> str:
    """A resident id number with a correct check character (province, birth date as given)."""
    return with_check(province + county + birth + seq)


VALID_RESIDENT_ID = resident_id()


# ------------------------------------------------------------------ events

def _clean(obj: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in obj.items() if v is not ABSENT}


def _parcel(kind: str, event_id: str, occurred_at: str, waybill: str, site: Any, staff: Any,
            enterprise: str, fields: dict[str, Any], extra: dict[str, Any]) -> dict[str, Any]:
    obj: dict[str, Any] = {
        "v": 1, "event_id": event_id, "type": kind, "enterprise_id": enterprise,
        "occurred_at": occurred_at, "waybill_no": waybill, "site_id": site, "staff_id": staff,
    }
    obj.update(fields)
    obj.update(extra)
    return _clean(obj)


def sender(name: Any = "张三", id_type: Any = "resident_id", id_number: Any = VALID_RESIDENT_ID,
           verified_by: Any = "id_reader", **extra: Any) -> dict[str, Any]:
    """A complete sender with a well-formed resident id, unless told otherwise."""
    return _clean({"name": name, "id_type": id_type, "id_number": id_number, "verified_by": verified_by, **extra})


def inspection(inspected_at: Any = None, inspector: Any = INSPECTOR, result: Any = "passed",
               category: Any = "daily goods", **extra: Any) -> dict[str, Any]:
    return _clean({"inspector_id": inspector, "inspected_at": inspected_at or at(0), "result": result,
                   "category": category, **extra})


_make_sender, _make_inspection = sender, inspection
_DEFAULT: Any = object()


def acceptance(event_id: str = "acc", occurred_at: str | None = None, *, waybill: str = WAYBILL,
               site: Any = OUTLET, staff: Any = CLERK, enterprise: str = ENTERPRISE,
               sender: Any = _DEFAULT, contract_customer_id: Any = ABSENT, inspection: Any = _DEFAULT,
               origin: Any = "310101", destination: Any = "110105", weight: Any = 1200,
               **extra: Any) -> dict[str, Any]:
    """收寄 at the outlet: complete sender, passed inspection, Shanghai → Beijing, 1.2 kg."""
    occurred_at = occurred_at or at(0)
    fields = {
        "sender": _make_sender() if sender is _DEFAULT else sender,
        "contract_customer_id": contract_customer_id,
        "inspection": _make_inspection(occurred_at) if inspection is _DEFAULT else inspection,
        "origin_region": origin, "destination_region": destination, "weight_g": weight,
    }
    return _parcel("acceptance", event_id, occurred_at, waybill, site, staff, enterprise, fields, extra)


def xray(event_id: str = "xr", occurred_at: str | None = None, *, result: Any = "clear", machine: Any = MACHINE,
         waybill: str = WAYBILL, site: Any = HUB, staff: Any = HANDLER, enterprise: str = ENTERPRISE,
         **extra: Any) -> dict[str, Any]:
    fields = {"machine_id": machine, "result": result}
    return _parcel("xray", event_id, occurred_at or at(0), waybill, site, staff, enterprise, fields, extra)


def manual_check(event_id: str = "mc", occurred_at: str | None = None, *, result: Any = "cleared",
                 waybill: str = WAYBILL, site: Any = HUB, staff: Any = HANDLER, enterprise: str = ENTERPRISE,
                 **extra: Any) -> dict[str, Any]:
    return _parcel("manual_check", event_id, occurred_at or at(0), waybill, site, staff, enterprise,
                   {"result": result}, extra)


def interception(event_id: str = "int", occurred_at: str | None = None, *, reason: Any = "prohibited item",
                 waybill: str = WAYBILL, site: Any = HUB, staff: Any = HANDLER, enterprise: str = ENTERPRISE,
                 **extra: Any) -> dict[str, Any]:
    return _parcel("interception", event_id, occurred_at or at(0), waybill, site, staff, enterprise,
                   {"reason": reason}, extra)


def sort_scan(event_id: str = "scan", occurred_at: str | None = None, *, waybill: str = WAYBILL,
              site: Any = HUB, staff: Any = HANDLER, enterprise: str = ENTERPRISE, **extra: Any) -> dict[str, Any]:
    return _parcel("sort_scan", event_id, occurred_at or at(0), waybill, site, staff, enterprise, {}, extra)


def depart(event_id: str = "dep", occurred_at: str | None = None, *, site: Any = OUTLET, to: Any = HUB,
           vehicle: Any = VEHICLE, waybill: str = WAYBILL, staff: Any = HANDLER, enterprise: str = ENTERPRISE,
           **extra: Any) -> dict[str, Any]:
    fields = {"vehicle_id": vehicle, "to_site_id": to}
    return _parcel("depart", event_id, occurred_at or at(0), waybill, site, staff, enterprise, fields, extra)


def arrive(event_id: str = "arr", occurred_at: str | None = None, *, site: Any = HUB, frm: Any = OUTLET,
           vehicle: Any = VEHICLE, waybill: str = WAYBILL, staff: Any = HANDLER, enterprise: str = ENTERPRISE,
           **extra: Any) -> dict[str, Any]:
    fields = {"vehicle_id": vehicle, "from_site_id": frm}
    return _parcel("arrive", event_id, occurred_at or at(0), waybill, site, staff, enterprise, fields, extra)


def delivery(event_id: str = "dlv", occurred_at: str | None = None, *, method: Any = "hand",
             waybill: str = WAYBILL, site: Any = STATION, staff: Any = COURIER, enterprise: str = ENTERPRISE,
             **extra: Any) -> dict[str, Any]:
    return _parcel("delivery", event_id, occurred_at or at(0), waybill, site, staff, enterprise,
                   {"method": method}, extra)


_registry_ids = itertools.count(1)


def registry(entity: str, ident: str, status: str = "active", occurred_at: str = LICENSED_SINCE, *,
             event_id: str | None = None, enterprise: str = ENTERPRISE, **extra: Any) -> dict[str, Any]:
    """A registry record (§1.3): ``entity:ident`` has ``status`` from ``occurred_at`` on."""
    obj = {
        "v": 1, "type": "registry", "event_id": event_id or f"reg-{ident}-{next(_registry_ids)}",
        "enterprise_id": enterprise, "occurred_at": occurred_at, "entity": entity, "id": ident,
        "status": status, **extra,
    }
    return _clean(obj)


def standard_registry() -> list[dict[str, Any]]:
    """Everyone and everything the builders name, licensed and active since 2026-01-01."""
    records = [registry("staff", p) for p in STAFF]
    records += [registry("xray_machine", MACHINE), registry("vehicle", VEHICLE), registry("vehicle", VEHICLE_2),
                registry("contract_customer", CUSTOMER)]
    records += [registry("site", s) for s in (OUTLET, HUB, STATION, ELSEWHERE)]
    return records


def journey(waybill: str = WAYBILL, prefix: str = "", h: float = 0, enterprise: str = ENTERPRISE) -> list[dict[str, Any]]:
    """A compliant parcel starting ``h`` hours after BASE: outlet → hub (screened) → station → delivered.

    Event ids: acc, dep1, arr1, xr, scan, dep2, arr2, dlv (each after ``prefix``).
    """
    p, kw = prefix, {"waybill": waybill, "enterprise": enterprise}
    return [
        acceptance(p + "acc", at(h), **kw),
        depart(p + "dep1", at(h + 1), site=OUTLET, to=HUB, **kw),
        arrive(p + "arr1", at(h + 2), site=HUB, frm=OUTLET, **kw),
        xray(p + "xr", at(h + 2, 10), **kw),
        sort_scan(p + "scan", at(h + 2, 20), **kw),
        depart(p + "dep2", at(h + 3), site=HUB, to=STATION, vehicle=VEHICLE_2, **kw),
        arrive(p + "arr2", at(h + 4), site=STATION, frm=HUB, vehicle=VEHICLE_2, **kw),
        delivery(p + "dlv", at(h + 5), **kw),
    ]


def replace(events: Sequence[dict[str, Any]], event_id: str, new: dict[str, Any] | None) -> list[dict[str, Any]]:
    """The events with the one of ``event_id`` replaced by ``new`` (or dropped when ``new`` is None)."""
    assert any(e["event_id"] == event_id for e in events), event_id
    return [(new if e["event_id"] == event_id else e) for e in events if new is not None or e["event_id"] != event_id]


def without(events: Sequence[dict[str, Any]], *event_ids: str) -> list[dict[str, Any]]:
    for eid in event_ids:
        events = replace(events, eid, None)
    return list(events)


# ------------------------------------------------------------------ running the pipeline

def line(item: Any) -> bytes:
    """One input line: bytes as they are, str encoded, anything else as compact JSON."""
    if isinstance(item, bytes):
        return item
    if isinstance(item, str):
        return item.encode()
    return orjson.dumps(item)


@dataclass
class Outcome:
    """What one batch run gave: the verdict, the rejected lines and the counters."""

    violations: list[Violation]
    rejections: list[RejectedLine] = field(default_factory=list)
    stats: Stats = field(default_factory=Stats)

    def rules(self, waybill: str | None = WAYBILL, enterprise: str | None = None) -> set[str]:
        """The rule ids flagged for ``waybill`` (all waybills when None), of ``enterprise``'s parcel if given."""
        return {v.rule_id for v in self.violations if (waybill is None or v.waybill_no == waybill)
                and (enterprise is None or v.enterprise_id == enterprise)}

    def get(self, rule_id: str, waybill: str = WAYBILL, enterprise: str | None = None) -> Violation | None:
        found = [v for v in self.violations if v.rule_id == rule_id and v.waybill_no == waybill
                 and (enterprise is None or v.enterprise_id == enterprise)]
        assert len(found) <= 1, f"{rule_id} flagged {len(found)} times for {waybill}"
        return found[0] if found else None

    def __getitem__(self, rule_id: str) -> Violation:
        v = self.get(rule_id)
        assert v is not None, f"{rule_id} not flagged; verdict: {sorted(self.rules(None))}"
        return v

    def when(self, rule_id: str) -> str:
        """The flagged violation's ``occurred_at`` as written (UTC, ``Z``)."""
        return self[rule_id].to_dict()["occurred_at"]

    def dicts(self) -> list[dict[str, Any]]:
        return [v.to_dict() for v in self.violations]

    @property
    def reasons(self) -> list[str]:
        return [r.rejection.reason for r in self.rejections]


def run_files(files: Sequence[Iterable[Any]], *, as_of: str | None = None, pack: RulePack | None = None) -> Outcome:
    """Feed each file's items (lines) in turn to a BatchChecker, then ask for the verdict."""
    rejected: list[RejectedLine] = []
    checker = BatchChecker(pack or default_pack(), rejected.append)
    for n, items in enumerate(files, 1):
        checker.feed([line(i) for i in items], source=f"file{n}")
    found = checker.verdict(parse_instant(as_of) if as_of is not None else None)
    return Outcome(found, rejected, checker.stats)


def check(items: Iterable[Any], *, as_of: str | None = None, pack: RulePack | None = None,
          registry: bool = True) -> Outcome:
    """Run ``items`` through the real pipeline; with ``registry``, the standard registry comes first."""
    head = standard_registry() if registry else []
    return run_files([head + list(items)], as_of=as_of, pack=pack)


def custom_pack(**pack: Any) -> RulePack:
    """The default pack with [pack] settings overridden (e.g. ``xray_scope="inter_provincial"``)."""
    from greenshield.rules.pack import build_pack

    head = {"name": "test-pack", "version": "7", **pack}
    return build_pack({"pack": head}, default_pack())
