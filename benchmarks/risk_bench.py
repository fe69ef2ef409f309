"""Risk and credit benchmark: time of each ``risk --by KIND`` ranking and of ``credit`` on a large store.

    .venv/bin/python benchmarks/risk_bench.py [--db URL] [--parcels 90000] [--seed 3] [--cache DIR]
                                              [--repeat 3] [--old-repeat 1] [--more 940] [--no-reference]

1. *Store*: without ``--db``, ``--parcels`` simulated parcels (90,000 ≈ 0.96M events with the
   registry) go through the embedded pipeline (``greenshield run``) once into a SQLite file
   ``<cache>/risk-<parcels>-<seed>.db`` (default cache: the temp dir), kept for later runs; each
   run works on a fresh copy of it. ``--db URL --build`` builds it into ``URL`` instead (for
   PostgreSQL: a schema of one's own, ``?options=-csearch_path%3D<schema>``) if that is empty.
   The risk side tables are dropped first, so the index is always built from nothing.
2. *Index*: :func:`greenshield.store.risk_index.refresh` builds the risk side tables from
   the whole store (timed: the one-off cost for a store that never had them; afterwards each
   refresh only catches up the events since the last one).
3. *Timing*: in one process, :func:`greenshield.store.risk_report.risk_report` for each of
   the seven kinds at the latest parcel event (the current and the previous 30-day window,
   top 20) - from the side tables (new) and from ``events`` alone (``reference=True``, the
   computation before the side tables) - then :func:`grade_docs` for the month; each
   ``--repeat`` times, wall clock, best and worst printed, with old / new as a ratio of the
   best times. A report is checked equal on both paths. This is what ``GET /v1/risk/{kind}``
   computes cold (the service caches a ranking until the store changes).
4. *Incremental*: ``--more`` parcels of a later day (~10 events each) are fed in as the
   worker would (no verdicts), then one refresh catches the side tables up (timed).

``--api`` (quick) times the service instead, on a copy of the cached store in a directory of its
own: ``GET /v1/risk/{kind}`` (latest, top 10: the dashboard's request) cold, then one warm step
(:class:`greenshield.api.routes_risk.RiskWarmer`), then a new audit entry (the store changed, as
on a live store) and the same request served from the snapshot; cold / warm as a ratio.
"""

from __future__ import annotations

import argparse
import os
import platform
import shutil
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))  # run as a script (benchmarks/run.sh): the checkout's greenshield and tests


def cached_store(parcels: int, seed: int, cache: Path) -> Path:
    """The simulated store for these parameters, built once (the embedded pipeline) and kept in ``cache``."""
    from greenshield.store.pipeline import open_audit
    from greenshield.store.pipeline import run as run_pipeline
    from tests.support.store import settings_for
    from greenshield.rules.pack import default_pack
    from greenshield.simulate import generate_lines

    path = cache / f"risk-{parcels}-{seed}.db"
    if path.exists():
        return path
    cache.mkdir(parents=True, exist_ok=True)
    partial = path.with_suffix(".building")
    start = time.perf_counter()
    audit = open_audit(settings_for(cache / "var", f"sqlite:///{partial}"))
    try:
        run_pipeline(audit, [("bench", generate_lines(parcels, seed))], default_pack())
    finally:
        audit.close()
    for suffix in ("-wal", "-shm"):
        Path(f"{partial}{suffix}").unlink(missing_ok=True)
    partial.rename(path)
    print(f"store: built {path} in {time.perf_counter() - start:.0f} s", flush=True)
    return path


def build_into(url: str, parcels: int, seed: int, cache: Path) -> None:
    """Build the simulated store into ``url`` (PostgreSQL: a schema of one's own) unless it holds events."""
    from greenshield.store.pipeline import open_audit
    from greenshield.store.pipeline import run as run_pipeline
    from tests.support.store import settings_for
    from greenshield.rules.pack import default_pack
    from greenshield.simulate import generate_lines

    audit = open_audit(settings_for(cache / "var", url))
    try:
        with audit.store.read() as conn:
            if conn.exec_driver_sql("SELECT count(*) FROM events").scalar_one():
                return
        start = time.perf_counter()
        run_pipeline(audit, [("bench", generate_lines(parcels, seed))], default_pack())
        print(f"store: built in {time.perf_counter() - start:.0f} s", flush=True)
    finally:
        audit.close()


