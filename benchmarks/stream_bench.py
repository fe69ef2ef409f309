"""Stream benchmark: one worker's end-to-end throughput against bare consumers, and latency.

    .venv/bin/python benchmarks/stream_bench.py [--events 200000] [--db sqlite|URL] [--bootstrap HOST:PORT]

Method (one run, one broker, one machine):

1. *Data*: the sample day's parcels copied under new waybills and event ids up to
   ``--events`` parcel events (plus its 204 registry records), produced beforehand to
   fresh topics (6 event partitions) through the SDK. Not timed.
2. *Baseline*: a bare kafka-python ``KafkaConsumer`` (no group, all six partitions
   assigned) reads the events topic from the beginning to its end offsets, touching
   each value. Events/s = messages / wall time; CPU us/event = the process's CPU time
   (librdkafka's threads included) / messages. The same for a bare confluent-kafka
   ``Consumer`` (librdkafka, the worker's client since ADR 0005) with ``consume(5000)``.
3. *Worker*: one :class:`~greenshield.stream.worker.Worker` (the real one: decode,
   redact, de-duplicate against the store, rule cores, store events + audit entries +
   violation changes, publish, commit offsets after the store commit) starts on the
   same topic with an empty store (``--db``: a SQLite file, or a PostgreSQL URL). Timed
   from its first poll until its group's committed offsets reach the end offsets, i.e.
   until every event is committed in the store. Events/s = events / that time; the
   ratio is worker / baseline.
4. *Latency*: with the worker caught up, ``--probes`` parcels (an acceptance without
   inspection: IN-1 holds at once) are produced at ``--probe-rate`` per second, dated
   before the stream's watermark so that no lateness applies; a reader polls the
   store's ``violations`` table every 5 ms. Latency = first seen in the store minus
   produce time; p50/p99 reported. Meanwhile another process produces ``--load-rate``
   (1,000) events/s of normal traffic (new parcels of the sample day), from 5 s before
   the first probe; the loop's parts are timed per iteration and each probe's legs
   (produce -> polled -> store commit -> seen) reported (``Phases``). (A deadline rule's
   latency is its deadline in event time plus the allowed lateness, by design; not
   measured here.) ``--ab N``: only throughput, N alternating pairs of runs with the
   store-writer thread off and on.

5. *Budget* (no Kafka): where one event's time goes. The same events are decoded
   (validate, redact, keyed digest: what the worker does per message), their rows and
   audit entries built, and inserted into an empty store of the same kind in batches
   of ``--batch``; each step is timed on its own and reported in microseconds per
   event, next to the per-event time of the bare consumer and of the worker. The
   goal of 25,000 events/s is a budget of 40 us per event for all of it.

The broker is the local one (``greenshield kafka up``); it is started if it is not running.
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import statistics
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path
from typing import Any

import orjson
import sqlalchemy as sa

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from greenshield.store.pipeline import open_audit  # noqa: E402
from greenshield.stream.metrics import WorkerMetrics  # noqa: E402
from greenshield.sdk.producer import GreenShieldProducer  # noqa: E402
from greenshield.stream.topics import admin_client, create_topics, topic_specs  # noqa: E402
from greenshield.stream.state import PartitionState  # noqa: E402
from greenshield.stream import housekeeping  # noqa: E402
from greenshield.stream.gc_tuning import tune_gc  # noqa: E402
from greenshield.stream.worker import Worker  # noqa: E402
from greenshield.rules.pack import default_pack  # noqa: E402
from greenshield.settings import Secret, Settings  # noqa: E402

SAMPLE = ROOT / "tests" / "data" / "sample-day.jsonl"
GOAL_RATE, GOAL_RATIO = 25_000, 0.5


def dataset(events: int, tag: str = "B") -> tuple[list[bytes], list[bytes]]:
    """(registry lines, parcel event lines) of about ``events`` parcel events (waybills ``...<tag>nnnnn``)."""
    registry, parcels = [], []
    for line in SAMPLE.read_bytes().splitlines():
        doc = orjson.loads(line)
        (registry if doc["type"] == "registry" else parcels).append(doc)
    out: list[bytes] = []
    k = 0
    while len(out) < events:
        out.extend(orjson.dumps({**d, "waybill_no": f"{d['waybill_no']}{tag}{k:05d}", "event_id": f"{d['event_id']}.{tag}{k}"})
                   for d in parcels)
        k += 1
    return [orjson.dumps(d) for d in registry], out[:events]


def ensure_broker(bootstrap: str | None) -> str:
    from greenshield.devtools import kafka_broker as broker

    if bootstrap:
        return bootstrap
    cfg = broker.BrokerConfig.from_settings(Settings.from_env())
    return broker.up(cfg, log=lambda m: print(f"  broker: {m}", file=sys.stderr)).bootstrap


def produce(settings: Settings, lines: list[bytes]) -> None:
    with GreenShieldProducer(settings.kafka_bootstrap, None, events_topic=settings.events_topic,
                             registry_topic=settings.registry_topic, linger_ms=50) as producer:
        for line in lines:
            producer.send_line(line)


def end_offsets(settings: Settings) -> dict[Any, int]:
    from kafka import KafkaConsumer, TopicPartition

    c = KafkaConsumer(bootstrap_servers=settings.kafka_bootstrap)
    try:
        return dict(c.end_offsets([TopicPartition(settings.events_topic, p)
                                   for p in range(settings.events_partitions)]))
    finally:
        c.close()


def bare_consumer(settings: Settings, total: int) -> tuple[float, float]:
    """Seconds (wall, process CPU) for a plain kafka-python consumer to read ``total`` messages of the events topic."""
    from kafka import KafkaConsumer, TopicPartition

    c = KafkaConsumer(bootstrap_servers=settings.kafka_bootstrap, group_id=None, enable_auto_commit=False,
                      auto_offset_reset="earliest", max_partition_fetch_bytes=4 * 1024 * 1024,
                      fetch_max_bytes=64 * 1024 * 1024)
    c.assign([TopicPartition(settings.events_topic, p) for p in range(settings.events_partitions)])
    seen, size = 0, 0
    t0, c0 = time.perf_counter(), time.process_time()
    while seen < total:
        for msgs in c.poll(timeout_ms=500, max_records=settings.worker_batch_size).values():
            seen += len(msgs)
            size += sum(len(m.value) for m in msgs)
    elapsed, cpu = time.perf_counter() - t0, time.process_time() - c0
    c.close()
    return elapsed, cpu


def bare_confluent(settings: Settings, total: int) -> tuple[float, float]:
    """Seconds (wall, process CPU) for a plain confluent-kafka consumer to read ``total`` messages."""
    from confluent_kafka import OFFSET_BEGINNING, Consumer, TopicPartition

    c = Consumer({"bootstrap.servers": settings.kafka_bootstrap, "group.id": f"bare-{uuid.uuid4().hex[:8]}",
                  "enable.auto.commit": False, "max.partition.fetch.bytes": 4 * 1024 * 1024,
                  "fetch.max.bytes": 64 * 1024 * 1024, "fetch.queue.backoff.ms": 50})
    c.assign([TopicPartition(settings.events_topic, p, OFFSET_BEGINNING) for p in range(settings.events_partitions)])
    seen, size = 0, 0
    t0, c0 = time.perf_counter(), time.process_time()
    while seen < total:
        for m in c.consume(settings.worker_batch_size, 0.5):
            if m.error() is None:
                seen += 1
                size += len(m.value())
    elapsed, cpu = time.perf_counter() - t0, time.process_time() - c0
    c.close()
    return elapsed, cpu


class CommittedWatcher:
    """Asks the broker for the worker group's committed offsets (what a restart would resume from)."""

    def __init__(self, settings: Settings) -> None:
        from kafka import KafkaConsumer

        self.consumer = KafkaConsumer(bootstrap_servers=settings.kafka_bootstrap, group_id=settings.worker_group,
                                      enable_auto_commit=False)

    def reached(self, ends: dict[Any, int]) -> bool:
        return all((self.consumer.committed(tp) or 0) >= end for tp, end in ends.items())

    def close(self) -> None:
        self.consumer.close()


