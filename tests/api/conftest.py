"""Fixtures of the service tests: the app over a copy of a seeded store, with tokens of each role."""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

_HERE = os.path.dirname(__file__)
if _HERE not in sys.path:
    sys.path.insert(0, _HERE)

from apiworld import World, copy_store, make_tokens, seed_store, simulated_day  # noqa: E402

from greenshield.api.app import create_app  # noqa: E402
from greenshield.store.database import Store  # noqa: E402
from greenshield.store.testing import settings_for  # noqa: E402


@pytest.fixture(scope="session")
def seeded(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A SQLite store holding a simulated day (built once; tests use copies)."""
    base = tmp_path_factory.mktemp("seeded")
    settings = settings_for(base / "var", f"sqlite:///{base / 'day.db'}")
    seed_store(settings, simulated_day())
    return base


@pytest.fixture
def world(seeded: Path, tmp_path: Path) -> Iterator[World]:
    """The app (no background upkeep) over this test's copy of the seeded store."""
    settings = copy_store(seeded, tmp_path)
    store = Store.open(settings.db_url)
    app = create_app(settings, store, upkeep_seconds=0)
    try:
        with TestClient(app) as client:
            yield World(client, store, settings, make_tokens(store))
    finally:
        store.close()