def working_copy(cached: Path) -> str:
    """A copy of the cached store to work on (indexing and adding events leave the cache as built)."""
    work = cached.with_name(cached.stem + "-work.db")
    for suffix in ("-wal", "-shm"):
        Path(f"{work}{suffix}").unlink(missing_ok=True)
    shutil.copyfile(cached, work)
    return f"sqlite:///{work}"


def timed(job: Callable[[], object], repeat: int) -> tuple[float, float, object]:
    times, out = [], None
    for _ in range(repeat):
        start = time.perf_counter()
        out = job()
        times.append(time.perf_counter() - start)
    return min(times), max(times), out


def add_events(url: str, cache: Path, parcels: int, seed: int, after_s: int) -> int:
    """Feed a later day's parcel events (no registry) into the store as the worker would; return those stored."""
    from datetime import datetime, timezone

    from greenshield.store.intake_files import Intake
    from greenshield.store.pipeline import open_audit
    from tests.support.store import settings_for
    from greenshield.simulate import generate_lines

    start = datetime.fromtimestamp(after_s + 3600, tz=timezone.utc)
    lines = [x for x in generate_lines(parcels, seed + 1000, start=start) if b'"type":"registry"' not in x]
    audit = open_audit(settings_for(cache / "var", url))
    try:
        intake = Intake(audit.store, audit.hmac_key)
        intake.feed(lines, "bench-more")
        audit.sequencer.integrate()
        return intake.stats.stored
    finally:
        audit.close()


def upgrade_copy(url: str) -> None:
    """A copy built by an older schema gets this one's new (empty) tables and version: risk reads none of them."""
    import sqlalchemy as sa

    from greenshield.store import schema as t

    engine = sa.create_engine(url)
    with engine.begin() as conn:
        found = conn.execute(sa.select(t.schema_version.c.version)).scalars().all()
        if found != [t.SCHEMA_VERSION]:
            t.metadata.create_all(conn, checkfirst=True)
            conn.execute(t.schema_version.update().values(version=t.SCHEMA_VERSION))
            print(f"store: copy upgraded from schema {found} to {t.SCHEMA_VERSION} (new tables, empty)", flush=True)
    engine.dispose()


def api_bench(cached: Path, repeat: int) -> None:
    """Latest rankings through the service: cold, then from the warm snapshot after the store changed."""
    from fastapi.testclient import TestClient

    from greenshield.api.app import create_app
    from greenshield.store import risk_index, tokens
    from greenshield.store.queries import record
    from greenshield.store.database import Store
    from tests.support.store import settings_for
    from greenshield.risk.model import KINDS

    work = Path(tempfile.mkdtemp(prefix="risk-api-bench-"))
    try:
        shutil.copyfile(cached, work / "store.db")
        settings = settings_for(work / "var", f"sqlite:///{work / 'store.db'}")
        upgrade_copy(settings.db_url)
        store = Store.open(settings.db_url, create=False)
        start = time.perf_counter()
        risk_index.refresh(store)
        print(f"index: caught up in {time.perf_counter() - start:.1f} s", flush=True)
        app = create_app(settings, store, upkeep_seconds=0)
        auth = {"Authorization": f"Bearer {tokens.create(store, 'regulator', label='bench')[1]}"}
        with TestClient(app) as client:
            def get(kind: str) -> dict[str, object]:
                r = client.get(f"/v1/risk/{kind}?top=10", headers=auth)
                assert r.status_code == 200, r.text
                doc: dict[str, object] = r.json()
                return doc

            cold = {}
            for kind in KINDS:
                cold[kind], _, doc = timed(lambda: get(kind), 1)
                assert isinstance(doc, dict) and doc["snapshot"] is False
            best, _, _ = timed(app.state.risk_warmer.step, 1)
            print(f"warm step (every kind, side tables caught up): {best:.1f} s", flush=True)
            record(store, "bench.change", {}, 0)  # the store changed: the per-state cache cannot answer
            for kind in KINDS:
                warm, worst, doc = timed(lambda: get(kind), repeat)
                assert isinstance(doc, dict) and doc["snapshot"] is True
                print(f"{kind:10s} cold {cold[kind]:6.3f} s | snapshot best {warm * 1000:6.1f} ms worst "
                      f"{worst * 1000:6.1f} ms | cold/snapshot {cold[kind] / warm:7.0f}x", flush=True)
        store.close()
    finally:
        shutil.rmtree(work, ignore_errors=True)


