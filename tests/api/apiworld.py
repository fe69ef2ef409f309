"""The world of the service tests: the app over a copy of the seeded day, with a token of each role.

The fixtures ``seeded`` (the day, built once a session) and ``world`` (the app over this test's
copy) are imported by the conftests of tests/api and tests/epcis.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from greenshield.api.app import create_app
from greenshield.settings import Settings
from greenshield.share.scope import Scope
from greenshield.store import tokens
from greenshield.store.database import Store
from tests.support.day import copy_store, seed_day

ENTERPRISE, OTHER = "E3100001", "E3300001"


@dataclass
class World:
    """A running app over its own store, and a token of each kind."""

    client: TestClient
    store: Store
    settings: Settings
    tokens: dict[str, str] = field(default_factory=dict)

    def auth(self, who: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.tokens[who]}"}

    def get(self, path: str, who: str, **kwargs: Any) -> Any:
        return self.client.get(path, headers=self.auth(who), **kwargs)


def make_tokens(store: Store) -> dict[str, str]:
    tokens.ensure_tables(store)
    return {"regulator": tokens.create(store, "regulator", label="test")[1],
            "auditor": tokens.create(store, "auditor", label="test")[1],
            "registrar": tokens.create(store, "registrar", label="test")[1],
            "enterprise": tokens.create(store, "enterprise", ENTERPRISE, label="test")[1],
            "other": tokens.create(store, "enterprise", OTHER, label="test")[1],
            "department": tokens.create(store, "department", label="test", scope=Scope())[1]}


@pytest.fixture(scope="session")
def seeded(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A SQLite store holding a simulated day (built once; tests use copies)."""
    return seed_day(tmp_path_factory.mktemp("seeded"))


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
