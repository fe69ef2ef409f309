"""``audit verify``: re-derive every leaf from the stored rows, rebuild the tree, check every table.

In one snapshot of the database, table by table (every finding names the table and
the key of the row, as ``table[column=value]``):

* ``audit_runs`` must tile the leaves ``0 .. tree_size-1`` over increasing entry ids;
* ``audit_log`` + the data tables: leaf by leaf, the entry must exist, its row must
  exist, the row must agree with itself (``events``: the indexed columns with the doc,
  the commitment with the personal fields and digest; ``rejects``: the commitment with
  the payload), and the entry re-derived from the row must equal the stored entry.
  ``events`` (every column, ``digest``, ``source`` and ``position`` included),
  ``violation_changes``, ``queries``, ``rejects``, ``grades``, ``warnings``, ``sanctions`` and ``deliveries`` are the leaves
  (the last four: their key columns must also be their doc's); no data row may
  lack an entry of its kind (an inserted row is found). ``purged`` is checked by what it
  implies (personal fields gone, the commitment kept); on a reject without a sender it
  has nothing to erase, so toggling it there changes nothing served and is not seen;
* ``audit_nodes``: the tree is rebuilt from the *re-derived* leaves, and every perfect
  subtree it completes (level >= NODE_LEVEL) must be cached with that hash; a missing,
  wrong or extra node is a finding (``greenshield audit rebuild-nodes`` recomputes them);
* ``audit_state``: its tree size, last entry id and compact tree must be those of the
  rebuilt tree, its last checkpoint the latest stored one;
* ``checkpoints``: numbered 1, 2, ... without gaps, growing; each signed by the trusted
  key, its root equal to the rebuilt tree's at its size, each consistent with the next
  by a proof the store generates; fewer unsigned entries than the policy's
  ``every_entries``;
* ``violations`` must be the fold of the logged changes: one row per (waybill, rule)
  with changes, equal (status, enterprise, occurred_at, doc, change id) to its latest
  change; no row without changes;
* ``audit_ids`` (SQLite's id allocator) must be above every allocated id; on
  PostgreSQL it is unused (``next_id`` = 1) and the sequence must be above them;
* ``run_state`` (the embedded pipeline's clock): one row; ``events_seen`` is 0 or the
  id of a stored event; ``as_of_frac`` is fraction digits; the initial sentinel comes
  with ``events_seen`` = 0. Its ``as_of`` is *not trust-bearing* and cannot be checked
  further: it only decides which parcels the next run re-evaluates (served verdicts
  come from ``violations``, checked above), and any instant is a legal ``--as-of``;
* ``schema_version`` cannot be checked by verify: a store whose version row is edited,
  deleted or doubled is refused by :meth:`Store.open` before verify runs (SchemaError).

**Trust.** Everything above is checked against the store's own checkpoints, which a
party with write access can delete and re-create consistently (re-deriving entries,
dropping the node cache, resetting ``audit_state``). Only a checkpoint kept outside
the store defeats that: with ``trusted`` (``audit verify --trusted FILE``), the tree
rebuilt from the rows must have that checkpoint's root at its size, and the store's
latest checkpoint must be at least as large and proven consistent with it. Without
it the report carries a warning.

The first bad entry is the lowest leaf index with a finding.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import sqlalchemy as sa
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from sqlalchemy.engine import Connection

from greenshield.store import schema as t
from greenshield.translog.checkpoint import Checkpoint, CheckpointError, check_consistent, verify_checkpoint
from greenshield.translog.entries import RECORD_KEYS, loads, query_entry, record_entry, reject_entry, violation_entry
from greenshield.store.audit_log import NODE_LEVEL, Policy, checkpoint_of, prove_consistency, stored_runs
from greenshield.translog.merkle import MerkleAccumulator, leaf_hash
from greenshield.translog.proofs import ProofError
from greenshield.store.rows import reject_problems, row_entry, row_problems
from greenshield.store.database import Store

CHUNK = 20_000
INF = float("inf")
UNTRUSTED = ("no trusted checkpoint given: trust comes only from the store's own checkpoints, which anyone "
             "with write access to the store can delete and re-create; pass --trusted FILE (a checkpoint kept "
             "outside the store) or set GREENSHIELD_TRUSTED_CHECKPOINT")
_DATA = {"event": (t.events, t.events.c.entry_id), "violation": (t.violation_changes, t.violation_changes.c.id),
         "query": (t.queries, t.queries.c.id), "reject": (t.rejects, t.rejects.c.entry_id),
         "grade": (t.grades, t.grades.c.id), "warning": (t.warnings, t.warnings.c.id),
         "sanction": (t.sanctions, t.sanctions.c.id), "delivery": (t.deliveries, t.deliveries.c.id)}
_SENTINEL = -(1 << 62)
_DIGITS = re.compile(r"[0-9]*")
Runs = list[tuple[int, int, int]]


@dataclass(frozen=True, order=True)
class Finding:
    """A problem found at leaf ``entry``; at one leaf, direct findings (``derived`` False) come first."""

    entry: float
    derived: bool
    message: str


@dataclass
class Report:
    tree_size: int = 0
    signed_size: int = 0
    checkpoints: int = 0
    trusted_size: int | None = None
    findings: list[Finding] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.findings

    def first(self) -> Finding | None:
        return min(self.findings) if self.findings else None

    def add(self, entry: float, message: str, derived: bool = False) -> None:
        """Note a problem; ``derived`` marks one that follows from the tree (a root, a cached subtree)."""
        self.findings.append(Finding(entry, derived, message))


@dataclass
class _State:
    tree_size: int
    last_id: int
    compact: bytes
    checkpoint_size: int
    checkpoint_ms: int


def verify(store: Store, public_key: Ed25519PublicKey, trusted: Checkpoint | None = None,
           policy: Policy | None = None) -> Report:
    """Check the whole store; see the module docstring."""
    report = Report(trusted_size=trusted.tree_size if trusted else None)
    if trusted is None:
        report.warnings.append(UNTRUSTED)
    with store.snapshot() as conn:
        _schema_version(conn, report)
        runs = stored_runs(conn)
        state = _state(conn, report, runs)
        report.tree_size = state.tree_size
        _runs(report, runs, state)
        cps = _stored_checkpoints(conn, report)
        wanted = {cp.tree_size for _, cp in cps} | ({trusted.tree_size} if trusted else set())
        roots, compact = _rebuild(conn, report, runs, wanted)
        if compact != state.compact:
            report.add(max(state.tree_size - 1, 0), "audit_state[id=1]: its compact tree is not the tree rebuilt "
                                                    "from the stored rows (edited?)", derived=True)
        _checkpoints(conn, report, cps, public_key, roots, state, policy or Policy())
        if trusted is not None:
            _trusted(conn, report, trusted, public_key, roots, cps)
        _orphans(conn, report, runs)
        _pending(conn, report, state)
        _violations(conn, report)
        _allocator(store, conn, report)
        _clock(conn, report)
    return report


# --- the tree's own tables

def _schema_version(conn: Connection, report: Report) -> None:
    found = conn.execute(sa.select(t.schema_version.c.version)).scalars().all()
    if list(found) != [t.SCHEMA_VERSION]:
        report.add(-1, f"schema_version: holds {list(found)}, not [{t.SCHEMA_VERSION}] (edited?)")


def _state(conn: Connection, report: Report, runs: Runs) -> _State:
    rows = conn.execute(sa.select(t.audit_state)).all()
    if len(rows) != 1 or int(rows[0].id) != 1:
        report.add(-1, f"audit_state[id=1]: the table must hold exactly that one row, it holds "
                       f"{[int(r.id) for r in rows]} (deleted or inserted?)")
    if not rows:  # carry on with what the runs say
        size = sum(r[2] for r in runs)
        return _State(size, runs[-1][1] + runs[-1][2] - 1 if runs else 0, b"", -1, -1)
    r = rows[0]
    return _State(int(r.tree_size), int(r.last_id), bytes(r.compact), int(r.checkpoint_size), int(r.checkpoint_ms))


def _runs(report: Report, runs: Runs, state: _State) -> None:
    leaf, prev_id, last = 0, 0, 0
    for first_leaf, first_id, count in runs:
        if first_leaf != leaf or first_id <= prev_id or count < 1:
            report.add(min(first_leaf, leaf), f"audit_runs: the run table is broken at leaf {leaf}: expected "
                                              f"audit_runs[first_leaf={leaf}] after audit_runs[first_leaf={last}] "
                                              f"(which ends at entry id {prev_id}), found "
                                              f"audit_runs[first_leaf={first_leaf}, first_id={first_id}, "
                                              f"count={count}] (edited or deleted?)")
            return
        leaf, prev_id, last = leaf + count, first_id + count - 1, first_leaf
    if leaf != state.tree_size:
        report.add(min(leaf, state.tree_size), f"audit_runs[first_leaf={last}]: the runs cover {leaf} leaves, "
                                               f"audit_state[id=1] says the tree has {state.tree_size} "
                                               f"(a run deleted or edited, or the state edited?)")
    if prev_id != state.last_id:
        report.add(max(leaf - 1, 0), f"audit_runs[first_leaf={last}]: the runs end at entry id {prev_id}, "
                                     f"audit_state[id=1] says last_id {state.last_id} (edited?)")


def _expected(runs: Runs) -> Iterator[tuple[int, int, int]]:
    """(leaf, entry id, the run's first leaf) for every sequenced leaf, in order."""
    for first_leaf, first_id, count in runs:
        for k in range(count):
            yield first_leaf + k, first_id + k, first_leaf


def _chunks(runs: Runs, limit: int) -> Iterator[list[tuple[int, int, int]]]:
    """The leaves in chunks, at most ``limit`` of them (runs edited to claim more cannot stall verify)."""
    chunk: list[tuple[int, int, int]] = []
    for pair in itertools.islice(_expected(runs), limit):
        chunk.append(pair)
        if len(chunk) >= CHUNK:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


def _rows(conn: Connection, lo: int, hi: int) -> tuple[dict[int, Any], dict[str, dict[int, Any]]]:
    log = t.audit_log
    entries = {int(r.id): r for r in conn.execute(sa.select(log).where(log.c.id.between(lo, hi)))}
    data = {kind: {int(r._mapping[key.name]): r._mapping for r in conn.execute(
        sa.select(table).where(key.between(lo, hi)))} for kind, (table, key) in _DATA.items()}
    return entries, data


def _derive(kind: str, row: Any) -> tuple[bytes, list[str]]:
    if kind == "event":
        return row_entry(row), row_problems(row)
    if kind == "violation":
        return violation_entry(row["enterprise_id"], row["waybill_no"], row["rule_id"], row["seq"], row["status"],
                               row["doc"]), _change_problems(row)
    if kind == "reject":
        return reject_entry(row), reject_problems(row)
    if kind in RECORD_KEYS:
        return record_entry(kind, row), _record_problems(kind, row)
    return query_entry(str(loads(row["doc"]).get("query")), row["doc"]), []


def _rebuild(conn: Connection, report: Report, runs: Runs, wanted: set[int]) -> tuple[dict[int, bytes], bytes]:
    """Rebuild the tree from the re-derived leaves; return its roots at the ``wanted`` sizes, and its compact form."""
    nodes = {(int(lv), int(ix)): bytes(h) for lv, ix, h in conn.execute(sa.select(t.audit_nodes))}
    seen: set[tuple[int, int]] = set()

    def on_node(level: int, index: int, h: bytes) -> None:
        if level < NODE_LEVEL:
            return
        seen.add((level, index))
        first, last = index << level, ((index + 1) << level) - 1
        cached = nodes.get((level, index))
        if cached is None:
            report.add(last, f"audit_nodes[level={level}, idx={index}] (leaves {first}..{last}) is missing "
                             f"(deleted? `greenshield audit rebuild-nodes` recomputes the cache)")
        elif cached != h:
            report.add(last, f"audit_nodes[level={level}, idx={index}]: leaves {first}..{last} no longer hash to "
                             f"the subtree recorded when they were sequenced (a leaf among them was changed, or "
                             f"the cache was)", derived=True)
    acc, roots = MerkleAccumulator(on_node), {0: MerkleAccumulator().root()}
    limit = int(conn.execute(sa.select(sa.func.count()).select_from(t.audit_log)).scalar_one()) + 1
    if sum(r[2] for r in runs) > limit:
        report.add(limit, f"audit_runs: the runs claim {sum(r[2] for r in runs)} leaves, the audit log holds "
                          f"{limit - 1} entries; checked the first {limit} (edited?)")
    for chunk in _chunks(runs, limit):
        entries, data = _rows(conn, chunk[0][1], chunk[-1][1])
        for leaf, entry_id, run in chunk:
            acc.append(_leaf(report, (leaf, entry_id, run), entries, data))
            if acc.size in wanted:
                roots[acc.size] = acc.root()
        for entry_id in sorted(set(entries) - {i for _, i, _ in chunk}):
            report.add(_leaf_near(chunk, entry_id), f"audit_log[id={entry_id}] is in no sequenced run (inserted?)")
    for level, index in sorted(set(nodes) - seen):
        report.add(min(index << level, acc.size), f"audit_nodes[level={level}, idx={index}] is no subtree of the "
                                                  f"tree of {acc.size} leaves (inserted or edited?)")
    return roots, acc.to_bytes()


def _leaf_near(chunk: list[tuple[int, int, int]], entry_id: int) -> int:
    return next((leaf for leaf, i, _ in chunk if i > entry_id), chunk[-1][0] + 1)


def _leaf(report: Report, at: tuple[int, int, int], entries: dict[int, Any], data: dict[str, dict[int, Any]]) -> bytes:
    """The re-derived leaf hash of one leaf (leaf index, entry id, its run), with findings noted."""
    leaf, entry_id, run = at
    entry = entries.get(entry_id)
    if entry is None:
        report.add(leaf, f"entry {leaf} (audit_log[id={entry_id}], in audit_runs[first_leaf={run}]) is missing "
                         f"from the audit log (deleted, or the run edited?)")
        return b"\x00" * 32
    stored = bytes(entry.entry)
    if entry.kind not in _DATA:
        report.add(leaf, f"entry {leaf} (audit_log[id={entry_id}]) has an unknown kind {entry.kind!r} (edited?)")
        return leaf_hash(stored)
    table, key = _DATA[entry.kind]
    where = f"audit_log[id={entry_id}], {table.name}[{key.name}={entry_id}]"
    row = data[entry.kind].get(entry_id)
    if row is None:
        report.add(leaf, f"entry {leaf} ({where}): its {entry.kind} row is missing (deleted, or the entry's kind "
                         f"edited?)")
        return leaf_hash(stored)
    try:
        derived, problems = _derive(entry.kind, row)
    except Exception as err:  # a row edited into something unreadable (a doc that is not JSON, ...)
        report.add(leaf, f"entry {leaf} ({where}): the row cannot be read ({type(err).__name__}: "
                         f"{str(err)[:200]}) (edited?)")
        return leaf_hash(stored)
    for p in problems:
        report.add(leaf, f"entry {leaf} ({where}, {entry.kind} {_name(entry.kind, row)}): {p}")
    if derived != stored:
        report.add(leaf, f"entry {leaf} ({where}, {entry.kind} {_name(entry.kind, row)}): the stored row "
                         f"does not match its audit entry (edited?)")
    return leaf_hash(derived)


def _name(kind: str, row: Any) -> str:
    if kind == "event":
        return f"{row['enterprise_id']}/{row['event_id']}"
    if kind == "violation":
        return f"{row['enterprise_id']}/{row['waybill_no']}/{row['rule_id']}#{row['seq']}"
    if kind == "reject":
        return f"{row['source']}:{row['position']}"
    if kind in RECORD_KEYS:
        return "/".join(str(row[k]) for k in RECORD_KEYS[kind][:3])
    return f"#{row['id']}"


def _record_problems(kind: str, row: Any) -> list[str]:
    """A grade's, warning's or sanction's key columns must be its doc's (the entry binds both)."""
    doc = loads(row["doc"])
    wrong = [k for k in RECORD_KEYS[kind] if k != "seq" and doc.get(k) != row[k]]
    return [f"its {', '.join(wrong)} differ from its doc's (edited?)"] if wrong else []


# --- checkpoints and the trusted one

def _stored_checkpoints(conn: Connection, report: Report) -> list[tuple[int, Checkpoint]]:
    """The well-formed stored checkpoints, by number; a malformed one is a finding."""
    out: list[tuple[int, Checkpoint]] = []
    for row in conn.execute(sa.select(t.checkpoints).order_by(t.checkpoints.c.id)):
        try:
            out.append((int(row.id), checkpoint_of(row)))
        except (CheckpointError, ValueError, TypeError) as err:
            report.add(max(int(row.tree_size) - 1, 0), f"checkpoints[id={row.id}] is malformed: {err} (edited?)")
    return out


def _checkpoints(conn: Connection, report: Report, cps: list[tuple[int, Checkpoint]], key: Ed25519PublicKey,
                 roots: dict[int, bytes], state: _State, policy: Policy) -> None:
    report.checkpoints = len(cps)
    _numbering(report, cps, state)
    good: list[tuple[int, Checkpoint]] = []
    for number, cp in sorted(cps, key=lambda p: (p[1].tree_size, p[0])):
        where = max(cp.tree_size - 1, 0)
        if cp.tree_size > report.tree_size:
            report.add(report.tree_size, f"checkpoints[id={number}] signs {cp.tree_size} entries, the tree has "
                                         f"{report.tree_size} (entries deleted?)")
            continue
        try:
            verify_checkpoint(key, cp)
        except ProofError as err:
            report.add(where, f"checkpoints[id={number}] (checkpoint #{number}, tree size {cp.tree_size}): {err} "
                              f"(forged?)")
            continue
        if roots.get(cp.tree_size) != cp.root_hash:
            report.add(where, f"checkpoints[id={number}] (checkpoint #{number}, tree size {cp.tree_size}): its root "
                              f"does not match the tree rebuilt from the stored rows", derived=True)
        if good:
            _consistent(conn, report, good[-1], (number, cp), key)
        good.append((number, cp))
    report.signed_size = good[-1][1].tree_size if good else 0
    unsigned = report.tree_size - report.signed_size
    if unsigned >= policy.entries:
        report.add(report.signed_size, f"checkpoints: entries {report.signed_size}..{report.tree_size - 1} are "
                                       f"covered by no checkpoint, but one is signed every {policy.entries} entries "
                                       f"(checkpoints deleted?)")
    elif unsigned > 0:
        report.notes.append(f"entries {report.signed_size}..{report.tree_size - 1} are sequenced but not yet "
                            f"covered by a signed checkpoint")


def _numbering(report: Report, cps: list[tuple[int, Checkpoint]], state: _State) -> None:
    """Checkpoints are numbered 1, 2, ... in signing order; the state names the last one."""
    by_number = dict(cps)
    top = max(by_number, default=0)
    gaps = [(prev + 1, n) for prev, n in zip([0, *sorted(by_number)], sorted(by_number)) if n > prev + 1]
    for missing, after in gaps[:10]:
        report.add(max(by_number[after].tree_size - 1, 0), f"checkpoints[id={missing}] is missing"
                   + (f" (and up to id {after - 1})" if after - 1 > missing else "")
                   + f": the checkpoints are numbered 1..{top} (deleted?)", derived=True)
    for (n1, c1), (n2, c2) in zip(cps, cps[1:]):
        if c2.tree_size <= c1.tree_size or c2.timestamp_ms < c1.timestamp_ms:
            report.add(max(c2.tree_size - 1, 0), f"checkpoints[id={n2}] does not grow from checkpoints[id={n1}] "
                                                 f"(edited or inserted?)", derived=True)
    if state.checkpoint_size < 0:
        return  # audit_state is gone (already reported)
    last = by_number.get(top)
    size, ms = (last.tree_size, last.timestamp_ms) if last else (0, 0)
    if (size, ms) != (state.checkpoint_size, state.checkpoint_ms):
        report.add(max(min(size, state.checkpoint_size) - 1, 0),
                   f"checkpoints[id={top + 1}] is missing: audit_state[id=1] records a last checkpoint at tree "
                   f"size {state.checkpoint_size} (ms {state.checkpoint_ms}), the latest stored is at size {size} "
                   f"(ms {ms}) (the latest checkpoint deleted, or the state edited?)", derived=True)


def _consistent(conn: Connection, report: Report, old: tuple[int, Checkpoint], new: tuple[int, Checkpoint],
                key: Ed25519PublicKey) -> None:
    (n1, c1), (n2, c2) = old, new
    try:
        proof = prove_consistency(conn, c1.tree_size, c2.tree_size) if c1.tree_size else []
        check_consistent(c1, c2, proof, key)
    except (ProofError, ValueError) as err:
        report.add(max(c2.tree_size - 1, 0), f"checkpoints[id={n2}] (tree size {c2.tree_size}) is not shown "
                                             f"consistent with checkpoints[id={n1}] (tree size {c1.tree_size}): {err}",
                   derived=True)


def _trusted(conn: Connection, report: Report, trusted: Checkpoint, key: Ed25519PublicKey,
             roots: dict[int, bytes], cps: list[tuple[int, Checkpoint]]) -> None:
    """The store must extend the checkpoint the auditor kept: same tree at its size, and a later checkpoint."""
    size, where = trusted.tree_size, max(trusted.tree_size - 1, 0)
    try:
        verify_checkpoint(key, trusted)
    except ProofError as err:
        report.add(-1, f"the trusted checkpoint (tree size {size}): {err}")
        return
    if size > report.tree_size:
        report.add(report.tree_size, f"checkpoints: the store's tree has {report.tree_size} entries, fewer than the "
                                     f"trusted checkpoint's {size} (entries deleted, or the store replaced?)")
        return
    if roots.get(size) != trusted.root_hash:
        report.add(where, f"the tree rebuilt from the stored rows does not have the trusted checkpoint's root at "
                          f"tree size {size} (history rewritten?)")
    later = [(n, cp) for n, cp in cps if cp.tree_size >= size]
    if not later:
        report.add(where, f"checkpoints: the store has no checkpoint at or beyond the trusted one's tree size "
                          f"{size} (checkpoints deleted?)")
        return
    number, latest = max(later, key=lambda p: (p[1].tree_size, p[0]))
    try:
        proof = prove_consistency(conn, size, latest.tree_size) if 0 < size < latest.tree_size else []
        if size == latest.tree_size and latest.root_hash != trusted.root_hash:
            raise ProofError("the same tree size with another root")
        check_consistent(trusted, latest, proof, key)
    except (ProofError, ValueError) as err:
        report.add(where, f"checkpoints[id={number}] (tree size {latest.tree_size}) is not consistent with the "
                          f"trusted checkpoint (tree size {size}): {err}")


# --- rows the leaves do not reach

def _orphans(conn: Connection, report: Report, runs: Runs) -> None:
    """Data rows that no audit entry of their kind covers."""
    log = t.audit_log
    for kind, (table, key) in _DATA.items():
        rows = conn.execute(sa.select(key).outerjoin(log, sa.and_(log.c.id == key, log.c.kind == kind))
                            .where(log.c.id.is_(None)).order_by(key).limit(10)).scalars().all()
        for entry_id in rows:
            report.add(_leaf_of(runs, int(entry_id)), f"{table.name}[{key.name}={entry_id}] has no audit entry of "
                                                      f"kind {kind} (inserted?)")


def _leaf_of(runs: Runs, entry_id: int) -> float:
    for first_leaf, first_id, count in runs:
        if entry_id < first_id + count:
            return first_leaf + max(0, entry_id - first_id) - 0.5
    return INF


def _pending(conn: Connection, report: Report, state: _State) -> None:
    pending = conn.execute(sa.select(sa.func.count()).where(t.audit_log.c.id > state.last_id)).scalar_one()
    if pending:
        report.notes.append(f"{pending} entries are written but not yet sequenced")


def _violations(conn: Connection, report: Report) -> None:
    """``violations`` is the fold of the logged changes: each key's row equals its latest change."""
    v, c = t.violations, t.violation_changes
    top = sa.select(c.c.enterprise_id, c.c.waybill_no, c.c.rule_id, sa.func.max(c.c.seq).label("seq")) \
        .group_by(c.c.enterprise_id, c.c.waybill_no, c.c.rule_id).subquery()
    latest = sa.select(c.c.id, c.c.enterprise_id, c.c.waybill_no, c.c.rule_id, c.c.status, c.c.doc) \
        .join(top, sa.and_(top.c.enterprise_id == c.c.enterprise_id, top.c.waybill_no == c.c.waybill_no,
                           top.c.rule_id == c.c.rule_id, top.c.seq == c.c.seq)).subquery()
    on = sa.and_(latest.c.enterprise_id == v.c.enterprise_id, latest.c.waybill_no == v.c.waybill_no,
                 latest.c.rule_id == v.c.rule_id)
    for row in conn.execute(sa.select(v, latest.c.id.label("cid"), latest.c.status.label("cstatus"),
                                      latest.c.doc.label("cdoc")).outerjoin(latest, on)).mappings():
        where = (f"violations[enterprise_id={row['enterprise_id']}, waybill_no={row['waybill_no']}, "
                 f"rule_id={row['rule_id']}]")
        if row["cid"] is None:
            report.add(INF, f"{where} has no logged change (inserted?)")
            continue
        bad = _fold_diff(row)
        if bad:
            report.add(INF, f"{where}: {', '.join(bad)} differ from its latest logged change "
                            f"violation_changes[id={row['cid']}] (edited?)")
    missing = sa.select(latest.c.id, latest.c.enterprise_id, latest.c.waybill_no, latest.c.rule_id) \
        .outerjoin(v, on).where(v.c.waybill_no.is_(None)).order_by(latest.c.id).limit(10)
    for cid, ent, w, r in conn.execute(missing):
        report.add(INF, f"violations[enterprise_id={ent}, waybill_no={w}, rule_id={r}] is missing: its latest "
                        f"logged change is violation_changes[id={cid}] (deleted?)")


def _change_problems(row: Any) -> list[str]:
    """A change row's enterprise must be its doc's (the entry binds the column, the content hash the doc)."""
    try:
        doc = loads(row["doc"])
        named = doc.get("enterprise_id"), doc.get("waybill_no"), doc.get("rule_id")
    except (ValueError, AttributeError):
        return []  # the content hash already fails to match, or the doc was logged so
    if named != (row["enterprise_id"], row["waybill_no"], row["rule_id"]):
        return ["its enterprise_id, waybill_no or rule_id is not its doc's (edited?)"]
    return []


def _fold_diff(row: Any) -> list[str]:
    try:
        doc = loads(row["cdoc"])
        expected = {"status": row["cstatus"], "doc": row["cdoc"], "change_id": row["cid"],
                    "enterprise_id": doc.get("enterprise_id"), "occurred_at": doc.get("occurred_at")}
    except (ValueError, AttributeError):
        return ["every column (its change's doc does not parse)"]
    return [name for name, value in expected.items() if row[name] != value]


# --- the allocator and the clock: derived, checked where they can be

def _allocated_top(conn: Connection) -> int:
    tops = [sa.select(sa.func.coalesce(sa.func.max(key), 0)).scalar_subquery() for _, key in _DATA.values()]
    tops.append(sa.select(sa.func.coalesce(sa.func.max(t.audit_log.c.id), 0)).scalar_subquery())
    return max(int(v) for v in conn.execute(sa.select(*tops)).one())


def _allocator(store: Store, conn: Connection, report: Report) -> None:
    rows = [(int(i), int(n)) for i, n in conn.execute(sa.select(t.audit_ids.c.id, t.audit_ids.c.next_id))]
    top = _allocated_top(conn)
    if len(rows) != 1 or rows[0][0] != 1:
        report.add(INF, f"audit_ids[id=1]: the table must hold exactly that one row, it holds "
                        f"{[i for i, _ in rows]} (deleted or inserted?)")
        return
    if store.is_sqlite and rows[0][1] <= top:
        report.add(INF, f"audit_ids[id=1]: next_id {rows[0][1]} is not above the largest allocated entry id {top} "
                        f"(edited? the next writer would reuse an id)", derived=True)
    if not store.is_sqlite:
        if rows[0][1] != 1:
            report.add(INF, f"audit_ids[id=1]: next_id is {rows[0][1]}; PostgreSQL allocates from the sequence "
                            f"{t.ENTRY_SEQUENCE} and leaves it at 1 (edited?)")
        last = conn.exec_driver_sql(f"SELECT last_value, is_called FROM {t.ENTRY_SEQUENCE}").one()
        if (int(last[0]) if last[1] else 0) < top:
            report.add(INF, f"sequence {t.ENTRY_SEQUENCE} is at {last[0]}, below the largest allocated id {top}",
                       derived=True)


def _clock(conn: Connection, report: Report) -> None:
    rows = conn.execute(sa.select(t.run_state)).all()
    if len(rows) != 1 or int(rows[0].id) != 1:
        report.add(INF, f"run_state[id=1]: the table must hold exactly that one row, it holds "
                        f"{[int(r.id) for r in rows]} (deleted or inserted?)")
        return
    r = rows[0]
    seen, e = int(r.events_seen), t.events
    if not _DIGITS.fullmatch(str(r.as_of_frac)):
        report.add(INF, f"run_state[id=1]: as_of_frac {str(r.as_of_frac)[:40]!r} is not fraction digits (edited?)")
    if int(r.as_of_s) == _SENTINEL and (seen != 0 or r.as_of_frac != ""):
        report.add(INF, "run_state[id=1]: no evaluation has run (as_of unset), yet it records events or a "
                        "fraction (edited?)")
    if seen and conn.execute(sa.select(e.c.entry_id).where(e.c.entry_id == seen)).first() is None:
        report.add(INF, f"run_state[id=1]: events_seen {seen} is not the id of a stored event (edited?)")
