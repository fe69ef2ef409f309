"""RFC 6962 / RFC 9162 Merkle trees for the audit log: hashing, an O(log n) appender, proofs.

Pure and I/O-free; SHA-256 leaf and node hashes, perfect subtrees by ``(level, index)``
(cacheable forever, :class:`SubtreeHasher`), and proof generation per RFC 9162 §2.1.3.1
and §2.1.4.1. Details: docs/adr/0010-audit-log-forms.md.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable, MutableMapping, Sequence

HASH_SIZE = 32
EMPTY_ROOT = hashlib.sha256(b"").digest()
MAX_SIZE = (1 << 64) - 1  # sizes and indices are uint64, as in RFC 9162

RangeHash = Callable[[int, int], bytes]
"""``f(lo, hi)`` returns MTH of the leaves ``[lo, hi)`` (``0 <= lo < hi``)."""
LeafSource = Sequence[bytes] | Callable[[int, int], Sequence[bytes]]
"""Leaf hashes: a sequence, or ``f(lo, hi)`` returning the leaf hashes ``[lo, hi)``."""
NodeCache = MutableMapping[tuple[int, int], bytes]
"""Perfect subtree hashes keyed by ``(level, index)``."""
NodeCallback = Callable[[int, int, bytes], None]
"""``f(level, index, hash)``, called for each perfect subtree (level >= 1) completed."""

_sha256 = hashlib.sha256


def leaf_hash(data: bytes) -> bytes:
    """Return the RFC 6962 hash of a leaf: SHA-256(0x00 || data)."""
    return _sha256(b"\x00" + data).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    """Return the RFC 6962 hash of an interior node: SHA-256(0x01 || left || right)."""
    return _sha256(b"\x01" + left + right).digest()


def _check_hash(h: bytes) -> None:
    if len(h) != HASH_SIZE:
        raise ValueError(f"a hash must be {HASH_SIZE} bytes, got {len(h)}")


def _split(n: int) -> int:
    """Largest power of two strictly below ``n`` (``n >= 2``)."""
    return 1 << ((n - 1).bit_length() - 1)


def root(leaf_hashes: Sequence[bytes]) -> bytes:
    """Return the root hash (MTH) of a tree with the given leaf hashes, level by level."""
    level = list(leaf_hashes)
    if not level:
        return EMPTY_ROOT
    for h in level:
        _check_hash(h)
    while len(level) > 1:
        nxt = [_sha256(b"\x01" + level[i] + level[i + 1]).digest() for i in range(0, len(level) - 1, 2)]
        if len(level) & 1:
            nxt.append(level[-1])  # an odd last node moves up unchanged (RFC split rule)
        level = nxt
    return level[0]


class MerkleAccumulator:
    """An append-only Merkle tree that keeps only the hashes of its right edge (a compact range).

    It holds one hash per set bit of ``size``: the roots of the perfect subtrees that
    make up the tree, largest (leftmost) first. Appending costs one hash amortised.
    """

    __slots__ = ("_size", "_hashes", "_on_node")

    def __init__(self, on_node: NodeCallback | None = None) -> None:
        self._size = 0
        self._hashes: list[bytes] = []
        self._on_node = on_node

    @property
    def size(self) -> int:
        """Number of leaves appended so far."""
        return self._size

    @property
    def hashes(self) -> tuple[bytes, ...]:
        """Roots of the perfect subtrees of the right edge, largest first."""
        return tuple(self._hashes)

    def append(self, leaf_hash: bytes) -> None:
        """Append one leaf hash (32 bytes)."""
        if len(leaf_hash) != HASH_SIZE:
            raise ValueError(f"a leaf hash must be {HASH_SIZE} bytes, got {len(leaf_hash)}")
        n = self._size
        if n >= MAX_SIZE:
            raise OverflowError("the tree is full")
        h, hashes = leaf_hash, self._hashes
        if self._on_node is None:
            while n & 1:
                h = _sha256(b"\x01" + hashes.pop() + h).digest()
                n >>= 1
        else:
            level = 0
            while n & 1:
                h = _sha256(b"\x01" + hashes.pop() + h).digest()
                n >>= 1
                level += 1
                self._on_node(level, n, h)
        hashes.append(h)
        self._size += 1

    def extend(self, leaf_hashes: Iterable[bytes]) -> None:
        """Append several leaf hashes in order."""
        append = self.append
        for h in leaf_hashes:
            append(h)

    def root(self) -> bytes:
        """Return the root hash of the tree of ``size`` leaves."""
        if not self._hashes:
            return EMPTY_ROOT
        r = self._hashes[-1]
        for h in reversed(self._hashes[:-1]):
            r = _sha256(b"\x01" + h + r).digest()
        return r

    def copy(self) -> MerkleAccumulator:
        """Return an independent copy (without the node callback)."""
        return MerkleAccumulator.restore(self._size, self._hashes)

    @classmethod
    def restore(cls, size: int, hashes: Sequence[bytes], on_node: NodeCallback | None = None) -> MerkleAccumulator:
        """Rebuild an accumulator from its ``size`` and right-edge ``hashes`` (as saved)."""
        if isinstance(size, bool) or not isinstance(size, int) or not 0 <= size <= MAX_SIZE:
            raise ValueError(f"bad size {size!r}")
        if len(hashes) != size.bit_count():
            raise ValueError(f"size {size} needs {size.bit_count()} hashes, got {len(hashes)}")
        for h in hashes:
            _check_hash(h)
        acc = cls(on_node)
        acc._size, acc._hashes = size, [bytes(h) for h in hashes]
        return acc

    def to_bytes(self) -> bytes:
        """Serialise as 8-byte big-endian size followed by the right-edge hashes."""
        return self._size.to_bytes(8, "big") + b"".join(self._hashes)

    @classmethod
    def from_bytes(cls, data: bytes, on_node: NodeCallback | None = None) -> MerkleAccumulator:
        """Inverse of :meth:`to_bytes`; raises ``ValueError`` on malformed input."""
        if len(data) < 8 or (len(data) - 8) % HASH_SIZE:
            raise ValueError("malformed accumulator state")
        hashes = [data[i : i + HASH_SIZE] for i in range(8, len(data), HASH_SIZE)]
        return cls.restore(int.from_bytes(data[:8], "big"), hashes, on_node)

    def to_dict(self) -> dict[str, object]:
        """Serialise as ``{"size": int, "hashes": [lowercase hex, ...]}``."""
        return {"size": self._size, "hashes": [h.hex() for h in self._hashes]}

    @classmethod
    def from_dict(cls, doc: dict[str, object], on_node: NodeCallback | None = None) -> MerkleAccumulator:
        """Inverse of :meth:`to_dict`; raises ``ValueError`` on malformed input."""
        size, hashes = doc.get("size"), doc.get("hashes")
        if not isinstance(size, int) or not isinstance(hashes, list):
            raise ValueError("malformed accumulator state")
        if not all(isinstance(h, str) and len(h) == 2 * HASH_SIZE for h in hashes):
            raise ValueError("malformed accumulator hash")
        return cls.restore(size, [bytes.fromhex(h) for h in hashes], on_node)

    def __repr__(self) -> str:
        return f"MerkleAccumulator(size={self._size}, root={self.root().hex()})"


CompactRange = MerkleAccumulator


class SubtreeHasher:
    """Hashes of leaf ranges ``[lo, hi)``, memoising perfect subtrees in a ``(level, index)`` cache.

    ``leaves`` gives the leaf hashes. ``cache`` may be pre-filled (e.g. by a store from
    :class:`MerkleAccumulator`'s ``on_node`` callback); hashes of perfect subtrees of
    level >= ``block_level`` that had to be computed are added to it. Subtrees of up to
    ``2**block_level`` leaves are hashed from one leaf fetch. Use it as a :data:`RangeHash`.
    """

    def __init__(self, leaves: LeafSource, cache: NodeCache | None = None, block_level: int = 4) -> None:
        self._fetch: Callable[[int, int], Sequence[bytes]] = (
            leaves if callable(leaves) else (lambda lo, hi: leaves[lo:hi])
        )
        self.cache: NodeCache = {} if cache is None else cache
        self._block = block_level

    def perfect(self, level: int, index: int) -> bytes:
        """Return the hash of the perfect subtree ``(level, index)``."""
        h = self.cache.get((level, index))
        if h is not None:
            return h
        if level <= self._block:
            lo, hi = index << level, (index + 1) << level
            got = self._fetch(lo, hi)
            if len(got) != hi - lo:
                raise ValueError(f"leaf source returned {len(got)} hashes for [{lo}, {hi})")
            h = root(got)
        else:
            h = node_hash(self.perfect(level - 1, 2 * index), self.perfect(level - 1, 2 * index + 1))
        if level >= self._block:
            self.cache[(level, index)] = h
        return h

    def __call__(self, lo: int, hi: int) -> bytes:
        """Return MTH of the leaves ``[lo, hi)``."""
        n = hi - lo
        if n <= 0:
            raise ValueError(f"empty or negative range [{lo}, {hi})")
        if n & (n - 1) == 0 and lo % n == 0:
            return self.perfect(n.bit_length() - 1, lo // n)
        k = _split(n)
        return node_hash(self(lo, lo + k), self(lo + k, hi))


def _range_hash(source: RangeHash | Sequence[bytes]) -> RangeHash:
    return source if callable(source) else SubtreeHasher(source)


def inclusion_proof(index: int, size: int, source: RangeHash | Sequence[bytes]) -> list[bytes]:
    """Return the RFC 9162 inclusion proof (audit path) of leaf ``index`` in the tree of ``size``.

    ``source`` is a :data:`RangeHash` (e.g. a :class:`SubtreeHasher`) or the leaf hashes.
    The path is ordered from the leaf's sibling up to the root's child.
    """
    if not 0 <= index < size <= MAX_SIZE:
        raise ValueError(f"need 0 <= index < size, got index {index}, size {size}")
    hash_range = _range_hash(source)
    path: list[bytes] = []
    lo, hi = 0, size
    while hi - lo > 1:  # PATH(m, D[lo:hi]), descending from the root
        k = _split(hi - lo)
        if index < lo + k:
            path.append(hash_range(lo + k, hi))
            hi = lo + k
        else:
            path.append(hash_range(lo, lo + k))
            lo += k
    path.reverse()
    return path


def consistency_proof(size1: int, size2: int, source: RangeHash | Sequence[bytes]) -> list[bytes]:
    """Return the RFC 9162 consistency proof from the tree of ``size1`` to that of ``size2``.

    Empty when ``size1`` is 0 or equals ``size2`` (no proof is needed or possible).
    """
    if not 0 <= size1 <= size2 <= MAX_SIZE:
        raise ValueError(f"need 0 <= size1 <= size2, got {size1}, {size2}")
    if size1 == 0 or size1 == size2:
        return []
    hash_range = _range_hash(source)
    path: list[bytes] = []
    lo, hi, m, whole = 0, size2, size1, True  # SUBPROOF(m, D[lo:hi], whole)
    while m != hi - lo:
        k = _split(hi - lo)
        if m <= k:
            path.append(hash_range(lo + k, hi))
            hi = lo + k
        else:
            path.append(hash_range(lo, lo + k))
            lo, m, whole = lo + k, m - k, False
    if not whole:
        path.append(hash_range(lo, hi))
    path.reverse()
    return path