@dataclasses.dataclass
class Usage:
    """CPU seconds of the throughput phase: the worker's loop thread and the whole process."""

    thread: float = 0.0
    process: float = 0.0


def run_worker(settings: Settings, db: str, ends: dict[Any, int], usage: Usage | None = None,
               profile: Any = None, cpu_parts: list[CpuParts] | None = None
               ) -> tuple[float, Worker, Any, threading.Event, threading.Thread]:
    """Start a worker and wait until its committed offsets reach ``ends``; ``usage`` gets its CPU time.

    ``profile``: a ``cProfile.Profile`` enabled in the loop thread until the offsets are reached.
    ``cpu_parts``: given (a list), a :class:`CpuParts` of the worker is appended to it.
    """
    audit = open_audit(settings, db)
    tune_gc()  # as `greenshield worker` does
    worker = Worker(settings, audit, default_pack(), metrics=WorkerMetrics())
    worker.start()
    parts = CpuParts(worker) if cpu_parts is not None else None
    if parts is not None and cpu_parts is not None:
        cpu_parts.append(parts)
    stop = threading.Event()
    started = threading.Event()
    reached = threading.Event()
    t0 = [0.0]
    clock = [0]

    def loop() -> None:
        clock[0] = time.pthread_getcpuclockid(threading.get_ident())
        if parts is not None:
            parts.loop_thread = threading.current_thread()
        t0[0] = time.perf_counter()
        if profile is not None:
            step = worker.step

            def profiled() -> int:
                if reached.is_set():
                    worker.step = step  # type: ignore[method-assign]
                    return step()
                profile.enable()
                try:
                    return step()
                finally:
                    profile.disable()

            worker.step = profiled  # type: ignore[method-assign]
        started.set()
        worker.run(stop)

    watcher = CommittedWatcher(settings)
    thread = threading.Thread(target=loop, daemon=True, name="worker-loop")
    c0 = time.process_time()
    thread.start()
    started.wait()
    th0 = time.clock_gettime(clock[0])
    while not watcher.reached(ends):
        time.sleep(0.02)
    took = time.perf_counter() - t0[0]
    reached.set()
    if parts is not None:
        parts.loop_thread = None  # the figures stop here
    if usage is not None:
        usage.thread = time.clock_gettime(clock[0]) - th0
        usage.process = time.process_time() - c0
    watcher.close()
    return took, worker, audit, stop, thread


