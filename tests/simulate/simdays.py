"""Helpers of the simulator tests: a simulated day, parsed, and an independent format check."""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any

import orjson

from greenshield.simulate import Simulation

RFC3339 = re.compile(r"^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-5][0-9]:[0-5][0-9](\.[0-9]+)?(Z|[+-][0-9]{2}:[0-9]{2})$")
PATTERNS = {
    "enterprise": re.compile(r"^E[0-9]{7}$"),
    "site": re.compile(r"^S[0-9]{8}$"),
    "staff": re.compile(r"^P[0-9]{8}$"),
    "xray_machine": re.compile(r"^X[0-9]{8}$"),
    "vehicle": re.compile(r"^V[0-9]{8}$"),
    "contract_customer": re.compile(r"^C[0-9]{8}$"),
    "person": re.compile(r"^[A-Za-z0-9-]{1,32}$"),  # revision 2 §8.2: a decision reference
    "event_id": re.compile(r"^[A-Za-z0-9._:-]{1,64}$"),
    "waybill": re.compile(r"^[A-Z0-9]{8,32}$"),
    "region": re.compile(r"^[0-9]{6}$"),
}
PARCEL_TYPES = ("acceptance", "xray", "manual_check", "interception", "sort_scan", "depart", "arrive", "delivery")


def instant(ts: str) -> datetime:
    """A contract timestamp as an aware datetime (Python 3.11 reads Z and fractions)."""
    assert RFC3339.match(ts), ts
    return datetime.fromisoformat(ts)


class Day:
    """One simulated day: its lines, the parsed events, the manifest."""

    def __init__(self, parcels: int, seed: int, fault_rate: float, noise_rate: float = 0.0) -> None:
        self.sim = Simulation(parcels, seed, fault_rate=fault_rate, noise_rate=noise_rate)
        self.lines: list[bytes] = list(self.sim.lines())
        self.manifest: list[dict[str, Any]] = list(self.sim.manifest)
        self.events: list[dict[str, Any]] = []
        self.malformed: list[bytes] = []
        for line in self.lines:
            try:
                self.events.append(orjson.loads(line))
            except orjson.JSONDecodeError:
                self.malformed.append(line)

    def parcels(self) -> dict[str, list[dict[str, Any]]]:
        """Parcel events by waybill, in output (time) order; later copies of an event key (noise) left out."""
        out: dict[str, list[dict[str, Any]]] = {}
        seen: set[tuple[str, str]] = set()
        for ev in self.events:
            key = (ev["enterprise_id"], ev["event_id"])
            if ev["type"] != "registry" and key not in seen:
                out.setdefault(ev["waybill_no"], []).append(ev)
            seen.add(key)
        return out

    def registry(self) -> list[dict[str, Any]]:
        return [ev for ev in self.events if ev["type"] == "registry"]
