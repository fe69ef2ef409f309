"""``audit verify``: re-derive every leaf from the stored rows, rebuild the tree, check the checkpoints.

In one snapshot of the database:

1. the runs must tile the leaves ``0 .. tree_size-1`` over increasing entry ids;
2. leaf by leaf, the audit entry must exist, its row must exist, the row must agree
   with its own doc, the entry re-derived from the row must equal the stored entry,
   and the tree is rebuilt from the
   *re-derived* leaves, and every perfect subtree it completes is compared with the
   one cached when the leaves were sequenced;
3. every checkpoint's signature is checked against the trusted public key, its root
   against the rebuilt tree at its size, and each against the next by a consistency
   proof that the store itself generates (a lying store fails here);
4. no data row may lack an audit entry, and each violation's current state must be
   its latest recorded change.

The first bad entry is the lowest leaf index with a finding. Edits made consistently
to a row and its entry can only be caught by the signed roots; then
the finding names the first cached subtree or checkpoint that no longer matches.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import sqlalchemy as sa
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from sqlalchemy.engine import Connection

from greenshield.audit import schema as t
from greenshield.audit.checkpoint import Checkpoint, check_consistent, verify_checkpoint
from greenshield.audit.entries import query_entry, violation_entry
from greenshield.audit.log import NODE_LEVEL, all_checkpoints, prove_consistency
from greenshield.audit.merkle import MerkleAccumulator, leaf_hash
from greenshield.audit.proofs import ProofError
from greenshield.audit.rows import row_entry, row_problems
from greenshield.audit.store import Store

CHUNK = 20_000
_DATA = {"event": (t.events, t.events.c.entry_id), "violation": (t.violation_changes, t.violation_changes.c.id),
         "query": (t.queries, t.queries.c.id)}


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
    findings: list[Finding] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.findings

    def first(self) -> Finding | None:
        return min(self.findings) if self.findings else None

    def add(self, entry: float, message: str, derived: bool = False) -> None:
        """Note a problem; ``derived`` marks one that follows from the tree (a root, a cached subtree)."""
        self.findings.append(Finding(entry, derived, message))


def verify(store: Store, public_key: Ed25519PublicKey) -> Report:
    """Check the whole store; see the module docstring."""
    report = Report()
    with store.snapshot() as conn:
        state = conn.execute(sa.select(t.audit_state)).one()
        report.tree_size = int(state.tree_size)
        runs = _runs(conn, report, int(state.last_id))
        cps = all_checkpoints(conn)
        _rebuild(conn, report, runs, {cp.tree_size: (i, cp) for i, cp in cps})
        _checkpoints(conn, report, cps, public_key)
        _orphans(conn, report, runs)
        pending = conn.execute(sa.select(sa.func.count()).where(t.audit_log.c.id > state.last_id)).scalar_one()
        if pending:
            report.notes.append(f"{pending} entries are written but not yet sequenced")
        _violations(conn, report)
    return report


def _runs(conn: Connection, report: Report, last_id: int) -> list[tuple[int, int, int]]:
    runs = [(int(a), int(b), int(c)) for a, b, c in conn.execute(
        sa.select(t.audit_runs.c.first_leaf, t.audit_runs.c.first_id, t.audit_runs.c.count)
        .order_by(t.audit_runs.c.first_leaf))]
    leaf, prev_id = 0, 0
    for first_leaf, first_id, count in runs:
        if first_leaf != leaf or first_id <= prev_id or count < 1:
            report.add(min(first_leaf, leaf), f"the sequencer's run table is broken at leaf {leaf}")
            break
        leaf, prev_id = leaf + count, first_id + count - 1
    if leaf != report.tree_size or prev_id > last_id:
        report.add(min(leaf, report.tree_size), f"the runs cover {leaf} leaves, the tree has {report.tree_size}")
    return runs


def _expected(runs: list[tuple[int, int, int]]) -> Iterator[tuple[int, int]]:
    """(leaf, entry id) for every sequenced leaf, in order."""
    for first_leaf, first_id, count in runs:
        for k in range(count):
            yield first_leaf + k, first_id + k


def _chunks(runs: list[tuple[int, int, int]]) -> Iterator[list[tuple[int, int]]]:
    chunk: list[tuple[int, int]] = []
    for pair in _expected(runs):
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
        return violation_entry(row["waybill_no"], row["rule_id"], row["seq"], row["status"], row["doc"]), []
    from greenshield.audit.entries import loads

    return query_entry(str(loads(row["doc"]).get("query")), row["doc"]), []


def _rebuild(conn: Connection, report: Report, runs: list[tuple[int, int, int]],
             signed: dict[int, tuple[int, Checkpoint]]) -> None:
    nodes = {(int(lv), int(ix)): bytes(h) for lv, ix, h in conn.execute(sa.select(t.audit_nodes))}
    def on_node(level: int, index: int, h: bytes) -> None:
        if level >= NODE_LEVEL and nodes.get((level, index), h) != h:
            first, last = index << level, ((index + 1) << level) - 1
            report.add(last, f"leaves {first}..{last} no longer hash to the subtree recorded when they were "
                             f"sequenced (a leaf among them was changed, or the cache was)", derived=True)
    acc = MerkleAccumulator(on_node)
    for chunk in _chunks(runs):
        entries, data = _rows(conn, chunk[0][1], chunk[-1][1])
        for leaf, entry_id in chunk:
            acc.append(_leaf(report, leaf, entry_id, entries, data))
            if acc.size in signed:
                number, cp = signed[acc.size]
                if cp.root_hash != acc.root():
                    report.add(acc.size - 1, f"checkpoint #{number} (tree size {cp.tree_size}): its root does not "
                                             f"match the tree rebuilt from the stored rows", derived=True)
        extra = sorted(set(entries) - {i for _, i in chunk})
        for entry_id in extra:
            report.add(_leaf_near(chunk, entry_id), f"audit entry id {entry_id} is in no sequenced run (inserted?)")


def _leaf_near(chunk: list[tuple[int, int]], entry_id: int) -> int:
    return next((leaf for leaf, i in chunk if i > entry_id), chunk[-1][0] + 1)


def _leaf(report: Report, leaf: int, entry_id: int, entries: dict[int, Any], data: dict[str, dict[int, Any]]) -> bytes:
    """The re-derived leaf hash of one leaf, with findings noted."""
    entry = entries.get(entry_id)
    if entry is None:
        report.add(leaf, f"entry {leaf} (id {entry_id}) is missing from the audit log (deleted?)")
        return b"\x00" * 32
    stored = bytes(entry.entry)
    row = data.get(entry.kind, {}).get(entry_id)
    if row is None:
        report.add(leaf, f"entry {leaf} (id {entry_id}): its {entry.kind} row is missing (deleted?)")
        return leaf_hash(stored)
    derived, problems = _derive(entry.kind, row)
    for p in problems:
        report.add(leaf, f"entry {leaf} (id {entry_id}, {entry.kind} {_name(entry.kind, row)}): {p}")
    if derived != stored:
        report.add(leaf, f"entry {leaf} (id {entry_id}, {entry.kind} {_name(entry.kind, row)}): the stored row "
                         f"does not match its audit entry (edited?)")
    return leaf_hash(derived)


def _name(kind: str, row: Any) -> str:
    if kind == "event":
        return f"{row['enterprise_id']}/{row['event_id']}"
    if kind == "violation":
        return f"{row['waybill_no']}/{row['rule_id']}#{row['seq']}"
    return f"#{row['id']}"


def _checkpoints(conn: Connection, report: Report, cps: list[tuple[int, Checkpoint]],
                 key: Ed25519PublicKey) -> None:
    report.checkpoints = len(cps)
    good: list[tuple[int, Checkpoint]] = []
    for number, cp in sorted(cps, key=lambda p: (p[1].tree_size, p[0])):
        where = max(cp.tree_size - 1, 0)
        if cp.tree_size > report.tree_size:
            report.add(report.tree_size, f"checkpoint #{number} signs {cp.tree_size} entries, the tree has "
                                         f"{report.tree_size} (entries deleted?)")
            continue
        try:
            verify_checkpoint(key, cp)
        except ProofError as err:
            report.add(where, f"checkpoint #{number} (tree size {cp.tree_size}): {err} (forged?)")
            continue
        if good:
            _consistent(conn, report, good[-1], (number, cp), key)
        good.append((number, cp))
    report.signed_size = good[-1][1].tree_size if good else 0
    if report.signed_size < report.tree_size:
        report.notes.append(f"entries {report.signed_size}..{report.tree_size - 1} are sequenced but not yet "
                            f"covered by a signed checkpoint")


def _consistent(conn: Connection, report: Report, old: tuple[int, Checkpoint], new: tuple[int, Checkpoint],
                key: Ed25519PublicKey) -> None:
    (n1, c1), (n2, c2) = old, new
    try:
        proof = prove_consistency(conn, c1.tree_size, c2.tree_size) if c1.tree_size else []
        check_consistent(c1, c2, proof, key)
    except (ProofError, ValueError) as err:
        report.add(max(c2.tree_size - 1, 0), f"checkpoint #{n2} (tree size {c2.tree_size}) is not shown "
                                             f"consistent with #{n1} (tree size {c1.tree_size}): {err}",
                   derived=True)


def _orphans(conn: Connection, report: Report, runs: list[tuple[int, int, int]]) -> None:
    """Data rows of the sequenced range that no audit entry covers."""
    log = t.audit_log
    for kind, (table, key) in _DATA.items():
        rows = conn.execute(sa.select(key).outerjoin(log, log.c.id == key)
                            .where(log.c.id.is_(None)).order_by(key).limit(10)).scalars().all()
        for entry_id in rows:
            report.add(_leaf_of(runs, int(entry_id)), f"{kind} row id {entry_id} has no audit entry (inserted?)")


def _leaf_of(runs: list[tuple[int, int, int]], entry_id: int) -> float:
    for first_leaf, first_id, count in runs:
        if entry_id < first_id + count:
            return first_leaf + max(0, entry_id - first_id) - 0.5
    return float("inf")


def _violations(conn: Connection, report: Report) -> None:
    v, c = t.violations, t.violation_changes
    latest = sa.select(c.c.waybill_no, c.c.rule_id, sa.func.max(c.c.seq).label("seq")) \
        .group_by(c.c.waybill_no, c.c.rule_id).subquery()
    rows = conn.execute(sa.select(v.c.waybill_no, v.c.rule_id, v.c.status, v.c.doc, c.c.doc, c.c.status,
                                  c.c.seq, latest.c.seq)
                        .outerjoin(c, c.c.id == v.c.change_id)
                        .outerjoin(latest, sa.and_(latest.c.waybill_no == v.c.waybill_no,
                                                   latest.c.rule_id == v.c.rule_id)))
    for w, r, status, doc, cdoc, cstatus, seq, top in rows:
        if cdoc is None or doc != cdoc or status != cstatus or seq != top:
            report.add(float("inf"), f"violation ({w}, {r}) is not its latest recorded change (edited?)")
