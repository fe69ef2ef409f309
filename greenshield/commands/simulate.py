"""``greenshield simulate``: a day of simulated Yangtze Delta express events as JSON Lines."""

from __future__ import annotations

import argparse
import sys
from typing import IO, Any, cast

from greenshield.commands.argtypes import share
from greenshield.errors import USAGE_ERROR

_BATCH = 4096  # lines per write


def _count(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not an integer: {text!r}") from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"must be >= 0: {text!r}")
    return value


def register(sub: Any) -> None:
    p = sub.add_parser(
        "simulate",
        help="write a simulated day of express-parcel events (JSON Lines)",
        description="Simulate a Double 11 day of a Yangtze Delta express network: registry records and "
        "parcel journeys, with faults injected for every rule. Deterministic per arguments. "
        "Output is in time order unless --shuffle; a file name ending in .gz is gzip-compressed.",
    )
    p.add_argument("--parcels", type=_count, required=True, metavar="N", help="parcels accepted during the day")
    p.add_argument("--seed", type=int, required=True, metavar="S", help="random seed")
    p.add_argument("--fault-rate", type=share, default=0.05, metavar="R",
                   help="share of parcels with one injected rule violation (default 0.05)")
    p.add_argument("--noise-rate", type=share, default=0.0, metavar="R",
                   help="share of parcels with one bad input line: duplicate, conflicting duplicate, "
                        "truncated JSON or a timestamp without offset (default 0)")
    p.add_argument("--shared-waybill-rate", type=share, default=0.0, metavar="R",
                   help="share of parcels that reuse another enterprise's waybill number (two parcels of one "
                        "waybill, contract §8.1; default 0)")
    p.add_argument("--start", metavar="TS", default=None,
                   help="RFC 3339 start of the day (default 2026-11-11T00:00:00+08:00)")
    p.add_argument("--out", default="-", metavar="FILE", help="output file, '-' for stdout (default)")
    p.add_argument("--shuffle", action="store_true", help="write the lines in a seeded random order")
    p.add_argument("--manifest", metavar="FILE", default=None,
                   help="write the injected faults (and noise) as JSON Lines here")
    p.set_defaults(func=run)


def _open_out(path: str) -> tuple[IO[bytes], list[IO[bytes]]]:
    """The stream to write and the streams to close after."""
    if path == "-":
        return sys.stdout.buffer, []
    raw = open(path, "wb")
    if path.endswith(".gz"):
        import gzip

        # no name and mtime 0 in the header: the same arguments give the same bytes
        gz = cast(IO[bytes], gzip.GzipFile(filename="", mode="wb", fileobj=raw, compresslevel=6, mtime=0))
        return gz, [gz, raw]
    return raw, [raw]


def run(args: argparse.Namespace) -> int:
    from greenshield.simulate import Simulation, parse_start

    try:
        start = parse_start(args.start) if args.start else None
    except ValueError as exc:
        print(f"greenshield simulate: bad --start: {exc}", file=sys.stderr)
        return USAGE_ERROR
    sim = Simulation(args.parcels, args.seed, args.fault_rate, start, args.noise_rate, args.shared_waybill_rate)
    lines = iter(sim.shuffled_lines()) if args.shuffle else sim.lines()
    out, to_close = _open_out(args.out)
    count = 0
    try:
        batch: list[bytes] = []
        for line in lines:
            batch.append(line)
            if len(batch) >= _BATCH:
                out.write(b"".join(batch))
                count += len(batch)
                batch.clear()
        out.write(b"".join(batch))
        count += len(batch)
        out.flush()
    finally:
        for stream in to_close:
            stream.close()
    if args.manifest:
        import orjson

        with open(args.manifest, "wb") as f:
            for entry in sim.manifest:
                f.write(orjson.dumps(entry, option=orjson.OPT_APPEND_NEWLINE))
    faults = sum(1 for m in sim.manifest if m["kind"] == "fault")
    noise = sum(1 for m in sim.manifest if m["kind"] == "noise")
    shared = sum(1 for m in sim.manifest if m["kind"] == "shared_waybill")
    print(
        f"greenshield simulate: {count} lines, {args.parcels} parcels, {faults} faults, {noise} noise lines"
        + (f", {shared} shared waybills" if shared else ""),
        file=sys.stderr,
    )
    return 0
