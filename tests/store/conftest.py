"""Fixtures of the audit tests: the store on each database, and the CLI run in-process."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from greenshield import cli
from tests.support.store import isolated_schema

COMMANDS = ("check", "run", "trace", "staff_record", "violations", "audit")


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A fresh store URL: a SQLite file, or a PostgreSQL schema of this test's own."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'audit.db'}"
        return
    with isolated_schema(request.getfixturevalue("pg_url")) as url:
        yield url


@pytest.fixture
def gs(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Any:
    """Run the CLI in-process with a development data directory of this test's own."""
    monkeypatch.setattr(cli, "COMMAND_MODULES", COMMANDS)
    monkeypatch.setenv("GREENSHIELD_DATA_DIR", str(tmp_path / "var"))
    monkeypatch.setenv("GREENSHIELD_HMAC_KEY", "test-hmac-key")
    return lambda *argv: cli.main([str(a) for a in argv])
