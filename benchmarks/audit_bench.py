"""Audit store benchmark: append throughput against a raw insert, and ``trace WAYBILL`` latency.

    .venv/bin/python benchmarks/audit_bench.py --db sqlite [--entries 200000] [--events 1000000]
    .venv/bin/python benchmarks/audit_bench.py --db pg [--pg-url URL]   (default: GREENSHIELD_TEST_PG_URL)

1. *Append*: the same event entries (canonical bytes, built beforehand) are written
   in batches of ``--batch``, raw and audited in turn batch by batch (so load from other
   processes hits both alike), each timed apart: **raw** = one executemany INSERT of
   ``(id, kind, entry)`` per batch into a plain table of its own database, one
   transaction per batch, by the same driver-level path the store uses; **audited** = the real
   writer (id allocation, leaf hashes, INSERT) then the sequencer (compact tree, runs,
   cached subtrees) after every ``--sequence-every`` entries (writers never wait for it), a
   signed checkpoint every 10,000 entries and on close; the time includes the final
   sequencing. ``--rounds`` rounds; the median round is reported.
2. *Trace*: ``--events`` synthetic parcel events (8 per parcel) go through the real
   intake (validation, redaction, duplicate check, rows, entries) and the sequencer;
   then ``trace_waybill`` runs for ``--queries`` random waybills, each in its own read
   transaction; p50/p99 are reported without and with writing the query to the log.
3. *Store budget* (``--store-budget``): the sample day's parcels copied under new waybills
   and event ids up to ``--budget-events`` events, decoded as the worker does (not timed),
   then per event: *build* (row + audit entry), *insert events row* (id allocation and the
   events insert) and *insert audit-log entry* (``append``), in writer transactions of
   ``--batch`` events into an empty store; wall and this process's CPU microseconds per
   event. With ``--index-cost`` the events insert is repeated on a fresh store once per
   secondary index of ``events`` with that index dropped, and once with all dropped; with
   ``--compare-old`` the path before ADR 0004 (dict rows, text COPY / ``exec_driver_sql``, full
   indexes) and the current one run in interleaved rounds. On PostgreSQL on this machine the
   backend's CPU (from /proc) is reported too.
"""

from __future__ import annotations

import argparse
import itertools
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import orjson
import sqlalchemy as sa

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from greenshield.translog.checkpoint import generate_private_key  # noqa: E402
from greenshield.translog.entries import event_entry  # noqa: E402
from greenshield.store.intake_files import Intake  # noqa: E402
from greenshield.store.audit_log import Policy, Sequencer, append  # noqa: E402
from greenshield.store.queries import record, trace_waybill  # noqa: E402
from greenshield.store.schema import RowKey  # noqa: E402
from greenshield.store.database import Store, insert_rows  # noqa: E402
from tests.support.store import isolated_schema  # noqa: E402


def entries(n: int) -> list[bytes]:
    rnd = random.Random(1)
    doc = {"type": "xray", "site_id": "S10000001", "machine_id": "X10000001", "result": "clear"}
    return [event_entry("E3100001", f"ev-{i:09d}", "xray", {**doc, "n": rnd.random()}, None, (False, False))
            for i in range(n)]


class Clock:
    """Wall and process CPU time spent inside ``with clock:`` blocks; with ``pid`` set, that process's CPU too
    (the PostgreSQL backend of the connection, when the server runs on this machine)."""

    def __init__(self) -> None:
        self.wall = self.cpu = self.server = 0.0
        self.pid: int | None = None

    def __enter__(self) -> None:
        self._w, self._c, self._s = time.perf_counter(), time.process_time(), _cpu_of(self.pid)

    def __exit__(self, *exc: object) -> None:
        self.wall += time.perf_counter() - self._w
        self.cpu += time.process_time() - self._c
        self.server += _cpu_of(self.pid) - self._s