class CpuParts:
    """CPU time of the worker loop thread's parts during the throughput run (``--cpu-parts``), in us/event.

    Each part wraps a method or a module function the loop calls (inclusive of what it
    calls; a nested part is indented). Only the loop thread's calls count. The wrappers
    cost ~1 us per call themselves, so per-message parts (``parse``, ``redact``) read high.
    """

    def __init__(self, worker: Worker) -> None:
        from greenshield.store import intake_stream as stream_sink
        from greenshield.stream import decode as decode_module, worker as worker_module

        self.spent: dict[str, float] = {}
        self.loop_thread: Any = None
        parts = [("poll", worker, "_poll"), ("registry catch-up", worker.registry, "catch_up"),
                 ("decode", worker, "_decode"), ("  parse (rules)", decode_module, "parse_line_plain"),
                 ("  redact", decode_module, "redact_counting"),
                 ("store transaction", worker, "_commit"),
                 ("  stored digests", stream_sink, "stored_digests"), ("  classify", worker_module, "classify"),
                 ("  reach late / grades", worker.parts, "reach_late_records"),
                 ("  prepare (reloads)", worker.parts, "prepare"),
                 ("  store events", stream_sink, "store_events"), ("  store rejects", stream_sink, "store_rejects"),
                 ("  add to cores", worker.parts, "add"), ("  evaluate + verdicts", worker.parts, "evaluate"),
                 ("    record verdicts", stream_sink, "record_verdicts"),
                 ("  publish", worker, "_publish"),
                 ("offsets", worker, "_commit_pending"), ("metrics", worker, "_count"),
                 ("housekeeping", worker, "_housekeeping")]
        self.order = [name for name, *_ in parts] + ["  commit (COMMIT)"]
        for name, obj, attr in parts:
            setattr(obj, attr, self._timed(name, getattr(obj, attr)))
        write = worker.audit.store.write

        @contextlib.contextmanager
        def timed_write() -> Any:
            with write() as conn:
                yield conn
                c0 = time.thread_time()
            self._add("  commit (COMMIT)", time.thread_time() - c0)

        worker.audit.store.write = timed_write  # type: ignore[method-assign]
        import gc

        self._gc_started = 0.0
        self.collections: dict[int, int] = {}

        def on_gc(phase: str, info: dict[str, int]) -> None:
            if phase == "start":
                self._gc_started = time.thread_time()
            else:
                self._add("(garbage collector, in the parts)", time.thread_time() - self._gc_started)
                if threading.current_thread() is self.loop_thread:
                    self.collections[info["generation"]] = self.collections.get(info["generation"], 0) + 1

        gc.callbacks.append(on_gc)
        self.order.append("(garbage collector, in the parts)")

    def _add(self, name: str, spent: float) -> None:
        if threading.current_thread() is self.loop_thread:
            self.spent[name] = self.spent.get(name, 0.0) + spent

    def _timed(self, name: str, fn: Any) -> Any:
        thread_time = time.thread_time

        def wrapper(*args: Any, **kwargs: Any) -> Any:
            c0 = thread_time()
            try:
                return fn(*args, **kwargs)
            finally:
                self._add(name, thread_time() - c0)
        return wrapper

    def report(self, total: int, thread_cpu: float) -> None:
        print(f"  worker loop thread CPU by part, us/event (inclusive; of {thread_cpu * 1e6 / total:.1f} us):")
        for name in self.order:
            if name in self.spent:
                print(f"    {name:28s} {self.spent[name] * 1e6 / total:6.1f}")
        if self.collections:
            print(f"    collections by generation: {dict(sorted(self.collections.items()))}")
        top = sum(v for n, v in self.spent.items() if not n.startswith((" ", "(")))
        print(f"    {'rest of the loop':28s} {(thread_cpu - top) * 1e6 / total:6.1f}")


