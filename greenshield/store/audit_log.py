"""The audit log: writers append entries, one sequencer integrates them into the Merkle tree.

Leaf ``i`` is the ``i``-th sequenced entry in id order; ``audit_runs`` records each stretch
of consecutive ids. Nothing is written per entry after its writer commits. The writer's
and the sequencer's steps: ``docs/adr/0011-writers-and-sequencer.md``.
"""

from __future__ import annotations

import bisect
import itertools
import time
from collections.abc import Callable, Iterable, Iterator, MutableMapping, Sequence
from dataclasses import dataclass

import sqlalchemy as sa
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlalchemy.engine import Connection

from greenshield.store import schema as t
from greenshield.store.database import Store, insert_rows, placeholder
from greenshield.translog.checkpoint import DEFAULT_ORIGIN, Checkpoint, sign_checkpoint
from greenshield.translog.merkle import MerkleAccumulator, SubtreeHasher, consistency_proof, inclusion_proof, leaf_hash

NODE_LEVEL = 4  # perfect subtrees of 16 leaves and up are cached in audit_nodes
_CHUNK = 50_000


def append(conn: Connection, rows: Iterable[tuple[int, str, bytes]], store: Store | None = None) -> int:
    """Insert entries ``(id, kind, entry bytes)`` in a writer's transaction; return how many.

    With ``store`` (whose :meth:`Store.write` opened ``conn``), their leaf hashes go to this
    process's sequencer in memory when the transaction commits, saving it a read.
    """
    batch = rows if isinstance(rows, list) else list(rows)
    insert_rows(conn, t.audit_log, _LOG_COLUMNS, batch)
    if store is not None:
        store.stash_leaves(conn, [r[0] for r in batch], [leaf_hash(r[2]) for r in batch])
    return len(batch)


def append_entries(conn: Connection, ids: list[int], kind: str, entries: list[bytes],
                   store: Store | None = None) -> int:
    """:func:`append` of entries of one ``kind``, given as parallel lists (the hot path's form)."""
    if len(ids) != len(entries):
        raise ValueError(f"{len(ids)} ids for {len(entries)} entries")
    insert_rows(conn, t.audit_log, _LOG_COLUMNS, list(zip(ids, itertools.repeat(kind), entries)))
    if store is not None:
        store.stash_leaves(conn, list(ids), [leaf_hash(e) for e in entries])
    return len(ids)


_LOG_COLUMNS = ("id", "kind", "entry")


def _now_ms() -> int:
    return time.time_ns() // 1_000_000


@dataclass(frozen=True)
class Policy:
    """When to sign: every ``entries`` new leaves, every ``seconds``, and on close."""

    entries: int = 10_000
    seconds: int = 60

    def __post_init__(self) -> None:
        if self.entries < 1 or self.seconds < 0:
            raise ValueError("checkpoint policy: every_entries must be >= 1 and every_seconds >= 0")


@dataclass(frozen=True)
class Integrated:
    """What one sequencer step did."""

    tree_size: int
    added: int
    checkpoints: tuple[Checkpoint, ...]


