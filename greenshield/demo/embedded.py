"""The demo without Kafka: events go straight into the SQLite store through the embedded pipeline.

This is ``greenshield run``'s pipeline (:mod:`greenshield.store.intake_files`,
:mod:`greenshield.store.verdicts`), fed a little at a time instead of a file at once:

* :meth:`EmbeddedPipeline.feed` stores lines with :class:`~greenshield.store.intake_files.Intake`;
* :meth:`EmbeddedPipeline.evaluate` brings the verdict up to the latest stored parcel
  event with :class:`~greenshield.store.verdicts.Evaluator`, as ``run`` does.

Only *which* parcels a round re-evaluates differs: those changed since the previous
``as_of`` (:func:`~greenshield.store.due_parcels.due_between`), not ``run``'s whole
window, and the verdict is the one ``greenshield check --as-of`` computes
(docs/adr/0026-incremental-demo-rounds.md).
"""

from __future__ import annotations

from collections.abc import Iterable

from greenshield.rules.pack import RulePack
from greenshield.rules.timestamps import Instant
from greenshield.store.due_parcels import due_between
from greenshield.store.intake_files import Intake, IntakeStats
from greenshield.store.pipeline import Audit
from greenshield.store.verdicts import Changes, Clock, Evaluator, affected, last_evaluation, latest_parcel_instant


class EmbeddedPipeline:
    """Intake and incremental evaluation over one open audit store (the only evaluator of that store)."""

    def __init__(self, audit: Audit, pack: RulePack, source: str = "demo") -> None:
        self.audit = audit
        self.pack = pack
        self.source = source
        self.intake = Intake(audit.store, audit.hmac_key)
        self.changes = Changes()
        self.as_of: Instant | None = None
        self._position = 0

    @property
    def stats(self) -> IntakeStats:
        return self.intake.stats

    def feed(self, lines: Iterable[bytes]) -> None:
        """Store a batch of JSON Lines."""
        batch = list(lines)
        if not batch:
            return
        # Intake numbers lines from 1 in each feed() and keys a reject by (source, position), so each
        # batch is its own source "<source>+<lines before it>": line N of the stream is position N - offset
        self.intake.feed(batch, f"{self.source}+{self._position}")
        self._position += len(batch)

    def evaluate(self) -> Changes:
        """Bring the stored verdict up to the latest stored parcel event; sequence the audit log."""
        store = self.audit.store
        longest = max(self.pack.deadlines.values(), default=0)
        with store.read() as conn:
            cut = latest_parcel_instant(conn)
            if cut is None:
                return Changes()
            prev = last_evaluation(conn)
            if prev.as_of is not None and cut < prev.as_of:
                todo, seen = affected(conn, prev, cut, longest)
            else:
                todo, seen = affected(conn, Clock(None, prev.events_seen), cut, longest)
                if prev.as_of is not None and prev.as_of != cut:
                    todo |= due_between(conn, prev.as_of, cut, set(self.pack.deadlines.values()))
        if todo or seen != prev.events_seen or cut != prev.as_of:
            done = Evaluator(store, self.pack).run(todo, cut, seen)
            self.changes.opened += done.opened
            self.changes.updated += done.updated
            self.changes.retracted += done.retracted
        self.as_of = cut
        self.audit.sequencer.integrate()
        return self.changes

