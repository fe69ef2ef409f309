"""The demo's embedded pipeline, fed a simulated day a little at a time, gives the batch checker's verdict."""

from __future__ import annotations

import dataclasses
import itertools
from pathlib import Path

from greenshield.store import schema as t
from greenshield.store.pipeline import open_audit
from tests.support.store import settings_for
from greenshield.demo.embedded import EmbeddedPipeline
from greenshield.rules.batch import BatchChecker
from greenshield.rules.pack import default_pack
from greenshield.simulate import Simulation


def test_a_day_fed_in_small_steps_ends_with_the_batch_verdict(tmp_path: Path) -> None:
    settings = settings_for(tmp_path / "var", f"sqlite:///{tmp_path / 'demo.db'}")
    audit = open_audit(dataclasses.replace(settings, checkpoint_every_seconds=0))
    pack = default_pack()
    # seed 13: a day whose noise has exact duplicates and rejects (the PR-3 faults moved the simulator's draws)
    lines = list(Simulation(200, 13, fault_rate=0.3, noise_rate=0.05).lines())
    pipeline = EmbeddedPipeline(audit, pack)
    checker = BatchChecker(pack)
    rounds = 0
    try:
        it = iter(lines)
        while batch := list(itertools.islice(it, 97)):
            pipeline.feed(batch)
            checker.feed(batch)
            pipeline.evaluate()
            rounds += 1
            if rounds % 6 == 0:  # the verdict so far is the batch verdict as of the latest event
                with audit.store.read() as conn:
                    stored = _open(conn)
                expected = {(v.waybill_no, v.rule_id) for v in _verdict_so_far(pack, lines[:rounds * 97])}
                assert stored == expected, f"after {rounds * 97} lines"
        with audit.store.read() as conn:
            stored = _open(conn)
        expected = {(v.waybill_no, v.rule_id) for v in checker.verdict()}
        assert expected and stored == expected
        assert pipeline.stats.rejected > 0 and pipeline.stats.duplicates > 0  # the noise was stored or dropped
    finally:
        audit.close()


def _verdict_so_far(pack, lines):  # type: ignore[no-untyped-def]
    checker = BatchChecker(pack)
    checker.feed(lines)
    return checker.verdict()


def _open(conn) -> set[tuple[str, str]]:  # type: ignore[no-untyped-def]
    v = t.violations
    import sqlalchemy as sa

    return {(r[0], r[1]) for r in conn.execute(sa.select(v.c.waybill_no, v.c.rule_id).where(v.c.status == "open"))}
