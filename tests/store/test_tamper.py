"""Every table of the store, every column: one edited, deleted or inserted row makes ``audit verify`` fail,
naming the table and the key; a consistent rewrite fails against a checkpoint kept outside the store.

One store is built per database (``greenshield run`` on the sample day, a file of rejects, a
trace query, a checkpoint every 100 entries) and copied for each case. The cases come from
``schema.metadata.sorted_tables``, so a new table or column gets a case or fails
:func:`test_every_table_and_column_has_a_case`; what verify cannot protect is in
:data:`NOT_CHECKED`, with the reason.
"""

from __future__ import annotations

import json
import re
import sqlite3
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from greenshield import cli
from greenshield.store import schema as t
from greenshield.translog.checkpoint import Checkpoint, load_checkpoint_file, load_public_key
from greenshield.store.credit_log import store_sanction, store_warnings
from greenshield.translog.entries import loads
from greenshield.store.audit_log import Policy, leaf_hashes, rebuild_nodes
from greenshield.translog.merkle import MerkleAccumulator
from greenshield.store.rows import row_entry
from greenshield.store.database import SchemaError, Store
from tests.support.store import isolated_schema
from greenshield.store.verify import Report, verify

SAMPLE = Path(__file__).parent.parent / "data" / "sample-day.jsonl"
COMMANDS = ("check", "run", "trace", "violations", "credit", "audit")
TABLES = {table.name: table for table in t.metadata.sorted_tables}

#: (table, column) that verify cannot check, and why (verify's docstring says the same)
NOT_CHECKED = {
    ("run_state", "as_of_s"): "not trust-bearing: the embedded pipeline's clock only decides which parcels the "
                              "next run re-evaluates; any instant is a legal --as-of, and the served verdicts "
                              "(violations) are checked against the logged changes",
}
#: tables verify does not read: a store whose schema_version is edited, deleted or doubled is refused by
#: Store.open (SchemaError) before verify runs, so these cases assert that refusal instead
REFUSED_ON_OPEN = {"schema_version"}
INSERTS = ("rejects", "violations", "events", "checkpoints", "grades", "warnings", "sanctions", "deliveries")


@dataclass(frozen=True)
class Base:
    url: str
    var: Path
    note: Path     # the latest checkpoint as a signed note, exported with `audit checkpoint --out`
    json: Path     # the same in JSON form
    pg_url: str | None

    @property
    def public_key_file(self) -> Path:
        return self.var / "audit-signing-key.pub.pem"


def _env(mp: pytest.MonkeyPatch, var: Path) -> None:
    mp.setattr(cli, "COMMAND_MODULES", COMMANDS)
    mp.setenv("GREENSHIELD_DATA_DIR", str(var))
    mp.setenv("GREENSHIELD_HMAC_KEY", "test-hmac-key")
    mp.setenv("GREENSHIELD_CHECKPOINT_EVERY_ENTRIES", "100")
    mp.delenv("GREENSHIELD_TRUSTED_CHECKPOINT", raising=False)


def _gs(*argv: object) -> int:
    return cli.main([str(a) for a in argv])


def _reject_lines() -> bytes:
    """A line that is not JSON, an event with a sender that fails validation, a conflicting duplicate."""
    events = [json.loads(line) for line in SAMPLE.read_text(encoding="utf-8").splitlines()]
    with_sender = next(e for e in events if isinstance(e.get("sender"), dict))
    bad = {**with_sender, "event_id": "tamper-bad-1", "weight_g": -1}
    conflict = {**with_sender, "weight_g": with_sender["weight_g"] + 1}
    return ("{not json\n" + json.dumps(bad, ensure_ascii=False) + "\n"
            + json.dumps(conflict, ensure_ascii=False) + "\n").encode()


