"""Fixtures of the stream-pipeline tests: settings with a unique topic prefix, topics created per test."""

from __future__ import annotations

import dataclasses
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from typing import Any

import pytest

from tests.support.stream import consume_all as consume_all  # noqa: F401  (re-exported: tests import it from here)
from tests.support.store import isolated_schema
from tests.support.stream import create_test_topics, delete_test_topics, kafka_security
from greenshield.settings import Secret, Settings

CONTROL_KEY = "test-control-key-0123456789"
HMAC_KEY = "test-hmac-key-0123456789"
SENDER_KEY = "test-sender-key-0123456789"


def unique_settings(bootstrap: str, **overrides: Any) -> Settings:
    """Settings for one test: its own topic prefix (so tests never share topics) and keys."""
    host, _, port = bootstrap.rpartition(":")
    base = Settings.from_env({})
    values: dict[str, Any] = {
        "kafka_host": host,
        "kafka_port": int(port),
        "topic_prefix": f"gs.t{uuid.uuid4().hex[:10]}.",
        "control_key": Secret(CONTROL_KEY),
        "hmac_key": Secret(HMAC_KEY),
        "sender_key": Secret(SENDER_KEY),
        "worker_group": f"gs-test-{uuid.uuid4().hex[:10]}",
        "kafka_security": kafka_security(),
    }
    values.update(overrides)
    return dataclasses.replace(base, **values)


@pytest.fixture
def make_topics(kafka_bootstrap: str) -> Iterator[Callable[..., Settings]]:
    """Build settings with a unique prefix and create their topics; delete them after the test."""
    made: list[Settings] = []

    def make(**overrides: Any) -> Settings:
        settings = unique_settings(kafka_bootstrap, **overrides)
        create_test_topics(settings)
        made.append(settings)
        return settings

    yield make
    for settings in made:
        delete_test_topics(settings)


def wait_for(condition: Callable[[], Any], timeout: float = 60.0, interval: float = 0.2,
             what: str = "condition") -> Any:
    """Poll until ``condition()`` is truthy; fail the test with ``what`` after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() >= deadline:
            pytest.fail(f"timed out after {timeout:.0f}s waiting for {what}")
        time.sleep(interval)


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def pipeline(make_topics: Callable[..., Settings], tmp_path: Any, request: pytest.FixtureRequest
             ) -> Iterator[Callable[..., tuple[Settings, str]]]:
    """``pipeline(**settings overrides)`` -> (settings with fresh topics and data dir, a store URL).

    Every test that uses it runs twice: on a SQLite file, and on a PostgreSQL schema of
    its own (marked ``postgres``) - the worker is the production path, and production
    is PostgreSQL.
    """
    counter = iter(range(1000))
    with ExitStack() as schemas:
        def make(**overrides: Any) -> tuple[Settings, str]:
            n = next(counter)
            overrides.setdefault("data_dir", tmp_path / f"data{n}")
            overrides.setdefault("backstop_idle_seconds", 0)
            settings = make_topics(**overrides)
            if request.param == "sqlite":
                return settings, f"sqlite:///{tmp_path / f'store{n}.db'}"
            return settings, schemas.enter_context(isolated_schema(request.getfixturevalue("pg_url")))

        yield make
