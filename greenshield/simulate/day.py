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
from collections.abc import Iterator
from datetime import datetime
from typing import Any

from greenshield.simulate.emission import Emitter, Payload
from greenshield.simulate.entities import RegistryRecord
from greenshield.simulate.journey import Journeys
from greenshield.simulate.model import MINUTE_MS, format_ts, to_ms
from greenshield.simulate.network import Network

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


class _Run:
    """The state of one pass over the day."""

    def __init__(self, sim: Simulation, as_bytes: bool) -> None:
        self.sim = sim
        self.net = sim.network()
        self.rng = random.Random(f"greenshield-parcels/{sim.seed}")
        self.start_ms = sim.start_ms
        self.manifest: list[dict[str, Any]] = []
        waybill_next: dict[str, int] = {}
        event_counter: dict[str, int] = {}
        for e in self.net.enterprises:
            d = e.spec.waybill_digits
            waybill_next[e.spec.id] = self.rng.randrange(10 ** (d - 1), 3 * 10 ** (d - 1))
            event_counter[e.spec.id] = self.rng.randrange(1000, 100000)
        shared_rng = random.Random(f"greenshield-shared/{sim.seed}")
        self.journeys = Journeys(self.rng, self.net, sim.start_ms, sim.fault_rate, sim.shared_waybill_rate,
                                 shared_rng, waybill_next, self.manifest)
        self.emitter = Emitter(self.rng, as_bytes, sim.noise_rate, event_counter, self.manifest)
        self.render = self.emitter.render

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
        parcel, emit = self.journeys.parcel, self.emitter.emit
        for i in range(n_parcels):
            t0 = self._acceptance_time(i, n_parcels)
            # every event still to come is at or after t0: buckets before t0's are complete
            upto = t0 // MINUTE_MS - 1
            if upto > released:
                yield from _release(buckets, released, upto)
                released = upto
            for t, payload in emit(*parcel(t0)):
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
