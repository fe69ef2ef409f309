"""``greenshield replay FILE... --as-of TS``: send history through the SDK, then advance the stream clock to TS."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from greenshield.commands.startup import STARTUP_ERRORS, setup_logging
from greenshield.errors import USAGE_ERROR


def register(sub: Any) -> None:
    from greenshield.commands.send import add_producer_options

    p = sub.add_parser(
        "replay", help="replay event files through Kafka and finalise the stream's verdict at --as-of",
        description="Send the files' events like `send`, then put a signed control message on every partition "
                    "of the events topic that advances each partition's stream clock to --as-of (see "
                    "greenshield/stream/control.py), signed with the control key, the system's own identity: "
                    "GREENSHIELD_CONTROL_KEY, or in development the data directory's control.key (made on first "
                    "use, shared with the workers of the same data directory; production mode requires the "
                    "variable). "
                    "Once the workers have caught up, `greenshield violations --open` equals "
                    "`greenshield check FILE --as-of TS` as a set of (waybill_no, rule_id), for any order of the "
                    "lines. TS should not be earlier than the latest event minus the allowed lateness: the "
                    "stream clock never moves back.")
    p.add_argument("files", nargs="+", metavar="FILE")
    p.add_argument("--as-of", required=True, metavar="TS", help="RFC 3339 instant to finalise at")
    add_producer_options(p)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from greenshield.commands.send import make_producer, send_all
    from greenshield.rules.timestamps import parse_instant
    from greenshield.sdk.clients import kafka_errors
    from greenshield.settings import Settings
    from greenshield.stream.control import advance_every_partition, control_producer
    from greenshield.translog.keys import with_system_keys

    try:
        settings = Settings.from_env()
        setup_logging(settings.log_level)
        parse_instant(args.as_of)
        settings = with_system_keys(settings)
        producer = make_producer(args, settings)
    except STARTUP_ERRORS + kafka_errors() as err:
        print(f"greenshield replay: {err}", file=sys.stderr)
        return USAGE_ERROR
    stats = send_all("replay", producer, args)  # flushed: every event is acknowledged before the clock moves
    if isinstance(stats, int):
        return stats
    bootstrap = args.bootstrap or settings.kafka_bootstrap
    control = control_producer(settings, bootstrap, "greenshield-replay-control")
    try:
        partitions = advance_every_partition(control, settings, args.as_of)
    except kafka_errors() + (RuntimeError,) as err:
        print(f"greenshield replay: events sent, but the clock was not advanced: {err}", file=sys.stderr)
        return 1
    finally:
        control.close()
    print(f"lines={stats.lines} sent={stats.sent} acked={producer.acked} invalid={stats.invalid} "
          f"clock_advanced_to={args.as_of} partitions={partitions}", file=sys.stderr)
    return 0
