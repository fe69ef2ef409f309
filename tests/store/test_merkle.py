"""Merkle tree hashing, the accumulator, and proof generation (RFC 6962 / RFC 9162)."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from greenshield.translog.merkle import (
    EMPTY_ROOT,
    CompactRange,
    MerkleAccumulator,
    SubtreeHasher,
    consistency_proof,
    inclusion_proof,
    leaf_hash,
    node_hash,
    root,
)
from greenshield.translog.proofs import ProofError, verify_consistency, verify_inclusion

# transparency-dev/merkle testonly/constants.go: leaf inputs, and roots for sizes 0..8
LEAVES = [bytes.fromhex(h) for h in ("", "00", "10", "2021", "3031", "40414243", "5051525354555657",
                                      "606162636465666768696a6b6c6d6e6f")]
KNOWN_ROOTS = [bytes.fromhex(h) for h in (
    "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
    "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
    "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
    "aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
    "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
    "4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
    "76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
    "ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
    "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328",
)]
KNOWN_LEAF_HASHES = [leaf_hash(d) for d in LEAVES]

# a bigger tree of distinct leaves for the properties, with the root of every prefix
N = 1100
HASHES = [leaf_hash(i.to_bytes(4, "big")) for i in range(N)]
HASHER = SubtreeHasher(HASHES)
_acc = MerkleAccumulator()
ROOTS = [_acc.root()]
for _h in HASHES:
    _acc.append(_h)
    ROOTS.append(_acc.root())


def ref_mth(d: Sequence[bytes]) -> bytes:
    """MTH of RFC 9162 §2.1.1, written recursively as in the RFC."""
    if not d:
        return hashlib.sha256(b"").digest()
    if len(d) == 1:
        return d[0]
    k = 1 << ((len(d) - 1).bit_length() - 1)
    return node_hash(ref_mth(d[:k]), ref_mth(d[k:]))


def ref_path(m: int, d: Sequence[bytes]) -> list[bytes]:
    """PATH(m, D[n]) of RFC 9162 §2.1.3.1."""
    if len(d) == 1:
        return []
    k = 1 << ((len(d) - 1).bit_length() - 1)
    if m < k:
        return ref_path(m, d[:k]) + [ref_mth(d[k:])]
    return ref_path(m - k, d[k:]) + [ref_mth(d[:k])]


def ref_subproof(m: int, d: Sequence[bytes], b: bool) -> list[bytes]:
    """SUBPROOF(m, D[n], b) of RFC 9162 §2.1.4.1."""
    if m == len(d):
        return [] if b else [ref_mth(d)]
    k = 1 << ((len(d) - 1).bit_length() - 1)
    if m <= k:
        return ref_subproof(m, d[:k], b) + [ref_mth(d[k:])]
    return ref_subproof(m - k, d[k:], False) + [ref_mth(d[:k])]


def flip(h: bytes, bit: int) -> bytes:
    """Return ``h`` with one bit inverted."""
    b = bytearray(h)
    b[bit // 8 % len(b)] ^= 1 << (bit % 8)
    return bytes(b)


@st.composite
def size_and_index(draw: st.DrawFn) -> tuple[int, int]:
    size = draw(st.integers(1, N))
    return size, draw(st.integers(0, size - 1))


@st.composite
def two_sizes(draw: st.DrawFn) -> tuple[int, int]:
    size2 = draw(st.integers(2, N))
    return draw(st.integers(1, size2 - 1)), size2


class TestHashing:
    """Leaf and node hashing follow RFC 6962 §2.1."""

    def test_leaf_hash(self) -> None:
        """A leaf hash is SHA-256 of 0x00 and the data."""
        assert leaf_hash(b"abc") == hashlib.sha256(b"\x00abc").digest()

    def test_node_hash(self) -> None:
        """A node hash is SHA-256 of 0x01 and both children."""
        left, right = b"L" * 32, b"R" * 32
        assert node_hash(left, right) == hashlib.sha256(b"\x01" + left + right).digest()

    def test_empty_root(self) -> None:
        """The empty tree's root is SHA-256 of nothing."""
        assert root([]) == EMPTY_ROOT == hashlib.sha256(b"").digest()

    def test_wrong_length_leaf_rejected(self) -> None:
        """A leaf hash that is not 32 bytes cannot enter a tree."""
        with pytest.raises(ValueError):
            root([b"short"])