def _credit_rows(url: str) -> None:
    """A sanction, a warning and every enterprise's grade (two for one of them), sequenced by the next run."""
    store = Store.open(url, create=False)
    try:
        store_sanction(store, {"enterprise_id": "E3100001", "decision_ref": "SH-T-1", "at_s": 1_794_355_200,
                               "occurred_at": "2026-11-11T00:00:00Z", "points": 10, "reason_code": "test"})
        store_warnings(store, [{"subject_kind": "site", "subject_id": "S00000001", "at": "2026-11-11T00:00:00Z",
                                "level": "red", "enterprise_id": "E3100001", "reason": "level_rose"}])
    finally:
        store.close()
    assert _gs("credit", "--db", url, "--period", "2026-11") == 0
    assert _gs("credit", "--db", url, "--period", "2026-11", "--as-of", "2026-11-11T12:00:00+08:00") == 0


def _delivery_rows(url: str) -> None:
    """Three delivery attempts to a department's subscription (two failed, one delivered), sequenced by the next run."""
    from greenshield.store import tokens
    from greenshield.store import outbox
    from greenshield.share.scope import parse
    from greenshield.share.webhooks import Backoff

    store = Store.open(url, create=False)
    try:
        tokens.ensure_tables(store)
        token, _ = tokens.create(store, "department", label="tamper", scope=parse("all"))
        sub = outbox.create(store, token, "https://dept.example/hook", parse("all"))
        with store.write() as conn:
            outbox.enqueue(conn, store, [(sub.id, "msg_tamper", "violation.opened", '{"data":{}}')], 1)
        for n, status in enumerate((503, None, 200)):
            with store.read() as conn:
                [item] = outbox.due(conn, 1 << 62)
            attempt = outbox.Attempt(status, None if status == 200 else "ConnectionRefusedError", 1_794_355_200_000 + n)
            outbox.record(store, item, sub, attempt, Backoff(limit=5), 0)
    finally:
        store.close()
def _person_lines() -> bytes:
    """Revision 2 §8.2: a staff record naming its person and a person record (rows with a person_id_hash)."""
    person = {"id_type": "passport", "id_number": "E12345678"}
    base = {"v": 1, "type": "registry", "enterprise_id": "E3100001", "occurred_at": "2026-11-10T08:00:00+08:00"}
    lines = [{**base, "event_id": "tamper-person-1", "entity": "staff", "id": "P99000001", "status": "active",
              "person": person},
             {**base, "event_id": "tamper-person-2", "entity": "person", "id": "BL-TAMPER-1",
              "status": "blacklisted", "person": person}]
    return b"".join(json.dumps(x).encode() + b"\n" for x in lines)


def _build(url: str, var: Path, mp: pytest.MonkeyPatch) -> Base:
    _env(mp, var)
    assert _gs("run", SAMPLE, "--db", url) == 0
    waybill = next(json.loads(line)["waybill_no"] for line in SAMPLE.read_text().splitlines() if "waybill_no" in line)
    assert _gs("trace", waybill, "--db", url) == 0  # a query entry, sequenced by the next run
    _credit_rows(url)
    _delivery_rows(url)
    rejects = var / "rejects.jsonl"
    rejects.write_bytes(_reject_lines() + _person_lines())
    assert _gs("run", rejects, "--db", url) == 0
    note, doc = var / "trusted.note", var / "trusted.json"
    assert _gs("audit", "checkpoint", "--db", url, "--out", note) == 0
    assert _gs("audit", "checkpoint", "--db", url, "--json", "--out", doc) == 0
    return Base(url, var, note, doc, None)


