"""Every RFC 6962 proof vector of transparency-dev/merkle, through the project's verifiers."""

from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import Any

import pytest

from greenshield.translog.merkle import consistency_proof, inclusion_proof, leaf_hash, root
from greenshield.translog.proofs import ProofError, verify_consistency, verify_inclusion

DATA = Path(__file__).parents[1] / "data" / "rfc6962"
INCLUSION = sorted((DATA / "inclusion").rglob("*.json"))
CONSISTENCY = sorted((DATA / "consistency").rglob("*.json"))

# the 8 leaves the numbered vector folders are built from (transparency-dev testonly)
LEAVES = [bytes.fromhex(h) for h in ("", "00", "10", "2021", "3031", "40414243", "5051525354555657",
                                      "606162636465666768696a6b6c6d6e6f")]
LEAF_HASHES = [leaf_hash(d) for d in LEAVES]


def _load(path: Path) -> dict[str, Any]:
    doc: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    return doc


def _b64(value: str) -> bytes:
    return base64.b64decode(value, validate=True)


def _proof(doc: dict[str, Any]) -> list[bytes]:
    return [_b64(p) for p in doc["proof"] or []]  # Go's nil proof is JSON null


def _name(path: Path) -> str:
    return str(path.relative_to(DATA))


def _honest_eight_leaf(paths: list[Path]) -> list[Path]:
    """Accepted vectors of the numbered folders, which are built from ``LEAVES``."""
    return [p for p in paths if p.parent.name.isdigit() and not _load(p)["wantErr"]]


class TestVectorData:
    """The vector folders are present and complete."""

    def test_all_vectors_found(self) -> None:
        """Both folders hold the 98 files of upstream commit 417fb0c, so none is silently skipped."""
        assert len(INCLUSION) == 98
        assert len(CONSISTENCY) == 98

    def test_both_answers_present(self) -> None:
        """The vectors include proofs to accept as well as proofs to reject."""
        wants = {_load(p)["wantErr"] for p in INCLUSION + CONSISTENCY}
        assert wants == {True, False}


class TestInclusionVectors:
    """Inclusion vectors: ``{leafIdx, treeSize, root, leafHash, proof, desc, wantErr}``."""

    @pytest.mark.parametrize("path", INCLUSION, ids=_name)
    def test_vector(self, path: Path) -> None:
        """The verifier accepts the vector exactly when ``wantErr`` is false."""
        v = _load(path)
        args = (v["leafIdx"], v["treeSize"], _b64(v["leafHash"]), _proof(v), _b64(v["root"]))
        if v["wantErr"]:
            with pytest.raises(ProofError):
                verify_inclusion(*args)
        else:
            verify_inclusion(*args)

    @pytest.mark.parametrize("path", _honest_eight_leaf(INCLUSION), ids=_name)
    def test_happy_path_matches_generator(self, path: Path) -> None:
        """For the accepted vectors over the 8 test leaves, our generator makes the same proof and root."""
        v = _load(path)
        size = v["treeSize"]
        assert root(LEAF_HASHES[:size]) == _b64(v["root"])
        assert inclusion_proof(v["leafIdx"], size, LEAF_HASHES[:size]) == _proof(v)


class TestConsistencyVectors:
    """Consistency vectors: ``{size1, size2, root1, root2, proof, desc, wantErr}``."""

    @pytest.mark.parametrize("path", CONSISTENCY, ids=_name)
    def test_vector(self, path: Path) -> None:
        """The verifier accepts the vector exactly when ``wantErr`` is false."""
        v = _load(path)
        args = (v["size1"], v["size2"], _b64(v["root1"]), _b64(v["root2"]), _proof(v))
        if v["wantErr"]:
            with pytest.raises(ProofError):
                verify_consistency(*args)
        else:
            verify_consistency(*args)

    @pytest.mark.parametrize("path", _honest_eight_leaf(CONSISTENCY), ids=_name)
    def test_happy_path_matches_generator(self, path: Path) -> None:
        """For the accepted vectors over the 8 test leaves, our generator makes the same proof and roots."""
        v = _load(path)
        size1, size2 = v["size1"], v["size2"]
        assert root(LEAF_HASHES[:size1]) == _b64(v["root1"])
        assert root(LEAF_HASHES[:size2]) == _b64(v["root2"])
        assert consistency_proof(size1, size2, LEAF_HASHES[:size2]) == _proof(v)
