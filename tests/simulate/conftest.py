"""Shared simulated days, generated once per session; makes ``simdays`` importable (--import-mode=importlib)."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

_HERE = str(Path(__file__).resolve().parent)
if _HERE not in sys.path:
    sys.path.insert(0, _HERE)

from simdays import Day  # noqa: E402


@pytest.fixture(scope="session")
def clean_day() -> Day:
    """1500 parcels, no faults, no noise."""
    return Day(1500, 20261111, fault_rate=0.0)


@pytest.fixture(scope="session")
def faulty_day() -> Day:
    """2000 parcels, 30% with a fault, 5% with a noise line."""
    return Day(2000, 7, fault_rate=0.3, noise_rate=0.05)
