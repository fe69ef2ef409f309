"""Helpers of the service tests: a simulated day in a SQLite store, copies of it, tokens of each role."""

from __future__ import annotations

import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from fastapi.testclient import TestClient

from greenshield.store import tokens
from greenshield.store.pipeline import open_audit
from greenshield.store.pipeline import run as run_pipeline
from greenshield.store.database import Store
from greenshield.store.testing import settings_for
from greenshield.rules.pack import default_pack
from greenshield.settings import Settings
from greenshield.share.scope import Scope

PARCELS, SEED = 300, 11
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


def simulated_day(parcels: int = PARCELS, seed: int = SEED) -> list[bytes]:
    from greenshield.simulate import generate_lines

    return list(generate_lines(parcels, seed, fault_rate=0.2))


def seed_store(settings: Settings, lines: list[bytes]) -> None:
    """Run the embedded pipeline (as ``greenshield run``) over ``lines`` into ``settings.db_url``."""
    audit = open_audit(settings)
    try:
        run_pipeline(audit, [("sim-day.jsonl", lines)], default_pack())
    finally:
        audit.close()


def copy_store(seeded: Path, into: Path) -> Settings:
    """A copy of the seeded store (with its keys) in ``into``; its settings."""
    shutil.copytree(seeded / "var", into / "var")
    for name in ("day.db", "day.db-wal", "day.db-shm"):
        if (seeded / name).exists():
            shutil.copy(seeded / name, into / name)
    return settings_for(into / "var", f"sqlite:///{into / 'day.db'}")


def make_tokens(store: Store) -> dict[str, str]:
    tokens.ensure_tables(store)
    return {"regulator": tokens.create(store, "regulator", label="test")[1],
            "auditor": tokens.create(store, "auditor", label="test")[1],
            "registrar": tokens.create(store, "registrar", label="test")[1],
            "enterprise": tokens.create(store, "enterprise", ENTERPRISE, label="test")[1],
            "other": tokens.create(store, "enterprise", OTHER, label="test")[1],
            "department": tokens.create(store, "department", label="test", scope=Scope())[1]}