def _cpu_of(pid: int | None) -> float:
    """User + system CPU seconds of process ``pid`` (0 without one or when it cannot be read)."""
    if pid is None:
        return 0.0
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def append_round(raw_url: str, audit_url: str, rows: list[bytes], batch: int, every: int) -> tuple[Clock, Clock, int]:
    """Raw and audited appends of the same rows, batch by batch in turn, each timed apart."""
    raw_store, store = Store.open(raw_url), Store.open(audit_url)
    raw = sa.Table("bench_raw", sa.MetaData(), sa.Column("id", RowKey, primary_key=True, autoincrement=False),
                   sa.Column("kind", sa.String(16)), sa.Column("entry", sa.LargeBinary))
    raw.create(raw_store.engine)
    seq = Sequencer(store, generate_private_key(), Policy(10_000, 3600))
    raw_clock, audit_clock = Clock(), Clock()
    for lo in range(0, len(rows), batch):
        chunk = rows[lo:lo + batch]
        with raw_clock, raw_store.write() as conn:
            insert_rows(conn, raw, ("id", "kind", "entry"), [(lo + k + 1, "event", e) for k, e in enumerate(chunk)])
        with audit_clock:
            with store.write() as conn:
                ids = store.allocate_ids(conn, len(chunk))
                append(conn, ((i, "event", e) for i, e in zip(ids, chunk)), store)
            if (lo + batch) % every < batch:
                seq.integrate()
    with audit_clock:
        done = seq.integrate(close=True)
    with store.read() as conn:
        checkpoints = int(conn.exec_driver_sql("SELECT count(*) FROM checkpoints").scalar_one())
    raw_store.close()
    store.close()
    assert done.tree_size == len(rows)
    return raw_clock, audit_clock, checkpoints


def bench_append(make_url: Iterator[str], n: int, batch: int, every: int, rounds: int) -> None:
    rows = entries(n)
    ratios, results = [], []
    for round_no in range(rounds):
        raw, audited, checkpoints = append_round(next(make_url), next(make_url), rows, batch, every)
        ratios.append(raw.wall / audited.wall)
        results.append((n / raw.wall, n / audited.wall, raw.cpu / audited.cpu))
        print(f"  round {round_no + 1}: raw {n / raw.wall:,.0f}/s  audited {n / audited.wall:,.0f}/s  "
              f"ratio {ratios[-1]:.0%} (by CPU time {results[-1][2]:.0%}; {checkpoints} checkpoints)", flush=True)
    k = ratios.index(statistics.median(ratios)) if rounds % 2 else ratios.index(max(ratios))
    raw_rate, audit_rate, cpu_ratio = results[k]
    print(f"append: {n:,} entries, batch {batch}, sequencer every {every:,}; median round: raw {raw_rate:,.0f} "
          f"entries/s, audited {audit_rate:,.0f} entries/s, ratio {ratios[k]:.0%} (CPU-time ratio {cpu_ratio:.0%})")


