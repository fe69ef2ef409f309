"""The audit store's two secrets: the Ed25519 checkpoint signing key and the HMAC key of contract §6.

Both come from configuration (``GREENSHIELD_SIGNING_KEY_FILE``,
``GREENSHIELD_HMAC_KEY``). In development a missing one is generated on first
use and kept in the data directory (mode 0600; the public key beside the signing
key); in production mode a missing one is an error, raised before anything starts.
"""

from __future__ import annotations

import os
import secrets
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from greenshield.audit.checkpoint import (
    generate_private_key, load_private_key, load_public_key, save_private_key, save_public_key)
from greenshield.settings import Settings

DEV_SIGNING_KEY = "audit-signing-key.pem"
DEV_PUBLIC_KEY = "audit-signing-key.pub.pem"
DEV_HMAC_KEY = "hmac.key"


class KeyConfigError(RuntimeError):
    """A key is missing or unreadable; the message says which setting to fix."""


def signing_key(settings: Settings) -> Ed25519PrivateKey:
    """The configured signing key; in development, the data directory's (made on first use)."""
    if settings.signing_key_file is not None:
        try:
            return load_private_key(settings.signing_key_file)
        except (OSError, ValueError) as err:
            raise KeyConfigError(f"GREENSHIELD_SIGNING_KEY_FILE={settings.signing_key_file}: {err}") from None
    if settings.production:
        raise KeyConfigError("production mode needs a signing key: set GREENSHIELD_SIGNING_KEY_FILE")
    path = settings.data_dir / DEV_SIGNING_KEY
    if not path.exists():
        settings.data_dir.mkdir(parents=True, exist_ok=True)
        key = generate_private_key()
        try:
            save_private_key(key, path)
            save_public_key(key.public_key(), settings.data_dir / DEV_PUBLIC_KEY)
        except FileExistsError:
            pass  # another process made it first: use theirs
    return load_private_key(path)


def public_key(settings: Settings, path: Path | None = None) -> Ed25519PublicKey:
    """The key checkpoints are checked against: ``path`` if given, else the signing key's."""
    if path is not None:
        try:
            return load_public_key(path)
        except (OSError, ValueError) as err:
            raise KeyConfigError(f"public key {path}: {err}") from None
    if settings.signing_key_file is None and not (settings.data_dir / DEV_SIGNING_KEY).exists():
        raise KeyConfigError("no public key: pass --public-key FILE or set GREENSHIELD_SIGNING_KEY_FILE")
    return signing_key(settings).public_key()


def hmac_key(settings: Settings) -> bytes:
    """The HMAC key for sender ID numbers; in development, the data directory's (made on first use)."""
    if settings.hmac_key:
        return settings.hmac_key.reveal().encode()
    if settings.production:
        raise KeyConfigError("production mode needs an HMAC key: set GREENSHIELD_HMAC_KEY")
    path = settings.data_dir / DEV_HMAC_KEY
    if not path.exists():
        settings.data_dir.mkdir(parents=True, exist_ok=True)
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "w") as f:
                f.write(secrets.token_hex(32))
        except FileExistsError:
            pass
    return path.read_text().strip().encode()
