"""Benchmark of ``greenshield check``: events/s, peak memory, and time as a ratio to stdlib json.loads.

Method: simulate N parcels (deterministic seed) into a file; then, alternating,
run in child processes (a) a baseline that reads the same file and calls
``json.loads`` on every line, (b) ``greenshield check FILE`` (on this size: two
worker processes where there are two cores) and (c) ``greenshield check --jobs 1
FILE`` (one process); take the median wall time of each over REPEAT runs, and its
CPU time (user + system, workers included); peak memory is the child's max RSS.
The machine's load average is printed: on a shared machine wall time suffers first.
Last, the stream worker's rule core alone (``--core FILE``, default the sample day):
CPU µs per event of ``RuleCore.add_event`` plus ``evaluate`` (one ``advance`` at the end).
"""

from __future__ import annotations

import argparse
import os
import platform
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

BASELINE = "import json,sys\nwith open(sys.argv[1],'rb') as f:\n    for line in f:\n        json.loads(line)\n"


def _child(cmd: list[str]) -> tuple[float, int, float]:
    """Wall seconds, peak RSS (MiB) and CPU seconds (its own workers included) of one child process."""
    start = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    _, status, usage = os.wait4(proc.pid, 0)
    elapsed = time.perf_counter() - start
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit(f"benchmark child failed: {' '.join(cmd)}")
    return elapsed, usage.ru_maxrss // 1024, usage.ru_utime + usage.ru_stime


def simulate(parcels: int, seed: int, out: Path) -> int:
    if not out.exists():
        subprocess.run([sys.executable, "-m", "greenshield.cli", "simulate", "--parcels", str(parcels),
                        "--seed", str(seed), "--fault-rate", "0.05", "--out", str(out)], check=True)
    with open(out, "rb") as f:
        return sum(1 for _ in f)


def measure(path: Path, repeat: int) -> dict[str, float]:
    runs: dict[str, list[tuple[float, int, float]]] = {"base": [], "check": [], "serial": []}
    check = [sys.executable, "-m", "greenshield.cli", "check"]
    for _ in range(repeat):
        runs["base"].append(_child([sys.executable, "-c", BASELINE, str(path)]))
        runs["check"].append(_child([*check, str(path)]))
        runs["serial"].append(_child([*check, "--jobs", "1", str(path)]))
    wall = {k: statistics.median(r[0] for r in v) for k, v in runs.items()}
    cpu = {k: statistics.median(r[2] for r in v) for k, v in runs.items()}
    return {"baseline_s": wall["base"], "check_s": wall["check"], "ratio": wall["check"] / wall["base"],
            "serial_s": wall["serial"], "serial_ratio": wall["serial"] / wall["base"],
            "baseline_cpu": cpu["base"], "check_cpu": cpu["check"], "serial_cpu": cpu["serial"],
            "peak_mib": max(r[1] for r in runs["check"]), "serial_peak_mib": max(r[1] for r in runs["serial"])}


def core_us_per_event(path: Path, repeat: int = 7) -> float:
    """CPU µs per parcel event of the stream worker's rule core (``RuleCore.add_event`` plus the
    ``advance``, i.e. ``evaluate``, at the end), best of ``repeat``; decoding is done before timing."""
    from greenshield.rules.engine import RuleCore
    from greenshield.rules.model import Event, Rejection
    from greenshield.rules.pack import default_pack
    from greenshield.rules.parse import is_blank, parse_line_plain

    with open(path, "rb") as f:
        items = [parse_line_plain(line)[1] for line in f if not is_blank(line)]
    items = [i for i in items if type(i) is not Rejection]
    events = sum(type(i) is Event for i in items)
    pack, best = default_pack(), float("inf")
    for _ in range(repeat):
        core, mark = RuleCore(pack), None
        start = time.process_time()
        for item in items:
            if type(item) is Event:
                core.add_event(item)
                mark = item.at if mark is None or item.at > mark else mark
            else:
                core.add_record(item)  # type: ignore[arg-type]
        if mark is not None:
            core.advance(mark, finalise=False)
        best = min(best, time.process_time() - start)
    return best / max(events, 1) * 1e6


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--parcels", type=int, default=10_000, help="~10 events per parcel")
    ap.add_argument("--big-parcels", type=int, default=0, help="also measure peak memory at this size")
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--dir", type=Path, default=Path("var/bench"))
    ap.add_argument("--core", type=Path, default=Path("tests/data/sample-day.jsonl"),
                    help="also time the stream worker's rule core (add_event + evaluate) on this file")
    args = ap.parse_args()
    args.dir.mkdir(parents=True, exist_ok=True)
    print(f"# machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores, "
          f"Python {platform.python_version()}")
    sizes = [args.parcels] + ([args.big_parcels] if args.big_parcels else [])
    for i, parcels in enumerate(sizes):
        path = args.dir / f"check-{parcels}.jsonl"
        events = simulate(parcels, 7, path)
        load = os.getloadavg()[0]
        r = measure(path, args.repeat if i == 0 else 1)
        print(f"check  events={events} check={r['check_s']:.2f}s ({events / r['check_s']:,.0f} events/s) "
              f"json.loads={r['baseline_s']:.2f}s ratio={r['ratio']:.2f} (goal <= 2.0) "
              f"peak_rss={r['peak_mib']} MiB | --jobs 1: {r['serial_s']:.2f}s ratio={r['serial_ratio']:.2f} "
              f"peak_rss={r['serial_peak_mib']} MiB | cpu s: json.loads={r['baseline_cpu']:.2f} "
              f"check={r['check_cpu']:.2f} --jobs 1={r['serial_cpu']:.2f} | load {load:.1f} -> "
              f"{os.getloadavg()[0]:.1f}")
    if args.core.exists():
        print(f"core   {args.core}: add_event + evaluate {core_us_per_event(args.core):.2f} CPU us/event "
              f"(best of 7) | load {os.getloadavg()[0]:.1f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
