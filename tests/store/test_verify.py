"""``audit verify`` catches tampering and names the first bad entry; proofs and ``check-proof``; purge."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from greenshield.store import schema as t
from greenshield.translog.checkpoint import generate_private_key, sign_checkpoint
from greenshield.translog.keys import signing_key
from greenshield.store.audit_log import leaf_numbers
from greenshield.store.pipeline import open_audit, run
from greenshield.store.retention import purge
from tests.support.store import settings_for
from greenshield.store.verify import Report, verify
from greenshield.rules.pack import default_pack

SAMPLE = Path(__file__).parent.parent / "data" / "sample-day.jsonl"  # leaves 0-203: registry, then parcels


@pytest.fixture
def store_url(db_url: str, tmp_path: Path) -> str:
    """A store holding the sample day, with a checkpoint every 100 entries."""
    audit = open_audit(settings_for(tmp_path / "var", db_url, every_entries=100), db_url)
    run(audit, [(str(SAMPLE), SAMPLE.read_bytes().splitlines(keepends=True))], default_pack())
    audit.close()
    return db_url


def check(url: str, tmp_path: Path) -> Report:
    from greenshield.store.database import Store

    store = Store.open(url, create=False)
    try:
        return verify(store, signing_key(settings_for(tmp_path / "var", url)).public_key())
    finally:
        store.close()


def sql(url: str, statement: Any, params: dict[str, Any] | None = None) -> list[Any]:
    engine = sa.create_engine(url)
    with engine.begin() as conn:
        result = conn.execute(statement if not isinstance(statement, str) else sa.text(statement), params or {})
        rows = list(result) if result.returns_rows else []
    engine.dispose()
    return rows


def event_at(url: str, leaf: int) -> int:
    """The entry id of the event logged as leaf ``leaf``."""
    engine = sa.create_engine(url)
    with engine.connect() as conn:
        ids = [int(i) for i in conn.execute(sa.select(t.events.c.entry_id)).scalars()]
        leaves = leaf_numbers(conn, ids)
    engine.dispose()
    return next(i for i, n in leaves.items() if n == leaf)


def first_bad(report: Report) -> str:
    first = report.first()
    assert first is not None, "verify passed a tampered store"
    return first.message


class TestIntact:
    def test_an_untouched_store_verifies(self, store_url: str, tmp_path: Path, gs: Any,
                                         capsys: pytest.CaptureFixture[str]) -> None:
        """Every leaf re-derives and every checkpoint checks: exit 0."""
        report = check(store_url, tmp_path)
        assert report.ok, report.findings
        assert report.tree_size == report.signed_size == 657
        assert report.checkpoints >= 7
        assert gs("audit", "verify", "--db", store_url) == 0
        assert capsys.readouterr().out.startswith("OK: 657 entries")


class TestTampering:
    def test_an_edited_row_is_named(self, store_url: str, tmp_path: Path, gs: Any) -> None:
        """Changing an event's site in its doc and column breaks entry 242."""
        entry_id = event_at(store_url, 242)
        (doc,) = sql(store_url, sa.select(t.events.c.doc).where(t.events.c.entry_id == entry_id))[0]
        site = json.loads(doc)["site_id"]
        sql(store_url, t.events.update().where(t.events.c.entry_id == entry_id)
            .values(doc=doc.replace(site, "S99999999"), site_id="S99999999"))
        assert first_bad(check(store_url, tmp_path)).startswith("entry 242 ")
        assert gs("audit", "verify", "--db", store_url) == 1

    def test_an_edited_column_alone_is_named(self, store_url: str, tmp_path: Path) -> None:
        """A staff id changed in the indexed column only disagrees with the row's own doc."""
        entry_id = event_at(store_url, 300)
        sql(store_url, t.events.update().where(t.events.c.entry_id == entry_id).values(staff_id="P99999999"))
        message = first_bad(check(store_url, tmp_path))
        assert message.startswith("entry 300 ") and "staff_id" in message

    def test_a_deleted_row_is_named(self, store_url: str, tmp_path: Path) -> None:
        """Deleting the event behind entry 207 is reported at entry 207."""
        sql(store_url, t.events.delete().where(t.events.c.entry_id == event_at(store_url, 207)))
        message = first_bad(check(store_url, tmp_path))
        assert message.startswith("entry 207 ") and "missing" in message

    def test_a_deleted_audit_entry_is_named(self, store_url: str, tmp_path: Path) -> None:
        """Deleting entry 500 from the log itself is reported at entry 500."""
        entry_id = event_at(store_url, 500)
        sql(store_url, t.events.delete().where(t.events.c.entry_id == entry_id))
        sql(store_url, t.audit_log.delete().where(t.audit_log.c.id == entry_id))
        message = first_bad(check(store_url, tmp_path))
        assert message.startswith("entry 500 ") and "missing from the audit log" in message

    def test_reordered_rows_are_named(self, store_url: str, tmp_path: Path) -> None:
        """Swapping the positions of the events at entries 220 and 221 is reported at entry 220."""
        a, b = event_at(store_url, 220), event_at(store_url, 221)
        e = t.events
        sql(store_url, e.update().where(e.c.entry_id == a).values(entry_id=-1))
        sql(store_url, e.update().where(e.c.entry_id == b).values(entry_id=a))
        sql(store_url, e.update().where(e.c.entry_id == -1).values(entry_id=b))
        assert first_bad(check(store_url, tmp_path)).startswith("entry 220 ")

    def test_a_consistent_reorder_is_caught_by_the_signed_roots(self, store_url: str, tmp_path: Path) -> None:
        """Swapping two leaves with their entries and hashes too still fails: the tree no longer matches."""
        a, b = event_at(store_url, 220), event_at(store_url, 221)
        e, log = t.events, t.audit_log
        for table, key in ((e, e.c.entry_id), (log, log.c.id)):
            sql(store_url, table.update().where(key == a).values({key.name: -1}))
            sql(store_url, table.update().where(key == b).values({key.name: a}))
            sql(store_url, table.update().where(key == -1).values({key.name: b}))
        report = check(store_url, tmp_path)
        assert not report.ok
        assert "no longer hash" in first_bad(report) or "checkpoint" in first_bad(report)

    def test_an_inserted_row_is_named(self, store_url: str, tmp_path: Path) -> None:
        """An event row slipped in without an audit entry is reported."""
        (row,) = sql(store_url, sa.select(t.events).where(t.events.c.entry_id == event_at(store_url, 210)))
        forged = {**row._mapping, "entry_id": 10_000, "event_id": "forged-1"}
        sql(store_url, t.events.insert().values(forged))
        assert "events[entry_id=10000] has no audit entry" in first_bad(check(store_url, tmp_path))
        assert not check(store_url, tmp_path).ok

    def test_an_inserted_audit_entry_is_named(self, store_url: str, tmp_path: Path) -> None:
        """An entry slipped into the log at leaf 400 (later ones renumbered, the run extended) is named."""
        at, log = event_at(store_url, 400), t.audit_log
        (row,) = sql(store_url, sa.select(log).where(log.c.id == event_at(store_url, 300)))  # a plausible entry
        sql(store_url, log.update().where(log.c.id >= at).values(id=log.c.id + 1_000_000))
        sql(store_url, log.update().where(log.c.id >= 1_000_000).values(id=log.c.id - 999_999))
        sql(store_url, log.insert().values({**row._mapping, "id": at}))
        sql(store_url, t.audit_runs.update().where(t.audit_runs.c.first_leaf == 0)
            .values(count=t.audit_runs.c.count + 1))
        message = first_bad(check(store_url, tmp_path))
        assert message.startswith("entry 400 ") and "does not match" in message

    def test_a_forged_checkpoint_is_named(self, store_url: str, tmp_path: Path, gs: Any,
                                          capsys: pytest.CaptureFixture[str]) -> None:
        """A checkpoint whose root was replaced fails its signature; one signed by another key fails too."""
        cps = sql(store_url, sa.select(t.checkpoints).order_by(t.checkpoints.c.id))
        sql(store_url, t.checkpoints.update().where(t.checkpoints.c.id == cps[2].id)
            .values(root_hash=bytes(cps[1].root_hash)))
        message = first_bad(check(store_url, tmp_path))
        assert f"checkpoint #{cps[2].id}" in message and "forged" in message
        capsys.readouterr()
        assert gs("audit", "verify", "--db", store_url) == 1
        assert f"checkpoint #{cps[2].id}" in capsys.readouterr().out

    def test_a_checkpoint_signed_by_another_key_is_named(self, store_url: str, tmp_path: Path) -> None:
        """Someone else's valid signature over the right tree is still not ours."""
        last = sql(store_url, sa.select(t.checkpoints).order_by(t.checkpoints.c.id.desc()))[0]
        cp = sign_checkpoint(generate_private_key(), int(last.tree_size), bytes(last.root_hash))
        sql(store_url, t.checkpoints.insert().values(id=int(last.id) + 1, origin=cp.origin, tree_size=cp.tree_size, root_hash=cp.root_hash,
                                                     timestamp_ms=cp.timestamp_ms, key_id=cp.key_id,
                                                     signature=cp.signature))
        assert "forged" in first_bad(check(store_url, tmp_path))


