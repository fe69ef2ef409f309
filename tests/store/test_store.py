"""The audit store: schema, writers and the sequencer, checkpoints, proofs from the store, keys."""

from __future__ import annotations

import os
import stat
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa

from greenshield.store import schema as t
from greenshield.translog.checkpoint import verify_checkpoint
from greenshield.translog.entries import loads
from greenshield.translog.keys import KeyConfigError, hmac_key, signing_key
from greenshield.store.audit_log import Policy, Sequencer, latest_checkpoint, leaf_hashes, prove_consistency, prove_inclusion
from greenshield.store.pipeline import Audit, open_audit
from greenshield.translog.proofs import verify_consistency, verify_inclusion
from greenshield.store.queries import record
from greenshield.store.database import Handoff, SchemaError, Store
from tests.support.store import isolated_schema, settings_for
from greenshield.store.verify import verify
from greenshield.settings import Settings


@pytest.fixture
def audit(db_url: str, tmp_path: Path) -> Iterator[Audit]:
    a = open_audit(settings_for(tmp_path / "var", db_url, every_entries=4), db_url)
    yield a
    a.store.close()


def _log_queries(store: Store, n: int, prefix: str = "q") -> None:
    for i in range(n):
        record(store, f"{prefix}.{i}", {"i": i}, 0, clock_ms=1_700_000_000_000 + i)


class TestSchema:
    def test_a_new_database_gets_the_current_schema_version(self, db_url: str) -> None:
        """Opening an empty database creates the schema and records its version."""
        store = Store.open(db_url)
        with store.read() as conn:
            assert conn.execute(sa.select(t.schema_version.c.version)).scalars().all() == [t.SCHEMA_VERSION]
        store.close()

    def test_another_schema_version_is_refused(self, db_url: str) -> None:
        """A store written by another schema version is not touched."""
        store = Store.open(db_url)
        with store.write() as conn:
            conn.execute(t.schema_version.update().values(version=99))
        store.close()
        with pytest.raises(SchemaError, match="version"):
            Store.open(db_url)

    def test_read_only_commands_need_an_existing_store(self, db_url: str) -> None:
        """Without ``create`` an empty database is an error, not a new store."""
        with pytest.raises(SchemaError):
            Store.open(db_url, create=False)

    @pytest.mark.postgres
    def test_postgresql_connections_never_prepare_statements(self, pg_url: str) -> None:
        """psycopg would prepare a query after 5 uses, and a generic plan made on a fresh store can stay slow."""
        with isolated_schema(pg_url) as url:
            store = Store.open(url)
            try:
                with store.read() as conn:
                    raw = conn.connection.dbapi_connection
                    assert raw is not None and raw.prepare_threshold is None  # type: ignore[attr-defined]
                    for _ in range(8):
                        conn.execute(sa.select(t.events.c.entry_id).where(t.events.c.event_id == "x")).all()
                    prepared = conn.exec_driver_sql("SELECT count(*) FROM pg_prepared_statements").scalar()
                assert prepared == 0
            finally:
                store.close()

    def test_sqlite_uses_wal(self, tmp_path: Path) -> None:
        """SQLite runs in WAL mode with synchronous=NORMAL and a 128 MiB page cache (not the 2 MiB default)."""
        store = Store.open(f"sqlite:///{tmp_path / 'a.db'}")
        with store.read() as conn:
            assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
            assert conn.exec_driver_sql("PRAGMA synchronous").scalar() == 1
            assert conn.exec_driver_sql("PRAGMA cache_size").scalar() == -128 * 1024
        store.close()


