"""``audit verify``: re-derive every leaf from the stored rows, rebuild the tree, check every table.

In one snapshot, each finding naming its table and row (``table[column=value]``): the
runs, leaves and node cache (:mod:`~greenshield.store.verify_tree`), the checkpoints and
a trusted one kept outside the store (:mod:`~greenshield.store.verify_checkpoints`), and
the tables beside the leaves (:mod:`~greenshield.store.verify_tables`). The first bad
entry is the lowest leaf index with a finding. Not checked: ``run_state``'s ``as_of``
(not trust-bearing: it only decides which parcels the next run re-evaluates) and
``schema_version`` (:meth:`Store.open` refuses an edited one first). What each table
must satisfy, and why trust needs ``--trusted``: ``docs/adr/0013-audit-verify.md``.
"""

from __future__ import annotations

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from greenshield.store.audit_log import Policy, stored_runs
from greenshield.store.database import Store
from greenshield.store.verify_checkpoints import check_checkpoints, check_trusted, stored_checkpoints
from greenshield.store.verify_report import Finding, Report
from greenshield.store.verify_tables import check_allocator, check_clock, check_orphans, check_violations, note_pending
from greenshield.store.verify_tree import check_runs, check_schema_version, rebuild, stored_state
from greenshield.translog.checkpoint import Checkpoint

__all__ = ["Finding", "Report", "UNTRUSTED", "verify"]

UNTRUSTED = ("no trusted checkpoint given: trust comes only from the store's own checkpoints, which anyone "
             "with write access to the store can delete and re-create; pass --trusted FILE (a checkpoint kept "
             "outside the store) or set GREENSHIELD_TRUSTED_CHECKPOINT")


def verify(store: Store, public_key: Ed25519PublicKey, trusted: Checkpoint | None = None,
           policy: Policy | None = None) -> Report:
    """Check the whole store; see the module docstring."""
    report = Report(trusted_size=trusted.tree_size if trusted else None)
    if trusted is None:
        report.warnings.append(UNTRUSTED)
    with store.snapshot() as conn:
        check_schema_version(conn, report)
        runs = stored_runs(conn)
        state = stored_state(conn, report, runs)
        report.tree_size = state.tree_size
        check_runs(report, runs, state)
        cps = stored_checkpoints(conn, report)
        wanted = {cp.tree_size for _, cp in cps} | ({trusted.tree_size} if trusted else set())
        roots, compact = rebuild(conn, report, runs, wanted)
        if compact != state.compact:
            report.add(max(state.tree_size - 1, 0), "audit_state[id=1]: its compact tree is not the tree rebuilt "
                                                    "from the stored rows (edited?)", derived=True)
        check_checkpoints(conn, report, cps, public_key, roots, state, policy or Policy())
        if trusted is not None:
            check_trusted(conn, report, trusted, public_key, roots, cps)
        check_orphans(conn, report, runs)
        note_pending(conn, report, state)
        check_violations(conn, report)
        check_allocator(store, conn, report)
        check_clock(conn, report)
    return report
