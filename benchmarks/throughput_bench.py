"""Throughput side by side: bare consumers, the quixstreams COPY-sink peer, the worker, check; and scale-out.

    .venv/bin/python benchmarks/throughput_bench.py [--events 200000] [--repeat 1] [--json FILE]
        [--pg-url URL] [--bootstrap HOST:PORT]

Method (one run, one broker, one machine, the same events for every row):

1. *Data*: ``stream_bench.dataset(--events)`` parcel events (+ the 204 registry
   records), produced once through the SDK (``stream_bench.produce``) to fresh topics
   (6 event partitions). Not timed. Every row below reads this same events topic
   from the beginning, each in a child process of its own (its own consumer group),
   one after the other; with ``--repeat`` the rows are run round-robin and the
   median run of each is shown. CPU is the child's user+system time over the timed
   window (all its threads, librdkafka's included).
2. *Bare consumers* (no group, all partitions assigned, time from the first poll to
   the last message): kafka-python (``stream_bench.bare_consumer``, the baseline of
   the ratios: median of its runs at the start and at the end of each round), and
   confluent-kafka ``consume(10000)``.
3. *COPY floor*: confluent-kafka ``consume(10000)`` (``fetch.queue.backoff.ms=50``),
   orjson decode, the peer's row mapping, binary COPY into a table of the worker's
   ``events`` shape (9 indexes) 5000 rows per transaction, offsets committed after
   each DB commit. Timed to the last commit.
4. *Peer*: the quixstreams app of ``benchmarks/quix_peer.py`` (a ``BatchingSink``
   writing the same rows by COPY; quixstreams commits offsets after the sink's
   flush), with the default checkpoint (5 s) and with ``commit_every=5000``.
5. *Worker*: the installed :class:`~greenshield.stream.worker.Worker`
   (``stream_bench.run_worker``: the real one, everything it does) on SQLite (a temp
   file) and on PostgreSQL (a fresh schema of ``--pg-url``).
   Groups (peer, floor, worker) are timed from the start of the consuming loop (group
   join included; the local broker has no initial rebalance delay) until the group's
   committed offsets reach the end offsets, i.e. until every event is in the store.
6. *Two workers*: two worker processes, one group, one PostgreSQL schema, started
   together; from the first one's loop start until the group's committed offsets reach
   the end offsets.
7. *Sequencer capacity*: ``--events`` entries are written through the real intake into
   a fresh PostgreSQL schema, nothing sequenced; then ``Sequencer.integrate(close=True)``
   integrates the backlog and signs its checkpoints (every 10,000 entries), timed:
   (a) by a new process's store, which reads the leaves back from the database (as
   when the workers that wrote them are other processes), (b) by the writer's own
   store (leaf hashes handed over in memory). Compared with one worker's rate of
   audit entries (events/s times the entries per event it wrote).
8. *check*: ``check_bench`` (a simulated file of about ``--events`` lines; ``greenshield
   check`` against a loop of ``json.loads`` over the same file, child processes).
9. *Peak sizing*: 90,000 events/s, from the figures measured above (printed with the
   arithmetic).
"""

from __future__ import annotations

import argparse
import dataclasses
import importlib.metadata
import json
import math
import os
import platform
import resource
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(ROOT))

import stream_bench  # noqa: E402

from greenshield.settings import Secret, Settings  # noqa: E402

PEAK = 90_000
GOALS = {"worker-pg": 25_000, "worker-sqlite": 18_000}
ROWS = {  # variant -> label
    "kafka-python": "bare kafka-python consumer",
    "confluent": "bare confluent-kafka consume(10000)",
    "confluent-copy": "confluent + orjson + COPY (9 idx), floor",
    "quix-default": "quixstreams COPY sink, default 5 s",
    "quix-5000": "quixstreams COPY sink, commit_every=5000",
    "worker-sqlite": "worker, SQLite",
    "worker-pg": "worker, PostgreSQL",
    "workers2-pg": "two workers, one PostgreSQL (together)",
}
LIBS = ("kafka-python", "confluent-kafka", "quixstreams", "psycopg", "SQLAlchemy", "orjson", "pydantic", "msgspec")
DEFAULT_PG = "postgresql+psycopg://greenshield@127.0.0.1:15432/bench_tp"


