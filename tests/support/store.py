"""Test support for the audit store: a PostgreSQL schema of one's own, and settings for a temp dir.

Tests (and benchmarks) may share one PostgreSQL database: :func:`isolated_schema`
creates a fresh schema, yields a URL whose connections use it (``search_path``),
and drops it afterwards.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import sqlalchemy as sa

from greenshield.settings import Secret, Settings


@contextmanager
def isolated_schema(pg_url: str) -> Iterator[str]:
    """A URL of ``pg_url``'s database whose connections see only a new, empty schema."""
    schema = f"gs_test_{secrets.token_hex(6)}"
    engine = sa.create_engine(pg_url)
    try:
        with engine.begin() as conn:
            conn.exec_driver_sql(f"CREATE SCHEMA {schema}")
        url = sa.engine.make_url(pg_url).update_query_dict({"options": f"-csearch_path={schema}"})
        yield url.render_as_string(hide_password=False)
    finally:
        with engine.begin() as conn:
            conn.exec_driver_sql(f"DROP SCHEMA IF EXISTS {schema} CASCADE")
        engine.dispose()


def settings_for(data_dir: Path, db_url: str, every_entries: int = 10_000, every_seconds: int = 3600) -> Settings:
    """Development settings in ``data_dir`` with a fixed HMAC key."""
    return Settings(data_dir=data_dir, db_url=db_url, hmac_key=Secret("test-hmac-key"),
                    checkpoint_every_entries=every_entries, checkpoint_every_seconds=every_seconds)