class TestKnownRoots:
    """The 8-leaf tree of the RFC 6962 test vectors has the published roots."""

    @pytest.mark.parametrize("size", range(9))
    def test_root_of_size(self, size: int) -> None:
        """Batch root, accumulator and RFC reference agree with the known root of each size."""
        acc = MerkleAccumulator()
        acc.extend(KNOWN_LEAF_HASHES[:size])
        assert root(KNOWN_LEAF_HASHES[:size]) == KNOWN_ROOTS[size]
        assert acc.root() == KNOWN_ROOTS[size]
        assert ref_mth(KNOWN_LEAF_HASHES[:size]) == KNOWN_ROOTS[size]

    def test_compact_range_hashes(self) -> None:
        """The accumulator of 7 leaves holds the perfect subtrees [0,4), [4,6), [6,7)."""
        acc = CompactRange()
        acc.extend(KNOWN_LEAF_HASHES[:7])
        h = SubtreeHasher(KNOWN_LEAF_HASHES)
        assert acc.hashes == (h.perfect(2, 0), h.perfect(1, 2), h.perfect(0, 6))


class TestAccumulator:
    """The incremental appender matches batch hashing and survives serialisation."""

    def test_matches_batch_root_every_size(self) -> None:
        """For every size 0..200 the incremental root equals the batch and RFC reference roots."""
        acc = MerkleAccumulator()
        for size in range(201):
            assert acc.size == size
            assert acc.root() == root(HASHES[:size]) == ref_mth(HASHES[:size])
            assert len(acc.hashes) == bin(size).count("1")
            acc.append(HASHES[size])

    def test_bytes_round_trip_then_continue(self) -> None:
        """A state saved as bytes and restored continues exactly like the original, at every size 0..200."""
        acc = MerkleAccumulator()
        for size in range(201):
            restored = MerkleAccumulator.from_bytes(acc.to_bytes())
            assert (restored.size, restored.hashes, restored.root()) == (acc.size, acc.hashes, acc.root())
            restored.extend(HASHES[size : size + 5])
            assert restored.root() == ROOTS[size + 5]
            acc.append(HASHES[size])

    def test_dict_round_trip(self) -> None:
        """The JSON-friendly state restores the same accumulator."""
        acc = MerkleAccumulator()
        acc.extend(HASHES[:77])
        restored = MerkleAccumulator.from_dict(acc.to_dict())
        assert restored.root() == acc.root() == ROOTS[77]
        restored.append(HASHES[77])
        assert restored.root() == ROOTS[78]

    @pytest.mark.parametrize("state", [
        b"",
        (3).to_bytes(8, "big") + b"\x00" * 32,
        (4).to_bytes(8, "big") + b"\x00" * 64,
        (1).to_bytes(8, "big") + b"\x00" * 31,
    ], ids=["empty", "too-few-hashes", "too-many-hashes", "short-hash"])
    def test_malformed_state_rejected(self, state: bytes) -> None:
        """A saved state whose hash count or lengths do not fit its size is refused."""
        with pytest.raises(ValueError):
            MerkleAccumulator.from_bytes(state)

    def test_wrong_leaf_length_rejected(self) -> None:
        """Appending something that is not a 32-byte hash fails and leaves the tree unchanged."""
        acc = MerkleAccumulator()
        with pytest.raises(ValueError):
            acc.append(b"x" * 31)
        assert acc.size == 0

    def test_copy_is_independent(self) -> None:
        """Appending to a copy does not change the original."""
        acc = MerkleAccumulator()
        acc.extend(HASHES[:10])
        other = acc.copy()
        other.append(HASHES[10])
        assert acc.root() == ROOTS[10] and other.root() == ROOTS[11]

    def test_on_node_reports_every_perfect_subtree(self) -> None:
        """The node callback reports each completed perfect subtree with its (level, index) and hash."""
        seen: dict[tuple[int, int], bytes] = {}
        acc = MerkleAccumulator(on_node=lambda level, index, h: seen.__setitem__((level, index), h))
        acc.extend(HASHES[:100])
        expected = {(lv, i) for lv in range(1, 7) for i in range(100 >> lv)}
        assert set(seen) == expected
        assert all(h == HASHER.perfect(lv, i) for (lv, i), h in seen.items())