class TestSequencer:
    def test_entries_become_consecutive_leaves_in_id_order(self, audit: Audit) -> None:
        """Ten appended entries are leaves 0..9; their runs cover exactly those ids."""
        _log_queries(audit.store, 10)
        done = audit.sequencer.integrate()
        assert (done.tree_size, done.added) == (10, 10)
        with audit.store.read() as conn:
            counts = conn.execute(sa.select(t.audit_runs.c.count)).scalars().all()
            assert sum(counts) == 10
            assert len(leaf_hashes(conn, 0, 10)) == 10

    def test_a_checkpoint_every_n_entries_and_on_close(self, audit: Audit) -> None:
        """With N = 4, ten entries give checkpoints at 4 and 8, and closing signs 10."""
        _log_queries(audit.store, 10)
        done = audit.sequencer.integrate()
        assert [c.tree_size for c in done.checkpoints] == [4, 8]
        closing = audit.sequencer.integrate(close=True)
        assert [c.tree_size for c in closing.checkpoints] == [10]
        assert audit.sequencer.integrate(close=True).checkpoints == ()  # nothing new: nothing to sign

    def test_a_checkpoint_after_t_seconds(self, db_url: str, tmp_path: Path) -> None:
        """With T = 60 s, a checkpoint is due once the clock has moved 60 s past the last one."""
        store = Store.open(db_url)
        now = [1_000_000]
        seq = Sequencer(store, signing_key(settings_for(tmp_path, db_url)), Policy(1000, 60), clock=lambda: now[0])
        _log_queries(store, 1)
        assert [c.tree_size for c in seq.integrate().checkpoints] == [1]  # first: none before it
        _log_queries(store, 1)
        assert seq.integrate().checkpoints == ()
        now[0] += 60_000
        _log_queries(store, 1)
        assert [c.tree_size for c in seq.integrate().checkpoints] == [3]
        store.close()

    def test_checkpoints_are_signed_and_carry_the_root(self, audit: Audit, tmp_path: Path) -> None:
        """The latest checkpoint verifies with the public key and matches the tree."""
        _log_queries(audit.store, 5)
        audit.sequencer.integrate(close=True)
        key = signing_key(settings_for(tmp_path / "var", "")).public_key()
        with audit.store.read() as conn:
            cp = latest_checkpoint(conn)
        assert cp is not None and cp.tree_size == 5
        verify_checkpoint(key, cp)

    def test_several_writers_and_sequencers_at_once(self, audit: Audit, tmp_path: Path) -> None:
        """Four writer threads and a sequencer thread running together lose and repeat no entry."""
        stop = threading.Event()

        def sequence() -> None:
            while not stop.is_set():
                audit.sequencer.integrate()

        writers = [threading.Thread(target=_log_queries, args=(audit.store, 25, f"w{w}")) for w in range(4)]
        sequencer = threading.Thread(target=sequence)
        sequencer.start()
        for w in writers:
            w.start()
        for w in writers:
            w.join()
        stop.set()
        sequencer.join()
        assert audit.sequencer.integrate(close=True).tree_size == 100
        report = verify(audit.store, signing_key(settings_for(tmp_path / "var", "")).public_key())
        assert report.ok, report.findings
        with audit.store.read() as conn:
            names = [loads(d)["query"] for d in conn.execute(sa.select(t.queries.c.doc)).scalars()]
        assert len(set(names)) == 100


    def test_entries_of_another_process_are_read_back(self, audit: Audit, db_url: str, tmp_path: Path) -> None:
        """A sequencer integrates entries another process wrote (no hashes in its memory) in id order."""
        other = Store.open(db_url)  # another process: its own handoff
        _log_queries(audit.store, 3, "mine")
        _log_queries(other, 4, "theirs")
        _log_queries(audit.store, 2, "mine-again")
        assert audit.sequencer.integrate(close=True).tree_size == 9
        other.close()
        report = verify(audit.store, signing_key(settings_for(tmp_path / "var", "")).public_key())
        assert report.ok, report.findings


