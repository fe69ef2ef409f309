"""The figures of a store the demo's display shows: events, rejects, violations by safety system, a sample parcel.

Plain ``COUNT`` / ``GROUP BY`` queries, read-only.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from greenshield.store import schema as t

SAMPLE_RULES = ("XR-1", "PH-1", "RN-1", "IN-1", None)  # the most severe kind first; None: any


@dataclass
class StoreFigures:
    events: int = 0
    rejects: int = 0
    open_by_system: dict[str, int] = field(default_factory=dict)
    retracted: int = 0

    @property
    def open_total(self) -> int:
        return sum(self.open_by_system.values())


def store_figures(conn: Connection) -> StoreFigures:
    """Events and rejects stored; open violations by rule prefix (the system), retracted ones in all."""
    v = t.violations
    system = sa.func.substr(v.c.rule_id, 1, 2)
    events = conn.execute(sa.select(sa.func.count()).select_from(t.events)).scalar_one()
    rejects = conn.execute(sa.select(sa.func.count()).select_from(t.rejects)).scalar_one()
    rows = conn.execute(sa.select(system, v.c.status, sa.func.count()).group_by(system, v.c.status)).all()
    found = StoreFigures(int(events), int(rejects))
    for prefix, status, n in rows:
        if status == "open":
            found.open_by_system[str(prefix)] = int(n)
        else:
            found.retracted += int(n)
    return found


def sample_waybill(conn: Connection) -> str | None:
    """A parcel with an open violation, the most severe kind first (for the "try next" commands)."""
    v = t.violations
    for rule in SAMPLE_RULES:
        query = sa.select(v.c.waybill_no).where(v.c.status == "open").order_by(v.c.waybill_no).limit(1)
        if rule is not None:
            query = query.where(v.c.rule_id == rule)
        found = conn.execute(query).scalar()
        if found:
            return str(found)
    return None
