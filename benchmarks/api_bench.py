"""Service benchmark: p50/p99 latency at 50 concurrent clients for GET /v1/violations and a parcel trace.

    .venv/bin/python benchmarks/api_bench.py [--parcels 95000] [--seed 5] [--clients 50] [--requests 3000]
    (BENCH_QUICK=1: 2,000 parcels and 500 requests)

1. *Store*: ``--parcels`` simulated parcels (95,000 ≈ 1.01M events with the registry)
   go through the embedded pipeline (``greenshield run``) into SQLite at
   ``var/bench/api-<parcels>-<seed>.db``; a store built earlier by this script is reused
   (delete it to rebuild: about 8 minutes for 1M events on the 2-core build machine).
2. *Server*: ``greenshield serve`` (one uvicorn process, embedded mode) on 127.0.0.1;
   ``GET /v1/stats`` once first, so the statistics have caught up with the store.
3. *Load*: ``--clients`` asyncio clients (httpx, one keep-alive connection each) send
   ``--requests`` requests in all per endpoint, back to back, after 200 warm-up ones.
   Latency is measured at the client, from send to the whole body read. A pass with one
   client first gives the unloaded latency for reference. Client and server share the
   machine's CPUs: the load average before the run is printed.

   * violations: ``GET /v1/violations?limit=100`` with a random one of: no filter, an
     enterprise, a rule, status=open, or a cursor at a random waybill (keyset paging);
   * trace: ``GET /v1/parcels/{waybill}/trace`` of a random stored parcel, which also
     writes the query to the audit log (one writer transaction per request).
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import json
import os
import random
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx
import sqlalchemy as sa

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from greenshield.store import tokens  # noqa: E402
from greenshield.store.pipeline import open_audit  # noqa: E402
from greenshield.store.pipeline import run as run_pipeline  # noqa: E402
from greenshield.store.database import SchemaError, Store  # noqa: E402
from tests.support.store import settings_for  # noqa: E402
from greenshield.devtools.process import free_port, stop_child  # noqa: E402
from greenshield.rules.pack import default_pack  # noqa: E402

HMAC = "bench-hmac-key"


def build(parcels: int, seed: int, base: Path) -> tuple[str, Path]:
    """The store's URL and data dir, building the store unless a complete one is there."""
    db, data = base / f"api-{parcels}-{seed}.db", base / f"api-{parcels}-{seed}.var"
    url, done = f"sqlite:///{db}", base / f"api-{parcels}-{seed}.done"
    if done.exists():
        try:
            Store.open(url, create=False).close()
            return url, data
        except SchemaError:
            print("the stored bench store has another schema version: rebuilding", file=sys.stderr)
    for stale in (db, Path(f"{db}-wal"), Path(f"{db}-shm"), done):
        stale.unlink(missing_ok=True)
    from greenshield.simulate import generate_lines

    settings = settings_for(data, url)
    started = time.perf_counter()
    audit = open_audit(settings)
    try:
        report = run_pipeline(audit, [("bench-day.jsonl", generate_lines(parcels, seed))], default_pack())
    finally:
        audit.close()
    print(f"built the store in {time.perf_counter() - started:.0f} s: {report.summary()}", file=sys.stderr)
    done.write_text("ok\n")
    return url, data


def sample(url: str, n: int, seed: int) -> tuple[list[str], list[str]]:
    """Random waybills of stored parcels, and of stored violations."""
    engine = sa.create_engine(url)
    try:
        with engine.connect() as conn:
            parcels = [r[0] for r in conn.exec_driver_sql(
                "SELECT waybill_no FROM events WHERE type = 'acceptance' ORDER BY random() LIMIT ?", (n,))]
            flagged = [r[0] for r in conn.exec_driver_sql(
                "SELECT waybill_no FROM violations ORDER BY random() LIMIT ?", (n,))]
    finally:
        engine.dispose()
    return parcels, flagged


def start(url: str, data: Path, port: int) -> subprocess.Popen[bytes]:
    env = {**os.environ, "GREENSHIELD_DATA_DIR": str(data), "GREENSHIELD_HMAC_KEY": HMAC,
           "GREENSHIELD_LOG_LEVEL": "WARNING"}
    env.pop("GREENSHIELD_DB_URL", None)
    proc = subprocess.Popen([sys.executable, "-m", "greenshield.cli", "serve", "--db", url, "--host", "127.0.0.1",
                             "--port", str(port), "--metrics-port", "0"], env=env, cwd=ROOT)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1).status_code == 200:
                return proc
        except httpx.HTTPError:
            time.sleep(0.2)
    proc.kill()
    raise SystemExit("greenshield serve did not start")


