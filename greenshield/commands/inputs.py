"""Opening the commands' event files: ``-`` is stdin, gzip is read transparently (by its magic bytes)."""

from __future__ import annotations

import gzip
import sys
from collections.abc import Iterator
from contextlib import ExitStack
from typing import IO


def open_input(path: str, stack: ExitStack) -> IO[bytes]:
    """``path`` opened for reading bytes (closed with ``stack``); gunzipped when it is gzip."""
    if path == "-":
        return sys.stdin.buffer
    raw = stack.enter_context(open(path, "rb"))
    if raw.peek(2)[:2] == b"\x1f\x8b" if hasattr(raw, "peek") else path.endswith(".gz"):
        return stack.enter_context(gzip.open(raw, "rb"))  # type: ignore[arg-type]
    return raw


def lines(stream: IO[bytes]) -> Iterator[bytes]:
    """The lines of ``stream``, as an iterator (read as they are consumed)."""
    yield from stream