class TestProofGeneration:
    """Generated proofs are exactly RFC 9162's PATH and PROOF."""

    def test_inclusion_matches_rfc_definition(self) -> None:
        """For every size up to 40 and every index, the proof equals the recursive PATH."""
        for size in range(1, 41):
            for index in range(size):
                assert inclusion_proof(index, size, HASHER) == ref_path(index, HASHES[:size])

    def test_consistency_matches_rfc_definition(self) -> None:
        """For every 0 < m < n <= 40, the proof equals the recursive PROOF."""
        for size2 in range(2, 41):
            for size1 in range(1, size2):
                proof = consistency_proof(size1, size2, HASHER)
                assert proof == ref_subproof(size1, HASHES[:size2], True)

    def test_trivial_consistency_is_empty(self) -> None:
        """No proof is produced from the empty tree or between equal sizes."""
        assert consistency_proof(0, 5, HASHES) == []
        assert consistency_proof(5, 5, HASHES) == []

    @pytest.mark.parametrize("index,size", [(0, 0), (5, 5), (-1, 3), (0, 2**64)])
    def test_bad_inclusion_arguments(self, index: int, size: int) -> None:
        """An index outside [0, size) or a size beyond uint64 is refused."""
        with pytest.raises(ValueError):
            inclusion_proof(index, size, HASHES)

    @pytest.mark.parametrize("size1,size2", [(3, 2), (-1, 2)])
    def test_bad_consistency_arguments(self, size1: int, size2: int) -> None:
        """A first size that is negative or above the second is refused."""
        with pytest.raises(ValueError):
            consistency_proof(size1, size2, HASHES)

    def test_list_and_hasher_agree(self) -> None:
        """A plain list of leaf hashes gives the same proofs as a shared SubtreeHasher."""
        assert inclusion_proof(500, 1000, HASHES) == inclusion_proof(500, 1000, HASHER)
        assert consistency_proof(333, 1000, HASHES) == consistency_proof(333, 1000, HASHER)

    def test_seeded_cache_avoids_rehashing(self) -> None:
        """With perfect subtrees cached from the accumulator, a proof fetches at most one leaf."""
        cache: dict[tuple[int, int], bytes] = {}
        acc = MerkleAccumulator(on_node=lambda level, index, h: cache.__setitem__((level, index), h))
        acc.extend(HASHES)
        fetched: list[int] = []

        def fetch(lo: int, hi: int) -> Sequence[bytes]:
            fetched.append(hi - lo)
            return HASHES[lo:hi]

        hasher = SubtreeHasher(fetch, cache)
        proof = inclusion_proof(777, N, hasher)
        verify_inclusion(777, N, HASHES[777], proof, acc.root())
        assert sum(fetched) <= 1

    def test_leaf_source_short_read_rejected(self) -> None:
        """A leaf source that returns too few hashes is an error, not a wrong hash."""
        with pytest.raises(ValueError):
            SubtreeHasher(HASHES[:10])(0, 16)


