"""Signed checkpoints, key files, and offline checking of proof documents."""

from __future__ import annotations

import base64
import hashlib
import json
import os
import stat
from dataclasses import replace
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from greenshield.translog import checkpoint as checkpoint_module
from greenshield.translog.checkpoint import (
    Checkpoint,
    CheckpointError,
    check_consistent,
    format_timestamp,
    generate_private_key,
    key_id,
    load_private_key,
    load_public_key,
    note_key_hash,
    parse_timestamp,
    save_private_key,
    save_public_key,
    sign_checkpoint,
    verifier_key,
    verify_checkpoint,
)
from greenshield.translog.merkle import MerkleAccumulator, consistency_proof, inclusion_proof, leaf_hash
from greenshield.translog.proofs import (
    ConsistencyProof,
    InclusionProof,
    ProofError,
    check_proof_document,
    check_proof_file,
)

KEY = Ed25519PrivateKey.from_private_bytes(bytes(range(32)))
OTHER_KEY = Ed25519PrivateKey.from_private_bytes(bytes(range(1, 33)))
ROOT8 = base64.b64decode("XcnaeacGWamtVZy3Ad7ZoqudgjqtL0lgz+Nw7/RgQyg=")
TS = 1795931783123  # 2026-11-29T05:56:23.123Z
LEAVES = [leaf_hash(f"audit record {i}".encode()) for i in range(50)]


def _root(size: int) -> bytes:
    acc = MerkleAccumulator()
    acc.extend(LEAVES[:size])
    return acc.root()


def _signed(size: int, ts: int = TS, key: Ed25519PrivateKey = KEY) -> Checkpoint:
    return sign_checkpoint(key, size, _root(size), timestamp=ts)


def _inclusion_doc(index: int = 7, size: int = 20, **cp: Any) -> dict[str, Any]:
    proof = InclusionProof(index, size, LEAVES[index], tuple(inclusion_proof(index, size, LEAVES)), _root(size))
    doc = proof.to_dict()
    doc["checkpoint"] = _signed(size).to_dict() | cp
    return doc


def _consistency_doc(m: int = 13, n: int = 40) -> dict[str, Any]:
    proof = ConsistencyProof(m, n, _root(m), _root(n), tuple(consistency_proof(m, n, LEAVES)))
    return proof.to_dict() | {"first_checkpoint": _signed(m).to_dict(), "second_checkpoint": _signed(n, TS + 1).to_dict()}