def violation_paths(flagged: list[str], rnd: random.Random, n: int) -> list[str]:
    enterprises = ["E3100001", "E3100002", "E3200001", "E3300001", "E3300002"]
    rules = ["RN-1", "IN-1", "XR-1", "XR-4", "TK-1", "PR-1", "PH-2"]
    out = []
    for _ in range(n):
        kind = rnd.randrange(5)
        query = ["", f"&enterprise_id={rnd.choice(enterprises)}", f"&rule_id={rnd.choice(rules)}", "&status=open",
                 "&cursor=" + base64.urlsafe_b64encode(json.dumps([rnd.choice(flagged), ""]).encode()).decode()
                 .rstrip("=")][kind]
        out.append(f"/v1/violations?limit=100{query}")
    return out


async def load(base: str, token: str, paths: list[str], clients: int) -> tuple[list[float], int, float]:
    """Send every path with ``clients`` concurrent clients; latencies (s), errors, wall time."""
    queue: asyncio.Queue[str] = asyncio.Queue()
    for p in paths:
        queue.put_nowait(p)
    latencies: list[float] = []
    errors = 0

    async def client() -> None:
        nonlocal errors
        async with httpx.AsyncClient(base_url=base, headers={"Authorization": f"Bearer {token}"},
                                     timeout=120) as http:
            while True:
                try:
                    path = queue.get_nowait()
                except asyncio.QueueEmpty:
                    return
                t0 = time.perf_counter()
                r = await http.get(path)
                await r.aread()
                latencies.append(time.perf_counter() - t0)
                if r.status_code != 200:
                    errors += 1

    started = time.perf_counter()
    await asyncio.gather(*(client() for _ in range(clients)))
    return latencies, errors, time.perf_counter() - started


def report(name: str, lat: list[float], errors: int, wall: float, clients: int) -> None:
    ms = sorted(x * 1000 for x in lat)
    q = statistics.quantiles(ms, n=100)
    print(f"{name:<34} n={len(ms):5d} clients={clients:2d}  p50={q[49]:7.1f} ms  p90={q[89]:7.1f} ms  "
          f"p99={q[98]:7.1f} ms  max={ms[-1]:7.1f} ms  {len(ms) / wall:7.1f} req/s  errors={errors}")


def main() -> int:
    quick = os.environ.get("BENCH_QUICK") == "1"  # `BENCH_QUICK=1 make bench`: a small store, fewer requests
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--parcels", type=int, default=2_000 if quick else 95_000)
    ap.add_argument("--seed", type=int, default=5)
    ap.add_argument("--clients", type=int, default=50)
    ap.add_argument("--requests", type=int, default=500 if quick else 3000)
    ap.add_argument("--dir", type=Path, default=ROOT / "var" / "bench")
    args = ap.parse_args()
    args.dir.mkdir(parents=True, exist_ok=True)
    url, data = build(args.parcels, args.seed, args.dir)
    store = Store.open(url, create=False)
    try:
        tokens.ensure_tables(store)
        token = tokens.create(store, "regulator", label="api_bench")[1]
    finally:
        store.close()
    parcels, flagged = sample(url, 5000, args.seed)
    rnd = random.Random(args.seed)
    port = free_port()
    proc = start(url, data, port)
    base = f"http://127.0.0.1:{port}"
    try:
        t0 = time.perf_counter()
        stats = httpx.get(f"{base}/v1/stats", headers={"Authorization": f"Bearer {token}"}, timeout=600).json()
        print(f"load average before: {' '.join(f'{x:.1f}' for x in os.getloadavg())} on {os.cpu_count()} CPUs")
        print(f"store: {stats['events']['total']:,} events, {stats['systems'][0]['parcels']:,} parcels, "
              f"{stats['violations']['open']:,} open violations (first /v1/stats, catching up: "
              f"{time.perf_counter() - t0:.1f} s)")
        runs = {
            "GET /v1/violations?limit=100": violation_paths(flagged, rnd, args.requests),
            "GET /v1/parcels/{waybill}/trace": [f"/v1/parcels/{rnd.choice(parcels)}/trace"
                                                for _ in range(args.requests)],
            "GET /v1/stats": ["/v1/stats"] * max(200, args.requests // 10),
        }
        for name, paths in runs.items():
            asyncio.run(load(base, token, paths[:200], args.clients))  # warm-up
            lat, errors, wall = asyncio.run(load(base, token, paths[:300], 1))
            report(name, lat, errors, wall, 1)  # the unloaded latency, for reference
            lat, errors, wall = asyncio.run(load(base, token, paths, args.clients))
            report(name, lat, errors, wall, args.clients)
    finally:
        stop_child(proc, timeout=60)
    return 0


if __name__ == "__main__":
    sys.exit(main())
