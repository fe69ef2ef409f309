"""Which database errors mean a bad row and which an unavailable store, and how to name one without its values.

The stream worker bisects a batch the store refused for what a row holds (a data
exception, a constraint violation, a value the driver cannot bind) and waits out any
other store error (docs/adr/0008-stream-worker.md, "Failures and poison rows").
"""

from __future__ import annotations

import sqlite3

import sqlalchemy as sa
from sqlalchemy.exc import DataError, DBAPIError, IntegrityError, SQLAlchemyError, StatementError

from greenshield.store.database import Store

try:
    import psycopg
except ImportError:  # pragma: no cover - psycopg is a dependency
    DRIVER_ERRORS: tuple[type[Exception], ...] = (sqlite3.Error,)
else:
    DRIVER_ERRORS = (psycopg.Error, sqlite3.Error)


def driver_error(err: BaseException) -> bool:
    """A driver's own exception (PostgreSQL's COPY path raises psycopg errors unwrapped)."""
    return isinstance(err, DRIVER_ERRORS)


def from_store(err: BaseException) -> bool:
    """Did the store raise ``err`` (SQLAlchemy's wrapper or a driver's own exception)?"""
    return isinstance(err, SQLAlchemyError) or driver_error(err)


def bad_row(err: BaseException) -> bool:
    """Is the store error ``err`` about what a row holds (not about the store being unavailable)?"""
    if isinstance(err, (DataError, IntegrityError, sqlite3.DataError, sqlite3.IntegrityError)):
        return True
    if isinstance(err, StatementError) and not isinstance(err, DBAPIError):
        return True  # raised while binding a value (e.g. a string the driver cannot encode)
    if driver_error(err):  # SQLSTATE class 22 data exception, 23 integrity constraint violation
        return str(getattr(err, "sqlstate", None) or "")[:2] in ("22", "23")
    return False


def refusal(err: BaseException) -> str:
    """``<sqlstate> <class>`` of a store error (or the exception class): never the message, which holds values."""
    orig = getattr(err, "orig", None)
    code = getattr(orig, "sqlstate", None) or getattr(orig, "sqlite_errorname", None)
    name = type(orig if orig is not None else err).__name__
    return f"{code} {name}" if code else name


def ping(store: Store) -> None:
    """One trivial query: returns once the store answers, raises while it does not."""
    with store.read() as conn:
        conn.execute(sa.text("SELECT 1"))
