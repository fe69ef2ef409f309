"""``greenshield notifier``: the departments' webhooks (violations from Kafka, Standard Webhooks out)."""

from __future__ import annotations

import argparse
import signal
import sys
from typing import Any

from greenshield.commands.startup import STARTUP_ERRORS, setup_logging
from greenshield.errors import USAGE_ERROR


def register(sub: Any) -> None:
    p = sub.add_parser("notifier", help="deliver the departments' subscriptions (signed webhooks)",
                       description="Consume the violations topic as the notifier group, with the stored registry "
                                   "blacklistings and warnings; queue each message for the subscriptions whose "
                                   "filter and scope admit it; deliver each subscription's queue in order, signed "
                                   "per Standard Webhooks, with backoff; record every attempt as an audit-log "
                                   "leaf. Kafka offsets are committed only after the store commit. Stops on "
                                   "SIGTERM or Ctrl-C. See docs/sharing.md.")
    p.add_argument("--db", metavar="URL", help="SQLAlchemy URL of the store (default: GREENSHIELD_DB_URL)")
    p.add_argument("--bootstrap", help="Kafka bootstrap address (default: the settings' broker)")
    p.add_argument("--metrics-port", type=int, help="Prometheus /metrics port (default: "
                                                    "GREENSHIELD_NOTIFIER_METRICS_PORT or 9110; 0 turns metrics off)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from greenshield.notifier.metrics import NotifierMetrics
    from greenshield.notifier.service import Notifier
    from greenshield.settings import Settings
    from greenshield.store import tokens
    from greenshield.store.database import Store
    from greenshield.stream.topics import TopicsError, ensure_topics
    from greenshield.stream.violations_feed import consumer_of

    try:
        settings = Settings.from_env()
        setup_logging(settings.log_level)
        store = Store.open(args.db or settings.db_url)
        tokens.ensure_tables(store)
    except STARTUP_ERRORS + (RuntimeError,) as err:
        print(f"greenshield notifier: {err}", file=sys.stderr)
        return USAGE_ERROR
    try:
        ensure_topics(settings, ("violations",), args.bootstrap, "greenshield-notifier-admin")
        metrics = NotifierMetrics()
        notifier = Notifier(settings, store, consumer_of(settings, args.bootstrap), metrics=metrics)
        port = settings.notifier_metrics_port if args.metrics_port is None else args.metrics_port
    except TopicsError as err:
        print(f"greenshield notifier: {err}", file=sys.stderr)
        store.close()
        return USAGE_ERROR
    port = serve_metrics(metrics, settings, args.metrics_port)
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: notifier.stopping.set())
    where = f"; metrics on {settings.metrics_host}:{port}/metrics" if port else ""
    print(f"greenshield notifier: consuming {settings.violations_topic} as group {settings.notifier_group}{where}",
          file=sys.stderr, flush=True)
    try:
        notifier.run()
    finally:
        notifier.consumer.close()
        store.close()
    return 0


def serve_metrics(metrics: Any, settings: Any, asked: int | None) -> int:
    """Start ``/metrics``; the port, or 0 when off or taken (then logged: delivery goes on, the scrape fails)."""
    import logging

    port = int(settings.notifier_metrics_port if asked is None else asked)
    if port:
        try:
            metrics.serve(port, settings.metrics_host)
        except OSError as err:
            logging.getLogger("greenshield.notifier").warning(
                "event=notifier_metrics_unavailable port=%d error=%s", port, type(err).__name__)
            return 0
    return port


def main(argv: list[str] | None = None) -> int:
    """``python -m greenshield.commands.notifier [options]``: the notifier alone."""
    parser = argparse.ArgumentParser(prog="greenshield-notifier")
    register(parser.add_subparsers())
    return int(run(parser.parse_args(["notifier", *(sys.argv[1:] if argv is None else argv)])))


if __name__ == "__main__":
    sys.exit(main())