def ab_runs(settings: Settings, db_arg: str, ends: dict[Any, int], tmp: Path, rounds: int) -> None:
    """Throughput with the store-writer thread off and on, alternating, each run on a fresh group and store."""
    from contextlib import ExitStack

    from tests.support.store import isolated_schema

    total = sum(ends.values())
    results: dict[str, list[tuple[float, float]]] = {"off": [], "on": []}
    for r in range(rounds):
        for mode in (("off", "on") if r % 2 == 0 else ("on", "off")):
            s = dataclasses.replace(settings, worker_group=f"gs-bench-{uuid.uuid4().hex[:8]}",
                                    worker_writer_thread=mode)
            with ExitStack() as stack:
                db = (f"sqlite:///{tmp / f'ab-{r}-{mode}.db'}" if db_arg == "sqlite"
                      else stack.enter_context(isolated_schema(db_arg)))
                usage = Usage()
                took, worker, audit, stop, thread = run_worker(s, db, ends, usage)
                cpu = usage.process
                stop.set()
                thread.join(timeout=60)
                worker.close()
                audit.close()
            results[mode].append((total / took, cpu * 1e6 / total))
            print(f"  round {r + 1} writer thread {mode:3s}: {total / took:7,.0f} events/s, "
                  f"process CPU {cpu * 1e6 / total:5.1f} us/event", flush=True)
    for mode, got in results.items():
        rates = sorted(g[0] for g in got)
        cpus = sorted(g[1] for g in got)
        print(f"  writer thread {mode:3s}: median {statistics.median(rates):7,.0f} events/s "
              f"(min {rates[0]:,.0f}, max {rates[-1]:,.0f}); CPU median {statistics.median(cpus):.1f} us/event")
    on, off = (statistics.median(g[0] for g in results[m]) for m in ("on", "off"))
    wins = sum(a[0] > b[0] for a, b in zip(results["on"], results["off"]))
    print(f"  on / off (medians): {on / off:.2f}; on won {wins} of {rounds} rounds")


