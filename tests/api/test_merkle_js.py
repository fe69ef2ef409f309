"""The auditor page's verifier (greenshield/web/merkle.js) agrees with the Python proofs, in node's WebCrypto.

Valid inclusion and consistency proofs, leaf hashes and signed checkpoints must verify;
each one with a flipped bit, a wrong size or another key must not.
"""

from __future__ import annotations

import base64
import hashlib
import json
import random
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives import serialization

from greenshield.translog.checkpoint import generate_private_key, sign_checkpoint
from greenshield.translog.merkle import consistency_proof, inclusion_proof, leaf_hash, root
from greenshield.translog.proofs import ProofError, verify_inclusion

MERKLE_JS = Path(__file__).resolve().parents[2] / "greenshield" / "web" / "merkle.js"


def flip(h: str) -> str:
    return h[:-1] + ("0" if h[-1] != "0" else "1")


def python_accepts(c: dict[str, Any]) -> bool:
    """The Python verifier's answer (greenshield.translog.proofs), the reference the page must agree with."""
    try:
        verify_inclusion(c["index"], c["size"], bytes.fromhex(c["leaf"]), [bytes.fromhex(h) for h in c["path"]],
                         bytes.fromhex(c["root"]))
    except ProofError:
        return False
    return True


def cases() -> list[tuple[dict[str, Any], bool]]:
    rnd = random.Random(6962)
    leaves = [leaf_hash(f"entry {i}".encode()) for i in range(70)]
    out: list[tuple[dict[str, Any], bool]] = []
    for size in (1, 2, 3, 4, 5, 7, 8, 9, 16, 17, 31, 64, 70):
        r = root(leaves[:size]).hex()
        for index in {0, size - 1, rnd.randrange(size)}:
            path = [h.hex() for h in inclusion_proof(index, size, leaves[:size])]
            good: dict[str, Any] = {"kind": "inclusion", "index": index, "size": size, "leaf": leaves[index].hex(), "path": path, "root": r}
            out.append((good, True))
            out.append(({**good, "leaf": flip(leaves[index].hex())}, False))
            out.append(({**good, "size": size + 1}, python_accepts(good | {"size": size + 1})))
            if path:
                out.append(({**good, "path": path[:-1]}, False))
        for first in {1, size // 2 or 1, size}:
            proof = [h.hex() for h in consistency_proof(first, size, leaves[:size])]
            good = {"kind": "consistency", "first": first, "second": size, "first_root": root(leaves[:first]).hex(),
                    "second_root": r, "proof": proof}
            out.append((good, True))
            out.append(({**good, "first_root": flip(root(leaves[:first]).hex())}, False))
            if proof:
                out.append(({**good, "proof": [flip(proof[0])] + proof[1:]}, False))
    entry = b'{"kind":"event","v":1}'
    out.append(({"kind": "leaf", "entry": base64.b64encode(entry).decode(), "leaf": leaf_hash(entry).hex()}, True))
    out.append(({"kind": "leaf", "entry": base64.b64encode(entry + b" ").decode(), "leaf": leaf_hash(entry).hex()}, False))
    key, other = generate_private_key(), generate_private_key()
    cp = sign_checkpoint(key, 70, root(leaves)).to_dict()
    for k, ok in ((key, True), (other, False)):
        raw = k.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
        pem = k.public_key().public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        out.append(({"kind": "checkpoint", "checkpoint": cp, "key": base64.b64encode(raw).decode()}, ok))
        out.append(({"kind": "checkpoint", "checkpoint": cp, "key": pem.decode()}, ok))
    forged = {**cp, "tree_size": 71}
    raw = key.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    out.append(({"kind": "checkpoint", "checkpoint": forged, "key": base64.b64encode(raw).decode()}, False))
    assert hashlib.sha256(raw).hexdigest() == cp["key_id"]
    return out


def test_the_browser_verifier_agrees_with_python(tmp_path: Path) -> None:
    node = shutil.which("node")
    if node is None:
        pytest.skip("node is not installed")
    table = cases()
    (tmp_path / "cases.json").write_text(json.dumps([c for c, _ in table]))
    done = subprocess.run([node, str(Path(__file__).with_name("merkle_js_check.cjs")), str(MERKLE_JS),
                           str(tmp_path / "cases.json")], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    got = json.loads(done.stdout)
    wrong = [(c, want) for (c, want), ok in zip(table, got) if ok != want]
    assert not wrong, wrong[:3]
