"""The embedded pipeline of ``greenshield run``, and the one wiring function of the audit store.

``run`` = intake (validate, redact, de-duplicate, store events + entries) →
sequence → re-evaluate the affected parcels at ``as_of`` → store violation
changes + entries → sequence and sign a checkpoint on close. Order matters for
crash safety: events commit before their verdicts, and the pipeline's clock
(``run_state``) moves only after every verdict of that ``as_of`` is written, so an
interrupted run is finished by running it again.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass

from greenshield.risk.model import RiskModel
from greenshield.rules.pack import RulePack
from greenshield.rules.timestamps import Instant, format_utc_exact
from greenshield.settings import Settings
from greenshield.store import graded
from greenshield.store.audit_log import Integrated, Policy, Sequencer
from greenshield.store.database import Store
from greenshield.store.intake_files import Intake, IntakeStats
from greenshield.store.verdicts import Changes, Evaluator, affected, last_evaluation, latest_parcel_instant
from greenshield.translog.keys import hmac_key, signing_key

log = logging.getLogger("greenshield.audit")


@dataclass
class Audit:
    """An open audit store with its sequencer and HMAC key."""

    store: Store
    sequencer: Sequencer
    hmac_key: bytes

    def close(self) -> Integrated:
        """Sequence what is pending and sign a checkpoint if the tree grew; then disconnect."""
        try:
            done = self.sequencer.integrate(close=True)
        finally:
            self.store.close()
        for cp in done.checkpoints:
            log.info("event=checkpoint tree_size=%d root=%s", cp.tree_size, cp.root_hash.hex())
        return done


def open_audit(settings: Settings, db_url: str | None = None, create: bool = True) -> Audit:
    """Load both keys (failing fast in production without them), then open the store."""
    key, secret = signing_key(settings), hmac_key(settings)
    policy = Policy(settings.checkpoint_every_entries, settings.checkpoint_every_seconds)
    store = Store.open(db_url or settings.db_url, create)
    return Audit(store, Sequencer(store, key, policy), secret)


@dataclass
class RunReport:
    intake: IntakeStats
    changes: Changes
    as_of: Instant | None
    evaluated: int

    def summary(self) -> str:
        i, c = self.intake, self.changes
        at = format_utc_exact(self.as_of) if self.as_of else "-"
        return (f"lines={i.lines} stored={i.stored} rejected={i.rejected} duplicates={i.duplicates} "
                f"as_of={at} parcels_evaluated={self.evaluated} opened={c.opened} updated={c.updated} "
                f"retracted={c.retracted}")


def run(audit: Audit, sources: Iterable[tuple[str, Iterable[bytes]]], pack: RulePack,
        as_of: Instant | None = None, model: RiskModel | None = None) -> RunReport:
    """Ingest every source, then bring the stored verdict up to ``as_of`` (default: latest event).

    With a risk ``model``, each enterprise's stored grades choose its parcels' pack
    (:mod:`~greenshield.store.graded`); the parcels a grade stored since the last run reaches
    are re-evaluated.
    """
    intake = Intake(audit.store, audit.hmac_key)
    for name, lines in sources:
        intake.feed(lines, name)
        log.info("event=ingested source_lines=%d stored=%d", intake.stats.lines, intake.stats.stored)
    audit.sequencer.integrate()
    with audit.store.read() as conn:
        cut = as_of if as_of is not None else latest_parcel_instant(conn)
        if cut is None:
            return RunReport(intake.stats, Changes(), None, 0)
        longest = max(pack.deadlines.values(), default=0)
        clock = last_evaluation(conn)
        todo, seen = affected(conn, clock, cut, longest)
        book = None
        if model is not None:
            book, reached, last_grade = graded.since(conn, pack, model, clock.events_seen)
            todo |= reached
            seen = max(seen, last_grade)  # grades up to it are applied, like the events up to it seen
    changes = Evaluator(audit.store, pack, book).run(todo, cut, seen)
    report = RunReport(intake.stats, changes, cut, len(todo))
    log.info("event=run %s", report.summary())
    return report
