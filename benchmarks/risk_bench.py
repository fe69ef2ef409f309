"""Risk and credit benchmark: time of each ``risk --by KIND`` ranking and of ``credit`` on a large store.

    .venv/bin/python benchmarks/risk_bench.py [--db sqlite:///var/bench/risk.db] [--parcels 90000] [--seed 3]
                                              [--repeat 3]

1. *Store*: without ``--db``, ``--parcels`` simulated parcels (90,000 ≈ 0.96M events with the
   registry) go through the embedded pipeline (``greenshield run``) into a SQLite file at
   ``var/bench/risk-<parcels>-<seed>.db``, reused when it exists.
2. *Timing*: in one process, :func:`greenshield.audit.risk_report.risk_report` for each of
   the seven kinds at the latest parcel event (the current and the previous 30-day window,
   top 20), then :func:`grade_docs` for the month; each ``--repeat`` times, wall clock, best
   and worst printed. This is what ``GET /v1/risk/{kind}`` and ``GET /v1/credit`` compute
   per request (they cache nothing).
"""

from __future__ import annotations

import argparse
import os
import time
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


def main() -> None:
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
    args = p.parse_args()
    store = Store.open(args.db or build(args.parcels, args.seed), create=False)
    model = default_model()
    print(f"load average {os.getloadavg()[0]:.1f}")
    with store.read() as conn:
        latest = latest_parcel_instant(conn)
        assert latest is not None
        events = conn.exec_driver_sql("SELECT count(*) FROM events").scalar_one()
        print(f"{events} stored events")
        jobs = [(kind, lambda k=kind: risk_report(conn, k, latest[0], model)) for kind in KINDS]
        jobs.append(("credit", lambda: grade_docs(conn, period_of(latest[0]), model)))
        for name, job in jobs:
            times = []
            for _ in range(args.repeat):
                start = time.perf_counter()
                job()
                times.append(time.perf_counter() - start)
            print(f"{name:10s} best {min(times):6.2f} s  worst {max(times):6.2f} s")
    store.close()


if __name__ == "__main__":
    main()
