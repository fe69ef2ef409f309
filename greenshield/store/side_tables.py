"""Tables beside the audit schema (API tokens, statistics), each set with its own MetaData and version row.

Such a set is an addition to any store, old or new: :func:`ensure_versioned_tables`
creates it on first use and records its version in a one-row table made by
:func:`version_table`, and refuses a store that holds another version of it.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

import sqlalchemy as sa
from sqlalchemy.engine import Connection
from sqlalchemy.exc import IntegrityError, OperationalError, ProgrammingError

if TYPE_CHECKING:
    from greenshield.store.database import Store


def version_table(name: str, metadata: sa.MetaData) -> sa.Table:
    """The one-row table ``name`` whose ``version`` says which version of a set of tables a store has."""
    return sa.Table(name, metadata, sa.Column("version", sa.Integer, primary_key=True, autoincrement=False))


def ensure_versioned_tables(store: Store, metadata: sa.MetaData, version: sa.Table, expected: int, marker: sa.Table,
                            what: str, seed: Callable[[Connection], None] | None = None) -> None:
    """Create ``metadata``'s tables if this store has none yet (safe to race with another process).

    A store without a version row gets ``expected`` (and ``seed(conn)`` in the same
    transaction); one with another version raises ``RuntimeError`` naming ``what``
    ("the store has {what} tables of version ..."). A database error is a lost race,
    and passes, when ``marker`` exists afterwards.
    """
    try:
        metadata.create_all(store.engine, checkfirst=True)
        with store.engine.connect() as conn:  # the usual case: a read, never a write lock
            found = conn.execute(sa.select(version.c.version)).scalars().all()
        if not found:
            # a write transaction (SQLite: BEGIN IMMEDIATE): a deferred one upgraded from read to write
            # fails at once with "database is locked" when another writer races it, leaving no version row
            with store.write() as conn:
                found = conn.execute(sa.select(version.c.version)).scalars().all()
                if not found:
                    conn.execute(version.insert().values(version=expected))
                    if seed is not None:
                        seed(conn)
                    found = [expected]
        if found != [expected]:
            raise RuntimeError(f"the store has {what} tables of version {found}, this program needs "
                               f"[{expected}]")
    except (IntegrityError, OperationalError, ProgrammingError):
        if not sa.inspect(store.engine).has_table(marker.name):  # not a lost race: a real error
            raise
