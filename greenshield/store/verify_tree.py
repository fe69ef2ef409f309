"""``audit verify`` on the tree: the run table, every leaf re-derived from its row, the tree and node cache rebuilt."""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from greenshield.store import schema as t
from greenshield.store.audit_log import NODE_LEVEL
from greenshield.store.rows import reject_problems, row_entry, row_problems
from greenshield.store.verify_report import Report, Runs, State
from greenshield.translog.entries import RECORD_KEYS, loads, query_entry, record_entry, reject_entry, violation_entry
from greenshield.translog.merkle import MerkleAccumulator, leaf_hash

CHUNK = 20_000
#: the data table and id column of each entry kind
DATA = {"event": (t.events, t.events.c.entry_id), "violation": (t.violation_changes, t.violation_changes.c.id),
        "query": (t.queries, t.queries.c.id), "reject": (t.rejects, t.rejects.c.entry_id),
        "grade": (t.grades, t.grades.c.id), "warning": (t.warnings, t.warnings.c.id),
        "sanction": (t.sanctions, t.sanctions.c.id), "delivery": (t.deliveries, t.deliveries.c.id)}


def check_schema_version(conn: Connection, report: Report) -> None:
    found = conn.execute(sa.select(t.schema_version.c.version)).scalars().all()
    if list(found) != [t.SCHEMA_VERSION]:
        report.add(-1, f"schema_version: holds {list(found)}, not [{t.SCHEMA_VERSION}] (edited?)")


def stored_state(conn: Connection, report: Report, runs: Runs) -> State:
    rows = conn.execute(sa.select(t.audit_state)).all()
    if len(rows) != 1 or int(rows[0].id) != 1:
        report.add(-1, f"audit_state[id=1]: the table must hold exactly that one row, it holds "
                       f"{[int(r.id) for r in rows]} (deleted or inserted?)")
    if not rows:  # carry on with what the runs say
        size = sum(r[2] for r in runs)
        return State(size, runs[-1][1] + runs[-1][2] - 1 if runs else 0, b"", -1, -1)
    r = rows[0]
    return State(int(r.tree_size), int(r.last_id), bytes(r.compact), int(r.checkpoint_size), int(r.checkpoint_ms))


def check_runs(report: Report, runs: Runs, state: State) -> None:
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
        sa.select(table).where(key.between(lo, hi)))} for kind, (table, key) in DATA.items()}
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


def rebuild(conn: Connection, report: Report, runs: Runs, wanted: set[int]) -> tuple[dict[int, bytes], bytes]:
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
    if entry.kind not in DATA:
        report.add(leaf, f"entry {leaf} (audit_log[id={entry_id}]) has an unknown kind {entry.kind!r} (edited?)")
        return leaf_hash(stored)
    table, key = DATA[entry.kind]
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
