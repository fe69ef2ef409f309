"""A seeded day: a simulated day run into a SQLite store once, and copies of it for each test.

:func:`seed_day` builds ``base/day.db`` (keys and checkpoints in ``base/var``) with the embedded
pipeline, as ``greenshield run`` does; :func:`copy_store` copies it into a test's own directory.
The service, EPCIS and sharing tests build their worlds on it.
"""

from __future__ import annotations

import shutil
from pathlib import Path

from greenshield.rules.pack import default_pack
from greenshield.settings import Settings
from greenshield.store.pipeline import open_audit
from greenshield.store.pipeline import run as run_pipeline
from tests.support.store import settings_for

PARCELS, SEED = 300, 11


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


def seed_day(base: Path, lines: list[bytes] | None = None) -> Path:
    """``lines`` (default: :func:`simulated_day`) in ``base/day.db``, keys in ``base/var``; ``base``."""
    seed_store(settings_for(base / "var", f"sqlite:///{base / 'day.db'}"), simulated_day() if lines is None else lines)
    return base


def copy_store(seeded: Path, into: Path) -> Settings:
    """A copy of the seeded store (with its keys) in ``into``; its settings."""
    shutil.copytree(seeded / "var", into / "var")
    for name in ("day.db", "day.db-wal", "day.db-shm"):
        if (seeded / name).exists():
            shutil.copy(seeded / name, into / name)
    return settings_for(into / "var", f"sqlite:///{into / 'day.db'}")