class TestTextForm:
    """The signed bytes are exactly the documented C2SP checkpoint text."""

    def test_exact_body(self) -> None:
        """Origin, decimal size, base64 root and the timestamp extension line, each ending in a newline."""
        cp = sign_checkpoint(KEY, 8, ROOT8, timestamp=TS)
        assert cp.body() == (
            b"greenshield.audit/v1\n8\nXcnaeacGWamtVZy3Ad7ZoqudgjqtL0lgz+Nw7/RgQyg=\n"
            b"timestamp 2026-11-29T05:56:23.123Z\n"
        )

    def test_example_in_docstring(self) -> None:
        """The module docstring shows this very body as its example."""
        body = sign_checkpoint(KEY, 8, ROOT8, timestamp=TS).body().decode()
        assert body.replace("\n", "\\n") in (checkpoint_module.__doc__ or "")

    def test_signature_is_plain_ed25519_over_body(self) -> None:
        """The signature verifies with bare Ed25519 over the body bytes and nothing else."""
        cp = _signed(5)
        KEY.public_key().verify(cp.signature, cp.body())

    def test_signed_note(self) -> None:
        """The C2SP signed note is body, blank line, and an em-dash line with key hash and signature."""
        cp = _signed(5)
        raw = KEY.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
        khash = hashlib.sha256(b"greenshield.audit/v1\n\x01" + raw).digest()[:4]
        sig = base64.b64encode(khash + cp.signature).decode()
        assert cp.to_note(KEY.public_key()) == cp.body().decode() + f"\n\u2014 greenshield.audit/v1 {sig}\n"
        assert note_key_hash(cp.origin, KEY.public_key()) == khash
        encoded = base64.b64encode(b"\x01" + raw).decode()
        assert verifier_key(cp.origin, KEY.public_key()) == f"greenshield.audit/v1+{khash.hex()}+{encoded}"

    @pytest.mark.parametrize("ms", [0, 1, 999, TS, 253402300799999])
    def test_timestamp_round_trip(self, ms: int) -> None:
        """Every whole-millisecond time renders and parses back to itself."""
        assert parse_timestamp(format_timestamp(ms)) == ms

    @pytest.mark.parametrize("text", [
        "2026-11-29T05:56:23Z", "2026-11-29T05:56:23.123+00:00", "2026-11-29t05:56:23.123z",
        "2026-02-30T05:56:23.123Z", "2026-11-29T05:56:23.1234Z", "２026-11-29T05:56:23.123Z", "",
    ])
    def test_non_canonical_timestamp_rejected(self, text: str) -> None:
        """Only the exact YYYY-MM-DDTHH:MM:SS.mmmZ form of a real instant is accepted."""
        with pytest.raises(CheckpointError):
            parse_timestamp(text)

    def test_datetime_truncated_to_ms(self) -> None:
        """An aware datetime is signed as its whole milliseconds."""
        t = datetime(2026, 11, 29, 5, 56, 23, 123999, tzinfo=timezone.utc)
        assert sign_checkpoint(KEY, 8, ROOT8, timestamp=t).timestamp_ms == TS

    def test_naive_datetime_rejected(self) -> None:
        """A datetime without a timezone is ambiguous and refused."""
        with pytest.raises(CheckpointError):
            sign_checkpoint(KEY, 8, ROOT8, timestamp=datetime(2026, 1, 1))

    @pytest.mark.parametrize("origin", ["", "has space", "a+b", "line\nbreak"])
    def test_bad_origin_rejected(self, origin: str) -> None:
        """An origin that could not be a signed-note key name is refused."""
        with pytest.raises(CheckpointError):
            sign_checkpoint(KEY, 8, ROOT8, origin=origin, timestamp=TS)


class TestSignVerify:
    """A checkpoint verifies with its key and any change to it is detected."""

    def test_sign_and_verify(self) -> None:
        """A freshly signed checkpoint verifies and names its key."""
        cp = sign_checkpoint(KEY, 8, ROOT8)
        verify_checkpoint(KEY.public_key(), cp)
        assert cp.key_id == key_id(KEY.public_key())

    @pytest.mark.parametrize("change", [
        {"tree_size": 9}, {"root_hash": bytes(32)}, {"timestamp_ms": TS + 1}, {"origin": "other.log/v1"},
    ], ids=["size", "root", "timestamp", "origin"])
    def test_altered_checkpoint_rejected(self, change: dict[str, Any]) -> None:
        """Changing the size, root, timestamp or origin breaks the signature."""
        with pytest.raises(CheckpointError):
            verify_checkpoint(KEY.public_key(), replace(_signed(8), **change))

    def test_wrong_key_rejected(self) -> None:
        """A checkpoint signed by another key fails, whether or not its key id is kept."""
        forged = _signed(8, key=OTHER_KEY)
        with pytest.raises(CheckpointError, match="names key"):
            verify_checkpoint(KEY.public_key(), forged)
        with pytest.raises(CheckpointError, match="signature is invalid"):
            verify_checkpoint(KEY.public_key(), replace(forged, key_id=key_id(KEY.public_key())))

    def test_unsigned_rejected(self) -> None:
        """A checkpoint without a signature never verifies."""
        with pytest.raises(CheckpointError):
            verify_checkpoint(KEY.public_key(), Checkpoint("greenshield.audit/v1", 8, ROOT8, TS))

    def test_json_round_trip(self) -> None:
        """The JSON form has hex root, RFC 3339 time, key id and base64 signature, and parses back."""
        cp = _signed(8)
        doc = json.loads(json.dumps(cp.to_dict()))
        assert doc["root_hash"] == _root(8).hex() and doc["timestamp"] == "2026-11-29T05:56:23.123Z"
        assert Checkpoint.from_dict(doc) == cp

    @pytest.mark.parametrize("change", [
        {"root_hash": _root(8).hex().upper()}, {"tree_size": True}, {"tree_size": "8"}, {"tree_size": -1},
        {"signature": "not base64!"}, {"signature": ""}, {"key_id": ""}, {"timestamp": "yesterday"},
        {"extra": 1},
    ])
    def test_malformed_json_rejected(self, change: dict[str, Any]) -> None:
        """Any malformed, missing or extra field is refused."""
        with pytest.raises(CheckpointError):
            Checkpoint.from_dict(_signed(8).to_dict() | change)


