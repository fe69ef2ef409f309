"""argparse value types shared by the subcommands (a bad value is a usage error, exit 2)."""

from __future__ import annotations

import argparse


def share(text: str) -> float:
    """A share within [0, 1], e.g. a fault rate."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
    if not 0.0 <= value <= 1.0:
        raise argparse.ArgumentTypeError(f"must be within [0, 1]: {text!r}")
    return value
