"""Who may do what on Kafka: the pipeline's principals, their ACLs, and their credentials files.

:func:`grants` is the table of roles (worker, registry feed, API, tools, notifier, an
enterprise) and their LITERAL topic ACLs as data (pure); :func:`apply` puts it on a broker.
The table and why the ACLs are LITERAL: ``docs/adr/0019-kafka-principals.md``; with the
API's roles, ``docs/security.md``.
"""

from __future__ import annotations

import json
import os
import re
import secrets
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from greenshield.errors import StreamError
from greenshield.sdk.sender import enterprise_key
from greenshield.settings import Settings

MECHANISM = "SCRAM-SHA-512"
SYSTEM_ROLES = ("worker", "registry-feed", "api", "tools", "notifier")
ROLES = (*SYSTEM_ROLES, "enterprise")
_USER = re.compile(r"[A-Za-z0-9._-]{1,64}")
_ENTERPRISE = re.compile(r"E[0-9]{7}")


class PrincipalError(StreamError, ValueError):
    """A principal that cannot be made (bad name or role), or a broker that refused a change."""


@dataclass(frozen=True)
class Principal:
    """One identity on the broker: a SCRAM user with a role (and, for an enterprise, its id)."""

    user: str
    role: str
    enterprise_id: str = ""

    def __post_init__(self) -> None:
        if self.role not in ROLES:
            raise PrincipalError(f"role {self.role!r} is not one of {', '.join(ROLES)}")
        if not _USER.fullmatch(self.user) or self.user == "admin":
            raise PrincipalError(f"user name {self.user!r}: 1-64 of [A-Za-z0-9._-], and not the super user")
        if (self.role == "enterprise") != bool(self.enterprise_id):
            raise PrincipalError("an enterprise principal needs its enterprise id, and only it has one")
        if self.enterprise_id and not _ENTERPRISE.fullmatch(self.enterprise_id):
            raise PrincipalError(f"enterprise id {self.enterprise_id!r} is not E + 7 digits")

    @property
    def name(self) -> str:
        """The broker's principal, as ACLs name it."""
        return f"User:{self.user}"


def system(role: str, prefix: str = "") -> Principal:
    """The system principal of ``role`` (``prefix`` keeps test principals apart)."""
    return Principal(f"{prefix}gs-{role}", role)


def enterprise(enterprise_id: str, prefix: str = "") -> Principal:
    return Principal(f"{prefix}{enterprise_id}", "enterprise", enterprise_id)


@dataclass(frozen=True, order=True)
class Grant:
    """One ALLOW ACL: ``operation`` on ``resource`` (``topic``, ``group`` or ``cluster``) ``name``."""

    resource: str
    name: str
    operation: str


def grants(principal: Principal, settings: Settings) -> list[Grant]:
    """What ``principal`` may do on the broker the settings name (everything else is denied)."""
    s = settings

    def topic(name: str, *ops: str) -> list[Grant]:
        return [Grant("topic", name, op) for op in ("DESCRIBE", "DESCRIBE_CONFIGS", *ops)]

    role = principal.role
    if role == "worker":
        return [*topic(s.events_topic, "READ"), *topic(s.registry_topic, "READ"),
                *topic(s.violations_topic, "WRITE"), *topic(s.rejects_topic, "WRITE"),
                Grant("group", s.worker_group, "READ")]
    if role == "registry-feed":
        return topic(s.registry_topic, "WRITE")
    if role == "api":
        return [*topic(s.events_topic, "WRITE"), *topic(s.registry_topic, "WRITE"), *topic(s.rejects_topic, "WRITE")]
    if role == "notifier":  # the departments' webhooks: reads the verdicts, writes nothing
        return [*topic(s.violations_topic, "READ"), Grant("group", s.notifier_group, "READ")]
    if role == "tools":  # send/replay and the clock; risk/credit --publish the warnings
        return [*topic(s.events_topic, "WRITE"), *topic(s.warnings_topic, "WRITE")]
    # an enterprise writes events, checked by signature (ingest.sender)
    return topic(s.events_topic, "WRITE")


