"""Risk and credit benchmark: time of each ``risk --by KIND`` ranking and of ``credit`` on a large store.

    .venv/bin/python benchmarks/risk_bench.py [--db sqlite:///var/bench/risk.db] [--parcels 90000] [--seed 3]
                                              [--repeat 3]

1. *Store*: without ``--db``, ``--parcels`` simulated parcels (90,000 ≈ 0.96M events with the
   registry) go through the embedded pipeline (``greenshield run``) into a SQLite file at
   ``var/bench/risk-<parcels>-<seed>.db``, reused when it exists.
2. *Index*: :func:`greenshield.audit.risk_index.refresh` builds the risk side tables from
   the whole store (timed: the one-off cost for a store that never had them; afterwards each
   refresh only catches up the events since the last one).
3. *Timing*: in one process, :func:`greenshield.audit.risk_report.risk_report` for each of
   the seven kinds at the latest parcel event (the current and the previous 30-day window,
   top 20) - from the side tables (new) and from ``events`` alone (``reference=True``, the
   computation before the side tables) - then :func:`grade_docs` for the month; each
   ``--repeat`` times, wall clock, best and worst printed, with old / new as a ratio of the
   best times. A report is checked equal on both paths. This is what ``GET /v1/risk/{kind}``
   computes cold (the service caches a ranking until the store changes).
"""

from __future__ import annotations

import argparse
import os
import platform
import time
from collections.abc import Callable
from pathlib import Path


def build(parcels: int, seed: int) -> str:
    from greenshield.audit.pipeline import open_audit
    from greenshield.audit.pipeline import run as run_pipeline
    from greenshield.audit.testing import settings_for
    from greenshield.rules.pack import default_pack
    from greenshield.simulate import generate_lines

    path = Path("var/bench") / f"risk-{parcels}-{seed}.db"
    url = f"sqlite:///{path}"
    if path.exists():
        return url
    path.parent.mkdir(parents=True, exist_ok=True)
    audit = open_audit(settings_for(path.parent / "var", url))
    try:
        run_pipeline(audit, [("bench", generate_lines(parcels, seed))], default_pack())
    finally:
        audit.close()
    return url


def timed(job: Callable[[], object], repeat: int) -> tuple[float, float, object]:
    times, out = [], None
    for _ in range(repeat):
        start = time.perf_counter()
        out = job()
        times.append(time.perf_counter() - start)
    return min(times), max(times), out


def main() -> None:
    from greenshield.audit import risk_index
    from greenshield.audit.risk_report import grade_docs, risk_report
    from greenshield.audit.store import Store
    from greenshield.audit.verdicts import latest_parcel_instant
    from greenshield.risk.credit import period_of
    from greenshield.risk.model import KINDS, default_model

    p = argparse.ArgumentParser()
    p.add_argument("--db")
    p.add_argument("--parcels", type=int, default=90_000)
    p.add_argument("--seed", type=int, default=3)
    p.add_argument("--repeat", type=int, default=3)
    p.add_argument("--no-reference", action="store_true", help="skip the old computation (slow)")
    args = p.parse_args()
    url = args.db or build(args.parcels, args.seed)
    store = Store.open(url, create=False)
    model = default_model()
    print(f"risk_bench: {store.engine.dialect.name}, {platform.machine()} {os.cpu_count()} cpus, "
          f"python {platform.python_version()}, load average {os.getloadavg()[0]:.1f}")
    start = time.perf_counter()
    indexed = risk_index.refresh(store)
    print(f"index: {indexed} events indexed in {time.perf_counter() - start:.1f} s (one-off for an unindexed store)")
    with store.read() as conn:
        latest = latest_parcel_instant(conn)
        assert latest is not None
        events = conn.exec_driver_sql("SELECT count(*) FROM events").scalar_one()
        print(f"{events} stored events; best/worst of {args.repeat}, wall clock")
        for kind in KINDS:
            best, worst, new = timed(lambda: risk_report(conn, kind, latest[0], model), args.repeat)
            line = f"{kind:10s} new best {best:6.3f} s worst {worst:6.3f} s"
            if not args.no_reference:
                old_best, old_worst, old = timed(
                    lambda: risk_report(conn, kind, latest[0], model, reference=True), args.repeat)
                assert old == new, f"{kind}: the side tables and the events disagree"
                line += f" | old best {old_best:6.2f} s worst {old_worst:6.2f} s | old/new {old_best / best:6.1f}x"
            print(line, flush=True)
        best, worst, _ = timed(lambda: grade_docs(conn, period_of(latest[0]), model), args.repeat)
        print(f"{'credit':10s} best {best:6.2f} s  worst {worst:6.2f} s")
    store.close()


if __name__ == "__main__":
    main()