class Sequencer:
    """Integrates pending entries into the tree and signs checkpoints (one at a time, by lock)."""

    def __init__(self, store: Store, key: Ed25519PrivateKey, policy: Policy = Policy(),
                 origin: str = DEFAULT_ORIGIN, clock: Callable[[], int] = _now_ms) -> None:
        self.store, self.key, self.policy, self.origin, self.clock = store, key, policy, origin, clock

    def integrate(self, close: bool = False) -> Integrated:
        """Sequence every committed entry; with ``close``, sign a checkpoint if the tree grew.

        Never call it inside a writer's transaction: on PostgreSQL it waits for every
        writer in flight to commit, that one included.
        """
        store = self.store
        with store.sequencing() as conn:
            high = store.committed_high_water(conn)
            st = conn.execute(sa.select(t.audit_state).where(t.audit_state.c.id == 1)).one()
            nodes: list[tuple[int, int, bytes]] = []
            acc = MerkleAccumulator.from_bytes(
                st.compact, lambda lvl, i, h: nodes.append((lvl, i, h)) if lvl >= NODE_LEVEL else None)
            cp_size, cp_ms = int(st.checkpoint_size), int(st.checkpoint_ms)
            signed: list[Checkpoint] = []
            last_id, runs = int(st.last_id), list[dict[str, int]]()
            for ids, leaves in _pending(store, conn, last_id, high):
                _extend_runs(runs, ids, acc.size, last_id)
                done = 0
                while done < len(leaves):  # up to the next checkpoint boundary, then sign
                    step = min(len(leaves) - done, self.policy.entries - (acc.size - cp_size))
                    acc.extend(leaves[done:done + step])
                    done += step
                    if acc.size - cp_size >= self.policy.entries:
                        signed.append(self._sign(acc, cp_ms))
                        cp_size, cp_ms = acc.size, signed[-1].timestamp_ms
                last_id = ids[-1]
            if acc.size > cp_size and (close or self.clock() - cp_ms >= self.policy.seconds * 1000):
                signed.append(self._sign(acc, cp_ms))
                cp_size, cp_ms = acc.size, signed[-1].timestamp_ms
            added = acc.size - int(st.tree_size)
            if added == 0 and not signed:
                return Integrated(acc.size, 0, ())
            _save(conn, acc, last_id, runs, nodes, signed, cp_size, cp_ms)
        return Integrated(acc.size, added, tuple(signed))

    def _sign(self, acc: MerkleAccumulator, last_ms: int) -> Checkpoint:
        return sign_checkpoint(self.key, acc.size, acc.root(), origin=self.origin,
                               timestamp=max(self.clock(), last_ms))


def _pending(store: Store, conn: Connection, last_id: int, high: int) -> Iterator[tuple[list[int], list[bytes]]]:
    """Pending ``(ids, leaf hashes)`` in id order, in chunks; hashes this process wrote come from memory."""
    mark = placeholder(conn)
    cursor = conn.connection.dbapi_connection.cursor()  # type: ignore[union-attr]
    try:
        mine, hashes = store.handoff.take(last_id, high)
        if mine:  # all written by this process? then a count proves it, and no id list is read
            cursor.execute(f"SELECT count(*) FROM audit_log WHERE id > {mark} AND id <= {mark}", (last_id, high))
            row = cursor.fetchone()
            if row is not None and int(row[0]) == len(mine):
                yield mine, hashes
                return
        known = dict(zip(mine, hashes))
        by_id = f"SELECT id FROM audit_log WHERE id > {mark} AND id <= {mark} ORDER BY id LIMIT {_CHUNK}"
        while last_id < high:
            cursor.execute(by_id, (last_id, high))
            ids = [int(r[0]) for r in cursor.fetchall()]
            if not ids:
                return
            missing = [i for i in ids if i not in known]
            if missing:
                known.update(_read_leaves(conn, missing))
            yield ids, [known.pop(i) for i in ids]
            last_id = ids[-1]
    finally:
        cursor.close()


def _read_leaves(conn: Connection, ids: list[int]) -> dict[int, bytes]:
    log = t.audit_log
    rows = conn.execute(sa.select(log.c.id, log.c.entry).where(log.c.id.between(ids[0], ids[-1])))
    wanted = set(ids)
    return {int(i): leaf_hash(bytes(e)) for i, e in rows if i in wanted}


def _extend_runs(runs: list[dict[str, int]], ids: list[int], first_leaf: int, last_id: int) -> None:
    """Record the stretches of consecutive ids of ``ids`` (which follow ``last_id``) as runs."""
    if ids[-1] - ids[0] == len(ids) - 1:  # the common case: no gap inside the chunk
        breaks = [0]
    else:
        breaks = [0] + [k for k in range(1, len(ids)) if ids[k] != ids[k - 1] + 1]
    if runs and ids[0] == last_id + 1:  # continues the previous chunk's run
        runs[-1]["count"] += (breaks[1] if len(breaks) > 1 else len(ids))
        breaks = breaks[1:]
    for j, k in enumerate(breaks):
        end = breaks[j + 1] if j + 1 < len(breaks) else len(ids)
        runs.append({"first_leaf": first_leaf + k, "first_id": ids[k], "count": end - k})


