"""Fixtures of the EPCIS tests: the GS1 test data (from ../shared, never copied here), a seeded store, the app."""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

_API = str(Path(__file__).parent.parent / "api")
if _API not in sys.path:
    sys.path.insert(0, _API)

from apiworld import World, copy_store, make_tokens, seed_store, simulated_day  # noqa: E402

from greenshield.api.app import create_app  # noqa: E402
from greenshield.store.database import Store  # noqa: E402
from greenshield.store.testing import settings_for  # noqa: E402

DATA = Path(__file__).resolve().parents[2].parent / "shared" / "testdata" / "epcis"


@pytest.fixture(scope="session")
def testdata() -> Path:
    if not DATA.is_dir():
        pytest.fail(f"the EPCIS test data is missing: {DATA} (CI has ../shared)")
    return DATA


@pytest.fixture(scope="session")
def validator(testdata: Path) -> Any:
    """A draft-07 validator of the GS1 EPCIS 2.0 JSON schema, checking the formats it can."""
    import jsonschema

    schema = json.loads((testdata / "schema" / "EPCIS-JSON-Schema.json").read_text(encoding="utf-8"))
    cls = jsonschema.Draft7Validator
    cls.check_schema(schema)
    return cls(schema, format_checker=cls.FORMAT_CHECKER)


@pytest.fixture(scope="session")
def day_lines() -> list[bytes]:
    return simulated_day()


@pytest.fixture(scope="session")
def seeded(tmp_path_factory: pytest.TempPathFactory, day_lines: list[bytes]) -> Path:
    base = tmp_path_factory.mktemp("epcis-seeded")
    seed_store(settings_for(base / "var", f"sqlite:///{base / 'day.db'}"), day_lines)
    return base


@pytest.fixture
def world(seeded: Path, tmp_path: Path) -> Iterator[World]:
    settings = copy_store(seeded, tmp_path)
    store = Store.open(settings.db_url)
    app = create_app(settings, store, upkeep_seconds=0)
    try:
        with TestClient(app) as client:
            yield World(client, store, settings, make_tokens(store))
    finally:
        store.close()
