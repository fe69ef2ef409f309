"""Per-event cost of the worker's decode (validate + redact + keyed digest) and of ``check``'s line step.

Method: the lines of a JSON Lines file (default: the sample day, repeated to about
50,000 lines) go through ``greenshield.stream.decode.decode`` (what the stream worker
runs per message) and through ``parse_line_plain`` alone; each is timed REPEAT times
in CPU time (``time.process_time``, not wall: the machine is shared) and the best run
is reported in µs per event.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable
from pathlib import Path

SAMPLE = Path(__file__).resolve().parent.parent / "tests" / "data" / "sample-day.jsonl"


def best_us(fn: Callable[[bytes], object], lines: list[bytes], repeat: int) -> float:
    best = float("inf")
    for _ in range(repeat):
        t = time.process_time()
        for line in lines:
            fn(line)
        best = min(best, time.process_time() - t)
    return best / len(lines) * 1e6


def main() -> int:
    from greenshield.stream.decode import decode
    from greenshield.rules.parse import parse_line_plain

    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("file", nargs="?", type=Path, default=SAMPLE)
    ap.add_argument("--lines", type=int, default=50_000, help="repeat the file's lines up to about this many")
    ap.add_argument("--repeat", type=int, default=5)
    args = ap.parse_args()
    raw = [line for line in args.file.read_bytes().splitlines() if line.strip()]
    lines = (raw * max(1, args.lines // len(raw)))[:max(args.lines, len(raw))]
    key = b"bench-hmac-key"
    # each line on its own topic, as producers send them (a registry record on the events topic is a reject)
    topic = {line: "gs.registry" if b'"type":"registry"' in line else "gs.events" for line in raw}
    worker = best_us(lambda v: decode(topic[v], 0, 0, v, key, "gs.registry"), lines, args.repeat)
    parse = best_us(parse_line_plain, lines, args.repeat)
    print(f"decode  lines={len(lines)} worker decode={worker:.2f} us/event parse_line_plain={parse:.2f} us/event "
          f"(best of {args.repeat}, CPU time)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