# --------------------------------------------------------------------------- shared


def bench_settings(spec: dict[str, Any]) -> Settings:
    host, _, port = spec["bootstrap"].rpartition(":")
    return dataclasses.replace(
        Settings.from_env({}), kafka_host=host, kafka_port=int(port), data_dir=Path(spec["data_dir"]),
        topic_prefix=spec["prefix"], worker_group=spec.get("group", "gs-tp-unused"),
        hmac_key=Secret("bench-hmac-key"), control_key=Secret("bench-control-key"), backstop_idle_seconds=0,
        worker_batch_size=spec.get("batch", 5000))


def cpu() -> float:
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


# --------------------------------------------------------------------------- children (one variant each)


def child_kafka_python(s: Settings, spec: dict[str, Any]) -> dict[str, Any]:
    c0 = cpu()
    took, _cpu = stream_bench.bare_consumer(s, spec["total"])
    return {"seconds": took, "cpu_s": cpu() - c0}


def child_confluent(s: Settings, spec: dict[str, Any]) -> dict[str, Any]:
    from confluent_kafka import OFFSET_BEGINNING, Consumer, TopicPartition

    c = Consumer({"bootstrap.servers": s.kafka_bootstrap, "group.id": spec["group"], "enable.auto.commit": False})
    c.assign([TopicPartition(s.events_topic, p, OFFSET_BEGINNING) for p in range(s.events_partitions)])
    seen, size, total = 0, 0, spec["total"]
    c0, t0 = cpu(), time.perf_counter()
    while seen < total:
        for m in c.consume(10000, timeout=0.5):
            if m.error() is None:
                seen += 1
                size += len(m.value())
    took, used = time.perf_counter() - t0, cpu() - c0
    c.close()
    return {"seconds": took, "cpu_s": used}


def child_confluent_copy(s: Settings, spec: dict[str, Any]) -> dict[str, Any]:
    import orjson
    from confluent_kafka import OFFSET_BEGINNING, Consumer, TopicPartition

    from quix_peer import CopyWriter, entry_id, row_of

    writer = CopyWriter(spec["db"])
    c = Consumer({"bootstrap.servers": s.kafka_bootstrap, "group.id": spec["group"], "enable.auto.commit": False,
                  "fetch.queue.backoff.ms": 50})
    c.assign([TopicPartition(s.events_topic, p, OFFSET_BEGINNING) for p in range(s.events_partitions)])
    done, total, rows, nxt = 0, spec["total"], [], dict[int, int]()
    c0, t0 = cpu(), time.perf_counter()

    def flush() -> None:
        writer.write(rows)
        c.commit(offsets=[TopicPartition(s.events_topic, p, o) for p, o in nxt.items()], asynchronous=False)
        rows.clear()

    while done < total:
        for m in c.consume(10000, timeout=0.5):
            if m.error() is not None:
                continue
            p, o, raw = m.partition(), m.offset(), m.value()
            rows.append(row_of(orjson.loads(raw), raw, f"{m.topic()}:{p}", o, entry_id(p, o)))
            nxt[p] = o + 1
            done += 1
            if len(rows) >= 5000:
                flush()
    if rows:
        flush()
    took, used = time.perf_counter() - t0, cpu() - c0
    c.close()
    writer.close()
    return {"seconds": took, "cpu_s": used, "rows": writer.rows}