class TestHandoff:
    def test_take_merges_interleaved_writers_in_id_order(self) -> None:
        """Chunks of two writers whose ids interleave come back sorted, hashes alongside."""
        h = Handoff()
        h.publish([([1, 3], [b"a", b"c"]), ([2, 4], [b"b", b"d"])])
        assert h.take(0, 4) == ([1, 2, 3, 4], [b"a", b"b", b"c", b"d"])
        assert h.take(0, 4) == ([], [])  # handed out once

    def test_take_keeps_later_chunks_and_drops_older_ones(self) -> None:
        """Ids beyond the high-water mark wait for the next step; ids already sequenced are forgotten."""
        h = Handoff()
        h.publish([([1, 2], [b"a", b"b"]), ([5, 6], [b"e", b"f"]), ([9], [b"i"])])
        assert h.take(2, 6) == ([5, 6], [b"e", b"f"])
        assert h.take(6, 9) == ([9], [b"i"])

    def test_it_holds_a_bounded_number_of_hashes(self, monkeypatch: pytest.MonkeyPatch) -> None:
        """Past the limit the oldest chunks go (the sequencer then reads them back)."""
        monkeypatch.setattr(Handoff, "LIMIT", 3)
        h = Handoff()
        h.publish([([1, 2], [b"a", b"b"]), ([3, 4], [b"c", b"d"])])
        assert h.take(0, 10) == ([3, 4], [b"c", b"d"])


class TestProofsFromTheStore:
    def test_every_inclusion_and_consistency_proof_verifies(self, audit: Audit) -> None:
        """Proofs the store generates for a 37-leaf tree verify against its roots."""
        _log_queries(audit.store, 37)
        audit.sequencer.integrate(close=True)
        with audit.store.read() as conn:
            cp = latest_checkpoint(conn)
            assert cp is not None and cp.tree_size == 37
            leaves = leaf_hashes(conn, 0, 37)
            for i in range(37):
                verify_inclusion(i, 37, leaves[i], prove_inclusion(conn, i, 37), cp.root_hash)
            first = [c for c in conn.execute(sa.select(t.checkpoints)).all() if c.tree_size == 16][0]
            verify_consistency(16, 37, first.root_hash, cp.root_hash, prove_consistency(conn, 16, 37))


class TestKeys:
    def test_development_generates_keys_with_mode_0600(self, tmp_path: Path) -> None:
        """A first run in development makes the signing and HMAC keys, readable by the owner only."""
        settings = Settings(data_dir=tmp_path)
        key = signing_key(settings)
        assert signing_key(settings).public_key() == key.public_key()  # made once, then reused
        assert hmac_key(settings) == hmac_key(settings)
        for name in ("audit-signing-key.pem", "hmac.key"):
            assert stat.S_IMODE(os.stat(tmp_path / name).st_mode) == 0o600

    def test_production_refuses_to_start_without_a_signing_key(self, tmp_path: Path) -> None:
        """Production mode never generates a key."""
        with pytest.raises(KeyConfigError, match="GREENSHIELD_SIGNING_KEY_FILE"):
            open_audit(Settings(data_dir=tmp_path, production=True), f"sqlite:///{tmp_path / 'a.db'}")
        assert not (tmp_path / "a.db").exists()

    def test_production_refuses_to_start_without_an_hmac_key(self, tmp_path: Path) -> None:
        """Production mode needs the HMAC key too."""
        signing_key(Settings(data_dir=tmp_path))
        settings = Settings(data_dir=tmp_path, production=True, signing_key_file=tmp_path / "audit-signing-key.pem")
        with pytest.raises(KeyConfigError, match="GREENSHIELD_HMAC_KEY"):
            open_audit(settings, f"sqlite:///{tmp_path / 'a.db'}")


