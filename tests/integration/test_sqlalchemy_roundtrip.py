"""SQLAlchemy 2 Core and ORM round-trips on SQLite and (marked postgres) PostgreSQL.

Each test builds its own uniquely named tables and drops them, so it can share
the PostgreSQL test database with other tests.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy import orm

BACKENDS = [
    pytest.param("sqlite", id="sqlite"),
    pytest.param("postgres", id="postgres", marks=pytest.mark.postgres),
]


@pytest.fixture(params=BACKENDS)
def engine(request: pytest.FixtureRequest) -> Iterator[sa.Engine]:
    url = request.getfixturevalue("sqlite_url" if request.param == "sqlite" else "pg_url")
    eng = sa.create_engine(url)
    try:
        yield eng
    finally:
        eng.dispose()


def _models(suffix: str) -> tuple[type[Any], type[Any], type[orm.DeclarativeBase]]:
    class Base(orm.DeclarativeBase):
        type_annotation_map = {dict[str, Any]: sa.JSON}

    class Enterprise(Base):
        __tablename__ = f"gs_test_enterprise_{suffix}"
        id: orm.Mapped[str] = orm.mapped_column(sa.String(8), primary_key=True)
        name: orm.Mapped[str] = orm.mapped_column(sa.String(200))
        violations: orm.Mapped[list[Violation]] = orm.relationship(
            back_populates="enterprise", cascade="all, delete-orphan", order_by="Violation.id"
        )

    class Violation(Base):
        __tablename__ = f"gs_test_violation_{suffix}"
        __table_args__ = (sa.UniqueConstraint("waybill_no", "rule_id"),)
        id: orm.Mapped[int] = orm.mapped_column(primary_key=True, autoincrement=True)
        waybill_no: orm.Mapped[str] = orm.mapped_column(sa.String(32), index=True)
        rule_id: orm.Mapped[str] = orm.mapped_column(sa.String(8))
        enterprise_id: orm.Mapped[str] = orm.mapped_column(sa.ForeignKey(f"{Enterprise.__tablename__}.id"))
        occurred_at: orm.Mapped[datetime] = orm.mapped_column(sa.DateTime(timezone=True))
        detail: orm.Mapped[dict[str, Any]] = orm.mapped_column()
        enterprise: orm.Mapped[Enterprise] = orm.relationship(back_populates="violations")

    return Enterprise, Violation, Base


def _utc(dt: datetime) -> datetime:
    """SQLite hands back naive datetimes; PostgreSQL hands back aware ones."""
    return dt.replace(tzinfo=timezone.utc) if dt.tzinfo is None else dt.astimezone(timezone.utc)


def test_orm_roundtrip(engine: sa.Engine) -> None:
    Enterprise, Violation, Base = _models(uuid.uuid4().hex[:10])
    Base.metadata.create_all(engine)
    try:
        t0 = datetime(2025, 3, 1, 8, 30, 15, tzinfo=timezone.utc)
        with orm.Session(engine) as s, s.begin():
            e = Enterprise(id="E0000001", name="顺达快递 Shunda Express")
            for i, rule in enumerate(["XR-1", "RN-1", "PH-1"]):
                e.violations.append(
                    Violation(
                        waybill_no=f"SD{i:010d}",
                        rule_id=rule,
                        occurred_at=t0 + timedelta(minutes=i),
                        detail={"evidence": [f"ev-{i}", "ev-x"], "severity": "critical", "n": i},
                    )
                )
            s.add(e)

        with orm.Session(engine) as s:
            e = s.get(Enterprise, "E0000001")
            assert e is not None and e.name == "顺达快递 Shunda Express"
            assert [v.rule_id for v in e.violations] == ["XR-1", "RN-1", "PH-1"]
            v = s.scalars(sa.select(Violation).where(Violation.rule_id == "RN-1")).one()
            assert v.detail == {"evidence": ["ev-1", "ev-x"], "severity": "critical", "n": 1}
            assert _utc(v.occurred_at) == t0 + timedelta(minutes=1)
            assert v.enterprise.id == "E0000001"

        # the (waybill_no, rule_id) key holds, and a failed transaction leaves nothing behind
        with pytest.raises(sa.exc.IntegrityError):
            with orm.Session(engine) as s, s.begin():
                s.add(Violation(waybill_no="SD9999999999", rule_id="TK-2", enterprise_id="E0000001",
                                occurred_at=t0, detail={}))
                s.add(Violation(waybill_no="SD0000000000", rule_id="XR-1", enterprise_id="E0000001",
                                occurred_at=t0, detail={}))
        with orm.Session(engine) as s:
            assert s.scalar(sa.select(sa.func.count()).select_from(Violation)) == 3

        with orm.Session(engine) as s, s.begin():
            e = s.get(Enterprise, "E0000001")
            assert e is not None
            s.delete(e)  # cascades to its violations
        with orm.Session(engine) as s:
            assert s.scalar(sa.select(sa.func.count()).select_from(Violation)) == 0
    finally:
        Base.metadata.drop_all(engine)


def test_core_roundtrip(engine: sa.Engine) -> None:
    md = sa.MetaData()
    events = sa.Table(
        f"gs_test_events_{uuid.uuid4().hex[:10]}",
        md,
        sa.Column("enterprise_id", sa.String(8), primary_key=True),
        sa.Column("event_id", sa.String(64), primary_key=True),
        sa.Column("type", sa.String(16), nullable=False),
        sa.Column("payload", sa.LargeBinary, nullable=False),
        sa.Column("seq", sa.BigInteger, nullable=False),
    )
    md.create_all(engine)
    try:
        rows = [
            {"enterprise_id": f"E000000{i % 3}", "event_id": f"ev-{i}", "type": ("xray", "depart")[i % 2],
             "payload": bytes([i % 256]) * 3, "seq": 2**40 + i}
            for i in range(500)
        ]
        with engine.begin() as conn:
            conn.execute(sa.insert(events), rows)

        with engine.connect() as conn:
            counts = dict(
                (kind, n)
                for kind, n in conn.execute(
                    sa.select(events.c.type, sa.func.count()).group_by(events.c.type).order_by(events.c.type)
                ).all()
            )
            assert counts == {"depart": 250, "xray": 250}
            r = conn.execute(
                sa.select(events).where(events.c.enterprise_id == "E0000001", events.c.event_id == "ev-7")
            ).one()
            assert r.payload == b"\x07\x07\x07" and r.seq == 2**40 + 7 and r.type == "depart"
            top = conn.scalar(sa.select(sa.func.max(events.c.seq)))
            assert top == 2**40 + 499

        # rollback really rolls back
        with engine.connect() as conn:
            trans = conn.begin()
            conn.execute(sa.delete(events))
            trans.rollback()
        with engine.connect() as conn:
            assert conn.scalar(sa.select(sa.func.count()).select_from(events)) == 500
    finally:
        md.drop_all(engine)