def child_quix(s: Settings, spec: dict[str, Any]) -> dict[str, Any]:
    import threading
    import warnings

    from quix_peer import make_app

    try:  # quixstreams imports authlib, which turns its own deprecation notices back on at import
        from authlib.deprecate import AuthlibDeprecationWarning
        warnings.filterwarnings("ignore", category=AuthlibDeprecationWarning)
    except ImportError:
        pass

    s = dataclasses.replace(s, worker_group=spec["group"])
    ends = stream_bench.end_offsets(s)
    app = make_app(s.kafka_bootstrap, s.events_topic, spec["group"], spec["db"], spec["commit_every"],
                   spec["state_dir"])
    took: list[float] = []

    def watch() -> None:
        watcher = stream_bench.CommittedWatcher(s)
        while not watcher.reached(ends):
            time.sleep(0.02)
        took.append(time.perf_counter() - t0)
        watcher.close()
        app.stop()

    c0, t0 = cpu(), time.perf_counter()
    threading.Thread(target=watch, daemon=True).start()
    app.run()
    used = cpu() - c0
    if not took:
        raise SystemExit("quixstreams stopped before its offsets reached the end")
    return {"seconds": took[0], "cpu_s": used}


def child_worker(s: Settings, spec: dict[str, Any]) -> dict[str, Any]:
    s = dataclasses.replace(s, worker_group=spec["group"])
    ends = stream_bench.end_offsets(s)
    c0 = cpu()
    took, worker, audit, stop, thread = stream_bench.run_worker(s, spec["db"], ends)
    end, used = time.monotonic(), cpu() - c0
    stop.set()
    thread.join(timeout=60)
    worker.close()
    audit.close()
    return {"seconds": took, "cpu_s": used, "end_mono": end, "start_mono": end - took}


def child_sequencer(s: Settings, spec: dict[str, Any]) -> dict[str, Any]:
    from greenshield.store.intake_files import Intake
    from greenshield.translog.keys import signing_key
    from greenshield.store.audit_log import Policy, Sequencer
    from greenshield.store.pipeline import open_audit
    from greenshield.store.database import Store

    _, lines = stream_bench.dataset(spec["entries"])
    audit = open_audit(s, spec["db"])
    policy = Policy(s.checkpoint_every_entries, s.checkpoint_every_seconds)
    out: dict[str, Any] = {}
    for case, tag in (("from_db", b""), ("handoff", b"h")):
        feed = lines if not tag else [ln.replace(b'"event_id":"', b'"event_id":"' + tag) for ln in lines]
        Intake(audit.store, audit.hmac_key).feed(feed, f"bench-{case}")
        if case == "from_db":
            store = Store.open(spec["db"], create=False)
            seq = Sequencer(store, signing_key(s), policy)
        else:
            store, seq = audit.store, audit.sequencer
        c0, t0 = cpu(), time.perf_counter()
        done = seq.integrate(close=True)
        out[case] = {"entries": done.added, "seconds": time.perf_counter() - t0, "cpu_s": cpu() - c0,
                     "checkpoints": len(done.checkpoints)}
        if case == "from_db":
            store.close()
    audit.close()
    return out


CHILDREN = {"kafka-python": child_kafka_python, "confluent": child_confluent, "confluent-copy": child_confluent_copy,
            "quix": child_quix, "worker": child_worker, "sequencer": child_sequencer}


def child_main(spec: dict[str, Any]) -> None:
    import logging
    import warnings

    warnings.simplefilter("ignore")  # third-party deprecation notices (quixstreams' imports) are not results
    logging.basicConfig(level=logging.WARNING)
    logging.getLogger("kafka").setLevel(logging.ERROR)  # "group_id is None" of the offset readers
    result = CHILDREN[spec["kind"]](bench_settings(spec), spec)
    print("RESULT " + json.dumps(result), flush=True)


# --------------------------------------------------------------------------- parent


def spawn(spec: dict[str, Any]) -> subprocess.Popen[str]:
    return subprocess.Popen([sys.executable, "-W", "ignore", __file__, "--child", json.dumps(spec)], stdout=subprocess.PIPE,
                            text=True, cwd=ROOT)