# --------------------------------------------------------------------------- credentials files


def credentials_path(directory: Path, principal: Principal) -> Path:
    return directory / f"{principal.user}.json"


def write_credentials(directory: Path, principal: Principal, settings: Settings, master_key: bytes = b"",
                      protocol: str = "SASL_PLAINTEXT") -> tuple[Path, str, bool]:
    """The principal's credentials file (kept if it exists, so its password stays): ``(path, password, made)``.

    An enterprise's file also holds its id and its sender key (derived from
    ``master_key``): all the SDK and ``send`` need to speak for it, and only for it.
    """
    path = credentials_path(directory, principal)
    if path.exists():
        kept = json.loads(path.read_text())
        return path, str(kept["security"]["sasl_plain_password"]), False
    password = secrets.token_urlsafe(24)
    doc: dict[str, Any] = {"v": 1, "principal": principal.user, "role": principal.role,
                           "bootstrap": settings.kafka_bootstrap,
                           "security": {"security_protocol": protocol, "sasl_mechanism": MECHANISM,
                                        "sasl_plain_username": principal.user, "sasl_plain_password": password}}
    if principal.enterprise_id:
        if not master_key:
            raise PrincipalError("an enterprise's credentials need the master sender key")
        doc["enterprise_id"] = principal.enterprise_id
        doc["sender_key"] = enterprise_key(master_key, principal.enterprise_id).hex()
    directory.mkdir(parents=True, exist_ok=True)
    write_private(path, json.dumps(doc, indent=2) + "\n")
    return path, password, True


def write_private(path: Path, text: str) -> None:
    """Write ``text`` to a new file of mode 0600 (whole or not at all; an existing file is kept)."""
    draft = path.with_name(f".{path.name}.{secrets.token_hex(6)}")
    fd = os.open(draft, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(fd, "w") as f:
            f.write(text)
        os.link(draft, path)
    except FileExistsError:
        pass
    finally:
        draft.unlink(missing_ok=True)


# --------------------------------------------------------------------------- the broker


def apply(admin: Any, principals: Iterable[Principal], settings: Settings, directory: Path,
          master_key: bytes = b"", protocol: str = "SASL_PLAINTEXT") -> list[Path]:
    """Make each principal a SCRAM user with its password and its ACLs; returns the credentials files.

    Idempotent: an existing credentials file keeps its password (set again), ACLs
    that exist are left as they are. ``admin`` is a kafka-python admin client logged in
    as the super user.
    """
    from kafka.admin import ScramMechanism, UserScramCredentialUpsertion

    principals = list(principals)
    files: list[Path] = []
    upserts = []
    for p in principals:
        path, password, _ = write_credentials(directory, p, settings, master_key, protocol)
        files.append(path)
        upserts.append(UserScramCredentialUpsertion(p.user, ScramMechanism.SCRAM_SHA_512, password))
    if upserts:
        failed = {user: err for user, err in admin.alter_user_scram_credentials(upserts).items() if err}
        if failed:
            raise PrincipalError(f"the broker refused the SCRAM credentials of {failed}")
    acls = [acl_of(p, g) for p in principals for g in grants(p, settings)]
    if acls:
        result = admin.create_acls(acls)
        if result["failed"]:
            raise PrincipalError(f"the broker refused {len(result['failed'])} ACL(s): {result['failed'][0]!r}")
    return files


def acl_of(principal: Principal, grant: Grant) -> Any:
    """The kafka-python ACL of one grant."""
    from kafka.admin import ACL, ACLOperation, ACLPermissionType, ACLResourcePatternType, ResourcePattern, ResourceType

    kind = {"topic": ResourceType.TOPIC, "group": ResourceType.GROUP, "cluster": ResourceType.CLUSTER}[grant.resource]
    return ACL(principal=principal.name, host="*", operation=ACLOperation[grant.operation],
               permission_type=ACLPermissionType.ALLOW,
               resource_pattern=ResourcePattern(kind, grant.name, ACLResourcePatternType.LITERAL))