def _save(conn: Connection, acc: MerkleAccumulator, last_id: int, runs: list[dict[str, int]],
          nodes: list[tuple[int, int, bytes]], signed: list[Checkpoint], cp_size: int, cp_ms: int) -> None:
    if runs:
        conn.execute(t.audit_runs.insert(), runs)
    insert_rows(conn, t.audit_nodes, ("level", "idx", "hash"), nodes)
    if signed:  # numbered 1, 2, ... under the sequencer's lock: a gap is a deleted checkpoint
        top = int(conn.execute(sa.select(sa.func.coalesce(sa.func.max(t.checkpoints.c.id), 0))).scalar_one())
        conn.execute(t.checkpoints.insert(), [
            {"id": top + k, "origin": c.origin, "tree_size": c.tree_size, "root_hash": c.root_hash,
             "timestamp_ms": c.timestamp_ms, "key_id": c.key_id, "signature": c.signature}
            for k, c in enumerate(signed, 1)])
    conn.execute(t.audit_state.update().where(t.audit_state.c.id == 1).values(
        tree_size=acc.size, last_id=last_id, compact=acc.to_bytes(),
        checkpoint_size=cp_size, checkpoint_ms=cp_ms))


# --- reading the log back: leaf numbers, checkpoints, proofs

def checkpoint_of(row: sa.Row[tuple[object, ...]]) -> Checkpoint:
    m = row._mapping
    return Checkpoint(str(m["origin"]), int(m["tree_size"]), bytes(m["root_hash"]), int(m["timestamp_ms"]),
                      str(m["key_id"]), bytes(m["signature"]))


def latest_checkpoint(conn: Connection) -> Checkpoint | None:
    row = conn.execute(sa.select(t.checkpoints).order_by(t.checkpoints.c.tree_size.desc(),
                                                         t.checkpoints.c.id.desc()).limit(1)).first()
    return checkpoint_of(row) if row is not None else None


def all_checkpoints(conn: Connection) -> list[tuple[int, Checkpoint]]:
    rows = conn.execute(sa.select(t.checkpoints).order_by(t.checkpoints.c.id)).all()
    return [(int(r.id), checkpoint_of(r)) for r in rows]


def leaf_numbers(conn: Connection, entry_ids: Sequence[int]) -> dict[int, int]:
    """Leaf index of each sequenced entry id (pending ids are left out)."""
    if not entry_ids:
        return {}
    runs, lo, hi = t.audit_runs, min(entry_ids), max(entry_ids)
    start = sa.select(sa.func.max(runs.c.first_id)).where(runs.c.first_id <= lo).scalar_subquery()
    found = [tuple(int(v) for v in r) for r in conn.execute(
        sa.select(runs.c.first_id, runs.c.first_leaf, runs.c.count)
        .where(runs.c.first_id >= sa.func.coalesce(start, 0), runs.c.first_id <= hi).order_by(runs.c.first_id))]
    starts, out = [r[0] for r in found], {}
    for entry_id in entry_ids:
        k = bisect.bisect_right(starts, entry_id) - 1
        if k >= 0 and entry_id < found[k][0] + found[k][2]:
            out[entry_id] = found[k][1] + entry_id - found[k][0]
    return out


def entry_ids(conn: Connection, lo: int, hi: int) -> list[int]:
    """Entry ids of the leaves ``[lo, hi)``, in leaf order."""
    runs, out = t.audit_runs, list[int]()
    found = conn.execute(sa.select(runs.c.first_leaf, runs.c.first_id, runs.c.count)
                         .where(runs.c.first_leaf < hi, runs.c.first_leaf + runs.c.count > lo)
                         .order_by(runs.c.first_leaf)).all()
    for first_leaf, first_id, count in found:
        a, b = max(lo, first_leaf), min(hi, first_leaf + count)
        out.extend(range(first_id + a - first_leaf, first_id + b - first_leaf))
    return out


