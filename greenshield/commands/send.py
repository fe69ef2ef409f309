"""``greenshield send FILE...``: the producer SDK from the command line, with a progress bar."""

from __future__ import annotations

import argparse
import gzip
import os
import sys
import time
from collections.abc import Iterator
from contextlib import ExitStack
from dataclasses import dataclass
from typing import IO, Any

from greenshield.commands.inputs import open_input
from greenshield.commands.startup import STARTUP_ERRORS
from greenshield.errors import USAGE_ERROR

BOM = b"\xef\xbb\xbf"
SHOWN_ERRORS = 20


def register(sub: Any) -> None:
    p = sub.add_parser("send", help="validate event files and send them to Kafka (the enterprise SDK)",
                       description="Validate each JSON Lines event against the contract and send it, keyed "
                                   "per contract §1.2/§1.3, with acks=all and idempotence. Invalid lines are "
                                   "reported on stderr and not sent ('-' is stdin; .gz is read transparently).")
    p.add_argument("files", nargs="+", metavar="FILE")
    add_producer_options(p)
    p.set_defaults(func=run)


def add_producer_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--bootstrap", help="Kafka bootstrap address (default: the settings' broker)")
    p.add_argument("--enterprise", metavar="E1234567",
                   help="refuse events of any other enterprise (default: accept every enterprise)")
    p.add_argument("--no-progress", action="store_true", help="no progress bar, only the summary")


@dataclass
class SendStats:
    lines: int = 0
    sent: int = 0
    invalid: int = 0
    bytes_read: int = 0


class Progress:
    """A one-line progress bar on a terminal; silent elsewhere (the summary line still prints)."""

    def __init__(self, total_bytes: int | None, stream: IO[str] | None = None, enabled: bool = True) -> None:
        self.total = total_bytes
        self.stream = stream = stream or sys.stderr
        self.enabled = enabled and stream.isatty()
        self.started = time.monotonic()
        self._last = 0.0

    def update(self, stats: SendStats, acked: int, force: bool = False) -> None:
        now = time.monotonic()
        if not self.enabled or (not force and now - self._last < 0.2):
            return
        self._last = now
        rate = acked / max(now - self.started, 1e-6)
        if self.total:
            frac = min(stats.bytes_read / self.total, 1.0)
            bar = "#" * int(frac * 30)
            head = f"[{bar:<30}] {frac:4.0%}"
        else:
            head = "[sending]"
        self.stream.write(f"\r{head} {stats.lines:,} lines  {acked:,} acked  {stats.invalid:,} invalid  "
                          f"{rate:,.0f}/s ")
        self.stream.flush()

    def done(self) -> None:
        if self.enabled:
            self.stream.write("\n")
            self.stream.flush()


def _lines(path: str, stack: ExitStack) -> Iterator[bytes]:
    for number, line in enumerate(open_input(path, stack), 1):
        yield line[3:] if number == 1 and line.startswith(BOM) else line


def total_size(paths: list[str]) -> int | None:
    try:
        return sum(os.path.getsize(p) for p in paths if p != "-") or None
    except OSError:
        return None


def send_files(producer: Any, paths: list[str], progress: Progress, log: IO[str] | None = None) -> SendStats:
    """Send every valid line of every file through ``producer``; report invalid ones to ``log`` (stderr)."""
    from greenshield.sdk.producer import InvalidEvent

    log = log or sys.stderr
    stats = SendStats()
    with ExitStack() as stack:
        for path in paths:
            for number, line in enumerate(_lines(path, stack), 1):
                stats.lines += 1
                stats.bytes_read += len(line)
                try:
                    if producer.send_line(line) is not None:
                        stats.sent += 1
                except InvalidEvent as err:
                    stats.invalid += 1
                    if stats.invalid <= SHOWN_ERRORS:
                        progress.done()
                        print(f"{path}:{number}: not sent: {err}", file=log)
                progress.update(stats, producer.acked)
    return stats


def make_producer(args: argparse.Namespace, settings: Any) -> Any:
    """The SDK producer of ``send``/``replay``, once the events and registry topics are known to exist
    (raises :class:`~greenshield.stream.topics.TopicsError` naming the missing ones and the fix)."""
    from greenshield.sdk.producer import GreenShieldProducer
    from greenshield.sdk.sender import signer_for
    from greenshield.stream.topics import ensure_topics

    # an enterprise's login may see only the events topic (it never writes the registry)
    ensure_topics(settings, ("events",) if settings.enterprise_id else ("events", "registry"), args.bootstrap)
    return GreenShieldProducer(
        args.bootstrap or settings.kafka_bootstrap, args.enterprise,
        events_topic=settings.events_topic, registry_topic=settings.registry_topic,
        security=settings.kafka_security, signer=signer_for(settings))


def send_all(command: str, producer: Any, args: argparse.Namespace) -> SendStats | int:
    """Send ``args.files`` through ``producer`` (progress bar unless ``--no-progress``), flush it, close it.

    Returns the stats once every sent event is acknowledged, else the exit status after
    reporting on stderr as ``greenshield <command>: ...``: 2 for unreadable input, 1 for a
    failed delivery.
    """
    from greenshield.sdk.clients import kafka_errors
    from greenshield.sdk.producer import DeliveryError

    progress = Progress(total_size(args.files), enabled=not args.no_progress)
    try:
        stats = send_files(producer, args.files, progress)
        producer.flush()
    except (OSError, EOFError, gzip.BadGzipFile) as err:
        print(f"greenshield {command}: cannot read input: {getattr(err, 'strerror', None) or err}", file=sys.stderr)
        return USAGE_ERROR
    except (DeliveryError,) + kafka_errors() as err:
        print(f"greenshield {command}: {err}", file=sys.stderr)
        return 1
    finally:
        progress.done()
        producer.close()
    return stats


def run(args: argparse.Namespace) -> int:
    from greenshield.sdk.clients import kafka_errors
    from greenshield.settings import Settings

    try:
        settings = Settings.from_env()
        producer = make_producer(args, settings)
    except STARTUP_ERRORS + kafka_errors() as err:
        print(f"greenshield send: {err}", file=sys.stderr)
        return USAGE_ERROR
    stats = send_all("send", producer, args)
    if isinstance(stats, int):
        return stats
    print(f"lines={stats.lines} sent={stats.sent} acked={producer.acked} invalid={stats.invalid}",
          file=sys.stderr)
    return 1 if stats.invalid else 0
