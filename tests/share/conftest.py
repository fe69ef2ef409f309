"""Fixtures of the sharing tests: a seeded day (built once), its copy per test, a receiver."""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

_HERE = os.path.dirname(__file__)
if _HERE not in sys.path:
    sys.path.insert(0, _HERE)

from sharekit import Receiver, copy, seed  # noqa: E402

from greenshield.store.database import Store  # noqa: E402
from greenshield.settings import Settings  # noqa: E402


@pytest.fixture(scope="session")
def seeded(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return seed(tmp_path_factory.mktemp("share-seeded"))


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
