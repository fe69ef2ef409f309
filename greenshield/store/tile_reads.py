"""Reading tiles and entry bundles out of the store, without rehashing the log.

A level-0 tile reads its (at most) 256 entries and hashes them; a tile of level L >= 1
holds perfect subtree hashes of tree level 8L, which the sequencer keeps in
``audit_nodes`` (every level >= NODE_LEVEL): one indexed range read. A hash missing
from that cache (lost, or being rebuilt) is computed from the levels below it.
"""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from greenshield.store import schema as t
from greenshield.store.audit_log import NODE_LEVEL, entry_ids, hasher, leaf_hashes
from greenshield.translog.tiles import Tile


def tile_hashes(conn: Connection, tile: Tile) -> bytes:
    """The concatenated hashes of a hash tile (the caller checks that it lies within the tree)."""
    lo, hi = tile.first, tile.first + tile.width
    if tile.tree_level < NODE_LEVEL:
        return b"".join(leaf_hashes(conn, *tile.leaves()))
    n = t.audit_nodes
    rows = conn.execute(sa.select(n.c.idx, n.c.hash)
                        .where(n.c.level == tile.tree_level, n.c.idx >= lo, n.c.idx < hi))
    found = {int(i): bytes(h) for i, h in rows}
    if len(found) < tile.width:
        compute = hasher(conn)
        for i in range(lo, hi):
            if i not in found:
                found[i] = compute.perfect(tile.tree_level, i)
    return b"".join(found[i] for i in range(lo, hi))


def leaf_entries(conn: Connection, lo: int, hi: int) -> list[bytes]:
    """The entries (leaf data) of the leaves ``[lo, hi)``, in leaf order."""
    ids = entry_ids(conn, lo, hi)
    if not ids:
        return []
    log = t.audit_log
    rows = conn.execute(sa.select(log.c.id, log.c.entry).where(log.c.id.between(ids[0], ids[-1])))
    by_id = {int(i): bytes(e) for i, e in rows}
    return [by_id[i] for i in ids if i in by_id]