class TestRejectsAreLeaves:
    MASKED = {"event_id": "r-1", "weight_g": -1,
              "sender": {"name_masked": "张**", "id_number_masked": "E12****78", "id_hash": "ab" * 32}}

    def _rejects(self) -> list[dict[str, object]]:
        from greenshield.store.intake_stream import reject_row
        from greenshield.rules.model import Rejection

        return [reject_row("kafka:gs.events.v1:0", 7, Rejection("weight_g: must be > 0", self.MASKED,
                                                                ("E3100001", "r-1"))),
                reject_row("kafka:gs.events.v1:0", 7, Rejection("a redelivery of the same offset")),
                reject_row("kafka:gs.events.v1:1", 3, Rejection("not JSON"))]

    def test_the_worker_path_logs_each_reject_once(self, audit: Audit, tmp_path: Path) -> None:
        """stream_sink.store_rejects writes one row and one `reject` entry per (source, position), re-runs none."""
        from greenshield.store.intake_stream import store_rejects

        for _ in range(2):
            with audit.store.write() as conn:
                store_rejects(conn, audit.store, self._rejects())
        audit.sequencer.integrate(close=True)
        with audit.store.read() as conn:
            rows = conn.execute(sa.select(t.rejects).order_by(t.rejects.c.entry_id)).all()
            kinds = conn.execute(sa.select(t.audit_log.c.kind, t.audit_log.c.id)).all()
        assert [(r.source, r.position) for r in rows] == [("kafka:gs.events.v1:0", 7), ("kafka:gs.events.v1:1", 3)]
        assert sorted(kinds) == sorted(("reject", r.entry_id) for r in rows)
        assert rows[0].sender_commitment is not None and rows[1].sender_commitment is None
        report = verify(audit.store, signing_key(settings_for(tmp_path / "var", "")).public_key())
        assert report.ok and report.tree_size == 2, report.findings

    def test_purged_rejects_still_verify(self, audit: Audit, tmp_path: Path) -> None:
        """The purge erases the payload's sender; the commitment keeps the leaf, and an unpurged edit is caught."""
        import time

        from greenshield.store.retention import purge
        from greenshield.store.intake_stream import store_rejects

        with audit.store.write() as conn:
            store_rejects(conn, audit.store, self._rejects())
        audit.sequencer.integrate(close=True)
        purge(audit.store, 0, now_s=int(time.time()) + 10)
        audit.sequencer.integrate(close=True)
        key = signing_key(settings_for(tmp_path / "var", "")).public_key()
        with audit.store.read() as conn:
            payload = conn.execute(sa.select(t.rejects.c.payload).where(t.rejects.c.position == 7)).scalar_one()
        assert "name_masked" not in payload and "id_hash" not in payload
        assert verify(audit.store, key).ok
        with audit.store.write() as conn:
            conn.execute(t.rejects.update().where(t.rejects.c.position == 7).values(purged=False))
        assert any("rejects[entry_id=" in f.message and "sender_commitment" in f.message
                   for f in verify(audit.store, key).findings)

    def test_a_reason_with_a_lone_surrogate_or_nul_is_stored(self, audit: Audit, tmp_path: Path) -> None:
        """PostgreSQL refuses NUL and cannot encode a lone surrogate: the stored reason and key escape them."""
        from greenshield.store.intake_stream import reject_row, store_rejects
        from greenshield.rules.model import Rejection

        row = reject_row("kafka:gs.events.v1:2", 9, Rejection("bad \ud800 and \x00", None, ("E\x00", "i\udfff")))
        with audit.store.write() as conn:
            store_rejects(conn, audit.store, [row])
        audit.sequencer.integrate(close=True)
        with audit.store.read() as conn:
            stored = conn.execute(sa.select(t.rejects)).one()
        assert (stored.reason, stored.enterprise_id, stored.event_id) == ("bad \\ud800 and \\u0000", "E\\u0000",
                                                                         "i\\udfff")
        assert verify(audit.store, signing_key(settings_for(tmp_path / "var", "")).public_key()).ok

    def test_a_reject_stored_by_a_racing_writer_gets_no_second_entry(self, audit: Audit, tmp_path: Path,
                                                                     monkeypatch: pytest.MonkeyPatch) -> None:
        """Past the look-up (another writer committed the same offset meanwhile): ON CONFLICT skips the row
        and only the rows actually inserted get an entry."""
        from greenshield.store import intake_files as intake

        monkeypatch.setattr(intake, "_new_rejects", lambda conn, rows: rows)
        with audit.store.write() as conn:
            assert intake.insert_rejects(conn, audit.store, self._rejects()[:1]) == 1
        with audit.store.write() as conn:
            assert intake.insert_rejects(conn, audit.store, self._rejects()) == 1  # only kafka:...:1 at 3 is new
        audit.sequencer.integrate(close=True)
        with audit.store.read() as conn:
            assert conn.execute(sa.select(sa.func.count()).select_from(t.rejects)).scalar_one() == 2
        report = verify(audit.store, signing_key(settings_for(tmp_path / "var", "")).public_key())
        assert report.ok and report.tree_size == 2, report.findings