class TestInclusionProperties:
    """Generated inclusion proofs verify, and every tampering is rejected."""

    @settings(deadline=None)
    @given(size_and_index())
    def test_generated_proof_verifies(self, si: tuple[int, int]) -> None:
        """A generated proof verifies against the honest root."""
        size, index = si
        verify_inclusion(index, size, HASHES[index], inclusion_proof(index, size, HASHER), ROOTS[size])

    @settings(deadline=None)
    @given(size_and_index(), st.integers(0, 10**6), st.sampled_from(["proof", "leaf", "root"]))
    def test_bit_flip_rejected(self, si: tuple[int, int], bit: int, where: str) -> None:
        """Flipping any single bit of the proof, the leaf hash or the root makes verification fail."""
        size, index = si
        proof, leaf, rt = inclusion_proof(index, size, HASHER), HASHES[index], ROOTS[size]
        if where == "proof" and proof:
            i = bit % len(proof)
            proof[i] = flip(proof[i], bit // len(proof))
        elif where == "root":
            rt = flip(rt, bit)
        else:
            leaf = flip(leaf, bit)
        with pytest.raises(ProofError):
            verify_inclusion(index, size, leaf, proof, rt)

    @settings(deadline=None)
    @given(size_and_index(), st.integers(0, N + 10))
    def test_wrong_index_rejected(self, si: tuple[int, int], other: int) -> None:
        """The proof of a leaf does not verify for any other index."""
        size, index = si
        if other == index:
            other = index + 1
        with pytest.raises(ProofError):
            verify_inclusion(other, size, HASHES[index], inclusion_proof(index, size, HASHER), ROOTS[size])

    @settings(deadline=None)
    @given(size_and_index(), st.integers(1, N))
    def test_wrong_size_rejected(self, si: tuple[int, int], other: int) -> None:
        """The proof for one tree size does not verify as the proof for another size with that size's root."""
        size, index = si
        if other == size:
            other = size + 1 if size < N else size - 1
        with pytest.raises(ProofError):
            verify_inclusion(index, other, HASHES[index], inclusion_proof(index, size, HASHER), ROOTS[other])

    @settings(deadline=None)
    @given(size_and_index(), st.sampled_from(["drop-first", "drop-last", "prepend", "append", "duplicate"]))
    def test_truncated_or_padded_rejected(self, si: tuple[int, int], how: str) -> None:
        """Removing, adding or repeating a proof element makes verification fail."""
        size, index = si
        proof = inclusion_proof(index, size, HASHER)
        extra = HASHES[(index + 1) % N]
        if how.startswith("drop") and not proof:
            how = "append"
        changed = {
            "drop-first": proof[1:], "drop-last": proof[:-1], "prepend": [extra, *proof],
            "append": [*proof, extra], "duplicate": [*proof, *proof[-1:]] if proof else [ROOTS[size]],
        }[how]
        with pytest.raises(ProofError):
            verify_inclusion(index, size, HASHES[index], changed, ROOTS[size])

    @settings(deadline=None)
    @given(size_and_index(), st.integers(0, N - 1))
    def test_lying_store_rejected(self, si: tuple[int, int], altered: int) -> None:
        """A proof made from a tree with one altered leaf fails against the honest root."""
        size, index = si
        altered %= size
        forged = list(HASHES[:size])
        forged[altered] = leaf_hash(b"forged entry")
        with pytest.raises(ProofError):
            verify_inclusion(index, size, forged[index], inclusion_proof(index, size, forged), ROOTS[size])


class TestConsistencyProperties:
    """Generated consistency proofs verify, and every tampering is rejected."""

    @settings(deadline=None)
    @given(two_sizes())
    def test_generated_proof_verifies(self, sizes: tuple[int, int]) -> None:
        """A generated proof verifies against the honest roots."""
        m, n = sizes
        verify_consistency(m, n, ROOTS[m], ROOTS[n], consistency_proof(m, n, HASHER))

    @settings(deadline=None)
    @given(two_sizes(), st.integers(0, 10**6), st.sampled_from(["proof", "root1", "root2"]))
    def test_bit_flip_rejected(self, sizes: tuple[int, int], bit: int, where: str) -> None:
        """Flipping any single bit of the proof or of either root makes verification fail."""
        m, n = sizes
        proof, r1, r2 = consistency_proof(m, n, HASHER), ROOTS[m], ROOTS[n]
        if where == "proof":
            i = bit % len(proof)
            proof[i] = flip(proof[i], bit // len(proof))
        elif where == "root1":
            r1 = flip(r1, bit)
        else:
            r2 = flip(r2, bit)
        with pytest.raises(ProofError):
            verify_consistency(m, n, r1, r2, proof)

    @settings(deadline=None)
    @given(two_sizes(), st.integers(1, N), st.booleans())
    def test_wrong_size_rejected(self, sizes: tuple[int, int], other: int, first: bool) -> None:
        """The proof between two sizes does not verify for another first or second size (with its root)."""
        m, n = sizes
        proof = consistency_proof(m, n, HASHER)
        m2, n2 = (other, n) if first else (m, other)
        if (m2, n2) == (m, n):
            return
        with pytest.raises(ProofError):
            verify_consistency(m2, n2, ROOTS[m2], ROOTS[n2], proof)

    @settings(deadline=None)
    @given(two_sizes(), st.sampled_from(["drop-first", "drop-last", "prepend", "append", "empty"]))
    def test_truncated_or_padded_rejected(self, sizes: tuple[int, int], how: str) -> None:
        """Removing or adding proof elements makes verification fail."""
        m, n = sizes
        proof = consistency_proof(m, n, HASHER)
        changed = {
            "drop-first": proof[1:], "drop-last": proof[:-1], "prepend": [ROOTS[m], *proof],
            "append": [*proof, ROOTS[n]], "empty": [],
        }[how]
        with pytest.raises(ProofError):
            verify_consistency(m, n, ROOTS[m], ROOTS[n], changed)

    @settings(deadline=None)
    @given(two_sizes(), st.integers(0, N - 1))
    def test_lying_store_rejected(self, sizes: tuple[int, int], altered: int) -> None:
        """A proof made from a history with one altered leaf fails against the honest roots."""
        m, n = sizes
        forged = list(HASHES[:n])
        forged[altered % n] = leaf_hash(b"rewritten history")
        lie = consistency_proof(m, n, forged)
        if lie == consistency_proof(m, n, HASHER):
            # not a lie: for m a power of two the proof holds no node under the first root,
            # so a change there leaves the proof identical to the honest one
            assert altered % n < m and m & (m - 1) == 0
            return
        with pytest.raises(ProofError):
            verify_consistency(m, n, ROOTS[m], ROOTS[n], lie)
