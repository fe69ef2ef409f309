"""Verifiers of RFC 9162 inclusion and consistency proofs, and the project's JSON proof forms.

The verifiers hash on their own (nothing from :mod:`greenshield.translog.merkle`), so a bug
in proof generation cannot hide itself. Their edge cases and the JSON forms:
docs/adr/0010-audit-log-forms.md.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, fields
from pathlib import Path
from typing import TYPE_CHECKING, Any, Self

from greenshield.errors import TranslogError

if TYPE_CHECKING:
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

HASH_SIZE = 32
_MAX_U64 = (1 << 64) - 1
_HEX64 = re.compile(r"[0-9a-f]{64}")


class ProofError(TranslogError, ValueError):
    """A proof (or proof document) is invalid; ``reason`` says why."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def _node(left: bytes, right: bytes) -> bytes:
    return hashlib.sha256(b"\x01" + left + right).digest()


def _uint(name: str, value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= _MAX_U64:
        raise ProofError(f"{name} must be an integer in [0, 2**64), got {value!r}")
    return value


def _hashes(name: str, *hashes: bytes) -> None:
    for h in hashes:
        if not isinstance(h, bytes) or len(h) != HASH_SIZE:
            raise ProofError(f"{name} must be {HASH_SIZE}-byte hashes")


def _shift_while_even(fn: int, sn: int) -> tuple[int, int]:
    while fn and not fn & 1:
        fn, sn = fn >> 1, sn >> 1
    return fn, sn


def root_from_inclusion_proof(leaf_index: int, tree_size: int, leaf_hash: bytes, proof: Sequence[bytes]) -> bytes:
    """Return the root that ``proof`` implies for ``leaf_hash`` at ``leaf_index`` (RFC 9162 §2.1.3.2)."""
    _uint("leaf index", leaf_index)
    _uint("tree size", tree_size)
    if leaf_index >= tree_size:
        raise ProofError(f"leaf index {leaf_index} is beyond tree size {tree_size}")
    _hashes("the leaf hash", leaf_hash)
    _hashes("proof items", *proof)
    fn, sn, r = leaf_index, tree_size - 1, leaf_hash
    for p in proof:
        if sn == 0:
            raise ProofError("proof is too long")
        if fn & 1 or fn == sn:
            r = _node(p, r)
            fn, sn = _shift_while_even(fn, sn)
        else:
            r = _node(r, p)
        fn, sn = fn >> 1, sn >> 1
    if sn != 0:
        raise ProofError("proof is too short")
    return r


def verify_inclusion(leaf_index: int, tree_size: int, leaf_hash: bytes, proof: Sequence[bytes], root: bytes) -> None:
    """Check that ``leaf_hash`` is leaf ``leaf_index`` of the tree of ``tree_size`` with ``root``.

    Raises :class:`ProofError` if not. The proof does not authenticate ``tree_size`` on its
    own: a signed checkpoint binds it to the root.
    """
    calculated = root_from_inclusion_proof(leaf_index, tree_size, leaf_hash, proof)
    if not hmac.compare_digest(calculated, root):
        raise ProofError("calculated root does not match the given root")


def verify_consistency(size1: int, size2: int, root1: bytes, root2: bytes, proof: Sequence[bytes]) -> None:
    """Check that the tree of ``size2`` with ``root2`` extends that of ``size1`` with ``root1``.

    RFC 9162 §2.1.4.2; raises :class:`ProofError` if the proof is invalid.
    """
    _uint("size1", size1)
    _uint("size2", size2)
    if size2 < size1:
        raise ProofError(f"size2 ({size2}) < size1 ({size1})")
    if size1 == 0:
        raise ProofError("a consistency proof from the empty tree is meaningless")
    if size1 == size2:
        if proof:
            raise ProofError("size1 == size2, but the proof is not empty")
        if not hmac.compare_digest(root1, root2):
            raise ProofError("size1 == size2, but the roots differ")
        return
    if not proof:
        raise ProofError("empty proof")
    _hashes("roots", root1, root2)
    _hashes("proof items", *proof)
    path = [root1, *proof] if size1 & (size1 - 1) == 0 else list(proof)  # size1 a power of 2
    fn, sn = size1 - 1, size2 - 1
    while fn & 1:
        fn, sn = fn >> 1, sn >> 1
    fr = sr = path[0]
    for c in path[1:]:
        if sn == 0:
            raise ProofError("proof is too long")
        if fn & 1 or fn == sn:
            fr, sr = _node(c, fr), _node(c, sr)
            fn, sn = _shift_while_even(fn, sn)
        else:
            sr = _node(sr, c)
        fn, sn = fn >> 1, sn >> 1
    if sn != 0:
        raise ProofError("proof is too short")
    if not hmac.compare_digest(fr, root1):
        raise ProofError("calculated first root does not match root1")
    if not hmac.compare_digest(sr, root2):
        raise ProofError("calculated second root does not match root2")


def _from_json(name: str, kind: str, value: Any) -> Any:
    if kind == "int":
        return _uint(name, value)
    if kind == "bytes":
        if not isinstance(value, str) or not _HEX64.fullmatch(value):
            raise ProofError(f"{name!r} must be 64 lowercase hex characters")
        return bytes.fromhex(value)
    if kind.startswith("tuple"):
        if not isinstance(value, list):
            raise ProofError(f"{name!r} must be a list of hashes")
        return tuple(_from_json(f"{name}[{i}]", "bytes", v) for i, v in enumerate(value))
    if value is not None and not isinstance(value, dict):  # an optional checkpoint
        raise ProofError(f"{name!r} must be an object")
    return value


@dataclass(frozen=True)
class _Document:
    """JSON form of a proof dataclass: ints, hashes as hex, hash lists, optional checkpoints."""

    def to_dict(self) -> dict[str, Any]:
        """Return the JSON form (absent checkpoints are left out)."""
        values = {f.name: getattr(self, f.name) for f in fields(self)}
        return {
            k: v.hex() if isinstance(v, bytes) else [h.hex() for h in v] if isinstance(v, tuple) else v
            for k, v in values.items()
            if v is not None
        }

    @classmethod
    def from_dict(cls, doc: Mapping[str, Any]) -> Self:
        """Parse the JSON form strictly; raise :class:`ProofError` if malformed."""
        return cls(*(_from_json(f.name, str(f.type), doc.get(f.name)) for f in fields(cls)))


@dataclass(frozen=True)
class InclusionProof(_Document):
    """An inclusion proof in the project's JSON form (see the module docstring)."""

    leaf_index: int
    tree_size: int
    leaf_hash: bytes
    audit_path: tuple[bytes, ...]
    root_hash: bytes
    checkpoint: dict[str, Any] | None = None

    def verify(self) -> None:
        """Verify the proof itself (not the checkpoint); raise :class:`ProofError` if invalid."""
        verify_inclusion(self.leaf_index, self.tree_size, self.leaf_hash, self.audit_path, self.root_hash)


@dataclass(frozen=True)
class ConsistencyProof(_Document):
    """A consistency proof in the project's JSON form (see the module docstring)."""

    first: int
    second: int
    first_root: bytes
    second_root: bytes
    proof: tuple[bytes, ...]
    first_checkpoint: dict[str, Any] | None = None
    second_checkpoint: dict[str, Any] | None = None

    def verify(self) -> None:
        """Verify the proof itself (not the checkpoints); raise :class:`ProofError` if invalid."""
        verify_consistency(self.first, self.second, self.first_root, self.second_root, self.proof)


def parse_proof_document(doc: Mapping[str, Any]) -> InclusionProof | ConsistencyProof:
    """Detect the form of ``doc`` and parse it; raise :class:`ProofError` if neither or malformed."""
    if not isinstance(doc, Mapping):
        raise ProofError("a proof document must be a JSON object")
    if "leaf_index" in doc and "first" not in doc:
        return InclusionProof.from_dict(doc)
    if "first" in doc and "leaf_index" not in doc:
        return ConsistencyProof.from_dict(doc)
    raise ProofError("not a proof document: expected 'leaf_index' (inclusion) or 'first' (consistency)")


def _bindings(proof: InclusionProof | ConsistencyProof) -> list[tuple[str, dict[str, Any] | None, int, bytes]]:
    """(key, checkpoint or None, size, root) for each tree the proof talks about."""
    if isinstance(proof, InclusionProof):
        return [("checkpoint", proof.checkpoint, proof.tree_size, proof.root_hash)]
    return [
        ("first_checkpoint", proof.first_checkpoint, proof.first, proof.first_root),
        ("second_checkpoint", proof.second_checkpoint, proof.second, proof.second_root),
    ]


def check_proof_document(doc: Mapping[str, Any], public_key: Ed25519PublicKey | None = None) -> None:
    """Verify a proof document; raise :class:`ProofError` (or a subclass) if it is invalid.

    Each checkpoint it holds must match the proof's size and root (two must be from the
    same log, in time order). With ``public_key``, every tree of the proof must have a
    checkpoint, and each signature is verified: a key with nothing signed to check would
    give false assurance.
    """
    from greenshield.translog.checkpoint import Checkpoint, check_consistent, verify_checkpoint  # (cycle)

    proof = parse_proof_document(doc)
    proof.verify()
    checkpoints = []
    for name, cp_doc, size, root in _bindings(proof):
        if cp_doc is None:
            if public_key is not None:
                raise ProofError(f"a public key was given but the document has no {name!r} to check")
            continue
        cp = Checkpoint.from_dict(cp_doc)
        if cp.tree_size != size or not hmac.compare_digest(cp.root_hash, root):
            raise ProofError(f"{name} (size {cp.tree_size}) does not match the proof's tree (size {size})")
        if public_key is not None:
            verify_checkpoint(public_key, cp)
        checkpoints.append(cp)
    if isinstance(proof, ConsistencyProof) and len(checkpoints) == 2:
        check_consistent(checkpoints[0], checkpoints[1], proof.proof)


def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    keys = [k for k, _ in pairs]
    if len(set(keys)) != len(keys):
        raise ProofError("duplicate key in JSON object")
    return dict(pairs)


def check_proof_file(path: str | Path, public_key_path: str | Path | None = None) -> tuple[bool, str]:
    """Verify the proof document in a JSON file, offline; return ``(valid, human message)``."""
    from greenshield.translog.checkpoint import key_id, load_public_key

    try:
        text = Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as e:
        return False, f"cannot read {path}: {e}"
    key = None
    if public_key_path is not None:
        try:
            key = load_public_key(public_key_path)
        except (OSError, ValueError) as e:
            return False, f"cannot load public key {public_key_path}: {e}"
    try:
        doc = json.loads(text, object_pairs_hook=_no_duplicates)
        proof = parse_proof_document(doc)
        check_proof_document(doc, key)
    except ProofError as e:
        return False, f"INVALID: {e.reason}"
    except ValueError as e:
        return False, f"INVALID: {path} is not valid JSON: {e}"
    if isinstance(proof, InclusionProof):
        what = f"leaf {proof.leaf_index} is in the tree of size {proof.tree_size} with root {proof.root_hash.hex()}"
    else:
        what = f"the tree of size {proof.second} (root {proof.second_root.hex()}) extends that of size {proof.first}"
    if key is not None:
        return True, f"VALID: {what}; checkpoint signature verified (key id {key_id(key)[:16]}…)"
    if any(cp_doc is not None for _, cp_doc, _, _ in _bindings(proof)):
        return True, f"VALID: {what}; checkpoint matches, but its signature was NOT checked (no public key)"
    return True, f"VALID: {what}; root NOT authenticated (no checkpoint)"
