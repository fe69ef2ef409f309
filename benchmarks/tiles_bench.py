"""C2SP tile serving at a million leaves: request latency of the checkpoint, hash tiles and entry bundles.

    .venv/bin/python benchmarks/tiles_bench.py [--leaves 1000000] [--requests 200]

Builds a SQLite log of ``--leaves`` entries (40-byte JSON entries, written in batches by
the real writer, sequenced as the service does, a checkpoint every 10,000 and on close),
then times ``--requests`` GETs of each kind through the whole app in-process (ASGI stack,
routing, one read transaction each; no network): ``/healthz`` as the floor, ``/checkpoint``, full level-0, 1 and 2
tiles at random indices, the partial tiles at the top, and an auditor's entry bundle.
A tile never rehashes the log: level 0 reads 256 entries, level >= 1 one range of the
stored subtree hashes.
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path

from fastapi.testclient import TestClient

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))  # run as a script (benchmarks/run.sh): the checkout's greenshield and tests

from greenshield.store.audit_log import append  # noqa: E402
from greenshield.translog.tiles import Tile, tiles_of  # noqa: E402
from tests.translog.tlogworld import open_log  # noqa: E402


def build(directory: Path, leaves: int) -> tuple[object, float]:
    log = open_log(directory)
    start, batch = time.perf_counter(), 50_000
    for lo in range(0, leaves, batch):
        n = min(batch, leaves - lo)
        with log.store.write() as conn:
            ids = log.store.allocate_ids(conn, n)
            append(conn, [(i, "test", b'{"n":%d,"pad":"0123456789abcdef"}' % (lo + k)) for k, i in enumerate(ids)],
                   log.store)
        log.app.state.service.sequencer.integrate(close=lo + n >= leaves)
    return log, time.perf_counter() - start


def timed(client: TestClient, paths: list[str], headers: dict[str, str]) -> tuple[float, float]:
    took = []
    for path in paths:
        t = time.perf_counter()
        r = client.get(path, headers=headers)
        took.append((time.perf_counter() - t) * 1000)
        assert r.status_code == 200, (path, r.status_code)
    took.sort()
    return statistics.median(took), took[min(len(took) - 1, int(len(took) * 0.99))]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--leaves", type=int, default=1_000_000)
    ap.add_argument("--requests", type=int, default=200)
    args = ap.parse_args()
    rnd = random.Random(7)
    with tempfile.TemporaryDirectory() as tmp:
        log, build_s = build(Path(tmp), args.leaves)
        print(f"tiles_bench: {args.leaves:,} leaves built and sequenced in {build_s:.1f} s (SQLite)")
        top = [t for t in tiles_of(args.leaves) if t.partial]
        full = {lv: args.leaves >> (8 * (lv + 1)) for lv in range(3)}
        auth = {"Authorization": f"Bearer {log.auditor}"}  # type: ignore[attr-defined]
        k = args.requests
        kinds = {
            "/healthz (the app's floor)": (["/healthz"] * k, {}),
            "/checkpoint": (["/checkpoint"] * k, {}),
            **{f"level-{lv} full tile": (["/" + Tile(lv, rnd.randrange(full[lv])).path() for _ in range(k)], {})
               for lv in range(3) if full[lv]},
            "partial tiles (top of the tree)": ([f"/{top[i % len(top)].path()}" for i in range(k)], {}),
            "entry bundle (auditor)": (["/" + Tile(None, rnd.randrange(full[0])).path() for _ in range(k)], auth),
        }
        with TestClient(log.app) as client:  # type: ignore[attr-defined]
            for name, (paths, headers) in kinds.items():
                p50, p99 = timed(client, paths, headers)
                print(f"tiles_bench: {name:34s} p50 {p50:6.2f} ms  p99 {p99:6.2f} ms  ({len(paths)} requests)")
        log.store.close()  # type: ignore[attr-defined]


if __name__ == "__main__":
    main()
