"""The database behind the audit store: engine set-up, schema creation, transactions, entry ids.

One code path for SQLite and PostgreSQL. Three kinds of transaction (:meth:`Store.read`,
:meth:`Store.write`, :meth:`Store.sequencing`); entry ids from :meth:`Store.allocate_ids`;
hot inserts through :func:`insert_rows`; leaf hashes handed to this process's sequencer in
memory (:class:`Handoff`). How each kind locks: ``docs/adr/0011-writers-and-sequencer.md``.
"""

from __future__ import annotations

import functools
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from greenshield.errors import StoreError
from greenshield.store import schema as t

#: what the database layer raises when the store fails (an outage, a refused statement), for callers outside store/
DATABASE_ERRORS: tuple[type[Exception], ...] = (sa.exc.SQLAlchemyError,)
#: a unique or foreign key refused the row (someone else stored it first)
IntegrityError = sa.exc.IntegrityError

_WRITERS_LOCK = "hashtext(current_schema() || ':greenshield-writers')"
_SEQUENCER_LOCK = "hashtext(current_schema() || ':greenshield-sequencer')"
_STASH = "greenshield_leaves"


class SchemaError(StoreError, RuntimeError):
    """The database holds a schema of another version, or none where one is needed."""


#: page cache per SQLite connection, KiB (SQLite's default is 2 MiB). The events table
#: has 9 indexes; once they outgrow the cache every insert reads pages back from the
#: OS. Measured (benchmarks/stream_bench.py's budget, 200k events, two runs each):
#: inserting an events row took 58-74 us with the default, 44-46 us with 128 MiB.
SQLITE_CACHE_KIB = 128 * 1024


def create_engine(url: str) -> Engine:
    """An engine for ``url``; SQLite files get WAL, ``synchronous=NORMAL`` and explicit BEGINs."""
    if not url.startswith("sqlite"):
        # no server-side prepared statements: a generic plan made while the tables were small
        # can stay a sequential scan (docs/adr/0004-bulk-store.md, "Prepared statements")
        return sa.create_engine(url, connect_args={"prepare_threshold": None})
    path = sa.engine.make_url(url).database
    if path and path != ":memory:":
        Path(path).parent.mkdir(parents=True, exist_ok=True)
    engine = sa.create_engine(url, connect_args={"timeout": 60})
    sa.event.listen(engine, "connect", _sqlite_connect)
    sa.event.listen(engine, "begin", _sqlite_begin)
    return engine


def _sqlite_connect(dbapi_connection: Any, _record: Any) -> None:
    dbapi_connection.isolation_level = None  # we emit BEGIN ourselves (see _sqlite_begin)
    cur = dbapi_connection.cursor()
    cur.execute("PRAGMA journal_mode=WAL")
    cur.execute("PRAGMA synchronous=NORMAL")
    cur.execute("PRAGMA busy_timeout=60000")
    cur.execute(f"PRAGMA cache_size=-{SQLITE_CACHE_KIB}")
    cur.close()


def _sqlite_begin(conn: Connection) -> None:
    immediate = conn.get_execution_options().get("greenshield_write", False)
    conn.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")


Chunk = tuple[list[int], list[bytes]]


class Handoff:
    """Leaf hashes of the entries this process's writers committed, for its sequencer, in chunks.

    Only a saving: the sequencer checks by a count that they are all the pending
    entries, and reads back from the database whatever is not here.
    """

    LIMIT = 1_000_000  # hashes held at most (a process whose entries another one sequences drops old ones)

    def __init__(self) -> None:
        self._chunks: list[Chunk] = []
        self._held = 0
        self._lock = threading.Lock()

    def publish(self, chunks: list[Chunk]) -> None:
        with self._lock:
            for chunk in chunks:
                if chunk[0]:
                    self._chunks.append(chunk)
                    self._held += len(chunk[0])
            while self._held > self.LIMIT:
                self._held -= len(self._chunks.pop(0)[0])

    def take(self, after: int, upto: int) -> Chunk:
        """``(ids, leaf hashes)`` held for ids in ``(after, upto]``, sorted by id; older ones are dropped."""
        with self._lock:
            chunks, self._chunks = self._chunks, [c for c in self._chunks if c[0][0] > upto]
            self._held = sum(len(c[0]) for c in self._chunks)
        took = [c for c in chunks if after < c[0][0] and c[0][-1] <= upto]
        ids: list[int] = []
        leaves: list[bytes] = []
        for chunk_ids, chunk_leaves in took:
            ids.extend(chunk_ids)
            leaves.extend(chunk_leaves)
        if any(a[0][-1] > b[0][0] for a, b in zip(took, took[1:])):  # writers interleaved their ids
            pairs = sorted(zip(ids, leaves))
            ids, leaves = [p[0] for p in pairs], [p[1] for p in pairs]
        return ids, leaves


