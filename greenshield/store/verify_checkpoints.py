"""``audit verify`` on the checkpoints: numbering, signatures, roots, consistency, and the trusted checkpoint."""

from __future__ import annotations

import sqlalchemy as sa
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from sqlalchemy.engine import Connection

from greenshield.store import schema as t
from greenshield.store.audit_log import Policy, checkpoint_of, prove_consistency
from greenshield.store.verify_report import Report, State
from greenshield.translog.checkpoint import Checkpoint, CheckpointError, check_consistent, verify_checkpoint
from greenshield.translog.proofs import ProofError


def stored_checkpoints(conn: Connection, report: Report) -> list[tuple[int, Checkpoint]]:
    """The well-formed stored checkpoints, by number; a malformed one is a finding."""
    out: list[tuple[int, Checkpoint]] = []
    for row in conn.execute(sa.select(t.checkpoints).order_by(t.checkpoints.c.id)):
        try:
            out.append((int(row.id), checkpoint_of(row)))
        except (CheckpointError, ValueError, TypeError) as err:
            report.add(max(int(row.tree_size) - 1, 0), f"checkpoints[id={row.id}] is malformed: {err} (edited?)")
    return out


def check_checkpoints(conn: Connection, report: Report, cps: list[tuple[int, Checkpoint]], key: Ed25519PublicKey,
                 roots: dict[int, bytes], state: State, policy: Policy) -> None:
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


def _numbering(report: Report, cps: list[tuple[int, Checkpoint]], state: State) -> None:
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


def check_trusted(conn: Connection, report: Report, trusted: Checkpoint, key: Ed25519PublicKey,
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