def collect(proc: subprocess.Popen[str], timeout: float = 900) -> dict[str, Any]:
    out, _ = proc.communicate(timeout=timeout)
    if proc.returncode != 0:
        raise SystemExit(f"benchmark child failed (exit {proc.returncode})")
    line = next(ln for ln in reversed(out.splitlines()) if ln.startswith("RESULT "))
    result: dict[str, Any] = json.loads(line[len("RESULT "):])
    return result


def run_child(spec: dict[str, Any]) -> dict[str, Any]:
    return collect(spawn(spec))


def machine() -> dict[str, Any]:
    model = next((ln.split(":", 1)[1].strip() for ln in Path("/proc/cpuinfo").read_text().splitlines()
                  if ln.startswith("model name")), platform.processor() or platform.machine())
    libs = {}
    for name in LIBS:
        try:
            libs[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            libs[name] = None
    try:
        import confluent_kafka

        libs["librdkafka"] = confluent_kafka.libversion()[0]
    except ImportError:
        pass
    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True)
    return {"cpu": model, "cores": os.cpu_count(), "python": platform.python_version(),
            "os": f"{platform.system()} {platform.release()}", "libraries": libs,
            "commit": commit.stdout.strip() or None}


def pg_facts(url: str) -> dict[str, Any]:
    """Server version, and per event the stored bytes and audit entries of a worker's schema."""
    import sqlalchemy as sa

    engine = sa.create_engine(url)
    try:
        with engine.connect() as conn:
            version = conn.exec_driver_sql("SHOW server_version").scalar()
            events = conn.exec_driver_sql("SELECT count(*) FROM events").scalar() or 0
            entries = conn.exec_driver_sql("SELECT count(*) FROM audit_log").scalar() or 0
            size = conn.exec_driver_sql(
                "SELECT sum(pg_total_relation_size(c.oid)) FROM pg_class c JOIN pg_namespace n ON n.oid = "
                "c.relnamespace WHERE n.nspname = current_schema() AND c.relkind = 'r'").scalar() or 0
    finally:
        engine.dispose()
    return {"server": version, "events": int(events), "entries": int(entries), "bytes": int(size)}


def find_broker(bootstrap: str | None) -> str:
    """``bootstrap``, else a plaintext broker already answering at the local default, else start one."""
    if bootstrap:
        return bootstrap
    import socket

    try:
        socket.create_connection(("127.0.0.1", 19092), timeout=2).close()
        return "127.0.0.1:19092"
    except OSError:
        return stream_bench.ensure_broker(None)


def ensure_database(url: str) -> None:
    """Create ``url``'s database if it does not exist (through the server's ``postgres`` database)."""
    import sqlalchemy as sa

    target = sa.engine.make_url(url)
    engine = sa.create_engine(target.set(database="postgres"), isolation_level="AUTOCOMMIT")
    try:
        with engine.connect() as conn:
            if not conn.exec_driver_sql("SELECT 1 FROM pg_database WHERE datname = %s", (target.database,)).first():
                conn.exec_driver_sql(f'CREATE DATABASE "{target.database}"')
    finally:
        engine.dispose()


