"""Fixtures of the sharing tests: a seeded day (built once), its copy per test, a receiver."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from greenshield.settings import Settings
from greenshield.store.database import Store
from tests.share.sharekit import Receiver, copy
from tests.support.day import seed_day


@pytest.fixture(scope="session")
def seeded(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return seed_day(tmp_path_factory.mktemp("share-seeded"))


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    r = Receiver()
    yield r
    r.stop()


@pytest.fixture
def world(seeded: Path, tmp_path: Path) -> Iterator[tuple[Settings, Store]]:
    """A copy of the seeded day and its open store."""
    settings = copy(seeded, tmp_path)
    store = Store.open(settings.db_url)
    yield settings, store
    store.close()
