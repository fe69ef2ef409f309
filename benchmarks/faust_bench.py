"""Faust benchmark: faust-streaming agents against a bare kafka-python consumer, same topic, same run.

    .venv/bin/python benchmarks/faust_bench.py [--events 100000] [--bootstrap HOST:PORT]

Why: the issue asked for the stream worker on faust-streaming with per-parcel state in
a changelog-backed table; the worker is built on a plain kafka-python consumer group
instead (greenshield/stream/worker.py, "Why not faust"). This measures what faust
itself costs on this machine, so that the choice rests on numbers.

Method (one run, one broker, one machine):

1. *Data*: ``stream_bench.dataset()`` parcel events (``--events``), produced beforehand
   through the SDK (``stream_bench.produce()``) to a fresh events topic (6 partitions,
   prefix ``gs.fbench<hex>.``, made by ``greenshield.stream.topics``). Not timed.
2. *Baseline*: ``stream_bench.bare_consumer()`` (kafka-python, no group, all six
   partitions assigned) reads the topic to its end offsets, ``--bare-repeats`` times
   before and as many times after the faust runs; the ratios are to the median of all.
3. *Faust*: each variant is a separate faust-streaming worker process (its own app id,
   hence its own consumer group, reading from the beginning; ``store="memory://"``, raw
   key/value serializers, web server off, ``faust.Worker``'s log spinner off (see
   ``--spinner``), otherwise faust's defaults unless ``--commit-interval``, ``--commit-every``,
   ``--buffer`` or ``--linger`` say otherwise; the values used are printed).
   Inside the agent: time from its first message to the moment it has seen all of them
   ("seen"). Outside, a kafka-python ``KafkaConsumer(group_id=<app id>).committed(tp)``
   is polled every 20 ms; "committed" is the time from the agent's first message until
   the group's committed offsets reach the end offsets (what a restart resumes from,
   i.e. what no-loss depends on). Both clocks are CLOCK_MONOTONIC.
   The worker is then stopped with SIGTERM (by pid) and the run's topics and groups are
   deleted, faust's own topics (``<app id>-__assignor-__leader``, changelogs) included.

   * ``bare``: one agent that only counts messages.
   * ``table``: the issue's design: per event, decode the JSON value, read the parcel's
     state from a changelog-backed ``Table`` keyed by waybill_no, append the event_id,
     write it back (one changelog record per event).
   * ``table+take``: the same per-event work on ``stream.take(5000, within=1)`` batches.
     The table has ``use_partitioner=True`` (changelog partition from the key's hash):
     by default faust takes it from the *current event* (``Table.partition_for_key``),
     which for a batch is not the event being written. Same keys, so same partitions.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
HERE = Path(__file__).resolve().parent

VARIANTS = {
    "bare": "faust agent, count only",
    "table": "faust agent + Table (changelog), per event",
    "table+take": "faust agent + Table, take(5000, within=1)",
}
CONF_KEYS = ("processing_guarantee", "broker_commit_interval", "broker_commit_every", "stream_buffer_maxsize",
             "broker_max_poll_records", "consumer_max_fetch_size", "stream_wait_empty", "producer_linger",
             "producer_acks", "topic_partitions", "store")
TIMEOUT = 600.0


# --------------------------------------------------------------------------- child: one faust worker


def child(args: argparse.Namespace) -> None:
    """Run one faust worker (the variant ``args.child``) until SIGTERM; write timings to ``args.result``."""
    import aiokafka
    import faust
    import orjson

    from faust import streams as faust_streams

    conf: dict[str, Any] = {}
    if args.commit_interval is not None:
        conf["broker_commit_interval"] = args.commit_interval
    if args.commit_every is not None:
        conf["broker_commit_every"] = args.commit_every
    if args.buffer is not None:
        conf["stream_buffer_maxsize"] = args.buffer
    if args.linger is not None:
        conf["producer_linger"] = args.linger
    app = faust.App(args.app_id, broker=f"kafka://{args.bootstrap}", store="memory://", web_enabled=False,
                    topic_partitions=6, topic_replication_factor=1, **conf)
    topic = app.topic(args.topic, key_type=bytes, value_type=bytes, key_serializer="raw", value_serializer="raw")
    total = args.total
    seen = {"n": 0, "first": 0.0}
    result = Path(args.result)

    def on_message(n: int) -> None:
        if seen["n"] == 0:
            seen["first"] = time.monotonic()
        seen["n"] += n
        if seen["n"] >= total and not result.exists():
            out = {"first": seen["first"], "last": time.monotonic(), "seen": seen["n"],
                   "conf": {k: str(getattr(app.conf, k)) for k in CONF_KEYS},
                   "cython": faust_streams._CStreamIterator is not None, "aiokafka": aiokafka.__version__}
            tmp = result.with_suffix(".tmp")
            tmp.write_text(json.dumps(out))
            tmp.rename(result)

    if args.child == "bare":
        @app.agent(topic)
        async def count(stream: Any) -> None:
            async for _ in stream:
                on_message(1)

    elif args.child in ("table", "table+take"):
        batched = args.child == "table+take"
        # key_type=bytes: raw keys; no value_type: values go through the app's value_serializer ("json")
        parcels = app.Table("parcels", default=None, partitions=6, key_type=bytes, use_partitioner=batched)

        def update(value: bytes) -> None:
            doc = orjson.loads(value)
            key = doc["waybill_no"].encode()
            state = parcels.get(key)
            if state is None:
                state = {"n": 0, "event_ids": []}
            state["n"] += 1
            state["event_ids"].append(doc["event_id"])
            parcels[key] = state

        if batched:
            @app.agent(topic)
            async def parcel_state_batched(stream: Any) -> None:
                async for batch in stream.take(5000, within=1):
                    for value in batch:
                        update(value)
                    on_message(len(batch))
        else:
            @app.agent(topic)
            async def parcel_state(stream: Any) -> None:
                async for value in stream:
                    update(value)
                    on_message(1)
    else:
        raise SystemExit(f"unknown variant {args.child}")

    worker = faust.Worker(app, loglevel="WARNING", quiet=True)
    if not args.spinner:
        # With a log level of WARN or above (the `faust worker` default), faust.Worker adds a terminal-spinner
        # handler at DEBUG and sets the root logger to DEBUG (faust/worker.py, _setup_spinner_handler), so every
        # logger.debug() call in faust's and aiokafka's per-message paths builds a LogRecord. Off by default here.
        worker.spinner = None
    worker.execute_from_commandline()


# --------------------------------------------------------------------------- parent: the benchmark


def run_variant(variant: str, settings: Any, ends: dict[Any, int], tmp: Path, app_id: str,
                args: argparse.Namespace) -> dict[str, Any]:
    """Start one faust worker process, time it, stop it; returns the timings (seconds) and notes."""
    from stream_bench import CommittedWatcher  # type: ignore[import-not-found]

    from greenshield.devtools.process import stop_child

    total = sum(ends.values())
    result = tmp / f"{variant}.json"
    log = tmp / f"{variant}.log"
    cmd = [sys.executable, str(Path(__file__).resolve()), "--child", variant, "--bootstrap", settings.kafka_bootstrap,
           "--topic", settings.events_topic, "--app-id", app_id, "--total", str(total), "--result", str(result)]
    for opt in ("commit_interval", "commit_every", "buffer", "linger"):
        if getattr(args, opt) is not None:
            cmd += [f"--{opt.replace('_', '-')}", str(getattr(args, opt))]
    if args.spinner:
        cmd.append("--spinner")
    watcher = CommittedWatcher(dataclasses.replace(settings, worker_group=app_id))
    out: dict[str, Any] = {"variant": variant, "log": log}
    started = time.monotonic()
    with open(log, "wb") as logf:
        proc = subprocess.Popen(cmd, stdout=logf, stderr=subprocess.STDOUT, cwd=ROOT)
    try:
        committed_at = None
        deadline = started + TIMEOUT
        while time.monotonic() < deadline and proc.poll() is None:
            if watcher.reached(ends):
                committed_at = time.monotonic()
                break
            time.sleep(0.02)
        if committed_at is None:
            out["error"] = (f"committed offsets did not reach the end offsets within {TIMEOUT:.0f}s"
                            if proc.poll() is None else f"faust worker exited early with code {proc.returncode}")
        for _ in range(500):  # the agent may finish after the commit only if something is wrong; wait briefly
            if result.exists():
                break
            time.sleep(0.01)
        if result.exists():
            r = json.loads(result.read_text())
            out.update(startup=r["first"] - started, seen=r["last"] - r["first"], conf=r["conf"], cython=r["cython"],
                       aiokafka=r["aiokafka"], count=r["seen"])
            if committed_at is not None:
                out["committed"] = committed_at - r["first"]
        elif "error" not in out:
            out["error"] = "the agent did not report having seen every message"
    finally:
        watcher.close()
        t_stop = time.monotonic()
        if stop_child(proc, timeout=60):
            out["error"] = (out.get("error", "") + "; did not stop on SIGTERM within 60s, killed").lstrip("; ")
        out["stop"] = time.monotonic() - t_stop
        out["exit"] = proc.returncode
    text = log.read_text(errors="replace")
    out["warnings"] = sum(1 for line in text.splitlines() if "[WARNING]" in line or "WARNING" in line[:40])
    out["errors"] = sum(1 for line in text.splitlines() if "[ERROR]" in line or "Traceback" in line)
    return out


def topic_messages(bootstrap: str, topic: str) -> int | None:
    """Sum of a topic's end offsets (its record count, nothing being deleted yet), or None if absent."""
    from kafka import KafkaConsumer, TopicPartition

    c = KafkaConsumer(bootstrap_servers=bootstrap)
    try:
        parts = c.partitions_for_topic(topic)
        if not parts:
            return None
        return sum(c.end_offsets([TopicPartition(topic, p) for p in parts]).values())
    finally:
        c.close()


