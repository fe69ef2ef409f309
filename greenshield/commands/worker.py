"""``greenshield worker``: the stream worker (events and registry from Kafka into the audit store)."""

from __future__ import annotations

import argparse
import signal
import sys
import threading
from pathlib import Path
from typing import Any

from greenshield.commands.startup import STARTUP_ERRORS, risk_model, setup_logging
from greenshield.errors import USAGE_ERROR

ROLES = ("events", "registry", "violations", "rejects")  # the worker reads two and writes two


def register(sub: Any) -> None:
    p = sub.add_parser("worker", help="run a stream worker: Kafka events in, verdicts and audit trail out",
                       description="Consume the events and registry topics as a member of the worker group, "
                                   "apply the rule core, store events, violations, rejects and audit entries, "
                                   "publish violation changes and rejects, and commit Kafka offsets only after "
                                   "the store commit. Stops on SIGTERM or Ctrl-C.")
    p.add_argument("--db", metavar="URL", help="SQLAlchemy URL of the store (default: GREENSHIELD_DB_URL)")
    p.add_argument("--bootstrap", help="Kafka bootstrap address (default: the settings' broker)")
    p.add_argument("--rules", type=Path, metavar="PACK.toml", help="rule pack (default: greenshield-default@1)")
    p.add_argument("--metrics-port", type=int, help="Prometheus /metrics port (default: GREENSHIELD_METRICS_PORT "
                                                    "or 9108; 0 turns metrics off)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from greenshield.rules.pack import default_pack, load_pack
    from greenshield.settings import Settings
    from greenshield.store.pipeline import open_audit
    from greenshield.stream.gc_tuning import tune_gc
    from greenshield.stream.metrics import WorkerMetrics
    from greenshield.stream.topics import TopicsError, ensure_topics
    from greenshield.stream.worker import Worker
    from greenshield.stream.writer import writer_thread_wanted
    from greenshield.translog.keys import with_system_keys

    try:
        settings = Settings.from_env()
        setup_logging(settings.log_level)
        settings = with_system_keys(settings)  # replay's control key and the sender key: configured, or the data directory's in development
        pack = load_pack(args.rules) if args.rules else default_pack()
        model = risk_model(settings.risk_model_file)  # whose [credit.tighten] a stored grade applies
        audit = open_audit(settings, args.db)
    except STARTUP_ERRORS as err:
        print(f"greenshield worker: {err}", file=sys.stderr)
        return USAGE_ERROR
    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    tune_gc()
    metrics = WorkerMetrics()
    port = settings.metrics_port if args.metrics_port is None else args.metrics_port
    worker = Worker(settings, audit, pack, bootstrap=args.bootstrap, metrics=metrics, model=model)
    try:
        ensure_topics(settings, ROLES, args.bootstrap, "greenshield-worker-admin")  # before the metrics port
        if port:
            metrics.serve(port, settings.metrics_host)
        worker.start()
        writer = writer_thread_wanted(settings, audit.store.is_sqlite)
        print(f"greenshield worker: consuming {settings.events_topic} and {settings.registry_topic} as group "
              f"{settings.worker_group}" + (f"; metrics on {settings.metrics_host}:{port}/metrics" if port else "")
              + f"; sequencer thread {'on' if settings.worker_sequencer_thread else 'off'}, "
                f"store-writer thread {'on' if writer else 'off'}", file=sys.stderr, flush=True)
        worker.run(stop)
    except TopicsError as err:  # missing or misconfigured topics: the message names them and the fix
        print(f"greenshield worker: {err}", file=sys.stderr)
        return USAGE_ERROR
    except OSError as err:
        print(f"greenshield worker: {err}", file=sys.stderr)
        return 1
    finally:
        worker.close()
        audit.close()
    return 0


def main(argv: list[str] | None = None) -> int:
    """``python -m greenshield.commands.worker [options]``: the worker alone, without the other commands."""
    parser = argparse.ArgumentParser(prog="greenshield-worker")
    register(parser.add_subparsers())
    return int(run(parser.parse_args(["worker", *(sys.argv[1:] if argv is None else argv)])))


if __name__ == "__main__":
    sys.exit(main())
