"""Shared simulated days (tests.simulate.simdays), generated once per session."""

from __future__ import annotations

import pytest

from tests.simulate.simdays import Day


@pytest.fixture(scope="session")
def clean_day() -> Day:
    """1500 parcels, no faults, no noise."""
    return Day(1500, 20261111, fault_rate=0.0)


@pytest.fixture(scope="session")
def faulty_day() -> Day:
    """2000 parcels, 30% with a fault, 5% with a noise line."""
    return Day(2000, 7, fault_rate=0.3, noise_rate=0.05)