class Phases:
    """Wall time of each part of every worker loop iteration (wrapping the worker's methods on the instance).

    Nested parts are reported on their own too: ``store`` includes ``publish`` and the indented
    parts (``commit``: from the end of the transaction's work to its commit's return); ``housekeeping``
    includes ``sequencer``, ``release_quiet``, ``tick`` and ``gauges``; ``cpu (thread)`` is the worker
    thread's CPU time in the iteration. A part run by another thread (the sequencer thread, the writer
    thread) is labelled with that thread's name and is not part of the loop's iteration time.
    """

    def __init__(self, worker: Worker) -> None:
        self.iterations: list[tuple[float, float, dict[str, float]]] = []  # (start, seconds, part -> seconds)
        self.current: dict[str, float] = {}
        self.on = False
        parts = {"poll": (worker, "_poll"), "registry": (worker.registry, "catch_up"),
                 "reconcile": (worker, "_reconcile"), "decode": (worker, "_decode"), "store": (worker, "_commit"),
                 "writer wait": (worker, "_finish"),
                 "publish": (worker, "_publish"), "offsets": (worker, "_commit_pending"),
                 "housekeeping": (worker, "_housekeeping"), "sequencer": (worker.audit.sequencer, "integrate"),
                 "release_quiet": (PartitionState, "release_quiet"), "tick": (worker.parts, "tick"),
                 "gauges": (housekeeping, "gauges")}
        from greenshield.store import intake_stream as stream_sink

        parts.update({"  digests": (stream_sink, "stored_digests"), "  store_events": (stream_sink, "store_events"),
                      "  prepare": (worker.parts, "prepare"), "  evaluate": (worker.parts, "evaluate")})
        for name, (obj, attr) in parts.items():
            setattr(obj, attr, self._timed(name, getattr(obj, attr)))
        write = worker.audit.store.write

        @contextlib.contextmanager
        def timed_write() -> Any:
            with write() as conn:
                yield conn
                t0 = time.perf_counter()  # from here: COMMIT (on SQLite with any WAL checkpoint) and pool return
            self.current["  commit"] = self.current.get("  commit", 0.0) + time.perf_counter() - t0

        worker.audit.store.write = timed_write  # type: ignore[method-assign]
        self.polled: dict[str, float] = {}  # probe waybill -> when a poll returned it
        self.stored: dict[str, float] = {}  # probe waybill -> when its batch's store commit returned
        poll, store = worker._poll, worker._commit

        def probe_poll() -> Any:
            records = poll()
            now = time.perf_counter()
            for msgs in records.values():
                for m in msgs:
                    if m.key and m.key.startswith(b"LAT"):
                        self.polled.setdefault(m.key.decode(), now)
            return records

        def probe_store(items: Any) -> Any:
            out = store(items)
            now = time.perf_counter()
            for c in items:
                w = getattr(getattr(c, "item", None), "waybill_no", "")
                if w.startswith("LAT"):
                    self.stored.setdefault(w, now)
            return out

        worker._poll, worker._commit = probe_poll, probe_store  # type: ignore[method-assign]
        step = worker.step

        self.profile: Any = None  # a cProfile.Profile of the worker's loop while probing (--profile)

        self.loop_thread: Any = None

        def timed_step() -> int:
            self.loop_thread = threading.current_thread()
            self.current = {}
            t0, c0 = time.perf_counter(), time.thread_time()
            prof = self.profile if self.on else None
            if prof is not None:
                prof.enable()
            try:
                return step()
            finally:
                if prof is not None:
                    prof.disable()
                if self.on:
                    self.current["cpu (thread)"] = time.thread_time() - c0
                    self.iterations.append((t0, time.perf_counter() - t0, self.current))

        worker.step = timed_step  # type: ignore[method-assign]

    def _timed(self, name: str, fn: Any) -> Any:
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            t0 = time.perf_counter()
            try:
                return fn(*args, **kwargs)
            finally:
                here = threading.current_thread()
                label = name if here is self.loop_thread else f"{name} [{here.name.split('_')[0]}]"
                self.current[label] = self.current.get(label, 0.0) + time.perf_counter() - t0
        return wrapper

    def timeline(self, sent: dict[str, float], seen: dict[str, float]) -> None:
        """Where a probe's latency went: produce -> polled -> stored -> seen by the reader."""
        ok = [w for w in sent if w in self.polled and w in self.stored and w in seen]
        if not ok:
            return
        legs = {"produce -> returned by a poll": [self.polled[w] - sent[w] for w in ok],
                "poll -> store commit returned": [self.stored[w] - self.polled[w] for w in ok],
                "store commit -> seen by the reader": [seen[w] - self.stored[w] for w in ok]}
        print(f"  latency legs of {len(ok)} probes, ms (p50 / p90 / p99):")
        for name, values in legs.items():
            v = sorted(values)
            print(f"    {name:36s} {_pct(v, 0.5) * 1e3:7.1f} {_pct(v, 0.9) * 1e3:7.1f} {_pct(v, 0.99) * 1e3:7.1f}")

    def report(self) -> None:
        its = self.iterations
        if not its:
            return
        order = ["cpu (thread)", "poll", "registry", "reconcile", "decode", "store", "  digests", "  prepare",
                 "  store_events", "  evaluate", "publish", "  commit", "offsets", "housekeeping", "sequencer",
                 "release_quiet", "tick", "gauges", "writer wait"]
        found = {n for _, _, parts in its for n in parts}
        names = [n for n in order if n in found] + sorted(found - set(order))
        print(f"  loop iterations while probing: {len(its)}; ms per iteration (p50 / p99 / max; share of loop time):")
        total = sum(d for _, d, _ in its)
        rows = [("iteration", [d for _, d, _ in its])] + [(n, [p.get(n, 0.0) for *_, p in its]) for n in names]
        for name, values in rows:
            v = sorted(values)
            print(f"    {name:14s} {_pct(v, 0.5) * 1e3:7.1f} {_pct(v, 0.99) * 1e3:7.1f} {v[-1] * 1e3:7.1f}"
                  f"   {sum(v) / total:5.1%}")
        slow = sorted(its, key=lambda x: -x[1])[:5]
        print("    slowest iterations: " + "; ".join(
            f"{d * 1e3:.0f} ms (" + ", ".join(f"{n} {v * 1e3:.0f}" for n, v in sorted(p.items(), key=lambda x: -x[1])[:3]) + ")"
            for _, d, p in slow))