class TestKeys:
    """Key generation, PEM files and key ids."""

    def test_private_key_file(self, tmp_path: Path) -> None:
        """A saved private key is private to its owner, reloads, and is never overwritten."""
        key, path = generate_private_key(), tmp_path / "signing.pem"
        save_private_key(key, path)
        assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
        assert key_id(load_private_key(path).public_key()) == key_id(key.public_key())
        with pytest.raises(FileExistsError):
            save_private_key(generate_private_key(), path)

    def test_encrypted_private_key_file(self, tmp_path: Path) -> None:
        """A key saved with a password needs it to load."""
        path = tmp_path / "k.pem"
        save_private_key(KEY, path, password=b"s3cret")
        assert key_id(load_private_key(path, password=b"s3cret").public_key()) == key_id(KEY.public_key())
        with pytest.raises(TypeError):
            load_private_key(path)

    def test_public_key_file(self, tmp_path: Path) -> None:
        """A saved public key reloads and verifies checkpoints."""
        save_public_key(KEY.public_key(), tmp_path / "pub.pem")
        verify_checkpoint(load_public_key(tmp_path / "pub.pem"), _signed(3))

    def test_non_ed25519_key_rejected(self, tmp_path: Path) -> None:
        """A PEM file holding another kind of key is refused."""
        other = ec.generate_private_key(ec.SECP256R1())
        path = tmp_path / "ec.pem"
        path.write_bytes(other.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo))
        with pytest.raises(ValueError):
            load_public_key(path)

    def test_key_id(self) -> None:
        """The key id is the hex SHA-256 of the raw public key."""
        raw = KEY.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
        assert key_id(KEY.public_key()) == hashlib.sha256(raw).hexdigest()


class TestCheckConsistent:
    """Two checkpoints of the same log are checked to be append-only."""

    def test_consistent(self) -> None:
        """A later, larger checkpoint with a valid proof passes, signatures included."""
        check_consistent(_signed(13), _signed(40, TS + 1), consistency_proof(13, 40, LEAVES), KEY.public_key())

    def test_inconsistent_proof(self) -> None:
        """A proof that does not link the two roots fails."""
        with pytest.raises(ProofError):
            check_consistent(_signed(13), _signed(40, TS + 1), consistency_proof(14, 40, LEAVES))

    def test_rewritten_history(self) -> None:
        """A new checkpoint over a history with a changed old entry cannot be proven consistent."""
        forged = list(LEAVES)
        forged[3] = leaf_hash(b"rewritten")
        acc = MerkleAccumulator()
        acc.extend(forged[:40])
        new = sign_checkpoint(KEY, 40, acc.root(), timestamp=TS + 1)
        with pytest.raises(ProofError):
            check_consistent(_signed(13), new, consistency_proof(13, 40, forged))

    def test_other_log(self) -> None:
        """Checkpoints of different origins are never consistent."""
        other = replace(_signed(40, TS + 1), origin="other.log/v1")
        with pytest.raises(CheckpointError):
            check_consistent(_signed(13), other, consistency_proof(13, 40, LEAVES))

    def test_time_goes_backwards(self) -> None:
        """A newer checkpoint with an earlier timestamp fails."""
        with pytest.raises(CheckpointError):
            check_consistent(_signed(13), _signed(40, TS - 1), consistency_proof(13, 40, LEAVES))

    def test_wrong_key(self) -> None:
        """With a key given, a checkpoint signed by another key fails."""
        with pytest.raises(CheckpointError):
            check_consistent(_signed(13), _signed(40, TS + 1, OTHER_KEY), consistency_proof(13, 40, LEAVES),
                             KEY.public_key())

    def test_from_empty_tree(self) -> None:
        """The empty checkpoint is consistent with any later one, but only with an empty proof."""
        empty = _signed(0)
        check_consistent(empty, _signed(40, TS + 1), [])
        with pytest.raises(ProofError):
            check_consistent(empty, _signed(40, TS + 1), [_root(1)])


