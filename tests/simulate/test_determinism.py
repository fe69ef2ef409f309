"""Determinism and ordering of the simulator's output."""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
from datetime import datetime, timedelta, timezone
from itertools import islice

import orjson
from tests.simulate.simdays import RFC3339, Day, instant

from greenshield.simulate import Simulation, generate, generate_lines


class TestDeterminism:
    """The same arguments give byte-identical output; another seed gives another day."""

    def test_same_seed_same_bytes(self) -> None:
        a = b"".join(generate_lines(300, 42, fault_rate=0.2, noise_rate=0.1))
        b = b"".join(generate_lines(300, 42, fault_rate=0.2, noise_rate=0.1))
        assert a == b

    def test_same_seed_same_bytes_shuffled(self) -> None:
        a = list(generate_lines(200, 9, shuffle=True))
        b = list(generate_lines(200, 9, shuffle=True))
        assert a == b
        assert sorted(a) == sorted(generate_lines(200, 9))
        assert a != list(generate_lines(200, 9))

    def test_iterating_a_simulation_twice_repeats_it(self) -> None:
        sim = Simulation(150, 3, fault_rate=0.3, noise_rate=0.1)
        first, manifest = list(sim.lines()), list(sim.manifest)
        assert list(sim.lines()) == first
        assert sim.manifest == manifest

    def test_same_bytes_in_another_process(self) -> None:
        """Nothing depends on hash randomisation or the clock."""
        code = (
            "import sys, hashlib; from greenshield.simulate import generate_lines; "
            "sys.stdout.write(hashlib.sha256(b''.join(generate_lines(150, 8, 0.4, noise_rate=0.2, shuffle=True))).hexdigest())"
        )
        digests = {
            subprocess.run([sys.executable, "-c", code], env={**os.environ, "PYTHONHASHSEED": h},
                           capture_output=True, text=True, check=True).stdout
            for h in ("1", "2")
        }
        here = hashlib.sha256(b"".join(generate_lines(150, 8, 0.4, noise_rate=0.2, shuffle=True))).hexdigest()
        assert digests == {here}

    def test_different_seed_different_day(self) -> None:
        assert list(generate_lines(100, 1)) != list(generate_lines(100, 2))

    def test_dict_api_matches_the_lines(self) -> None:
        lines = [orjson.loads(x) for x in generate_lines(200, 5, fault_rate=0.3)]
        assert list(generate(200, 5, fault_rate=0.3)) == lines
        assert list(generate(parcels=200, seed=5, fault_rate=0.3)) == lines


class TestOrder:
    """Lines come out sorted by occurred_at as instants, registry records interleaved."""

    def test_sorted_by_instant(self, faulty_day: Day) -> None:
        stamps = [ev["occurred_at"] for ev in faulty_day.events]
        times = [instant(ts) for ts in stamps if RFC3339.match(ts)]  # no-offset noise left out
        assert len(times) == len(stamps) - sum(m.get("noise") == "no_offset" for m in faulty_day.manifest)
        assert times == sorted(times)

    def test_timed_iterators_give_the_epoch_milliseconds(self) -> None:
        for ms, ev in islice(Simulation(100, 8).timed_events(), 0, None, 37):
            dt = instant(ev["occurred_at"])
            assert ms == round(dt.timestamp() * 1000)

    def test_registry_changes_are_interleaved_with_parcels(self, clean_day: Day) -> None:
        types = [ev["type"] for ev in clean_day.events]
        first_parcel = next(i for i, t in enumerate(types) if t != "registry")
        assert "registry" in types[first_parcel:]

    def test_acceptances_spread_over_the_day_with_an_evening_peak(self, clean_day: Day) -> None:
        start = datetime(2026, 11, 11, tzinfo=timezone(timedelta(hours=8)))
        hours = [0] * 24
        for ev in clean_day.events:
            if ev["type"] == "acceptance":
                offset = instant(ev["occurred_at"]) - start
                assert timedelta(0) <= offset < timedelta(hours=24)
                hours[int(offset.total_seconds() // 3600)] += 1
        assert max(hours[18:23]) > 3 * max(hours[2:6])
        assert all(h > 0 for h in hours[7:24])

    def test_start_moves_the_day(self) -> None:
        start = datetime(2027, 6, 18, 0, 0, tzinfo=timezone(timedelta(hours=8)))
        for ev in Simulation(50, 1, start=start).events():
            if ev["type"] == "acceptance":
                assert ev["occurred_at"].startswith("2027-06-1")

    def test_the_stream_starts_before_the_day_is_generated(self) -> None:
        """A million parcels: the first parcel events come long before the day is generated."""
        sim = Simulation(1_000_000, 1)
        first = list(islice(sim.lines(), 20000))
        assert sum(b'"registry"' not in line for line in first) > 1000
