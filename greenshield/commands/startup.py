"""What commands do as they start: the errors of opening settings, keys, store and inputs; logging; the risk model."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

from greenshield.errors import GreenShieldError

# what reading the settings, keys, rule pack, store or an input can raise: each is a usage error (exit 2)
# with a one-line message; a command adds the errors of its own clients (Kafka's) to these
STARTUP_ERRORS: tuple[type[Exception], ...] = (ValueError, OSError, GreenShieldError)


def setup_logging(level: str) -> None:
    """Structured ``key=value`` log lines on stderr (never personal data: the store never holds any)."""
    import logging

    logging.basicConfig(level=getattr(logging, level, logging.WARNING), stream=sys.stderr,
                        format="ts=%(asctime)s level=%(levelname)s logger=%(name)s %(message)s")


def risk_model(path: Path | None) -> Any:
    """The risk model at ``path``, else the shipped one (``ValueError`` says what is wrong)."""
    from greenshield.risk.model import default_model, load_model

    return load_model(path) if path else default_model()