class TestProofDocuments:
    """Proof documents are checked whole: proof, checkpoint match and signature."""

    def test_inclusion_document(self) -> None:
        """A valid inclusion document with its signed checkpoint passes, with or without the key."""
        check_proof_document(_inclusion_doc(), KEY.public_key())
        check_proof_document(_inclusion_doc())

    def test_consistency_document(self) -> None:
        """A valid consistency document with both checkpoints passes."""
        check_proof_document(_consistency_doc(), KEY.public_key())

    def test_parse_round_trip(self) -> None:
        """The dataclasses parse their own JSON form back unchanged."""
        doc = _inclusion_doc()
        assert InclusionProof.from_dict(doc).to_dict() == doc
        cdoc = _consistency_doc()
        assert ConsistencyProof.from_dict(cdoc).to_dict() == cdoc

    @pytest.mark.parametrize("change,reason", [
        ({"tree_size": 21}, "does not match"),
        ({"leaf_index": 8}, "does not match the given root"),
        ({"root_hash": "00" * 32}, "does not match"),
        ({"leaf_hash": LEAVES[7].hex().upper()}, "lowercase hex"),
        ({"leaf_index": True}, "integer"),
        ({"audit_path": None}, "list"),
        ({"first": 1}, "not a proof document"),
    ])
    def test_tampered_inclusion_document(self, change: dict[str, Any], reason: str) -> None:
        """Changing any part of the document, or its form, is detected."""
        with pytest.raises(ProofError, match=reason):
            check_proof_document(_inclusion_doc() | change, KEY.public_key())

    def test_checkpoint_for_other_tree(self) -> None:
        """A genuine checkpoint of another size does not vouch for the proof's root."""
        doc = _inclusion_doc()
        doc["checkpoint"] = _signed(21).to_dict()
        with pytest.raises(ProofError, match="does not match"):
            check_proof_document(doc)

    def test_checkpoint_signed_by_other_key(self) -> None:
        """A checkpoint signed by another key fails when the log's key is given."""
        doc = _inclusion_doc()
        doc["checkpoint"] = _signed(20, key=OTHER_KEY).to_dict()
        check_proof_document(doc)
        with pytest.raises(CheckpointError):
            check_proof_document(doc, KEY.public_key())

    def test_key_without_checkpoint(self) -> None:
        """Given a key, a document with nothing signed is not accepted as authenticated."""
        doc = _inclusion_doc()
        del doc["checkpoint"]
        check_proof_document(doc)
        with pytest.raises(ProofError, match="no 'checkpoint'"):
            check_proof_document(doc, KEY.public_key())
        cdoc = _consistency_doc()
        del cdoc["first_checkpoint"]
        with pytest.raises(ProofError, match="no 'first_checkpoint'"):
            check_proof_document(cdoc, KEY.public_key())