def main() -> None:
    from greenshield.store import risk_index
    from greenshield.store.risk_report import grade_docs, risk_report
    from greenshield.store.database import Store
    from greenshield.store.verdicts import latest_parcel_instant
    from greenshield.risk.credit import period_of
    from greenshield.risk.model import KINDS, default_model

    p = argparse.ArgumentParser()
    p.add_argument("--db", help="an existing store (default: the cached simulated one, on a working copy)")
    p.add_argument("--parcels", type=int, default=90_000)
    p.add_argument("--seed", type=int, default=3)
    p.add_argument("--cache", type=Path, default=Path(tempfile.gettempdir()) / "greenshield-bench")
    p.add_argument("--repeat", type=int, default=3)
    p.add_argument("--old-repeat", type=int, default=1, help="runs of the old computation (slow)")
    p.add_argument("--more", type=int, default=1_350, help="parcels of a later day added for the incremental refresh (~10k events)")
    p.add_argument("--no-reference", action="store_true", help="skip the old computation")
    p.add_argument("--build", action="store_true", help="with --db: build the simulated store there if empty")
    p.add_argument("--api", action="store_true", help="quick: the service's latest rankings, cold and from the warm snapshot")
    args = p.parse_args()
    if args.api:
        api_bench(cached_store(args.parcels, args.seed, args.cache), args.repeat)
        return
    if args.db and args.build:
        build_into(args.db, args.parcels, args.seed, args.cache)
    url = args.db or working_copy(cached_store(args.parcels, args.seed, args.cache))
    store = Store.open(url, create=False)
    with store.write() as conn:  # side tables building the store made (record_risk_warnings): built below
        risk_index.metadata.drop_all(conn)
    model = default_model()
    print(f"risk_bench: {store.engine.dialect.name}, {platform.machine()} {os.cpu_count()} cpus, "
          f"python {platform.python_version()}, load average {os.getloadavg()[0]:.1f}")
    start = time.perf_counter()
    indexed = risk_index.refresh(store)
    print(f"index: {indexed} parcel events indexed in {time.perf_counter() - start:.1f} s "
          f"(one-off for an unindexed store)", flush=True)
    with store.read() as conn:
        latest = latest_parcel_instant(conn)
        assert latest is not None
        events = conn.exec_driver_sql("SELECT count(*) FROM events").scalar_one()
    print(f"{events} stored events; new: best/worst of {args.repeat}, old: of {args.old_repeat}; wall clock")
    with store.read() as conn:
        for kind in KINDS:
            best, worst, new = timed(lambda: risk_report(conn, kind, latest[0], model), args.repeat)
            line = f"{kind:10s} new best {best:6.3f} s worst {worst:6.3f} s"
            if not args.no_reference:
                old_best, old_worst, old = timed(
                    lambda: risk_report(conn, kind, latest[0], model, reference=True), args.old_repeat)
                assert old == new, f"{kind}: the side tables and the events disagree"
                line += f" | old best {old_best:6.2f} s worst {old_worst:6.2f} s | old/new {old_best / best:6.1f}x"
            print(line, flush=True)
        best, worst, _ = timed(lambda: grade_docs(conn, period_of(latest[0]), model), args.repeat)
        print(f"{'credit':10s} best {best:6.2f} s  worst {worst:6.2f} s", flush=True)
    if args.more:
        stored = add_events(url, args.cache, args.more, args.seed, latest[0])
        start = time.perf_counter()
        caught = risk_index.refresh(store)
        print(f"incremental: +{stored} events stored, {caught} parcel events caught up in "
              f"{time.perf_counter() - start:.2f} s", flush=True)
        with store.read() as conn:
            assert risk_index.covers(conn)
    store.close()


if __name__ == "__main__":
    main()