def cleanup(admin: Any, prefix: str, groups: list[str]) -> list[str]:
    """Delete every topic named ``prefix*`` and the faust groups; returns the deleted topic names."""
    names = sorted(t for t in admin.list_topics() if t.startswith(prefix))
    if names:
        admin.delete_topics(names)
    if groups:
        try:
            admin.delete_groups(groups)
        except Exception as exc:  # noqa: BLE001 - a leftover empty group is harmless; say so
            print(f"  (could not delete consumer groups: {exc!r})")
    return names


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--events", type=int, default=100_000)
    ap.add_argument("--bootstrap", help="Kafka bootstrap (default: start/use the local broker)")
    ap.add_argument("--bare-repeats", type=int, default=3, help="bare consumer runs before and after the faust runs")
    ap.add_argument("--variants", default=",".join(VARIANTS), help="comma-separated: " + ",".join(VARIANTS))
    ap.add_argument("--commit-interval", type=float, help="faust broker_commit_interval (default: faust's)")
    ap.add_argument("--commit-every", type=int, help="faust broker_commit_every (default: faust's)")
    ap.add_argument("--buffer", type=int, help="faust stream_buffer_maxsize (default: faust's)")
    ap.add_argument("--linger", type=float, help="faust producer_linger, seconds (default: faust's)")
    ap.add_argument("--spinner", action="store_true",
                    help="keep faust.Worker's spinner handler (root logger at DEBUG, as `faust worker -l warn` does)")
    ap.add_argument("--keep-logs", action="store_true", help="keep the faust workers' logs (path printed)")
    # the child side: one faust worker
    ap.add_argument("--child", help=argparse.SUPPRESS)
    ap.add_argument("--topic", help=argparse.SUPPRESS)
    ap.add_argument("--app-id", help=argparse.SUPPRESS)
    ap.add_argument("--total", type=int, help=argparse.SUPPRESS)
    ap.add_argument("--result", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        child(args)
        return

    sys.path.insert(0, str(HERE))
    sys.path.insert(0, str(ROOT))
    from stream_bench import bare_consumer, dataset, end_offsets, ensure_broker, produce  # type: ignore

    from greenshield.stream.topics import admin_client, create_topics, topic_specs
    from greenshield.settings import Settings

    variants = [v for v in args.variants.split(",") if v]
    unknown = set(variants) - set(VARIANTS)
    if unknown:
        ap.error(f"unknown variants: {', '.join(sorted(unknown))}")
    bootstrap = ensure_broker(args.bootstrap)
    host, _, port = bootstrap.rpartition(":")
    run_id = uuid.uuid4().hex[:8]
    prefix = f"gs.fbench{run_id}."
    settings = dataclasses.replace(Settings.from_env({}), kafka_host=host, kafka_port=int(port), topic_prefix=prefix,
                                   worker_group=f"{prefix}none")
    tmp = Path(tempfile.mkdtemp(prefix="gs-faust-bench-"))
    admin = admin_client(settings)
    groups: list[str] = []
    failed = False
    try:
        create_topics(admin, topic_specs(settings))
        _, events = dataset(args.events)
        load = os.getloadavg()
        print(f"faust benchmark: {len(events):,} parcel events, topic {settings.events_topic} (6 partitions), "
              f"{os.cpu_count()} CPUs, load average {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}")
        t0 = time.perf_counter()
        produce(settings, events)
        print(f"  produced through the SDK in {time.perf_counter() - t0:.1f}s (not part of the figures)")
        ends = end_offsets(settings)
        total = sum(ends.values())
        print("  method: bare = stream_bench.bare_consumer (kafka-python, assigned, no group), messages / wall time,")
        print(f"          {args.bare_repeats}x before and {args.bare_repeats}x after the faust runs; "
              "ratios are to the median of all of them.")
        print("          faust = one worker process per variant, own group from earliest; 'seen' = agent's first")
        print("          message -> agent has seen all; 'committed' = agent's first message -> group's committed")
        print("          offsets (kafka-python committed(), polled every 20 ms) reach the end offsets.")

        bare1 = [total / bare_consumer(settings, total) for _ in range(args.bare_repeats)]
        results = []
        for variant in variants:
            app_id = f"{prefix}{variant.replace('+', '-')}"
            groups.append(app_id)
            r = run_variant(variant, settings, ends, tmp, app_id, args)
            if variant.startswith("table"):
                r["changelog"] = topic_messages(settings.kafka_bootstrap, f"{app_id}-parcels-changelog")
            results.append(r)
        bare2 = [total / bare_consumer(settings, total) for _ in range(args.bare_repeats)]
        base = statistics.median(bare1 + bare2)

        conf = next((r for r in results if "conf" in r), None)
        if conf:
            print("  faust config used: " + ", ".join(f"{k}={v}" for k, v in conf["conf"].items())
                  + f", web_enabled=False, value/key serializer=raw, worker log spinner={'on' if args.spinner else 'off'}"
                  f", cython={conf['cython']}, aiokafka {conf['aiokafka']}, Python {sys.version.split()[0]}")
        for when, rates in (("before", bare1), ("after", bare2)):
            print(f"  {f'bare kafka-python consumer ({when}), median':<56} {statistics.median(rates):>9,.0f} events/s"
                  f"  ratio {statistics.median(rates) / base:.2f}  (runs: {', '.join(f'{r:,.0f}' for r in rates)})")
        print(f"  {'bare kafka-python consumer, median of all = baseline':<56} {base:>9,.0f} events/s  ratio 1.00")
        for r in results:
            label = VARIANTS[r["variant"]]
            if "seen" in r:
                print(f"  {label + ', seen':<56} {total / r['seen']:>9,.0f} events/s  ratio "
                      f"{total / r['seen'] / base:.2f}  ({r['seen']:.2f}s)")
            if "committed" in r:
                print(f"  {label + ', committed':<56} {total / r['committed']:>9,.0f} events/s  ratio "
                      f"{total / r['committed'] / base:.2f}  ({r['committed']:.2f}s)")
            notes = [f"startup to first message {r['startup']:.1f}s" if "startup" in r else None,
                     f"changelog records {r['changelog']:,}" if r.get("changelog") is not None else None,
                     f"stop {r['stop']:.1f}s, exit code {r['exit']}",
                     f"log: {r['warnings']} warning / {r['errors']} error lines"]
            print("      " + "; ".join(n for n in notes if n))
            if "error" in r:
                failed = True
                print(f"      FAILED: {r['error']} (log {r['log']})")
    finally:
        deleted = cleanup(admin, prefix, groups)
        admin.close()
        print(f"  deleted {len(deleted)} topics: {', '.join(deleted)}")
        if failed or args.keep_logs:
            print(f"  faust logs kept in {tmp}")
        else:
            for f in tmp.iterdir():
                f.unlink()
            tmp.rmdir()
    if failed:
        raise SystemExit(1)


if __name__ == "__main__":
    main()
