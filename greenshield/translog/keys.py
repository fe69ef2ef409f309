"""The system's secrets: the checkpoint signing key, the HMAC key of contract §6, the control and sender keys.

Each comes from configuration (``GREENSHIELD_SIGNING_KEY_FILE``,
``GREENSHIELD_HMAC_KEY``, ``GREENSHIELD_CONTROL_KEY``). In development a missing one
is generated on first use and kept in the data directory (mode 0600; the public key
beside the signing key), and its path is logged once, when it is made; in
production mode a missing one is an error, raised before anything starts. The
control key signs replay's clock messages (:mod:`greenshield.stream.control`):
``replay`` and the workers find the same one in the same data directory. The master
sender key (:mod:`greenshield.sdk.sender`) derives each enterprise's key for signing
its events; the workers check with it and the system's tools sign with it.
"""

from __future__ import annotations

import dataclasses
import logging
import os
import secrets
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from greenshield.errors import TranslogError
from greenshield.settings import Secret, Settings
from greenshield.translog.checkpoint import (
    generate_private_key,
    load_private_key,
    load_public_key,
    save_private_key,
    save_public_key,
)

DEV_SIGNING_KEY = "audit-signing-key.pem"
DEV_PUBLIC_KEY = "audit-signing-key.pub.pem"
DEV_HMAC_KEY = "hmac.key"
DEV_CONTROL_KEY = "control.key"
DEV_SENDER_KEY = "sender.key"
log = logging.getLogger("greenshield.keys")


class KeyConfigError(TranslogError, RuntimeError):
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
            _announce("signing", path)
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
    return _dev_secret(settings, DEV_HMAC_KEY, "hmac")


def control_key(settings: Settings) -> bytes:
    """The key of control messages; in development, the data directory's (made on first use)."""
    if settings.control_key:
        return settings.control_key.reveal().encode()
    if settings.production:
        raise KeyConfigError("production mode needs a control key: set GREENSHIELD_CONTROL_KEY (the system's own "
                             "identity, held by the regulator's tools and the workers, never by an enterprise)")
    return _dev_secret(settings, DEV_CONTROL_KEY, "control")


def with_control_key(settings: Settings) -> Settings:
    """``settings`` with the control key filled in as :func:`control_key` finds it (for the worker and replay)."""
    if settings.control_key:
        return settings
    return dataclasses.replace(settings, control_key=Secret(control_key(settings).decode()))


def sender_key(settings: Settings) -> bytes:
    """The master sender key; in development, the data directory's (made on first use)."""
    if settings.sender_key:
        return settings.sender_key.reveal().encode()
    if settings.production:
        raise KeyConfigError("production mode needs the master sender key: set GREENSHIELD_SENDER_KEY (held by the "
                             "workers and the system's tools; enterprises get only their own derived key)")
    return _dev_secret(settings, DEV_SENDER_KEY, "sender")


def with_system_keys(settings: Settings) -> Settings:
    """``settings`` with the control and master sender keys filled in (workers, replay, the system's tools)."""
    filled = with_control_key(settings)
    if filled.sender_key:
        return filled
    return dataclasses.replace(filled, sender_key=Secret(sender_key(filled).decode()))


def _dev_secret(settings: Settings, name: str, kind: str) -> bytes:
    """A random secret kept in the data directory (mode 0600), made on first use.

    Written whole to a private temporary file, then linked into place: a process
    racing this one (``replay`` and a worker starting together) sees no file or the
    whole key, never a half-written one, and the one that loses uses the winner's.
    """
    path = settings.data_dir / name
    if not path.exists():
        settings.data_dir.mkdir(parents=True, exist_ok=True)
        draft = path.with_name(f".{name}.{secrets.token_hex(8)}")
        fd = os.open(draft, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        try:
            with os.fdopen(fd, "w") as f:
                f.write(secrets.token_hex(32))
            os.link(draft, path)
            _announce(kind, path)
        except FileExistsError:
            pass  # another process made it first: use theirs
        finally:
            draft.unlink(missing_ok=True)
    return path.read_text().strip().encode()


def _announce(kind: str, path: Path) -> None:
    """Say once where a development key was made (a warning: production sets every key itself)."""
    log.warning("event=development_key_created key=%s path=%s", kind, path)