def _pct(ordered: list[float], q: float) -> float:
    return ordered[min(len(ordered) - 1, int(len(ordered) * q))]


def background_load(bootstrap: str, events_topic: str, registry_topic: str, lines: list[bytes], rate: float,
                    stop: Any) -> None:
    """Produce ``lines`` (normal traffic) at ``rate`` events/s until ``stop`` is set (runs in its own process)."""
    tick = 0.01
    with GreenShieldProducer(bootstrap, None, events_topic=events_topic, registry_topic=registry_topic,
                             linger_ms=5) as producer:
        t0, sent = time.perf_counter(), 0
        while not stop.is_set() and sent < len(lines):
            due = min(len(lines), int((time.perf_counter() - t0) * rate))
            for line in lines[sent:due]:
                producer.send_line(line)
            sent = due
            time.sleep(tick)


def latency(settings: Settings, db: str, probes: int, rate: float, load: float, load_lines: list[bytes],
            phases: Phases | None = None) -> list[float]:
    """Produce-to-visible-in-store seconds for parcels whose violation holds at once, under ``load`` events/s."""
    import multiprocessing

    engine = sa.create_engine(db)
    seen: dict[str, float] = {}
    sent: dict[str, float] = {}
    done = threading.Event()
    names = [f"LAT{i:09d}" for i in range(probes)]

    def watch() -> None:
        with engine.connect() as conn:
            lo = 0
            while not done.is_set():
                while lo < len(names) and names[lo] in seen:
                    lo += 1
                floor = names[lo] if lo < len(names) else "LAU"
                rows = conn.execute(sa.text("SELECT DISTINCT waybill_no FROM violations "
                                            "WHERE waybill_no >= :lo AND waybill_no < 'LAU'"), {"lo": floor})
                now = time.perf_counter()
                for (w,) in rows:
                    seen.setdefault(w, now)
                conn.commit()
                time.sleep(0.005)

    ctx = multiprocessing.get_context("spawn")
    stop_load = ctx.Event()
    loader = None
    if load > 0:
        loader = ctx.Process(target=background_load, args=(settings.kafka_bootstrap, settings.events_topic,
                                                           settings.registry_topic, load_lines, load, stop_load))
        loader.start()
        time.sleep(5.0)  # the load is flowing and the worker has settled on it
    watcher = threading.Thread(target=watch, daemon=True)
    watcher.start()
    base = {"v": 1, "type": "acceptance", "enterprise_id": "E3100001", "occurred_at": "2026-11-11T08:00:00+08:00",
            "site_id": "S66000001", "staff_id": "P00000001", "contract_customer_id": "C00000001",
            "origin_region": "110000", "destination_region": "310000", "weight_g": 500}
    if phases is not None:
        phases.on = True
    with GreenShieldProducer(settings.kafka_bootstrap, None, events_topic=settings.events_topic,
                             registry_topic=settings.registry_topic, linger_ms=0) as producer:
        t0 = time.perf_counter()
        for i, waybill in enumerate(names):
            time.sleep(max(0.0, t0 + i / rate - time.perf_counter()))
            sent[waybill] = time.perf_counter()
            producer.send({**base, "event_id": f"lat-{i}", "waybill_no": waybill})
            producer._producer.flush()
    deadline = time.monotonic() + 60
    while len(seen) < probes and time.monotonic() < deadline:
        time.sleep(0.05)
    if phases is not None:
        phases.on = False
    stop_load.set()
    if loader is not None:
        loader.join(timeout=30)
    done.set()
    watcher.join()
    engine.dispose()
    if phases is not None:
        phases.timeline(sent, seen)
    return sorted(seen[w] - sent[w] for w in sent if w in seen)


