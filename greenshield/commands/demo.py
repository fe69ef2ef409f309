"""``greenshield demo``: the whole pipeline over a simulated Double 11 day, in one command (see greenshield/demo)."""

from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path
from typing import Any

from greenshield.commands.argtypes import share
from greenshield.errors import USAGE_ERROR

_DURATION = re.compile(r"(?:(\d+)h)?(?:(\d+)m)?(?:(\d+(?:\.\d+)?)s?)?")


def duration(text: str) -> float:
    """``30s``, ``2m``, ``1h30m``, ``90`` (seconds)."""
    m = _DURATION.fullmatch(text.strip())
    if not text.strip() or m is None or not any(m.groups()):
        raise argparse.ArgumentTypeError(f"not a duration like 30s, 10m or 1h30m: {text!r}")
    h, mi, s = m.groups()
    value = int(h or 0) * 3600 + int(mi or 0) * 60 + float(s or 0)
    if value <= 0:
        raise argparse.ArgumentTypeError(f"must be more than zero: {text!r}")
    return value


def _positive(kind: type) -> Any:
    def parse(text: str) -> Any:
        try:
            value = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
        if value <= 0:
            raise argparse.ArgumentTypeError(f"must be more than zero: {text!r}")
        return value

    return parse


def _port(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a port: {text!r}") from None
    if not 0 <= value < 65536:
        raise argparse.ArgumentTypeError(f"not a TCP port: {text!r}")
    return value


def register(sub: Any) -> None:
    from greenshield.demo.options import DemoOptions

    d = DemoOptions()
    p = sub.add_parser(
        "demo", help="run the whole pipeline over a simulated Double 11 day, with a live dashboard",
        description="Start the local Kafka broker (unless one runs), the stream worker and the service; stream a "
                    "simulated Double 11 day of Shanghai, Jiangsu and Zhejiang through the producer SDK, showing "
                    "events/s and open violations per safety system; print the dashboard's URL and tokens. "
                    "Ctrl-C stops everything the demo started, by pid, and keeps the data. --embedded does the "
                    "same without Kafka or Java (SQLite, one process plus the service).")
    p.add_argument("--embedded", action="store_true", help="no Kafka: events go straight to the store")
    p.add_argument("--parcels", type=_positive(int), default=d.parcels, metavar="N",
                   help=f"parcels in the day (default {d.parcels:,}, about 11 events each)")
    p.add_argument("--rate", type=_positive(float), default=d.rate, metavar="EVENTS_PER_S",
                   help=f"events per second (default {d.rate:.0f}: the default day takes about 9 minutes)")
    p.add_argument("--fault-rate", type=share, default=d.fault_rate, metavar="R",
                   help=f"share of parcels with an injected rule violation (default {d.fault_rate})")
    p.add_argument("--noise-rate", type=share, default=d.noise_rate, metavar="R",
                   help=f"share of parcels with a bad input line: duplicate, conflict, broken JSON "
                        f"(default {d.noise_rate})")
    p.add_argument("--duration", type=duration, default=None, metavar="30s",
                   help="stream this long (or until the day ends), then finalise and stop; default: stream the "
                        "whole day, then keep the dashboard up until Ctrl-C")
    p.add_argument("--seed", type=int, default=d.seed, metavar="S", help=f"simulation seed (default {d.seed})")
    p.add_argument("--data-dir", type=Path, default=d.data_dir, metavar="DIR",
                   help=f"the demo's store, keys, logs and pid file (default {d.data_dir}; the previous run's "
                        "data moves to DIR/previous)")
    p.add_argument("--port", type=_port, default=None, metavar="P",
                   help="the service's port on 127.0.0.1 (default GREENSHIELD_API_PORT or 8000, another free one "
                        "if taken; 0: any free port)")
    p.add_argument("--bootstrap", metavar="HOST:PORT",
                   help="use this Kafka broker; the demo then neither starts nor stops one")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from greenshield.demo.options import DemoOptions
    from greenshield.demo.runner import run as run_demo

    if args.embedded and args.bootstrap:
        print("greenshield demo: --bootstrap and --embedded do not go together", file=sys.stderr)
        return USAGE_ERROR
    options = DemoOptions(embedded=args.embedded, parcels=args.parcels, rate=args.rate, fault_rate=args.fault_rate,
                          noise_rate=args.noise_rate, duration=args.duration, seed=args.seed,
                          data_dir=args.data_dir, port=args.port, bootstrap=args.bootstrap)
    return run_demo(options)