class TestCheckProofFile:
    """The offline CLI helper returns validity and a message, never raising on bad input."""

    def _write(self, tmp_path: Path, doc: Any) -> Path:
        path = tmp_path / "proof.json"
        path.write_text(json.dumps(doc) if not isinstance(doc, str) else doc, encoding="utf-8")
        return path

    def _key(self, tmp_path: Path) -> Path:
        save_public_key(KEY.public_key(), tmp_path / "log.pub")
        return tmp_path / "log.pub"

    def test_valid_with_key(self, tmp_path: Path) -> None:
        """A valid document and the log's key give a positive verdict naming the leaf."""
        ok, message = check_proof_file(self._write(tmp_path, _inclusion_doc()), self._key(tmp_path))
        assert ok and message.startswith("VALID") and "leaf 7" in message and "signature verified" in message

    def test_valid_without_key_says_so(self, tmp_path: Path) -> None:
        """Without a key the verdict is positive but says the signature was not checked."""
        ok, message = check_proof_file(self._write(tmp_path, _consistency_doc()))
        assert ok and "NOT checked" in message

    @pytest.mark.parametrize("content", ["{not json", "[1, 2]", '{"leaf_index": 1, "leaf_index": 2}'])
    def test_malformed_file(self, tmp_path: Path, content: str) -> None:
        """Broken JSON, a non-object or a duplicated key gives a negative verdict."""
        ok, message = check_proof_file(self._write(tmp_path, content))
        assert not ok and message.startswith("INVALID")

    def test_invalid_proof(self, tmp_path: Path) -> None:
        """A tampered proof gives a negative verdict with the reason."""
        ok, message = check_proof_file(self._write(tmp_path, _inclusion_doc() | {"leaf_index": 6}))
        assert not ok and "does not match" in message

    def test_missing_files(self, tmp_path: Path) -> None:
        """A missing proof or key file gives a negative verdict, not an exception."""
        assert not check_proof_file(tmp_path / "absent.json")[0]
        ok, message = check_proof_file(self._write(tmp_path, _inclusion_doc()), tmp_path / "absent.pub")
        assert not ok and "public key" in message


class TestTrustedCheckpointFiles:
    """`audit verify --trusted FILE` reads a signed note, the JSON form, or a proof document holding one."""

    def test_a_signed_note_reads_back_and_verifies(self, tmp_path: Path) -> None:
        from greenshield.translog.checkpoint import load_checkpoint_file, verify_checkpoint

        cp = _signed(20)
        (tmp_path / "cp.note").write_text(cp.to_note(KEY.public_key()), encoding="utf-8")
        back = load_checkpoint_file(tmp_path / "cp.note")
        assert (back.origin, back.tree_size, back.root_hash, back.timestamp_ms, back.signature) == \
            (cp.origin, cp.tree_size, cp.root_hash, cp.timestamp_ms, cp.signature)
        verify_checkpoint(KEY.public_key(), back)
        with pytest.raises(CheckpointError):
            verify_checkpoint(OTHER_KEY.public_key(), back)

    def test_json_and_proof_documents_read_back(self, tmp_path: Path) -> None:
        from greenshield.translog.checkpoint import load_checkpoint_file

        (tmp_path / "cp.json").write_text(json.dumps(_signed(20).to_dict()))
        (tmp_path / "proof.json").write_text(json.dumps(_inclusion_doc()))
        assert load_checkpoint_file(tmp_path / "cp.json") == _signed(20)
        assert load_checkpoint_file(tmp_path / "proof.json") == _signed(20)

    @pytest.mark.parametrize("edit", ["size", "root", "no-signature", "other-name", "five-lines"])
    def test_a_broken_note_is_refused_or_fails_its_signature(self, tmp_path: Path, edit: str) -> None:
        from greenshield.translog.checkpoint import load_checkpoint_file, verify_checkpoint

        lines = _signed(20).to_note(KEY.public_key()).split("\n")
        if edit == "size":
            lines[1] = "21"
        elif edit == "root":
            lines[2] = base64.b64encode(_root(19)).decode()
        elif edit == "no-signature":
            lines = lines[:5]
        elif edit == "other-name":
            lines[5] = lines[5].replace("greenshield.audit/v1", "someone.else")
        else:
            lines.insert(3, "extra")
        (tmp_path / "bad.note").write_text("\n".join(lines), encoding="utf-8")
        with pytest.raises(CheckpointError):
            verify_checkpoint(KEY.public_key(), load_checkpoint_file(tmp_path / "bad.note"))