def budget(settings: Settings, db: str, events: list[bytes], batch: int) -> dict[str, float]:
    """Microseconds per event of the worker's per-event steps, each timed alone (no Kafka)."""
    from greenshield.store import schema as t
    from greenshield.store.audit_log import append_entries
    from greenshield.store.rows import EVENT_COLUMNS, event_values
    from greenshield.store.database import insert_rows
    from greenshield.stream.decode import Candidate, decode

    audit = open_audit(settings, db)
    key, n = audit.hmac_key, len(events)
    t0 = time.perf_counter()
    got = [decode(settings.events_topic, i % 6, i, v, key, settings.registry_topic) for i, v in enumerate(events)]
    t1 = time.perf_counter()
    cands = [c for c in got if isinstance(c, Candidate)]
    with audit.store.write() as conn:  # the entry ids first (not timed): the rows are built with theirs
        ids = audit.store.allocate_ids(conn, len(cands))
    t_build = time.perf_counter()
    built = [event_values(i, c.item, c.doc, c.digest, c.source, c.offset) for i, c in zip(ids, cands)]
    t2 = time.perf_counter()
    insert = entries = 0.0
    for i in range(0, len(built), batch):
        part, part_ids = built[i:i + batch], ids[i:i + batch]
        with audit.store.write() as conn:
            a = time.perf_counter()
            insert_rows(conn, t.events, EVENT_COLUMNS, [row for row, _ in part])
            b = time.perf_counter()
            append_entries(conn, part_ids, "event", [entry for _, entry in part], audit.store)
            entries += time.perf_counter() - b
            insert += b - a
    audit.close()
    us = 1e6 / n
    return {"decode (validate, redact, keyed digest)": (t1 - t0) * us, "build row + audit entry": (t2 - t_build) * us,
            "insert events row (9 indexes)": insert * us, "insert audit-log entry": entries * us}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--events", type=int, default=200_000)
    ap.add_argument("--db", default="sqlite", help="'sqlite' (a temp file) or a SQLAlchemy URL")
    ap.add_argument("--bootstrap", help="Kafka bootstrap (default: start/use the local broker)")
    ap.add_argument("--batch", type=int, default=5000)
    ap.add_argument("--probes", type=int, default=1800)
    ap.add_argument("--probe-rate", type=float, default=50.0)
    ap.add_argument("--load-rate", type=float, default=1000.0,
                    help="events/s of normal traffic produced (from another process) while probing (0: none)")
    ap.add_argument("--no-budget", action="store_true", help="skip the per-event budget")
    ap.add_argument("--profile", metavar="FILE", help="cProfile the worker's loop while probing into FILE")
    ap.add_argument("--profile-throughput", metavar="FILE",
                    help="cProfile the worker's loop thread (its CPU time) during the throughput run into FILE")
    ap.add_argument("--cpu-parts", action="store_true",
                    help="the worker loop thread's CPU time by part during the throughput run")
    ap.add_argument("--no-latency", action="store_true", help="skip the latency probes")
    ap.add_argument("--budget-db", help="an empty database for the per-event budget when --db is a URL")
    ap.add_argument("--writer-thread", choices=("auto", "on", "off"), default="auto",
                    help="the worker's store-writer thread (GREENSHIELD_WORKER_WRITER_THREAD)")
    ap.add_argument("--sequencer-thread", choices=("on", "off"), default="on",
                    help="the sequencer in its own thread (GREENSHIELD_WORKER_SEQUENCER_THREAD)")
    ap.add_argument("--ab", type=int, metavar="ROUNDS",
                    help="only throughput: ROUNDS pairs of runs with the writer thread off and on, alternating "
                         "(with a URL, each run in a fresh schema of that database)")
    args = ap.parse_args()

    bootstrap = ensure_broker(args.bootstrap)
    host, _, port = bootstrap.rpartition(":")
    tmp = Path(tempfile.mkdtemp(prefix="gs-stream-bench-"))
    settings = dataclasses.replace(
        Settings.from_env({}), kafka_host=host, kafka_port=int(port), data_dir=tmp,
        topic_prefix=f"gs.bench{uuid.uuid4().hex[:8]}.", worker_group=f"gs-bench-{uuid.uuid4().hex[:8]}",
        hmac_key=Secret("bench-hmac-key"), control_key=Secret("bench-control-key"), backstop_idle_seconds=0,
        worker_batch_size=args.batch, worker_writer_thread=args.writer_thread,
        worker_sequencer_thread=args.sequencer_thread == "on")
    db = f"sqlite:///{tmp / 'store.db'}" if args.db == "sqlite" else args.db
    admin = admin_client(settings)
    create_topics(admin, topic_specs(settings))
    registry, events = dataset(args.events)
    print(f"stream benchmark: {len(events):,} parcel events + {len(registry)} registry records, "
          f"6 partitions, batch {args.batch}, store {db.split(':')[0]}")
    t0 = time.perf_counter()
    produce(settings, registry + events)
    print(f"  produced through the SDK in {time.perf_counter() - t0:.1f}s (not part of the figures)")
    ends = end_offsets(settings)
    total = sum(ends.values())

    bare, bare_cpu = bare_consumer(settings, total)
    bare_rate = total / bare
    print(f"  bare kafka-python consumer: {total:,} messages in {bare:.2f}s = {bare_rate:,.0f} events/s, "
          f"CPU {1e6 * bare_cpu / total:.1f} us/event")
    rdk, rdk_cpu = bare_confluent(settings, total)
    print(f"  bare confluent-kafka consumer: {total:,} messages in {rdk:.2f}s = {total / rdk:,.0f} events/s, "
          f"CPU {1e6 * rdk_cpu / total:.1f} us/event")
    if args.ab:
        ab_runs(settings, args.db, ends, tmp, args.ab)
        admin.delete_topics([s.name for s in topic_specs(settings)])
        admin.close()
        return

    usage, prof = Usage(), None
    if args.profile_throughput:
        import cProfile

        prof = cProfile.Profile(time.thread_time)  # CPU time: a loaded machine's preemptions are not charged
    found: list[CpuParts] | None = [] if args.cpu_parts else None
    took, worker, audit, stop, thread = run_worker(settings, db, ends, usage, prof, found)
    rate = total / took
    print(f"  worker, broker -> committed store: {total:,} events in {took:.2f}s = {rate:,.0f} events/s")
    print(f"  CPU per event: worker loop thread {usage.thread * 1e6 / total:.1f} us, "
          f"process {usage.process * 1e6 / total:.1f} us{' (profiled)' if prof is not None else ''}")
    if found:
        found[0].report(total, usage.thread)
    if prof is not None:
        prof.dump_stats(args.profile_throughput)
        print(f"  profile of the worker's loop thread during the throughput run: {args.profile_throughput}")
    print(f"  ratio worker / bare consumer: {rate / bare_rate:.2f}  "
          f"(goals: >= {GOAL_RATE:,} events/s per worker, ratio >= {GOAL_RATIO})")

    store_s = sum(s.value for m in worker.metrics.registry.collect() for s in m.samples
                  if s.name == "greenshield_store_commit_seconds_sum")
    print(f"  of the worker's time: store transactions {store_s / took:.0%} (the commit-latency histogram's sum); "
          f"poll, decode and offsets the rest")

    if args.no_latency:
        stop.set()
        thread.join(timeout=60)
        worker.close()
        audit.close()
        admin.delete_topics([s.name for s in topic_specs(settings)])
        admin.close()
        return
    span = args.probes / args.probe_rate + 15
    _, load_lines = dataset(int(args.load_rate * span), tag="L") if args.load_rate > 0 else ([], [])
    phases = Phases(worker)
    if args.profile:
        import cProfile

        phases.profile = cProfile.Profile()
    lat = latency(settings, db, args.probes, args.probe_rate, args.load_rate, load_lines, phases)
    if lat:
        p50 = statistics.median(lat) * 1000
        p99 = _pct(lat, 0.99) * 1000
        print(f"  latency produce -> violation visible in the store ({len(lat)} of {args.probes} probes at "
              f"{args.probe_rate:.0f}/s, under {args.load_rate:,.0f} events/s of other traffic): "
              f"p50 {p50:.0f} ms, p90 {_pct(lat, 0.9) * 1000:.0f} ms, p99 {p99:.0f} ms, max {lat[-1] * 1000:.0f} ms")
    phases.report()
    if args.profile:
        phases.profile.dump_stats(args.profile)
        print(f"  profile of the worker's loop while probing: {args.profile}")
    stop.set()
    thread.join(timeout=60)
    worker.close()
    audit.close()
    admin.delete_topics([s.name for s in topic_specs(settings)])
    admin.close()

    db2 = f"sqlite:///{tmp / 'budget.db'}" if args.db == "sqlite" else args.budget_db
    if db2 and not args.no_budget:
        steps = budget(settings, db2, events, args.batch)
        print(f"  budget per event, each step timed alone (goal {GOAL_RATE:,}/s = {1e6 / GOAL_RATE:.0f} us for all):")
        print(f"    {'bare consumer (poll + record decoding)':44s} {1e6 / bare_rate:6.1f} us")
        for name, value in steps.items():
            print(f"    {name:44s} {value:6.1f} us")
        print(f"    {'sum of the above':44s} {1e6 / bare_rate + sum(steps.values()):6.1f} us "
              f"(the worker, all in: {1e6 / rate:.1f} us; the rest is rule cores, lookups, publishing, commits)")


if __name__ == "__main__":
    main()