@pytest.fixture(scope="module", params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def base(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Base]:
    var = tmp_path_factory.mktemp(f"tamper-{request.param}")
    with pytest.MonkeyPatch.context() as mp:
        if request.param == "sqlite":
            yield _build(f"sqlite:///{var / 'base.db'}", var, mp)
            return
        pg_url = request.getfixturevalue("pg_url")
        with isolated_schema(pg_url) as url:
            built = _build(url, var, mp)
            yield Base(built.url, built.var, built.note, built.json, pg_url)


def _schema_of(url: str) -> str:
    found = re.search(r"search_path%3D(\w+)|search_path=(\w+)", url)
    assert found is not None, url
    return found.group(1) or found.group(2)


@pytest.fixture
def store_url(base: Base, tmp_path: Path) -> Iterator[str]:
    """A copy of the base store of this test's own."""
    if base.pg_url is None:
        copy = tmp_path / "copy.db"
        src, dst = sqlite3.connect(base.url.removeprefix("sqlite:///")), sqlite3.connect(copy)
        src.backup(dst)
        src.close()
        dst.close()
        yield f"sqlite:///{copy}"
        return
    with isolated_schema(base.pg_url) as url:
        Store.open(url).close()
        old, new = _schema_of(base.url), _schema_of(url)
        engine = sa.create_engine(base.pg_url)
        with engine.begin() as conn:
            for table in reversed(t.metadata.sorted_tables):
                conn.exec_driver_sql(f"DELETE FROM {new}.{table.name}")
            for table in t.metadata.sorted_tables:
                conn.exec_driver_sql(f"INSERT INTO {new}.{table.name} SELECT * FROM {old}.{table.name}")
            conn.exec_driver_sql(f"SELECT setval('{new}.{t.ENTRY_SEQUENCE}', "
                                 f"(SELECT last_value FROM {old}.{t.ENTRY_SEQUENCE}))")
        engine.dispose()
        yield url


def _check(base: Base, url: str, trusted: Checkpoint | None = None, policy: Policy | None = None) -> Report:
    store = Store.open(url, create=False)
    try:
        return verify(store, load_public_key(base.public_key_file), trusted, policy)
    finally:
        store.close()


def _sql(url: str, statement: Any) -> list[Any]:
    engine = sa.create_engine(url)
    with engine.begin() as conn:
        result = conn.execute(statement)
        rows = list(result) if result.returns_rows else []
    engine.dispose()
    return rows


# --- the cases: one per (table, column) edit, per table delete, and the inserts

def _cases() -> Iterator[Any]:
    for name, table in TABLES.items():
        keys = ",".join(c.name for c in table.primary_key.columns)
        for column in table.columns:
            yield pytest.param(name, "edit", column.name, id=f"{name}[{keys}]-edit-{column.name}")
        yield pytest.param(name, "delete", None, id=f"{name}[{keys}]-delete")
        if name in INSERTS:
            yield pytest.param(name, "insert", None, id=f"{name}[{keys}]-insert")


def _pick(url: str, table: sa.Table, column: str | None) -> Any:
    """A row to tamper with: one in the middle, with ``column`` set (and a sender where it matters)."""
    query = sa.select(table).order_by(*table.primary_key.columns)
    if column is not None and table.c[column].nullable:
        query = query.where(table.c[column].is_not(None))
    if table.name in ("events", "rejects") and column in ("purged", "digest", "sender_commitment", "payload"):
        query = query.where(table.c.sender_commitment.is_not(None))
    rows = _sql(url, query)
    assert rows, f"the base store has no row of {table.name} to tamper with"
    return rows[len(rows) // 2]._mapping


def _flip(text: str) -> str:
    if not text:
        return "1"
    last = text[-1]
    return text[:-1] + ("1" if last == "0" else "0" if last.isdigit() else "B" if last == "A" else "A")


def _edited_json(text: str) -> str:
    doc = loads(text)
    if not isinstance(doc, dict):
        return json.dumps([doc, 1])
    for key in ("site_id", "status", "message", "results"):
        if key in doc:
            value = doc[key]
            return json.dumps({**doc, key: value + 1 if isinstance(value, int) else _flip(str(value))})
    return json.dumps({**doc, "x": 1})


def _new_value(url: str, table: sa.Table, column: str, value: Any) -> Any:
    col = table.c[column]
    if (table.name, column) == ("audit_ids", "next_id"):
        return 1 if url.startswith("sqlite") else 2  # below the allocated ids / not PostgreSQL's unused 1
    if (table.name, column) == ("run_state", "as_of_frac"):
        return "x9"
    if (table.name, column) == ("audit_log", "kind"):
        return "query" if value != "query" else "event"
    if column in ("doc", "payload"):
        return _edited_json(value)
    if isinstance(value, bool):
        return not value
    if isinstance(value, int):
        if col.primary_key or col.unique or column == "first_id":
            return value + 40 if column == "level" else (2 if value == 1 and len(table.primary_key.columns) == 1
                                                         and table.name != "checkpoints" else value + 1_000_000)
        return value + 1000 if column == "position" else value + 1
    if isinstance(value, (bytes, memoryview)):
        data = bytes(value)
        return bytes([data[0] ^ 1]) + data[1:]
    if column == "reason":
        return value + " (edited)"
    if column == "event_id":
        return value + "x"  # the same key with a changed last character may be stored already
    return _flip(str(value))


def _key(table: sa.Table, row: Any, override: dict[str, Any] | None = None) -> str:
    values = {**{c.name: row[c.name] for c in table.primary_key.columns}, **(override or {})}
    return f"{table.name}[" + ", ".join(f"{k}={v}" for k, v in values.items())


def _where(table: sa.Table, row: Any) -> Any:
    return sa.and_(*(c == row[c.name] for c in table.primary_key.columns))


def _insert(url: str, table: sa.Table) -> str:
    """Insert a plausible row; return the key the finding must name."""
    row = dict(_pick(url, table, None))
    if table.name == "violations":
        row.update(waybill_no="FORGED00000001")
    elif table.name == "checkpoints":
        last = _sql(url, sa.select(table).order_by(table.c.id.desc()).limit(1))[0]._mapping
        row = {**last, "id": last["id"] + 1}  # a replay of a genuine signed checkpoint
    else:
        key = table.primary_key.columns.values()[0].name
        row.update({key: 1_000_000_000})
        forged = {"events": {"event_id": "forged-1"}, "rejects": {"position": 999_999}, "grades": {"seq": 99},
                  "warnings": {"level": "orange"}, "sanctions": {"decision_ref": "FORGED-1"},
                  "deliveries": {"message_id": "msg_forged"}}
        row.update(forged[table.name])
    _sql(url, table.insert().values(row))
    return _key(table, row)


@pytest.mark.parametrize(("table_name", "action", "column"), list(_cases()))
def test_tampering_is_found_and_named(base: Base, store_url: str, table_name: str, action: str,
                                      column: str | None) -> None:
    """The finding names the table and the key (``table[key=value``) of the row tampered with."""
    table = TABLES[table_name]
    if (table_name, column) in NOT_CHECKED:
        _not_checked_is_harmless(base, store_url, table, column)
        return
    if action == "insert":
        names = [_insert(store_url, table)]
    else:
        row = _pick(store_url, table, column)
        names = [_key(table, row)]
        if action == "delete":
            _sql(store_url, table.delete().where(_where(table, row)))
        else:
            assert column is not None
            value = _new_value(store_url, table, column, row[column])
            _sql(store_url, table.update().where(_where(table, row)).values({column: value}))
            if table.c[column].primary_key:
                names.append(_key(table, row, {column: value}))
    if table_name in REFUSED_ON_OPEN:
        with pytest.raises(SchemaError):
            Store.open(store_url, create=False)
        return
    report = _check(base, store_url)
    assert not report.ok, f"verify passed after a {action} of {names[0]}"
    pattern = re.compile("|".join(re.escape(n) + r"[\],]" for n in names))
    messages = [f.message for f in report.findings]
    assert any(pattern.search(m) for m in messages), messages


UNREADABLE = [("events", "doc", "{"), ("queries", "doc", "{"), ("rejects", "payload", "{"),
              ("violation_changes", "doc", "{"), ("violations", "doc", "{"), ("checkpoints", "key_id", "Z" * 64),
              ("audit_log", "entry", b""), ("grades", "doc", "{"), ("warnings", "doc", "{"), ("sanctions", "doc", "{"),
              ("deliveries", "doc", "{")]


@pytest.mark.parametrize(("table_name", "column", "value"), UNREADABLE,
                         ids=[f"{n}-{c}-unreadable" for n, c, _ in UNREADABLE])
def test_an_unreadable_value_is_a_finding_not_a_crash(base: Base, store_url: str, table_name: str, column: str,
                                                      value: Any) -> None:
    """A value edited into something that does not parse is named like any other edit."""
    table = TABLES[table_name]
    row = _pick(store_url, table, column)
    _sql(store_url, table.update().where(_where(table, row)).values({column: value}))
    report = _check(base, store_url)
    pattern = re.compile(re.escape(_key(table, row)) + r"[\],]")
    assert any(pattern.search(f.message) for f in report.findings), report.findings


def _not_checked_is_harmless(base: Base, store_url: str, table: sa.Table, column: str | None) -> None:
    """A column verify cannot check (NOT_CHECKED): verify's docstring says so, and an edit changes nothing served."""
    import greenshield.store.verify as verify_module

    doc = verify_module.__doc__ or ""
    assert column is not None and f"``{table.name}``" in doc and "not trust-bearing" in doc
    served = _sql(store_url, sa.select(t.violations).order_by(t.violations.c.waybill_no, t.violations.c.rule_id))
    row = _pick(store_url, table, column)
    _sql(store_url, table.update().where(_where(table, row)).values({column: row[column] + 3600}))
    assert _check(base, store_url).ok  # by design: not a finding (see NOT_CHECKED)
    assert _sql(store_url, sa.select(t.violations).order_by(t.violations.c.waybill_no,
                                                            t.violations.c.rule_id)) == served


def test_every_table_and_column_has_a_case() -> None:
    """The cases cover every column of every table of the metadata (a new one is not forgotten)."""
    ids = {p.id for p in _cases()}
    for name, table in TABLES.items():
        keys = ",".join(c.name for c in table.primary_key.columns)
        assert f"{name}[{keys}]-delete" in ids
        assert all(f"{name}[{keys}]-edit-{c.name}" in ids for c in table.columns)
    assert set(TABLES) >= {"events", "violations", "violation_changes", "queries", "rejects", "audit_log",
                           "audit_runs", "audit_nodes", "audit_state", "checkpoints", "audit_ids", "run_state"}


def test_the_base_store_verifies(base: Base, store_url: str) -> None:
    """The untouched copy passes, holds rejects, a query and several checkpoints, every row a leaf."""
    report = _check(base, store_url, load_checkpoint_file(base.note))
    assert report.ok, report.findings
    assert report.checkpoints >= 2 and report.tree_size == report.signed_size
    counts = {name: _sql(store_url, sa.select(sa.func.count()).select_from(TABLES[name]))[0][0]
              for name in ("rejects", "queries", "events", "violations")}
    assert counts["rejects"] == 3 and counts["queries"] >= 1 and counts["violations"] > 0
    kinds = dict(_sql(store_url, sa.select(t.audit_log.c.kind, sa.func.count()).group_by(t.audit_log.c.kind)))
    assert kinds["reject"] == 3 and kinds["query"] == counts["queries"] and kinds["event"] == counts["events"]


# --- trust from outside the store

def _rewrite(url: str) -> None:
    """With database access only: change a registry record, re-derive its entry with the store's own
    functions, delete every checkpoint, make the state agree and rebuild the node cache."""
    e, log = t.events, t.audit_log
    engine = sa.create_engine(url)
    with engine.begin() as conn:
        row = conn.execute(sa.select(e).where(e.c.type == "registry", e.c.status == "active")
                           .order_by(e.c.entry_id).limit(1)).one()._mapping
        doc = {**loads(row["doc"]), "status": "revoked"}
        edited = {**row, "doc": json.dumps(doc, separators=(",", ":"), sort_keys=True), "status": "revoked"}
        conn.execute(e.update().where(e.c.entry_id == row["entry_id"]).values(doc=edited["doc"], status="revoked"))
        conn.execute(log.update().where(log.c.id == row["entry_id"]).values(entry=row_entry(edited)))
        size = int(conn.execute(sa.select(t.audit_state.c.tree_size)).scalar_one())
        acc = MerkleAccumulator()
        acc.extend(leaf_hashes(conn, 0, size))
        conn.execute(t.checkpoints.delete())
        conn.execute(t.audit_state.update().values(compact=acc.to_bytes(), checkpoint_size=0, checkpoint_ms=0))
    engine.dispose()
    store = Store.open(url, create=False)
    try:
        rebuild_nodes(store)  # the cached subtrees of the new leaves (dropping them would be a finding)
    finally:
        store.close()


def test_a_consistent_rewrite_fails_against_a_trusted_checkpoint(base: Base, store_url: str,
                                                                 monkeypatch: pytest.MonkeyPatch,
                                                                 capsys: pytest.CaptureFixture[str]) -> None:
    """The store alone cannot tell (small tree, no checkpoint left); the checkpoint kept outside can."""
    _rewrite(store_url)
    alone = _check(base, store_url, policy=Policy(entries=10_000))
    assert alone.ok, alone.findings  # the limitation the warning states
    assert alone.warnings and "trust comes only from the store" in alone.warnings[0]
    for kept in (base.note, base.json):
        report = _check(base, store_url, load_checkpoint_file(kept))
        assert not report.ok
        assert any("history rewritten" in f.message for f in report.findings)
        assert any("no checkpoint at or beyond" in f.message for f in report.findings)
    _env(monkeypatch, base.var)
    capsys.readouterr()
    assert _gs("audit", "verify", "--db", store_url, "--trusted", base.note) == 1
    assert "history rewritten" in capsys.readouterr().out
    monkeypatch.setenv("GREENSHIELD_TRUSTED_CHECKPOINT", str(base.json))  # the pinned file
    assert _gs("audit", "verify", "--db", store_url) == 1
    monkeypatch.delenv("GREENSHIELD_TRUSTED_CHECKPOINT")
    monkeypatch.setenv("GREENSHIELD_CHECKPOINT_EVERY_ENTRIES", "10000")
    capsys.readouterr()
    assert _gs("audit", "verify", "--db", store_url) == 0
    assert "warning: no trusted checkpoint" in capsys.readouterr().err


def test_deleting_every_checkpoint_breaks_the_policy(base: Base, store_url: str) -> None:
    """A tree of more entries than the signing interval with no checkpoint left is a finding."""
    _rewrite(store_url)
    report = _check(base, store_url, policy=Policy(entries=100))
    assert any(f.message.startswith("checkpoints: entries 0..") for f in report.findings), report.findings


def test_the_trusted_checkpoint_is_extended_by_a_growing_store(base: Base, store_url: str,
                                                               monkeypatch: pytest.MonkeyPatch,
                                                               tmp_path: Path) -> None:
    """More entries after the export still verify against it (consistency proven, not equality)."""
    _env(monkeypatch, base.var)
    more = tmp_path / "more.jsonl"
    more.write_bytes(b"{still not json\n")
    assert _gs("run", more, "--db", store_url) == 0
    report = _check(base, store_url, load_checkpoint_file(base.note))
    assert report.ok, report.findings
    assert report.tree_size > (report.trusted_size or 0)
    assert _gs("audit", "verify", "--db", store_url, "--trusted", base.note) == 0


def test_a_store_rolled_back_behind_the_trusted_checkpoint_fails(base: Base, store_url: str,
                                                                 monkeypatch: pytest.MonkeyPatch,
                                                                 tmp_path: Path) -> None:
    """The auditor kept a checkpoint of a later state; the store shown is the older one: a finding."""
    _env(monkeypatch, base.var)
    more = tmp_path / "more.jsonl"
    more.write_bytes(b"{still not json\n")
    assert _gs("run", more, "--db", store_url) == 0  # the copy grows; the base stays behind
    assert _gs("audit", "checkpoint", "--db", store_url, "--out", tmp_path / "later.note") == 0
    report = _check(base, base.url, load_checkpoint_file(tmp_path / "later.note"))
    assert not report.ok
    assert any(f.message.startswith("checkpoints: the store's tree has") and "fewer than the trusted" in f.message
               for f in report.findings), report.findings
    assert _gs("audit", "verify", "--db", base.url, "--trusted", tmp_path / "later.note") == 1


def test_a_trusted_checkpoint_of_another_key_is_refused(base: Base, store_url: str, tmp_path: Path) -> None:
    from greenshield.translog.checkpoint import generate_private_key, sign_checkpoint

    kept = load_checkpoint_file(base.json)
    forged = sign_checkpoint(generate_private_key(), kept.tree_size, kept.root_hash, timestamp=kept.timestamp_ms)
    report = _check(base, store_url, forged)
    assert any(f.message.startswith("the trusted checkpoint") for f in report.findings)


def test_lost_nodes_are_named_and_rebuilt(base: Base, store_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """Deleting the node cache is a finding; `audit rebuild-nodes` recomputes it and verify passes again."""
    _sql(store_url, t.audit_nodes.delete())
    report = _check(base, store_url)
    assert any(re.search(r"audit_nodes\[level=\d+, idx=\d+\].*is missing", f.message) for f in report.findings)
    _env(monkeypatch, base.var)
    assert _gs("audit", "rebuild-nodes", "--db", store_url) == 0
    assert _check(base, store_url, load_checkpoint_file(base.note)).ok
    assert _sql(store_url, sa.select(sa.func.count()).select_from(t.audit_nodes))[0][0] > 0


def test_absurd_runs_and_checkpoint_numbers_are_findings_not_stalls(base: Base, store_url: str) -> None:
    """A run edited to claim 2*10^9 leaves and a checkpoint numbered 2*10^9 are reported in the usual time."""
    runs, cps = t.audit_runs, t.checkpoints
    last = _sql(store_url, sa.select(runs).order_by(runs.c.first_leaf.desc()).limit(1))[0]
    _sql(store_url, runs.update().where(runs.c.first_leaf == last.first_leaf).values(count=2_000_000_000))
    top = _sql(store_url, sa.select(cps.c.id).order_by(cps.c.id.desc()).limit(1))[0][0]
    _sql(store_url, cps.update().where(cps.c.id == top).values(id=2_000_000_000))
    messages = [f.message for f in _check(base, store_url).findings]
    assert any("the runs claim" in m for m in messages), messages
    assert any(f"checkpoints[id={top}] is missing (and up to id {2_000_000_000 - 1})" in m for m in messages), messages


def test_checkpoint_export_refuses_to_overwrite_and_needs_a_checkpoint(base: Base, monkeypatch: pytest.MonkeyPatch,
                                                                       tmp_path: Path,
                                                                       capsys: pytest.CaptureFixture[str]) -> None:
    """`audit checkpoint --out` never replaces the file an auditor kept; an empty store has nothing to export."""
    _env(monkeypatch, base.var)
    kept = base.note.read_bytes()
    assert _gs("audit", "checkpoint", "--db", base.url, "--out", base.note) == 2
    assert base.note.read_bytes() == kept
    empty = f"sqlite:///{tmp_path / 'empty.db'}"
    Store.open(empty).close()
    assert _gs("audit", "checkpoint", "--db", empty) == 1
    capsys.readouterr()
    assert _gs("audit", "checkpoint", "--db", base.url) == 0
    assert capsys.readouterr().out.encode() == kept