class Bench:
    def __init__(self, args: argparse.Namespace, base: dict[str, Any], tmp: Path) -> None:
        self.args, self.base, self.tmp = args, base, tmp
        self.runs: dict[str, list[dict[str, Any]]] = {k: [] for k in ROWS}
        self.facts: dict[str, Any] = {}

    def spec(self, kind: str, tag: str, **more: Any) -> dict[str, Any]:
        return {**self.base, "kind": kind, "group": f"gs-tp-{tag}-{uuid.uuid4().hex[:6]}", **more}

    def pg_schema(self) -> Any:
        from tests.support.store import isolated_schema

        return isolated_schema(self.args.pg_url)

    def prepare_store(self, url: str) -> None:
        """Create the store's tables (and the dev keys) before a worker starts: not timed, no race."""
        from greenshield.store.pipeline import open_audit

        open_audit(bench_settings(self.base), url).close()

    def one(self, variant: str) -> None:
        from quix_peer import create_table

        r: dict[str, Any]
        load = os.getloadavg()[0]
        if variant == "kafka-python":
            r = run_child(self.spec("kafka-python", "kp"))
        elif variant == "confluent":
            r = run_child(self.spec("confluent", "ck"))
        elif variant in ("confluent-copy", "quix-default", "quix-5000"):
            with self.pg_schema() as url:
                create_table(url)
                if variant == "confluent-copy":
                    r = run_child(self.spec("confluent-copy", "cc", db=url))
                else:
                    every = 0 if variant == "quix-default" else 5000
                    r = run_child(self.spec("quix", f"qx{every}", db=url, commit_every=every,
                                            state_dir=str(self.tmp / f"quix-{uuid.uuid4().hex[:6]}")))
                r["rows_stored"] = pg_facts_rows(url)
                if r["rows_stored"] != self.base["total"]:
                    raise SystemExit(f"{variant}: {r['rows_stored']:,} rows stored of {self.base['total']:,}")
        elif variant == "worker-sqlite":
            url = f"sqlite:///{self.tmp / f'store-{uuid.uuid4().hex[:6]}.db'}"
            self.prepare_store(url)
            r = run_child(self.spec("worker", "ws", db=url))
        elif variant == "worker-pg":
            with self.pg_schema() as url:
                self.prepare_store(url)
                r = run_child(self.spec("worker", "wp", db=url))
                r["store"] = pg_facts(url)
                self.facts["pg"] = r["store"]
        elif variant == "workers2-pg":
            with self.pg_schema() as url:
                self.prepare_store(url)
                spec = self.spec("worker", "w2", db=url)
                procs = [spawn(spec) for _ in range(2)]
                each = [collect(p) for p in procs]
                start, end = min(e["start_mono"] for e in each), max(e["end_mono"] for e in each)
                r = {"seconds": end - start, "cpu_s": sum(e["cpu_s"] for e in each), "workers": each,
                     "start_skew_s": abs(each[0]["start_mono"] - each[1]["start_mono"]), "store": pg_facts(url)}
        else:
            raise ValueError(variant)
        r["rate"], r["load_before"] = self.base["total"] / r["seconds"], load

        self.runs[variant].append(r)
        print(f"  {ROWS[variant]:44s} {r['rate']:>9,.0f} events/s  ({r['seconds']:.2f} s, "
              f"cpu {r['cpu_s']:.2f} s)", flush=True)

    def median(self, variant: str) -> dict[str, Any] | None:
        runs = sorted(self.runs[variant], key=lambda r: r["rate"])
        return runs[(len(runs) - 1) // 2] if runs else None


def pg_facts_rows(url: str) -> int:
    import sqlalchemy as sa

    engine = sa.create_engine(url)
    try:
        with engine.connect() as conn:
            return int(conn.exec_driver_sql("SELECT count(*) FROM events").scalar() or 0)
    finally:
        engine.dispose()


def check_figures(events: int, repeat: int, tmp: Path) -> dict[str, Any]:
    import check_bench

    path = tmp / "check.jsonl"
    lines = check_bench.simulate(max(100, events // 10), 7, path)
    r = check_bench.measure(path, repeat)
    return {"lines": lines, **r}


def sizing(rows: dict[str, dict[str, Any]], seq: dict[str, Any], store: dict[str, Any] | None,
           per_event_entries: float) -> dict[str, Any]:
    """The 90,000 events/s national peak from the measured rates (see the printed arithmetic)."""
    one = rows["worker-pg"]["rate"]
    pair = rows["workers2-pg"]["rate"] if "workers2-pg" in rows else one
    per_worker = pair / 2 if "workers2-pg" in rows else one
    cpu_us = rows["worker-pg"]["cpu_s"] * 1e6 / rows["worker-pg"]["events"]
    workers = math.ceil(PEAK / one)
    workers_at_pair = math.ceil(PEAK / per_worker)
    partitions = 6 * math.ceil(2 * workers / 6)
    entries_s = PEAK * per_event_entries
    capacity = seq["from_db"]["entries"] / seq["from_db"]["seconds"] if seq["from_db"]["seconds"] else 0.0
    handoff = seq["handoff"]["entries"] / seq["handoff"]["seconds"] if seq["handoff"]["seconds"] else 0.0
    out = {
        "peak_events_s": PEAK, "worker_rate": one, "per_worker_rate_in_pair": per_worker,
        "pair_efficiency": pair / (2 * one), "workers_at_single_rate": workers, "workers_at_pair_rate": workers_at_pair,
        "worker_cores": PEAK * cpu_us / 1e6, "partitions": partitions, "audit_entries_s": entries_s,
        "sequencer_capacity_entries_s": capacity, "sequencer_headroom": capacity / entries_s if entries_s else None,
        "sequencer_handoff_entries_s": handoff, "sequencer_handoff_headroom": handoff / entries_s if entries_s else None,
    }
    if store and store["events"]:
        per_event = store["bytes"] / store["events"]
        out.update(store_bytes_per_event=per_event, store_gb_per_peak_hour=per_event * PEAK * 3600 / 1e9)
    return out


def print_report(b: Bench, rows: dict[str, dict[str, Any]], base_rate: float, check: dict[str, Any],
                 seq: dict[str, Any], size: dict[str, Any], per_event_entries: float) -> None:
    total = b.base["total"]
    print(f"\n{'':46s}{'events/s':>10s} {'x bare kp':>9s} {'us/event':>9s} {'cpu us/ev':>9s} {'ev/cpu-s':>9s}  runs")
    for variant, label in ROWS.items():
        r = rows.get(variant)
        if r is None:
            continue
        goal = GOALS.get(variant)
        note = f"  goal >= {goal:,}: {'met' if r['rate'] >= goal else 'NOT met'}" if goal else ""
        print(f"  {label:44s}{r['rate']:>10,.0f} {r['rate'] / base_rate:>9.2f} {1e6 / r['rate']:>9.1f} "
              f"{r['cpu_s'] * 1e6 / total:>9.1f} {total / r['cpu_s']:>9,.0f}  {len(b.runs[variant])}{note}")
    jl, ck = check["lines"] / check["baseline_s"], check["lines"] / check["check_s"]
    print(f"  {'json.loads over a simulated file':44s}{jl:>10,.0f} {jl / base_rate:>9.2f} {1e6 / jl:>9.1f} "
          f"{'':>9s}  {check['lines']:,} lines")
    print(f"  {'greenshield check over the same file':44s}{ck:>10,.0f} {ck / base_rate:>9.2f} {1e6 / ck:>9.1f} "
          f"{'':>9s}  time ratio to json.loads {check['ratio']:.2f} (goal <= 2.0: "
          f"{'met' if check['ratio'] <= 2.0 else 'NOT met'}), peak {check['peak_mib']} MiB")
    peer = max((rows[v]["rate"] for v in ("quix-default", "quix-5000") if v in rows), default=None)
    if peer and "worker-pg" in rows:
        w = rows["worker-pg"]["rate"]
        print(f"  worker PostgreSQL / best quixstreams peer: {w / peer:.2f} (goal >= 1: {'met' if w >= peer else 'NOT met'})")

    print("\nscale-out (PostgreSQL):")
    for case, what in (("from_db", "leaves read back from the database (another process wrote them)"),
                       ("handoff", "leaves handed over in memory (the writer's own process)")):
        c = seq[case]
        rate = c["entries"] / c["seconds"] if c["seconds"] else 0.0
        print(f"  sequencer, {c['entries']:,} pending entries, {what}: {c['seconds']:.2f} s = {rate:,.0f} entries/s, "
              f"{c['checkpoints']} checkpoints signed, cpu {c['cpu_s'] * 1e6 / max(1, c['entries']):.1f} us/entry")
    one = rows["worker-pg"]["rate"]
    cap = size["sequencer_capacity_entries_s"]
    print(f"  one worker writes {per_event_entries:.3f} audit entries per event = {one * per_event_entries:,.0f} "
          f"entries/s; sequencer capacity / that = {cap / (one * per_event_entries):.1f}x (goal >= 4x: "
          f"{'met' if cap >= 4 * one * per_event_entries else 'NOT met'})")
    if "workers2-pg" in rows:
        r = rows["workers2-pg"]
        print(f"  two workers, one group, one store: {r['rate']:,.0f} events/s together = "
              f"{r['rate'] / one:.2f}x one worker (start skew {r['start_skew_s']:.2f} s; "
              f"{b.facts.get('cores', os.cpu_count())} cores shared with the broker and PostgreSQL)")
    print(f"\nnational peak sizing, {PEAK:,} events/s (from the rates above):")
    print(f"  workers: {PEAK:,} / {size['worker_rate']:,.0f} per worker = {size['workers_at_single_rate']}, each "
          f"with a core of its own ({size['worker_cores']:.1f} cores of worker CPU at "
          f"{rows['worker-pg']['cpu_us_per_event']:.1f} cpu us/event); at the per-worker rate of the pair on this "
          f"machine ({size['per_worker_rate_in_pair']:,.0f}, efficiency {size['pair_efficiency']:.2f}): "
          f"{size['workers_at_pair_rate']}")
    print(f"  partitions: {size['partitions']} (a multiple of 6 >= 2 x {size['workers_at_single_rate']} workers: "
          f"one consumer per partition in a group, and room to double the workers without repartitioning keys)")
    print(f"  sequencer: {size['audit_entries_s']:,.0f} audit entries/s needed, capacity "
          f"{cap:,.0f}/s reading leaves back = headroom {size['sequencer_headroom']:.2f}x "
          f"({'one log keeps up' if size['sequencer_headroom'] >= 1 else 'one log does NOT keep up'}); with the "
          f"leaves handed over in memory {size['sequencer_handoff_entries_s']:,.0f}/s = "
          f"{size['sequencer_handoff_headroom']:.2f}x")
    if "store_bytes_per_event" in size:
        print(f"  store: {PEAK * (1 + per_event_entries):,.0f} rows/s written (events + audit entries); "
              f"{size['store_bytes_per_event']:,.0f} bytes per event stored (tables + indexes) = "
              f"{size['store_gb_per_peak_hour']:.1f} GB per peak hour")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--child", help=argparse.SUPPRESS)
    ap.add_argument("--events", type=int, default=200_000)
    ap.add_argument("--repeat", type=int, default=1, help="rounds (round-robin); the median run is shown")
    ap.add_argument("--pg-url", default=os.environ.get("GREENSHIELD_BENCH_PG_URL", DEFAULT_PG))
    ap.add_argument("--bootstrap", help="Kafka bootstrap (default: start/use the local broker)")
    ap.add_argument("--batch", type=int, default=5000)
    ap.add_argument("--only", help="comma-separated variants (default: all): " + ",".join(ROWS))
    ap.add_argument("--json", type=Path, help="also write the results to this file")
    args = ap.parse_args()
    if args.child:
        child_main(json.loads(args.child))
        return

    started, load0 = time.perf_counter(), os.getloadavg()
    info = machine()
    bootstrap = find_broker(args.bootstrap)
    ensure_database(args.pg_url)
    tmp = Path(tempfile.mkdtemp(prefix="gs-tp-bench-"))
    base = {"bootstrap": bootstrap, "data_dir": str(tmp / "data"), "prefix": f"gs.tp{uuid.uuid4().hex[:8]}.",
            "batch": args.batch}
    settings = bench_settings(base)
    from greenshield.stream.topics import admin_client, create_topics, topic_specs

    admin = admin_client(settings)
    create_topics(admin, topic_specs(settings))
    registry, events = stream_bench.dataset(args.events)
    avg = sum(map(len, events)) / len(events)
    print(f"# throughput benchmark: {len(events):,} parcel events (avg {avg:.0f} bytes) + {len(registry)} registry "
          f"records, {settings.events_partitions} partitions, batch {args.batch}; broker {bootstrap}")
    print(f"# machine: {info['cpu']}, {info['cores']} cores, {info['os']}, Python {info['python']}, commit "
          f"{info['commit']}; load average before {load0[0]:.2f} {load0[1]:.2f} {load0[2]:.2f}")
    print("# libraries: " + ", ".join(f"{k} {v}" for k, v in info["libraries"].items() if v))
    t0 = time.perf_counter()
    stream_bench.produce(settings, registry + events)
    produced = time.perf_counter() - t0
    ends = stream_bench.end_offsets(settings)
    base["total"] = total = sum(ends.values())
    print(f"  produced through the SDK in {produced:.1f} s (not part of the figures)", flush=True)

    b = Bench(args, base, tmp)
    warm = run_child(b.spec("kafka-python", "warm"))  # the broker's first read of the topic is slower: not counted
    print(f"  warm-up read (kafka-python, not counted): {total / warm['seconds']:,.0f} events/s", flush=True)
    wanted = [v for v in ROWS if not args.only or v in args.only.split(",")]
    seq: dict[str, Any] | None = None
    try:
        for rnd in range(args.repeat):
            print(f"round {rnd + 1}/{args.repeat}:", flush=True)
            for variant in wanted:
                b.one(variant)
            if "kafka-python" in wanted:
                b.one("kafka-python")  # again at the end of the round: the baseline is the median of all
        if not args.only or "sequencer" in args.only.split(","):
            with b.pg_schema() as url:
                seq = run_child(b.spec("sequencer", "seq", db=url, entries=total))
        check = check_figures(total, args.repeat, tmp)
    finally:
        admin.delete_topics([s.name for s in topic_specs(settings)])
        admin.close()
    load1 = os.getloadavg()

    rows: dict[str, dict[str, Any]] = {}
    for v in ROWS:
        m = b.median(v)
        if m is not None:
            rows[v] = {**m, "events": total, "us_per_event": 1e6 / m["rate"], "cpu_us_per_event": m["cpu_s"] * 1e6 / total,
                      "events_per_cpu_s": total / m["cpu_s"]}
    base_rate = statistics.median(r["rate"] for r in b.runs["kafka-python"]) if b.runs["kafka-python"] else 0.0
    for r in rows.values():
        r["ratio_to_kafka_python"] = r["rate"] / base_rate if base_rate else None
    store = b.facts.get("pg")
    per_event_entries = store["entries"] / store["events"] if store and store["events"] else 1.0
    size = sizing(rows, seq, store, per_event_entries) if seq and "worker-pg" in rows else {}
    if base_rate and "worker-pg" in rows and seq:
        print_report(b, rows, base_rate, check, seq, size, per_event_entries)
    took = time.perf_counter() - started
    print(f"\n# load average after {load1[0]:.2f} {load1[1]:.2f} {load1[2]:.2f}; the run took {took:.0f} s")
    if args.json:
        doc = {"method": __doc__, "machine": info, "load_before": load0, "load_after": load1, "duration_s": took,
               "events": total, "avg_bytes": avg, "partitions": settings.events_partitions, "batch": args.batch,
               "repeat": args.repeat, "baseline_rate": base_rate, "rows": rows, "labels": ROWS,
               "runs": b.runs, "check": check, "sequencer": seq, "sizing": size,
               "per_event_entries": per_event_entries, "store": store}
        args.json.write_text(json.dumps(doc, indent=2, default=str))
        print(f"# results written to {args.json}")


if __name__ == "__main__":
    main()
