"""The demo without Kafka: events go straight into the SQLite store through the embedded pipeline.

This is ``greenshield run``'s pipeline (:mod:`greenshield.store.intake_files`,
:mod:`greenshield.store.verdicts`), fed a little at a time instead of a file at once:

* :meth:`EmbeddedPipeline.feed` stores lines with :class:`~greenshield.store.intake_files.Intake`
  (validate, redact, de-duplicate, events and audit entries in one transaction);
* :meth:`EmbeddedPipeline.evaluate` brings the verdict up to the latest stored parcel
  event with :class:`~greenshield.store.verdicts.Evaluator`, as ``run`` does.

Only *which* parcels are re-evaluated differs. ``run``'s
:func:`~greenshield.store.verdicts.affected` takes every parcel with an event in
``[previous as_of - longest deadline, as_of]``: right for a file at once, but a
streamed day re-evaluates nearly every parcel each second (the longest deadline is
24 h, and a compressed day is younger than that), about 10 s a round at 5,000
parcels. Here a round takes the parcels that can have changed since the previous
``as_of`` ``p``, for a new ``as_of`` ``c >= p``:

* those with events stored since the last round, and those naming an entity of a new
  registry record (``affected`` without its time window);
* those with an event in ``[p, c]`` (stored earlier, now inside the cut);
* for each deadline ``d`` of the rule pack, those with an event in ``[p - d, c - d]``:
  a deadline counted from that event falls due in ``(p, c]``.

(Every window is widened by a second, as ``affected`` does.) Should ``as_of`` move
back, the round falls back to ``affected`` as it is. The result is the same verdict
``greenshield check --as-of`` computes (``tests/demo/test_embedded.py`` checks it).
"""

from __future__ import annotations

from collections.abc import Iterable

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from greenshield.store import schema as t
from greenshield.store.intake_files import Intake, IntakeStats
from greenshield.store.pipeline import Audit
from greenshield.store.verdicts import Changes, Clock, Evaluator, affected, last_evaluation, latest_parcel_instant
from greenshield.rules.pack import RulePack
from greenshield.rules.timestamps import Instant


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


def due_between(conn: Connection, prev: Instant, cut: Instant, deadlines: set[int]) -> set[tuple[str, str]]:
    """Parcels ``(enterprise_id, waybill_no)`` with an event in ``[prev, cut]`` or one whose deadline ``d`` falls due in it."""
    e = t.events
    out: set[tuple[str, str]] = set()
    for d in {0, *deadlines}:
        lo, hi = prev[0] - d - 1, cut[0] - d + 1
        query = sa.select(e.c.enterprise_id, e.c.waybill_no).where(e.c.at_s.between(lo, hi),
                                                                   e.c.waybill_no.is_not(None)).distinct()
        out.update((str(r[0]), str(r[1])) for r in conn.execute(query))
    return out
