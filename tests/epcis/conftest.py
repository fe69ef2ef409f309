"""Fixtures of the EPCIS tests: the GS1 test data (from ../shared, never copied here); the app over a seeded day.

``seeded`` and ``world`` are the service tests' (tests.api.apiworld).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from tests.api.apiworld import seeded as seeded  # noqa: F401  (fixtures)
from tests.api.apiworld import world as world  # noqa: F401
from tests.support.day import simulated_day

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
