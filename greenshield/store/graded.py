"""The stored grades as the rule core's per-enterprise pack, and the parcels a newly stored grade reaches.

A grade stored for period P governs the enterprise's parcels whose first event is at or
after P's end (:class:`~greenshield.risk.credit.GradeBook`), so storing one re-evaluates
that enterprise's parcels with an event from P's end on; never the graded period's own.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from greenshield.risk.credit import GradeBook, period_bounds
from greenshield.risk.model import RiskModel
from greenshield.rules.model import ParcelKey
from greenshield.rules.pack import RulePack
from greenshield.store import schema as t
from greenshield.store.credit_log import latest_grades


@dataclass(frozen=True)
class StoredGrade:
    id: int
    enterprise_id: str
    period: str
    grade: str


def stored_grades(conn: Connection) -> list[StoredGrade]:
    """The latest grade of every (enterprise, period), by entry id."""
    rows = latest_grades(conn).values()
    return sorted((StoredGrade(int(r.id), r.enterprise_id, r.period, r.grade) for r in rows), key=lambda g: g.id)


def signature(conn: Connection) -> tuple[int, int]:
    """(count, largest id) of the grade rows: it moves whenever a grade is stored (rows are never deleted)."""
    g = t.grades
    count, top = conn.execute(sa.select(sa.func.count(), sa.func.coalesce(sa.func.max(g.c.id), 0))).one()
    return int(count), int(top)


def book(conn: Connection, pack: RulePack, model: RiskModel) -> GradeBook:
    return GradeBook(pack, model, rows(stored_grades(conn)))


def rows(grades: Iterable[StoredGrade]) -> list[tuple[str, str, str]]:
    return [(g.enterprise_id, g.period, g.grade) for g in grades]


def reach(conn: Connection, grades: Iterable[StoredGrade]) -> set[ParcelKey]:
    """The parcels of each grade's enterprise with an event at or after the end of its period."""
    e = t.events
    since: dict[str, int] = {}
    for g in grades:
        end = period_bounds(g.period)[1]
        since[g.enterprise_id] = min(end, since.get(g.enterprise_id, end))
    out: set[ParcelKey] = set()
    for enterprise, start in sorted(since.items()):
        query = sa.select(e.c.enterprise_id, e.c.waybill_no).where(
            e.c.enterprise_id == enterprise, e.c.at_s >= start, e.c.waybill_no.is_not(None)).distinct()
        out.update((str(a), str(b)) for a, b in conn.execute(query))
    return out


def since(conn: Connection, pack: RulePack, model: RiskModel,
          after_id: int) -> tuple[GradeBook | None, set[ParcelKey], int]:
    """The book (None when the model tightens nothing), the parcels the grades stored after entry
    ``after_id`` reach, and the largest grade entry id (0 without grades)."""
    grades = stored_grades(conn)
    last = max((g.id for g in grades), default=0)
    found = GradeBook(pack, model, rows(grades))
    if not found.tightens:
        return None, set(), last
    return found, reach(conn, [g for g in grades if g.id > after_id]), last
