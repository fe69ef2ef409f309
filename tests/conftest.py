"""Shared fixtures: the servers integration tests need, and the CI guard.

Servers come from the environment (``make test`` / ``scripts/test.sh`` start them):

* ``GREENSHIELD_TEST_KAFKA``  -- bootstrap address of a real Kafka broker
* ``GREENSHIELD_TEST_KAFKA_CREDENTIALS`` -- its super user's credentials file, when it
  is a secure broker (``greenshield kafka up --secure``, what ``make test`` starts): every
  test client then logs in with SASL/SCRAM, and child processes get it as
  ``GREENSHIELD_KAFKA_CREDENTIALS``
* ``GREENSHIELD_TEST_PG_URL`` -- SQLAlchemy URL of a PostgreSQL database

Locally a missing server skips the tests that need it, with the reason shown.
With ``CI=true`` a missing server is a failure, and any skipped test marked
``kafka`` or ``postgres`` fails the run: CI must never pass on skipped tests.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from greenshield.devtools.process import free_port
from tests.support.stream import kafka_security

SERVER_MARKERS = ("kafka", "postgres")


if os.environ.get("GREENSHIELD_TEST_KAFKA_CREDENTIALS", "").strip():
    # commands the tests start as child processes log in as the test broker's super user too
    os.environ.setdefault("GREENSHIELD_KAFKA_CREDENTIALS", os.environ["GREENSHIELD_TEST_KAFKA_CREDENTIALS"])


def in_ci() -> bool:
    return os.environ.get("CI", "").strip().lower() in ("1", "true", "yes", "on")


def _unavailable(reason: str) -> None:
    if in_ci():
        pytest.fail(f"{reason} (CI=true: a missing server is a failure, not a skip)", pytrace=False)
    pytest.skip(reason)


@pytest.fixture(scope="session")
def kafka_bootstrap() -> str:
    """Bootstrap address of a Kafka broker that answers a metadata request."""
    addr = os.environ.get("GREENSHIELD_TEST_KAFKA", "").strip()
    if not addr:
        _unavailable(
            "GREENSHIELD_TEST_KAFKA is not set: run `make test`, or `greenshield kafka up` "
            "and export GREENSHIELD_TEST_KAFKA=127.0.0.1:19092"
        )
    from greenshield.devtools.kafka_broker import ProbeError, probe

    try:
        probe(addr, timeout=20.0, security=kafka_security())
    except ProbeError as e:
        _unavailable(f"Kafka at GREENSHIELD_TEST_KAFKA={addr} does not answer: {e}")
    return addr


@pytest.fixture(scope="session")
def pg_url() -> str:
    """SQLAlchemy URL of a PostgreSQL database that accepts a query."""
    url = os.environ.get("GREENSHIELD_TEST_PG_URL", "").strip()
    if not url:
        _unavailable(
            "GREENSHIELD_TEST_PG_URL is not set: run `make test`, or `scripts/pg.sh up` "
            "and export GREENSHIELD_TEST_PG_URL=$(scripts/pg.sh url)"
        )
    import sqlalchemy as sa

    try:
        engine = sa.create_engine(url, connect_args={"connect_timeout": 10} if url.startswith("postgresql") else {})
        try:
            with engine.connect() as conn:
                conn.execute(sa.text("select 1"))
        finally:
            engine.dispose()
    except Exception as e:  # any driver or URL error means "not available"
        _unavailable(f"PostgreSQL at GREENSHIELD_TEST_PG_URL does not answer: {type(e).__name__}: {e}")
    return url


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    """SQLAlchemy URL of a fresh SQLite file database."""
    return f"sqlite:///{tmp_path / 'greenshield-test.db'}"


# --------------------------------------------------------------------------- CI guard

_skipped_server_tests: list[str] = []


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    # shows up in --junitxml as <property name="needs" value="kafka"/>, which .ci/run counts
    for item in items:
        for name in SERVER_MARKERS:
            if item.get_closest_marker(name) is not None:
                item.user_properties.append(("needs", name))


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    if report.skipped and not hasattr(report, "wasxfail"):
        if any(name in report.keywords for name in SERVER_MARKERS):
            reason = report.longrepr[2] if isinstance(report.longrepr, tuple) else str(report.longrepr)
            _skipped_server_tests.append(f"{report.nodeid}: {reason}")


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    if in_ci() and _skipped_server_tests and exitstatus in (pytest.ExitCode.OK, pytest.ExitCode.NO_TESTS_COLLECTED):
        session.exitstatus = pytest.ExitCode.TESTS_FAILED


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    if in_ci() and _skipped_server_tests:
        terminalreporter.section("CI: server tests were skipped", red=True)
        for line in _skipped_server_tests:
            terminalreporter.line(line, red=True)
        terminalreporter.line("CI=true requires every kafka/postgres test to run; failing the session.", red=True)


@pytest.fixture
def free_ports() -> tuple[int, int]:
    """Two different TCP ports on 127.0.0.1 that were free a moment ago (for a private broker)."""
    port = free_port()
    while (other := free_port()) == port:
        pass
    return port, other