class Store:
    """An open audit database; the schema is created on first use."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.is_sqlite = engine.dialect.name == "sqlite"
        self.handoff = Handoff()

    @classmethod
    def open(cls, url: str, create: bool = True) -> "Store":
        store = cls(create_engine(url))
        store.ensure_schema(create)
        return store

    def close(self) -> None:
        self.engine.dispose()

    # --- transactions
    @contextmanager
    def read(self) -> Iterator[Connection]:
        with self.engine.connect() as conn, conn.begin():
            yield conn

    @contextmanager
    def snapshot(self) -> Iterator[Connection]:
        """A read transaction that sees one state of the whole database (for verification)."""
        with self.engine.connect() as raw:
            conn = raw if self.is_sqlite else raw.execution_options(isolation_level="REPEATABLE READ")
            with conn.begin():
                yield conn

    @contextmanager
    def write(self) -> Iterator[Connection]:
        with self.engine.connect() as raw:
            conn = raw.execution_options(greenshield_write=True)
            conn.info.pop(_STASH, None)
            try:
                with conn.begin():
                    if not self.is_sqlite:
                        conn.exec_driver_sql(f"SELECT pg_advisory_xact_lock_shared({_WRITERS_LOCK})")
                    yield conn
            except BaseException:
                conn.info.pop(_STASH, None)
                raise
            committed = conn.info.pop(_STASH, None)
            if committed:
                self.handoff.publish(committed)

    def stash_leaves(self, conn: Connection, ids: list[int], leaves: list[bytes]) -> None:
        """Keep the leaf hashes written in ``conn``'s transaction for the handoff, once it commits."""
        conn.info.setdefault(_STASH, []).append((ids, leaves))

    @contextmanager
    def sequencing(self) -> Iterator[Connection]:
        with self.engine.connect() as raw:
            conn = raw.execution_options(greenshield_write=True)
            with conn.begin():
                if not self.is_sqlite:
                    conn.exec_driver_sql(f"SELECT pg_advisory_xact_lock({_SEQUENCER_LOCK})")
                yield conn

    def committed_high_water(self, conn: Connection) -> int:
        """The largest entry id below which no writer can still commit.

        SQLite: writers are serialised, so it is ``max(id)`` read in the sequencer's
        transaction. PostgreSQL: a writer takes its ids while holding the shared writers'
        lock, so once the exclusive lock is granted (briefly, in its own transaction)
        every id handed out so far is committed or abandoned.
        """
        if self.is_sqlite:
            return int(conn.execute(sa.select(sa.func.coalesce(sa.func.max(t.audit_log.c.id), 0))).scalar_one())
        with self.engine.connect() as other, other.begin():
            other.exec_driver_sql(f"SELECT pg_advisory_xact_lock({_WRITERS_LOCK})")
            return int(other.execute(sa.select(sa.func.coalesce(sa.func.max(t.audit_log.c.id), 0))).scalar_one())

    def allocate_ids(self, conn: Connection, n: int) -> list[int]:
        """``n`` fresh, increasing entry ids, inside a writer's transaction."""
        if n <= 0:
            return []
        if self.is_sqlite:
            ids = t.audit_ids
            first = int(conn.execute(sa.select(ids.c.next_id).where(ids.c.id == 1)).scalar_one())
            conn.execute(ids.update().where(ids.c.id == 1).values(next_id=first + n))
            return list(range(first, first + n))
        rows = conn.execute(sa.text(f"SELECT nextval('{t.ENTRY_SEQUENCE}') FROM generate_series(1, :n)"), {"n": n})
        return sorted(int(r[0]) for r in rows)

    # --- schema
    def ensure_schema(self, create: bool = True) -> None:
        """Check the schema version; create the schema in an empty database when ``create``."""
        inspector = sa.inspect(self.engine)
        if inspector.has_table(t.schema_version.name):
            with self.read() as conn:
                found = conn.execute(sa.select(t.schema_version.c.version)).scalars().all()
            if found != [t.SCHEMA_VERSION]:
                raise SchemaError(f"the database has audit schema version {found}, this program needs "
                                  f"[{t.SCHEMA_VERSION}]")
            return
        if not create:
            raise SchemaError("the database holds no Green Shield audit store")
        self._create()

    def _create(self) -> None:
        with self.engine.begin() as conn:
            t.metadata.create_all(conn)
            if not self.is_sqlite:
                conn.exec_driver_sql(f"CREATE SEQUENCE IF NOT EXISTS {t.ENTRY_SEQUENCE} START 1")
            conn.execute(t.audit_ids.insert().values(id=1, next_id=1))
            conn.execute(t.audit_state.insert().values(
                id=1, tree_size=0, last_id=0, compact=(0).to_bytes(8, "big"), checkpoint_size=0, checkpoint_ms=0))
            conn.execute(t.run_state.insert().values(id=1, as_of_s=-(1 << 62), as_of_frac="", events_seen=0))
            conn.execute(t.schema_version.insert().values(version=t.SCHEMA_VERSION))