class StoredNodes(MutableMapping[tuple[int, int], bytes]):
    """The ``audit_nodes`` cache as a mapping, read on demand; what is computed stays in memory."""

    def __init__(self, conn: Connection) -> None:
        self.conn, self.local = conn, dict[tuple[int, int], bytes]()

    def __getitem__(self, key: tuple[int, int]) -> bytes:
        if key in self.local:
            return self.local[key]
        if key[0] < NODE_LEVEL:
            raise KeyError(key)
        n = t.audit_nodes
        h = self.conn.execute(sa.select(n.c.hash).where(n.c.level == key[0], n.c.idx == key[1])).scalar()
        if h is None:
            raise KeyError(key)
        return bytes(h)

    def __setitem__(self, key: tuple[int, int], value: bytes) -> None:
        self.local[key] = value

    def __delitem__(self, key: tuple[int, int]) -> None:
        del self.local[key]

    def __iter__(self) -> Iterator[tuple[int, int]]:
        return iter(self.local)

    def __len__(self) -> int:
        return len(self.local)


def leaf_hashes(conn: Connection, lo: int, hi: int) -> list[bytes]:
    """Leaf hashes of the leaves ``[lo, hi)``, from the stored entries."""
    ids = entry_ids(conn, lo, hi)
    if not ids:
        return []
    by_id = _read_leaves(conn, ids)
    return [by_id[i] for i in ids if i in by_id]


def hasher(conn: Connection) -> SubtreeHasher:
    """Range hashes of the stored tree, from cached subtrees and stored leaf hashes."""
    return SubtreeHasher(lambda lo, hi: leaf_hashes(conn, lo, hi), StoredNodes(conn), NODE_LEVEL)


def prove_inclusion(conn: Connection, index: int, size: int) -> list[bytes]:
    return inclusion_proof(index, size, hasher(conn))


def prove_consistency(conn: Connection, first: int, second: int) -> list[bytes]:
    return consistency_proof(first, second, hasher(conn))


def stored_runs(conn: Connection) -> list[tuple[int, int, int]]:
    """``(first_leaf, first_id, count)`` of every run, by leaf."""
    r = t.audit_runs
    return [(int(a), int(b), int(c)) for a, b, c in conn.execute(
        sa.select(r.c.first_leaf, r.c.first_id, r.c.count).order_by(r.c.first_leaf))]


def rebuild_nodes(store: Store) -> tuple[int, int]:
    """Recompute the ``audit_nodes`` cache from the stored entries; return (nodes written, nodes that differed).

    Runs under the sequencer's lock. The cache only speeds proofs up; ``audit verify``
    still compares the leaves with the signed checkpoints, so this repairs a lost or
    damaged cache, never a changed leaf.
    """
    with store.sequencing() as conn:
        size = int(conn.execute(sa.select(t.audit_state.c.tree_size)).scalar_one())
        nodes: dict[tuple[int, int], bytes] = {}
        acc = MerkleAccumulator(lambda lvl, i, h: nodes.__setitem__((lvl, i), h) if lvl >= NODE_LEVEL else None)
        for lo in range(0, size, _CHUNK):
            acc.extend(leaf_hashes(conn, lo, min(size, lo + _CHUNK)))
        old = {(int(lv), int(ix)): bytes(h) for lv, ix, h in conn.execute(sa.select(t.audit_nodes))}
        differing = sum(1 for k in set(old) | set(nodes) if old.get(k) != nodes.get(k))
        conn.execute(t.audit_nodes.delete())
        insert_rows(conn, t.audit_nodes, ("level", "idx", "hash"),
                    [(lv, ix, h) for (lv, ix), h in sorted(nodes.items())])
    return len(nodes), differing


def root_at(conn: Connection, size: int) -> bytes:
    """The root of the first ``size`` leaves, from the stored tree."""
    from greenshield.translog.merkle import EMPTY_ROOT

    return hasher(conn)(0, size) if size else EMPTY_ROOT
