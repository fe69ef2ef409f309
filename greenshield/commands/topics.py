"""``greenshield topics create|check``: the pipeline's Kafka topics."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from greenshield.errors import USAGE_ERROR


def register(sub: Any) -> None:
    p = sub.add_parser("topics", help="create or check the pipeline's Kafka topics",
                       description="Create (if missing) or check the events, registry, violations and rejects "
                                   "topics. Names use GREENSHIELD_TOPIC_PREFIX (default 'gs.'); partition "
                                   "counts come from GREENSHIELD_*_PARTITIONS.")
    actions = p.add_subparsers(dest="topics_action", metavar="ACTION")
    actions.required = True
    for name, text in (("create", "create the topics that do not exist yet (existing ones are left alone)"),
                       ("check", "exit 0 when every topic exists with the expected layout, else list problems")):
        a = actions.add_parser(name, help=text)
        a.add_argument("--bootstrap", help="Kafka bootstrap address (default: the settings' broker)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from greenshield.sdk.clients import kafka_errors
    from greenshield.settings import Settings
    from greenshield.stream.topics import TopicsError, admin_client, check_topics, create_topics, topic_specs

    try:
        settings = Settings.from_env()
        specs = topic_specs(settings)
        admin = admin_client(settings, args.bootstrap)
    except (ValueError,) + kafka_errors() as err:
        print(f"greenshield topics: {err}", file=sys.stderr)
        return USAGE_ERROR
    try:
        if args.topics_action == "create":
            outcome = create_topics(admin, specs, settings.topic_replication)
            for spec in specs:
                print(f"{spec.name:<28} {outcome.get(spec.name, '?'):<8} partitions={spec.partitions} "
                      f"key={spec.key} cleanup={spec.configs.get('cleanup.policy', 'delete')}")
        problems = check_topics(admin, specs)
    except (TopicsError,) + kafka_errors() as err:
        print(f"greenshield topics: {err}", file=sys.stderr)
        return 1
    finally:
        admin.close()
    for problem in problems:
        print(f"problem: {problem}", file=sys.stderr)
    if args.topics_action == "check" and not problems:
        print("all topics ready: " + ", ".join(s.name for s in specs))
    return 1 if problems else 0