def synthetic_lines(events: int) -> Iterator[bytes]:
    rnd = random.Random(7)
    types = ("acceptance", "xray", "sort_scan", "depart", "arrive", "sort_scan", "depart", "delivery")
    for p in range(events // len(types)):
        w, base = f"YT{p:010d}", 1_762_819_200 + p * 2
        for k, kind in enumerate(types):
            at = time.strftime("%Y-%m-%dT%H:%M:%S+00:00", time.gmtime(base + k * 1800))
            ev = {"v": 1, "event_id": f"e{p}-{k}", "type": kind, "enterprise_id": "E3100001", "waybill_no": w,
                  "occurred_at": at, "site_id": f"S{rnd.randrange(10**8):08d}",
                  "staff_id": f"P{rnd.randrange(5000):08d}"}
            if kind == "acceptance":
                ev.update(origin_region="310000", destination_region="320100", weight_g=900,
                          sender={"name": "张三", "id_type": "passport", "id_number": f"E{p:08d}",
                                  "verified_by": "id_reader"},
                          inspection={"inspector_id": f"P{rnd.randrange(5000):08d}", "inspected_at": at,
                                      "result": "passed", "category": "books"})
            elif kind == "xray":
                ev.update(machine_id=f"X{rnd.randrange(300):08d}", result="clear")
            elif kind in ("depart", "arrive"):
                ev.update(vehicle_id=f"V{rnd.randrange(2000):08d}")
                ev["to_site_id" if kind == "depart" else "from_site_id"] = f"S{rnd.randrange(10**8):08d}"
            elif kind == "delivery":
                ev["method"] = "hand"
            yield orjson.dumps(ev) + b"\n"


def bench_trace(url: str, events: int, queries: int) -> None:
    store = Store.open(url)
    with store.read() as conn:
        stored = int(conn.exec_driver_sql("SELECT count(*) FROM events").scalar_one())
    if stored < events:  # a --store URL may already hold them
        start = time.perf_counter()
        Intake(store, b"bench-key").feed(synthetic_lines(events), "bench")
        Sequencer(store, generate_private_key()).integrate(close=True)
        with store.read() as conn:
            stored = int(conn.exec_driver_sql("SELECT count(*) FROM events").scalar_one())
        print(f"trace: stored {stored:,} events in {time.perf_counter() - start:.0f} s (intake + sequencer)",
              flush=True)
    rnd = random.Random(3)
    parcels = stored // 8
    for logged in (False, True):
        times = []
        for _ in range(queries):
            w = f"YT{rnd.randrange(parcels):010d}"
            t0 = time.perf_counter()
            with store.read() as conn:
                found = trace_waybill(conn, w)
            if logged:
                record(store, "trace.waybill", {"waybill_no": w}, len(found["events"]))
            times.append((time.perf_counter() - t0) * 1000)
            assert len(found["events"]) == 8
        q = statistics.quantiles(times, n=100)
        label = "query + audit-log write" if logged else "query"
        print(f"trace WAYBILL ({label}): {queries} queries on {stored:,} events: p50 {q[49]:.2f} ms, "
              f"p99 {q[98]:.2f} ms")
    store.close()


SAMPLE = ROOT / "tests" / "data" / "sample-day.jsonl"


def sample_events(n: int) -> list[Any]:
    """``n`` parcel events of the sample day under fresh waybills and ids, decoded as the worker does."""
    from greenshield.stream.decode import Candidate, decode

    parcels = [d for d in map(orjson.loads, SAMPLE.read_bytes().splitlines()) if d["type"] != "registry"]
    lines: list[bytes] = []
    for k in itertools.count():
        if len(lines) >= n:
            break
        lines.extend(orjson.dumps({**d, "waybill_no": f"{d['waybill_no']}B{k:05d}", "event_id": f"{d['event_id']}.{k}"})
                     for d in parcels)
    got = [decode("gs.events", i % 6, i, v, b"bench-hmac-key", "gs.registry") for i, v in enumerate(lines[:n])]
    return [c for c in got if isinstance(c, Candidate)]


def _built(ids: list[int], cands: list[Any]) -> tuple[list[tuple[Any, ...]], list[bytes]]:
    """(events rows, audit entries) of decoded events, by the store's own path (stream_sink.store_events)."""
    from greenshield.store.rows import event_values

    built = [event_values(i, c.item, c.doc, c.digest, c.source, c.offset) for i, c in zip(ids, cands)]
    return [r for r, _ in built], [e for _, e in built]


def store_round(url: str, cands: list[Any], batch: int, drop: tuple[str, ...] = (),
                log: bool = True) -> dict[str, Clock]:
    """Per batch of ``cands``: build rows and entries, insert the events rows, append the entries (each timed)."""
    from greenshield.store import schema as t
    from greenshield.store.audit_log import append_entries
    from greenshield.store.rows import EVENT_COLUMNS

    store = Store.open(url)
    for name in drop:
        with store.write() as conn:
            conn.exec_driver_sql(f"DROP INDEX {name}")
    clocks = {k: Clock() for k in ("build", "events", "log")}
    for lo in range(0, len(cands), batch):
        part = cands[lo:lo + batch]
        with store.write() as conn:
            if not store.is_sqlite:
                clocks["events"].pid = clocks["log"].pid = int(
                    conn.exec_driver_sql("SELECT pg_backend_pid()").scalar_one())
            with clocks["events"]:
                ids = store.allocate_ids(conn, len(part))
            with clocks["build"]:
                rows, leaves = _built(ids, part)
            with clocks["events"]:
                insert_rows(conn, t.events, EVENT_COLUMNS, rows)
            if log:
                with clocks["log"]:
                    append_entries(conn, ids, "event", leaves, store)
    with store.read() as conn:
        assert int(conn.exec_driver_sql("SELECT count(*) FROM events").scalar_one()) == len(cands)
    store.close()
    return clocks


def _schema6_insert(conn: Any, table: sa.Table, columns: Sequence[str], rows: list[tuple[Any, ...]]) -> None:
    """insert_rows as it was before ADR 0004: text COPY on PostgreSQL, exec_driver_sql on SQLite."""
    quote = conn.dialect.identifier_preparer.quote
    names = ", ".join(quote(c) for c in columns)
    if conn.dialect.name == "postgresql":
        cursor = conn.connection.dbapi_connection.cursor()
        with cursor.copy(f"COPY {quote(table.name)} ({names}) FROM STDIN") as copy:
            for row in rows:
                copy.write_row(row)
        return
    conn.exec_driver_sql(f"INSERT INTO {quote(table.name)} ({names}) VALUES ({', '.join(['?'] * len(columns))})",
                         rows)


def old_round(url: str, cands: list[Any], batch: int) -> dict[str, Clock]:
    """:func:`store_round` by the path before ADR 0004: event_row_entry dicts, text COPY, full sparse indexes."""
    from greenshield.store import schema as t
    from greenshield.translog.merkle import leaf_hash
    from greenshield.store.rows import event_row_entry

    store = Store.open(url)
    with store.write() as conn:
        for ix in t.SPARSE_INDEXES:
            conn.exec_driver_sql(f"DROP INDEX {ix.name}")
            conn.exec_driver_sql(f"CREATE INDEX {ix.name} ON events ({', '.join(c.name for c in ix.columns)})")
    clocks = {k: Clock() for k in ("build", "events", "log")}
    for lo in range(0, len(cands), batch):
        part = cands[lo:lo + batch]
        with store.write() as conn:
            if not store.is_sqlite:
                clocks["events"].pid = clocks["log"].pid = int(
                    conn.exec_driver_sql("SELECT pg_backend_pid()").scalar_one())
            with clocks["events"]:
                ids = store.allocate_ids(conn, len(part))
            with clocks["build"]:
                built = [event_row_entry(c.item, c.doc, c.digest, c.source, c.offset) for c in part]
            with clocks["events"]:
                _schema6_insert(conn, t.events, ("entry_id", *built[0][0]),
                                [(i, *r.values()) for i, (r, _) in zip(ids, built)])
            with clocks["log"]:
                rows = [(i, "event", e) for i, (_, e) in zip(ids, built)]
                _schema6_insert(conn, t.audit_log, ("id", "kind", "entry"), rows)
                store.stash_leaves(conn, ids, [leaf_hash(r[2]) for r in rows])
    store.close()
    return clocks


def compare_old(make_url: Iterator[str], cands: list[Any], batch: int, rounds: int, us: float, pg: bool) -> None:
    """The old path and the new one in interleaved rounds; each step's least CPU is kept."""
    best: dict[tuple[str, str], Clock] = {}
    for _ in range(rounds):
        for path, run in (("before", old_round), ("after", store_round)):
            for step, clock in run(next(make_url), cands, batch).items():
                kept = best.get((path, step))
                if kept is None or clock.cpu + clock.server < kept.cpu + kept.server:
                    best[(path, step)] = clock
    print(f"  before (schema 6 path) / after, {rounds} interleaved rounds, least CPU kept:")
    for step in ("build", "events", "log"):
        print(f"    {step:8s} before {_us(best[('before', step)], us, pg and step != 'build')}   "
              f"after {_us(best[('after', step)], us, pg and step != 'build')}", flush=True)


def _us(clock: Clock, us: float, server: bool) -> str:
    return f"{clock.wall * us:6.1f} / {clock.cpu * us:5.1f}" + (f" + {clock.server * us:5.1f}" if server else "")


def bench_store(make_url: Iterator[str], n: int, batch: int, index_cost: bool, rounds: int,
                compare: bool = False) -> None:
    from greenshield.store import schema as t
    from greenshield.stream.gc_tuning import tune_gc

    tune_gc()  # as `greenshield worker` does
    cands = sample_events(n)
    us = 1e6 / len(cands)
    first = next(make_url)
    pg = not first.startswith("sqlite")
    print(f"store budget: {len(cands):,} events, batch {batch}; us per event: wall / this process's CPU"
          + (" + the PostgreSQL backend's CPU" if pg else ""), flush=True)
    clocks = store_round(first, cands, batch)
    for label, key in (("build row + audit entry", "build"), ("insert events row", "events"),
                       ("insert audit-log entry", "log")):
        print(f"  {label:28s} {_us(clocks[key], us, pg and key != 'build')}", flush=True)
    if compare:
        compare_old(make_url, cands, batch, rounds, us, pg)
    if not index_cost:
        return
    names = sorted(ix.name for ix in t.events.indexes if ix.name)
    configs: dict[str, tuple[str, ...]] = {"all indexes": (), **{f"without {k}": (k,) for k in names},
                                           "without all secondary": tuple(names)}
    best: dict[str, Clock] = {}
    for _ in range(rounds):  # interleaved, the least CPU of the rounds kept (load from others only adds)
        for label, drop in configs.items():
            got = store_round(next(make_url), cands, batch, drop=drop, log=False)["events"]
            if label not in best or got.cpu + got.server < best[label].cpu + best[label].server:
                best[label] = got
    base = best["all indexes"]
    print(f"  events insert per index ({rounds} rounds, least CPU kept; cost = all indexes minus without it, "
          f"by CPU):")
    for label, got in best.items():
        cost = (base.cpu + base.server - got.cpu - got.server) * us
        print(f"    {label:32s} {_us(got, us, pg)}" + (f"  cost {cost:+5.1f}" if got is not base else ""),
              flush=True)


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--db", choices=("sqlite", "pg"), default="sqlite")
    p.add_argument("--pg-url", default=os.environ.get("GREENSHIELD_TEST_PG_URL", ""))
    p.add_argument("--entries", type=int, default=200_000)
    p.add_argument("--batch", type=int, default=5000, help="entries per writer transaction")
    p.add_argument("--sequence-every", type=int, default=50_000, help="run the sequencer after this many entries")
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--events", type=int, default=1_000_000)
    p.add_argument("--queries", type=int, default=2000)
    p.add_argument("--skip-trace", action="store_true")
    p.add_argument("--skip-append", action="store_true")
    p.add_argument("--store-budget", action="store_true", help="the per-event store budget (only)")
    p.add_argument("--budget-events", type=int, default=200_000)
    p.add_argument("--index-cost", action="store_true", help="with --store-budget: each events index's cost")
    p.add_argument("--compare-old", action="store_true",
                   help="with --store-budget: the path before ADR 0004 against the current one")
    p.add_argument("--store", metavar="URL", help="trace on this store (filled with --events if it has fewer)")
    args = p.parse_args()
    with ExitStack() as stack:
        if args.db == "pg":
            pg = args.pg_url or subprocess.run([str(ROOT / "scripts" / "pg.sh"), "url"], capture_output=True,
                                               text=True, check=True).stdout.strip()
            urls: Iterator[str] = (stack.enter_context(isolated_schema(pg)) for _ in itertools.count())
        else:
            tmp = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="audit-bench-")))
            urls = (f"sqlite:///{tmp / f'bench-{i}.db'}" for i in itertools.count())
        print(f"audit bench on {args.db}", flush=True)
        if args.store_budget:
            bench_store(urls, args.budget_events, args.batch, args.index_cost, args.rounds, args.compare_old)
            return 0
        if not args.skip_append:
            bench_append(urls, args.entries, args.batch, args.sequence_every, args.rounds)
        if not args.skip_trace:
            bench_trace(args.store or next(urls), args.events, args.queries)
    return 0


if __name__ == "__main__":
    sys.exit(main())
