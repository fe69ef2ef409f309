"""The ``greenshield`` console script: a registry of subcommands, each imported on use.

Every subcommand lives in ``greenshield/commands/<name>.py`` and exposes
``register(subparsers)``; heavy libraries (Kafka, faust, the web stack) are
imported inside the command's run function, so ``greenshield check`` starts fast.
A :class:`~greenshield.errors.GreenShieldError` a command lets through is reported
here, once: ``error: <message>`` on stderr and the error's ``exit_code``.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence

from greenshield.errors import GreenShieldError

# subcommand module names, in the order ``--help`` lists them
COMMAND_MODULES: tuple[str, ...] = (
    "check",
    "simulate",
    "kafka",
    "topics",
    "send",
    "worker",
    "replay",
    "run",
    "trace",
    "export",
    "staff_record",
    "violations",
    "risk",
    "credit",
    "audit",
    "serve",
    "tokens",
    "subscriptions",
    "notifier",
    "demo",
)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="greenshield",
        description="Green Shield (绿盾): compliance checks for express-parcel safety.",
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True
    for name in COMMAND_MODULES:
        module = importlib.import_module(f"greenshield.commands.{name}")
        module.register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return int(args.func(args))
    except GreenShieldError as err:
        print(f"error: {err}", file=sys.stderr)
        return err.exit_code
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        return 0


if __name__ == "__main__":
    sys.exit(main())
