"""Signed checkpoints (signed tree heads) of the audit log, in the C2SP checkpoint form.

A four-line note body (origin, tree size, base64 root hash, ``timestamp`` extension line)
signed with Ed25519, for example (origin ``greenshield.audit/v1``, 8 leaves, 2026-11-29 05:56:23.123 UTC)::

    greenshield.audit/v1\\n8\\nXcnaeacGWamtVZy3Ad7ZoqudgjqtL0lgz+Nw7/RgQyg=\\ntimestamp 2026-11-29T05:56:23.123Z\\n

:meth:`Checkpoint.to_note` renders the C2SP signed note; the JSON form is the API's.
The exact bytes: docs/adr/0010-audit-log-forms.md.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import os
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from greenshield.translog.proofs import ProofError, verify_consistency

DEFAULT_ORIGIN = "greenshield.audit/v1"
EMPTY_ROOT = hashlib.sha256(b"").digest()
_MAX_MS = 253402300800000  # 10000-01-01T00:00:00Z
_TS = re.compile(r"([0-9]{4})-([0-9]{2})-([0-9]{2})T([0-9]{2}):([0-9]{2}):([0-9]{2})\.([0-9]{3})Z")
_HEX64 = re.compile(r"[0-9a-f]{64}")
_EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)


class CheckpointError(ProofError):
    """A checkpoint is malformed, badly signed, or inconsistent with another."""


def format_timestamp(ms: int) -> str:
    """Render milliseconds since the Unix epoch as ``YYYY-MM-DDTHH:MM:SS.mmmZ``."""
    t = datetime.fromtimestamp(ms // 1000, timezone.utc)
    return f"{t:%Y-%m-%dT%H:%M:%S}.{ms % 1000:03d}Z"


def parse_timestamp(text: str) -> int:
    """Inverse of :func:`format_timestamp`; only that exact form is accepted."""
    m = _TS.fullmatch(text)
    try:
        if m is None:
            raise ValueError
        y, mo, d, h, mi, sec = (int(g) for g in m.groups()[:6])
        t = datetime(y, mo, d, h, mi, sec, tzinfo=timezone.utc)
    except ValueError:
        raise CheckpointError(f"timestamp {text!r} is not YYYY-MM-DDTHH:MM:SS.mmmZ") from None
    return _ms(t) + int(m.group(7))


@dataclass(frozen=True)
class Checkpoint:
    """A (possibly signed) tree head: ``origin``, ``tree_size``, ``root_hash``, ``timestamp_ms``."""

    origin: str
    tree_size: int
    root_hash: bytes
    timestamp_ms: int
    key_id: str = ""
    signature: bytes = b""

    def __post_init__(self) -> None:
        if not self.origin or not self.origin.isprintable() or any(c.isspace() or c == "+" for c in self.origin):
            raise CheckpointError(f"bad origin {self.origin!r}: printable, no whitespace or '+'")
        size = self.tree_size
        if isinstance(size, bool) or not isinstance(size, int) or not 0 <= size < 1 << 64:
            raise CheckpointError(f"bad tree size {size!r}")
        if not isinstance(self.root_hash, bytes) or len(self.root_hash) != 32:
            raise CheckpointError("the root hash must be 32 bytes")
        ms = self.timestamp_ms
        if isinstance(ms, bool) or not isinstance(ms, int) or not 0 <= ms < _MAX_MS:
            raise CheckpointError(f"bad timestamp {ms!r}")
        if self.key_id and not _HEX64.fullmatch(self.key_id):
            raise CheckpointError("the key id must be 64 lowercase hex characters")
        if self.signature and len(self.signature) != 64:
            raise CheckpointError("an Ed25519 signature is 64 bytes")

    @property
    def timestamp(self) -> str:
        """The timestamp as signed: ``YYYY-MM-DDTHH:MM:SS.mmmZ``."""
        return format_timestamp(self.timestamp_ms)

    def body(self) -> bytes:
        """Return the exact signed bytes (see the module docstring)."""
        root = base64.b64encode(self.root_hash).decode()
        return f"{self.origin}\n{self.tree_size}\n{root}\ntimestamp {self.timestamp}\n".encode()

    def to_note(self, public_key: Ed25519PublicKey) -> str:
        """Return the C2SP signed note: body, empty line, signature line."""
        if not self.signature:
            raise CheckpointError("the checkpoint is not signed")
        sig = base64.b64encode(note_key_hash(self.origin, public_key) + self.signature).decode()
        return f"{self.body().decode()}\n\u2014 {self.origin} {sig}\n"

    def to_dict(self) -> dict[str, Any]:
        """Return the JSON form."""
        return {
            "origin": self.origin,
            "tree_size": self.tree_size,
            "root_hash": self.root_hash.hex(),
            "timestamp": self.timestamp,
            "key_id": self.key_id,
            "signature": base64.b64encode(self.signature).decode(),
        }

    @classmethod
    def from_dict(cls, doc: Mapping[str, Any]) -> Checkpoint:
        """Parse the JSON form strictly; raise :class:`CheckpointError` if malformed."""
        fields = ("origin", "tree_size", "root_hash", "timestamp", "key_id", "signature")
        if not isinstance(doc, Mapping) or set(doc) != set(fields):
            raise CheckpointError(f"a checkpoint must have exactly the keys {', '.join(fields)}")
        origin, size, root, ts, kid, sig = (doc[f] for f in fields)
        if not all(isinstance(v, str) for v in (origin, root, ts, kid, sig)):
            raise CheckpointError("checkpoint fields origin, root_hash, timestamp, key_id, signature are strings")
        if not _HEX64.fullmatch(root):
            raise CheckpointError("root_hash must be 64 lowercase hex characters")
        try:
            signature = base64.b64decode(sig, validate=True)
        except binascii.Error:
            raise CheckpointError("signature is not base64") from None
        if not kid or not signature:
            raise CheckpointError("the checkpoint is not signed")
        return cls(origin, size, bytes.fromhex(root), parse_timestamp(ts), kid, signature)


def parse_note(text: str) -> Checkpoint:
    """Parse a C2SP signed note of :meth:`Checkpoint.to_note`'s form (the first signature line is ours).

    The key id is left empty (a note names its key by a 4-byte hash only); check the
    signature with :func:`verify_checkpoint`.
    """
    body, sep, sigs = text.partition("\n\n")
    lines = body.split("\n")
    if not sep or len(lines) != 4 or not lines[3].startswith("timestamp "):
        raise CheckpointError("a signed note is 4 body lines (origin, size, root, timestamp), an empty line, "
                              "and a signature line")
    origin, size, root, ts = lines[0], lines[1], lines[2], lines[3][len("timestamp "):]
    if not re.fullmatch(r"0|[1-9][0-9]{0,19}", size):
        raise CheckpointError(f"bad tree size {size[:30]!r}")
    first = sigs.split("\n", 1)[0].split(" ")
    if len(first) != 3 or first[0] != "\u2014" or first[1] != origin:
        raise CheckpointError(f"the note has no signature line '\u2014 {origin} <base64>'")
    try:
        root_hash, signed = base64.b64decode(root, validate=True), base64.b64decode(first[2], validate=True)
    except binascii.Error:
        raise CheckpointError("the root hash or the signature is not base64") from None
    if len(signed) != 4 + 64:
        raise CheckpointError("a note signature is a 4-byte key hash and a 64-byte Ed25519 signature")
    return Checkpoint(origin, int(size), root_hash, parse_timestamp(ts), "", signed[4:])


def load_checkpoint_file(path: str | Path) -> Checkpoint:
    """A checkpoint kept outside the store: a signed note, its JSON form, or a proof document holding one."""
    import json

    text = Path(path).read_text(encoding="utf-8")
    if not text.lstrip().startswith("{"):
        return parse_note(text)
    try:
        doc = json.loads(text)
    except ValueError as err:
        raise CheckpointError(f"{path}: not JSON ({err})") from None
    if isinstance(doc, dict) and isinstance(doc.get("checkpoint"), dict):
        doc = doc["checkpoint"]
    return Checkpoint.from_dict(doc)


def _ms(t: datetime) -> int:
    if t.tzinfo is None:
        raise CheckpointError("the timestamp must be timezone-aware")
    delta = t - _EPOCH
    return (delta.days * 86400 + delta.seconds) * 1000 + delta.microseconds // 1000


def sign_checkpoint(
    key: Ed25519PrivateKey,
    tree_size: int,
    root_hash: bytes,
    *,
    origin: str = DEFAULT_ORIGIN,
    timestamp: int | datetime | None = None,
) -> Checkpoint:
    """Sign a tree head; ``timestamp`` is ms since the epoch, an aware datetime, or now."""
    if timestamp is None:
        timestamp = datetime.now(timezone.utc)
    ms = _ms(timestamp) if isinstance(timestamp, datetime) else timestamp
    cp = Checkpoint(origin, tree_size, root_hash, ms)
    return replace(cp, key_id=key_id(key.public_key()), signature=key.sign(cp.body()))


def verify_checkpoint(public_key: Ed25519PublicKey, cp: Checkpoint) -> None:
    """Check that ``cp`` is signed by ``public_key``; raise :class:`CheckpointError` if not."""
    if not cp.signature:
        raise CheckpointError("the checkpoint is not signed")
    kid = key_id(public_key)
    if cp.key_id and cp.key_id != kid:
        raise CheckpointError(f"the checkpoint names key {cp.key_id[:16]}…, not the given key {kid[:16]}…")
    try:
        public_key.verify(cp.signature, cp.body())
    except InvalidSignature:
        raise CheckpointError("the checkpoint signature is invalid") from None


def check_consistent(
    cp_old: Checkpoint, cp_new: Checkpoint, proof: Sequence[bytes], public_key: Ed25519PublicKey | None = None
) -> None:
    """Check that ``cp_new`` extends ``cp_old`` (same log, later, append-only).

    With ``public_key`` both signatures are verified first. An old checkpoint of size 0
    (the empty root) is consistent with any later one, with an empty proof.
    Raises :class:`CheckpointError` or :class:`~greenshield.translog.proofs.ProofError`.
    """
    if public_key is not None:
        verify_checkpoint(public_key, cp_old)
        verify_checkpoint(public_key, cp_new)
    if cp_old.origin != cp_new.origin:
        raise CheckpointError(f"different logs: {cp_old.origin!r} and {cp_new.origin!r}")
    if cp_new.timestamp_ms < cp_old.timestamp_ms:
        raise CheckpointError("the newer checkpoint has an earlier timestamp")
    if cp_old.tree_size == 0:  # the empty tree is a prefix of every tree
        if cp_old.root_hash != EMPTY_ROOT or (cp_new.tree_size == 0 and cp_new.root_hash != EMPTY_ROOT):
            raise CheckpointError("a checkpoint of size 0 must have the empty root")
        if proof:
            raise ProofError("a consistency proof from the empty tree must be empty")
        return
    verify_consistency(cp_old.tree_size, cp_new.tree_size, cp_old.root_hash, cp_new.root_hash, proof)


def generate_private_key() -> Ed25519PrivateKey:
    """Return a new random Ed25519 signing key."""
    return Ed25519PrivateKey.generate()


def key_id(public_key: Ed25519PublicKey) -> str:
    """Return the key's fingerprint: lowercase hex SHA-256 of its raw 32 bytes."""
    return hashlib.sha256(_raw(public_key)).hexdigest()


