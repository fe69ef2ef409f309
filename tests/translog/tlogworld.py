"""The log under test: the app over a store of its own, and a way to grow it."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from fastapi import FastAPI

from greenshield.api.app import create_app
from greenshield.store import tokens
from greenshield.store.audit_log import append
from greenshield.store.database import Store
from tests.support.store import settings_for
from greenshield.settings import Settings


@dataclass
class Log:
    """The app over a store of its own, and an auditor and a regulator token."""

    app: FastAPI
    store: Store
    settings: Settings
    auditor: str
    regulator: str

    def grow(self, n: int, close: bool = True) -> None:
        """Append ``n`` entries (``{"n": i}``, numbered on from the tree's size) and sequence them."""
        with self.store.read() as conn:
            start = int(conn.exec_driver_sql("SELECT count(*) FROM audit_log").scalar_one())
        with self.store.write() as conn:
            ids = self.store.allocate_ids(conn, n)
            append(conn, [(i, "test", b'{"n":%d}' % (start + k)) for k, i in enumerate(ids)], self.store)
        self.app.state.service.sequencer.integrate(close=close)


def open_log(directory: Path, db_url: str | None = None) -> Log:
    """A new store (default: SQLite in ``directory``) behind the app, no background upkeep; the caller closes it."""
    settings = settings_for(directory / "var", db_url or f"sqlite:///{directory / 'tlog.db'}")
    store = Store.open(settings.db_url)
    app = create_app(settings, store, upkeep_seconds=0)
    tokens.ensure_tables(store)
    return Log(app, store, settings, tokens.create(store, "auditor")[1], tokens.create(store, "regulator")[1])