def insert_rows(conn: Connection, table: sa.Table, columns: Sequence[str], rows: list[tuple[Any, ...]]) -> None:
    """A batched INSERT straight to the driver: ``executemany`` on SQLite, ``COPY`` on PostgreSQL.

    PostgreSQL: binary ``COPY`` when every column's type has a binary form here (:data:`PG_BINARY`;
    no text rendering and parsing of integers, booleans, bytea), else text ``COPY``. A value the
    server refuses (a NUL in text, a string over its ``VARCHAR(n)``, a constraint) raises the driver's
    ``DataError`` / ``IntegrityError`` in the transaction, as an ``INSERT`` would. SQLite: one
    ``executemany`` of one prepared statement on the raw connection.
    """
    if not rows:
        return
    sql, types = _insert_sql(conn.dialect, table, tuple(columns))
    cursor = conn.connection.dbapi_connection.cursor()  # type: ignore[union-attr]
    try:
        if conn.dialect.name != "postgresql":
            cursor.executemany(sql, rows)
            return
        with cursor.copy(sql) as copy:
            if types:
                copy.set_types(types)
            write = copy.write_row
            for row in rows:
                write(row)
    finally:
        cursor.close()


#: PostgreSQL types of binary COPY by column type (the first match; subclasses before their bases)
PG_BINARY: tuple[tuple[type[sa.types.TypeEngine[Any]], str], ...] = (
    (sa.Boolean, "bool"), (sa.BigInteger, "int8"), (sa.SmallInteger, "int2"), (sa.Integer, "int4"),
    (sa.LargeBinary, "bytea"), (sa.String, "text"))  # Text is a String; VARCHAR's binary form is text's


def _pg_type(column: sa.Column[Any]) -> str | None:
    kind = column.type
    return next((name for cls, name in PG_BINARY if isinstance(kind, cls)), None)


@functools.lru_cache(maxsize=256)
def _insert_sql(dialect: sa.Dialect, table: sa.Table, columns: tuple[str, ...]) -> tuple[str, list[str] | None]:
    """The statement of :func:`insert_rows` and, for binary COPY, the PostgreSQL type of each column."""
    quote = dialect.identifier_preparer.quote
    names = ", ".join(quote(c) for c in columns)
    if dialect.name != "postgresql":
        mark = "?" if dialect.paramstyle == "qmark" else "%s"
        return f"INSERT INTO {quote(table.name)} ({names}) VALUES ({', '.join([mark] * len(columns))})", None
    types = [_pg_type(table.c[c]) for c in columns]
    if all(types):
        return f"COPY {quote(table.name)} ({names}) FROM STDIN (FORMAT BINARY)", [str(x) for x in types]
    return f"COPY {quote(table.name)} ({names}) FROM STDIN", None


def placeholder(conn: Connection) -> str:
    """The driver's parameter marker, for :meth:`Connection.exec_driver_sql`."""
    return "?" if conn.dialect.paramstyle == "qmark" else "%s"


def insert_ignoring_conflicts(store: Store, table: sa.Table) -> Any:
    """``INSERT ... ON CONFLICT DO NOTHING`` in the store's dialect."""
    if store.is_sqlite:
        from sqlalchemy.dialects.sqlite import insert as sqlite_insert
        return sqlite_insert(table).on_conflict_do_nothing()
    from sqlalchemy.dialects.postgresql import insert as pg_insert
    return pg_insert(table).on_conflict_do_nothing()
