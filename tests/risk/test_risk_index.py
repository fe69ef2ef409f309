"""The risk side tables give the rankings the reference computation from ``events`` gives.

A simulated day with faults goes through ``run`` in two halves (the second re-evaluates
and retracts verdicts of the first), then retention purges the senders; after each step
every kind's inputs and report, at several ``as_of`` and windows (short ones cut through
parcels, so a source handled some before the window and again inside it), are equal on
both paths, on SQLite and PostgreSQL.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import orjson
import pytest
import sqlalchemy as sa

from greenshield.store import risk_index
from greenshield.store.pipeline import Audit, open_audit
from greenshield.store.pipeline import run as run_pipeline
from greenshield.store.retention import purge
from greenshield.store.risk_data import kind_data
from greenshield.store.risk_report import risk_report
from tests.support.store import isolated_schema, settings_for
from greenshield.store.verdicts import latest_parcel_instant
from greenshield.risk.model import KINDS, default_model
from greenshield.rules.pack import default_pack
from greenshield.rules.timestamps import parse_instant
from greenshield.simulate.day import Simulation

MODEL = default_model()
WINDOWS = (MODEL.window_s, 4 * 3600, 5400)


@pytest.fixture(scope="module")
def lines() -> list[bytes]:
    """The day in the order things happened."""
    events = list(Simulation(500, 5, fault_rate=0.2).events())
    return [orjson.dumps(e) for e in sorted(events, key=lambda e: parse_instant(e["occurred_at"]))]


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def audit(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Audit]:
    settings = settings_for(tmp_path / "var", "sqlite://")
    if request.param == "sqlite":
        opened = open_audit(settings, f"sqlite:///{tmp_path / 'day.db'}")
        yield opened
        opened.close()
        return
    with isolated_schema(request.getfixturevalue("pg_url")) as url:
        opened = open_audit(settings, url)
        yield opened
        opened.close()


def instants(audit: Audit) -> list[int]:
    with audit.store.read() as conn:
        latest = latest_parcel_instant(conn)
        first = conn.execute(sa.text("SELECT min(at_s) FROM events WHERE type != 'registry'")).scalar_one()
    assert latest is not None
    mid = (int(first) + latest[0]) // 2
    return [latest[0], latest[0] - 3 * 3600 - 17, mid]


def assert_same(audit: Audit) -> int:
    """Every kind, as_of and window: the indexed inputs equal the reference ones; returns the comparisons made."""
    compared = 0
    with audit.store.read() as conn:
        assert risk_index.covers(conn)
        for as_of in instants(audit):
            for window in WINDOWS:
                for kind in KINDS:
                    fast = kind_data(conn, kind, as_of, window, MODEL)
                    ref = kind_data(conn, kind, as_of, window, MODEL, reference=True)
                    assert fast.exposure == ref.exposure, (kind, as_of, window)
                    assert fast.incidents == ref.incidents, (kind, as_of, window)
                    assert fast.owners == ref.owners, (kind, as_of, window)
                    compared += bool(ref.exposure)
        as_of = instants(audit)[0]
        for kind in KINDS:
            assert risk_report(conn, kind, as_of, MODEL, top=1000) == \
                risk_report(conn, kind, as_of, MODEL, top=1000, reference=True)
    return compared


def straddling(audit: Audit, lo: int) -> int:
    h = risk_index.risk_handled
    with audit.store.read() as conn:
        return int(conn.execute(sa.select(sa.func.count()).select_from(h)
                                .where(h.c.first_s < lo, h.c.last_s >= lo)).scalar_one())


def test_the_side_tables_give_the_reference_answer_through_reevaluation_and_retention(
        audit: Audit, lines: list[bytes]) -> None:
    registry = [x for x in lines if b'"type":"registry"' in x]
    parcels = [x for x in lines if b'"type":"registry"' not in x]
    half = len(parcels) // 2  # the registry comes late, with the second half: it retracts the first's PR verdicts
    run_pipeline(audit, [("first.jsonl", parcels[:half])], default_pack())
    assert risk_index.refresh(audit.store) > 0
    assert assert_same(audit) > 30
    latest = instants(audit)[0]
    assert straddling(audit, latest - 2 * 3600) > 0  # the short windows do cut through parcels

    second = run_pipeline(audit, [("second.jsonl", registry + parcels[half:])], default_pack())
    assert second.changes.retracted > 0
    with audit.store.read() as conn:
        assert not risk_index.covers(conn)  # behind the store: the reference path answers (and equals itself)
        kind_data(conn, "site", latest, MODEL.window_s, MODEL)
    assert risk_index.refresh(audit.store) > 0
    assert risk_index.refresh(audit.store) == 0
    assert_same(audit)

    assert purge(audit.store, 0, now_s=instants(audit)[0] + 1) > 0
    with audit.store.read() as conn:
        senders = kind_data(conn, "sender", instants(audit)[0], MODEL.window_s, MODEL)
    assert not senders.exposure  # every sender hash erased: no sender left to rank
    assert_same(audit)
    with audit.store.read() as conn:
        assert risk_index.disagreements(conn) == []


def test_a_side_table_that_disagrees_with_the_store_is_found(audit: Audit, lines: list[bytes]) -> None:
    run_pipeline(audit, [("day.jsonl", lines[:4000])], default_pack())
    risk_index.refresh(audit.store)
    h, a = risk_index.risk_handled, risk_index.risk_accepts
    with audit.store.read() as conn:
        assert risk_index.disagreements(conn) == []
    with audit.store.write() as conn:
        conn.execute(h.update().where(h.c.kind == "site").values(first_s=h.c.first_s + 3600))
        conn.execute(a.delete().where(a.c.entry_id == sa.select(sa.func.min(a.c.entry_id)).scalar_subquery()))
    with audit.store.read() as conn:
        found = risk_index.disagreements(conn)
    assert [f.split(":")[0] for f in found] == ["risk_handled", "risk_accepts"]


def test_an_old_store_gets_the_tables_on_first_use_and_a_newer_version_is_refused(
        audit: Audit, lines: list[bytes]) -> None:
    run_pipeline(audit, [("day.jsonl", lines[:2000])], default_pack())
    with audit.store.read() as conn:
        assert not risk_index.has_tables(conn) and not risk_index.covers(conn)
    assert risk_index.refresh(audit.store) > 0
    with audit.store.write() as conn:
        conn.execute(risk_index.risk_index_version.update().values(version=risk_index.RISK_INDEX_VERSION + 1))
    with pytest.raises(RuntimeError, match="risk index tables of version"):
        risk_index.refresh(audit.store)


def table_rows(audit: Audit) -> dict[str, list[tuple[object, ...]]]:
    with audit.store.read() as conn:
        return {tb.name: sorted(tuple(r) for r in conn.execute(sa.select(tb)))
                for tb in (risk_index.risk_handled, risk_index.risk_accepts, risk_index.risk_findings)}


def test_a_catch_up_in_small_chunks_gives_the_tables_one_chunk_gives(
        audit: Audit, lines: list[bytes], monkeypatch: pytest.MonkeyPatch) -> None:
    run_pipeline(audit, [("day.jsonl", lines[:3000])], default_pack())
    chunks: list[tuple[int, int]] = []
    catch_up = risk_index._catch_up

    def recording(conn: sa.Connection, seen: int, high: int) -> int:
        chunks.append((seen, high))
        return catch_up(conn, seen, high)

    monkeypatch.setattr(risk_index, "_catch_up", recording)
    parcel_events = risk_index.refresh(audit.store, chunk=257)
    with audit.store.read() as conn:
        top = conn.execute(sa.select(sa.func.max(risk_index.t.audit_log.c.id))).scalar_one()
        assert risk_index.covers(conn) and risk_index.disagreements(conn) == []
    assert len(chunks) > 5 and all(high - seen <= 257 for seen, high in chunks)
    assert [s for s, _ in chunks[1:]] == [h for _, h in chunks[:-1]] and chunks[-1][1] == top  # contiguous, to the top
    chunked = table_rows(audit)
    assert all(chunked.values())

    with audit.store.write() as conn:  # start over: the whole store in one chunk
        for tb in (risk_index.risk_handled, risk_index.risk_accepts, risk_index.risk_findings):
            conn.execute(tb.delete())
        conn.execute(risk_index.risk_index_state.update().values(entries_seen=0))
    chunks.clear()
    assert risk_index.refresh(audit.store, chunk=10**9) == parcel_events
    assert len(chunks) == 1 and table_rows(audit) == chunked