class TestProofs:
    def test_proof_json_has_exactly_the_documented_keys(self, store_url: str, gs: Any, tmp_path: Path,
                                                        capsys: pytest.CaptureFixture[str]) -> None:
        """`audit proof` and `audit consistency` print the issue's JSON forms; `check-proof` accepts them."""
        capsys.readouterr()
        assert gs("audit", "proof", 123, "--db", store_url, "--json") == 0
        proof = json.loads(capsys.readouterr().out)
        assert list(proof) == ["leaf_index", "tree_size", "leaf_hash", "audit_path", "root_hash", "checkpoint"]
        assert gs("audit", "consistency", 100, 600, "--db", store_url, "--json") == 0
        cons = json.loads(capsys.readouterr().out)
        assert list(cons) == ["first", "second", "first_root", "second_root", "proof"]
        pub = tmp_path / "var" / "audit-signing-key.pub.pem"
        for name, doc in (("p.json", proof), ("c.json", cons)):
            (tmp_path / name).write_text(json.dumps(doc))
            assert gs("audit", "check-proof", tmp_path / name) == 0
        assert gs("audit", "check-proof", tmp_path / "p.json", "--public-key", pub) == 0

    @pytest.mark.parametrize("bad", ["flip", "index", "size", "truncate", "pad"])
    def test_check_proof_rejects_a_broken_proof(self, store_url: str, gs: Any, tmp_path: Path,
                                                capsys: pytest.CaptureFixture[str], bad: str) -> None:
        """A flipped bit, a wrong index or size, a truncated or padded path: exit 1."""
        capsys.readouterr()
        gs("audit", "proof", 123, "--db", store_url, "--json")
        doc = json.loads(capsys.readouterr().out)  # with its checkpoint, which binds size and root
        path = doc["audit_path"]
        if bad == "flip":
            path[0] = ("1" if path[0][0] == "0" else "0") + path[0][1:]
        elif bad == "index":
            doc["leaf_index"] += 1
        elif bad == "size":
            doc["tree_size"] -= 1
        elif bad == "truncate":
            path.pop()
        else:
            path.append(path[-1])
        (tmp_path / "bad.json").write_text(json.dumps(doc))
        assert gs("audit", "check-proof", tmp_path / "bad.json") == 1

    def test_a_lying_store_gives_proofs_that_fail(self, store_url: str, gs: Any, tmp_path: Path,
                                                  capsys: pytest.CaptureFixture[str]) -> None:
        """A tampered subtree cache makes `audit proof` lie; the offline check and verify both catch it."""
        node = sql(store_url, sa.select(t.audit_nodes).where(t.audit_nodes.c.level == 8))[0]
        sql(store_url, t.audit_nodes.update().where(t.audit_nodes.c.level == 8, t.audit_nodes.c.idx == node.idx)
            .values(hash=b"\x00" * 32))
        capsys.readouterr()
        assert gs("audit", "proof", 300, "--db", store_url, "--json") == 0
        (tmp_path / "lie.json").write_text(capsys.readouterr().out)
        assert gs("audit", "check-proof", tmp_path / "lie.json") == 1
        assert "no longer hash" in first_bad(check(store_url, tmp_path))


class TestRetention:
    def test_purge_keeps_every_proof(self, store_url: str, tmp_path: Path) -> None:
        """After purging all personal data, verify still passes and no masked sender field is left."""
        audit = open_audit(settings_for(tmp_path / "var", store_url), store_url)
        assert purge(audit.store, 0) > 0
        audit.close()
        report = check(store_url, tmp_path)
        assert report.ok, report.findings
        docs = [d for (d,) in sql(store_url, sa.select(t.events.c.doc))]
        assert not any("name_masked" in d or "id_hash" in d for d in docs)
        assert not any(h for (h,) in sql(store_url, sa.select(t.events.c.sender_id_hash)))

    def test_purge_spares_recent_events(self, store_url: str, tmp_path: Path, gs: Any) -> None:
        """The default retention (365 days from the sample's date) purges nothing of that day."""
        audit = open_audit(settings_for(tmp_path / "var", store_url), store_url)
        assert purge(audit.store, 365, now_s=1_790_000_000) == 0  # 2026-09-21: the day is later
        audit.close()
        assert gs("audit", "purge", "--db", store_url, "--older-than", "0") == 0
        assert check(store_url, tmp_path).ok