def note_key_hash(name: str, public_key: Ed25519PublicKey) -> bytes:
    """Return the 4-byte signed-note key hash: SHA-256(name || "\\n" || 0x01 || key)[:4]."""
    return hashlib.sha256(name.encode() + b"\n\x01" + _raw(public_key)).digest()[:4]


def verifier_key(name: str, public_key: Ed25519PublicKey) -> str:
    """Return the signed-note verifier key string ``<name>+<hex key hash>+<base64(0x01 || key)>``."""
    encoded = base64.b64encode(b"\x01" + _raw(public_key)).decode()
    return f"{name}+{note_key_hash(name, public_key).hex()}+{encoded}"


def _raw(public_key: Ed25519PublicKey) -> bytes:
    return public_key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)


def save_private_key(key: Ed25519PrivateKey, path: str | Path, *, password: bytes | None = None) -> None:
    """Write ``key`` as PKCS#8 PEM to a new file of mode 0600 (never overwrites)."""
    enc: serialization.KeySerializationEncryption = (
        serialization.NoEncryption() if password is None else serialization.BestAvailableEncryption(password)
    )
    pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, enc)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as f:
        f.write(pem)


def save_public_key(public_key: Ed25519PublicKey, path: str | Path) -> None:
    """Write ``public_key`` as SubjectPublicKeyInfo PEM."""
    pem = public_key.public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    Path(path).write_bytes(pem)


def load_private_key(path: str | Path, *, password: bytes | None = None) -> Ed25519PrivateKey:
    """Read an Ed25519 private key from a PEM file; raise ``ValueError`` if it is not one."""
    key = serialization.load_pem_private_key(Path(path).read_bytes(), password)
    if not isinstance(key, Ed25519PrivateKey):
        raise CheckpointError(f"{path} does not hold an Ed25519 private key")
    return key


def load_public_key(path: str | Path) -> Ed25519PublicKey:
    """Read an Ed25519 public key from a PEM file; raise ``ValueError`` if it is not one."""
    key = serialization.load_pem_public_key(Path(path).read_bytes())
    if not isinstance(key, Ed25519PublicKey):
        raise CheckpointError(f"{path} does not hold an Ed25519 public key")
    return key
