"""API tokens of the service: roles, the enterprise they are scoped to, and only a hash at rest.

A token is ``gs_`` + 32 random bytes (base64url, 43 characters). The store keeps
``SHA-256(token text)`` (lowercase hex) and never the token itself, so a copy of the
database lets nobody in. A token has a short public ``id`` (the first 12 hex
characters of the hash) for listing and revoking. Revoking stamps ``revoked_ms``;
a revoked row stays, so the history of who could read what is kept. A ``department``
token (customs, police, transport, ...) carries the scope the regulator set when issuing
it (:mod:`greenshield.share.scope`), kept in the sharing side table ``token_scopes``.

The table has its own :class:`~sqlalchemy.MetaData` and version row
(``api_tokens_version``), an addition beside the audit schema of
:mod:`greenshield.store.schema`: :func:`ensure_tables` creates it in any store,
old or new, on first use.
"""

from __future__ import annotations

import hashlib
import re
import secrets
import time
from dataclasses import dataclass

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from greenshield.share.scope import Scope, from_doc
from greenshield.store import sharing_tables as st
from greenshield.store.database import Store
from greenshield.store.side_tables import ensure_versioned_tables, version_table
from greenshield.translog.entries import canonical, loads

TOKENS_VERSION = 1
ROLES = ("enterprise", "regulator", "registrar", "auditor", "department")
PREFIX = "gs_"
_ENTERPRISE = re.compile(r"E[0-9]{7}")
_ID = re.compile(r"[0-9a-f]{12}")

metadata = sa.MetaData()

api_tokens_version = version_table("api_tokens_version", metadata)
api_tokens = sa.Table(
    "api_tokens", metadata,
    sa.Column("token_hash", sa.String(64), primary_key=True),  # SHA-256 of the token text, hex
    sa.Column("id", sa.String(12), nullable=False, unique=True),
    sa.Column("role", sa.String(16), nullable=False),
    sa.Column("enterprise_id", sa.String(8)),                    # only for role "enterprise"
    sa.Column("label", sa.String(200), nullable=False),
    sa.Column("created_ms", sa.BigInteger, nullable=False),
    sa.Column("revoked_ms", sa.BigInteger),
)


@dataclass(frozen=True)
class Token:
    """A stored token: who holds what right (never the token text)."""

    id: str
    role: str
    enterprise_id: str | None
    label: str
    created_ms: int
    revoked_ms: int | None
    scope: Scope | None = None  # a department's; None for every other role

    @property
    def active(self) -> bool:
        return self.revoked_ms is None


def token_hash(token: str) -> str:
    """SHA-256 of the token text, lowercase hex: the only form kept at rest."""
    return hashlib.sha256(token.encode("utf-8", "surrogatepass")).hexdigest()


def ensure_tables(store: Store) -> None:
    """Create the token tables (and the sharing tables) if this store has none yet (safe to race with another process)."""
    ensure_versioned_tables(store, metadata, api_tokens_version, TOKENS_VERSION, api_tokens, "API token")
    st.ensure_tables(store)  # a department token's scope lives beside it


def validate_grant(role: str, enterprise_id: str | None, scope: Scope | None = None) -> None:
    """Raise ``ValueError`` unless ``role`` exists, an enterprise is given exactly for ``enterprise``
    and a scope exactly for ``department``."""
    if (role == "department") != (scope is not None):
        raise ValueError("a department token needs --scope (e.g. rules=PH-1,PH-2;regions=320500, or all), "
                         "and only a department token has one")
    if role not in ROLES:
        raise ValueError(f"unknown role {role!r}: one of {', '.join(ROLES)}")
    if role == "enterprise":
        if enterprise_id is None or not _ENTERPRISE.fullmatch(enterprise_id):
            raise ValueError("an enterprise token needs --enterprise E + 7 digits")
    elif enterprise_id is not None:
        raise ValueError(f"a {role} token is not scoped to an enterprise: leave out --enterprise")


def create(store: Store, role: str, enterprise_id: str | None = None, label: str = "",
           clock_ms: int | None = None, scope: Scope | None = None) -> tuple[Token, str]:
    """Store a new token's hash (and a department's scope, in the same transaction); return the
    record and the token text (shown once, never stored)."""
    validate_grant(role, enterprise_id, scope)
    text = PREFIX + secrets.token_urlsafe(32)
    digest = token_hash(text)
    row = Token(digest[:12], role, enterprise_id, label[:200],
                clock_ms if clock_ms is not None else time.time_ns() // 1_000_000, None, scope)
    with store.write() as conn:
        conn.execute(api_tokens.insert().values(token_hash=digest, id=row.id, role=row.role,
                                                enterprise_id=row.enterprise_id, label=row.label,
                                                created_ms=row.created_ms, revoked_ms=None))
        if scope is not None:
            conn.execute(st.token_scopes.insert().values(token_id=row.id, scope=canonical(scope.to_doc()).decode()))
    return row, text


def revoke(store: Store, ident: str, clock_ms: int | None = None) -> Token | None:
    """Revoke by public id or by token text; return the token, or None if there is no such one."""
    column, value = ((api_tokens.c.id, ident) if _ID.fullmatch(ident)
                     else (api_tokens.c.token_hash, token_hash(ident)))
    now = clock_ms if clock_ms is not None else time.time_ns() // 1_000_000
    with store.write() as conn:
        conn.execute(api_tokens.update().where(column == value, api_tokens.c.revoked_ms.is_(None))
                     .values(revoked_ms=now))
        row = conn.execute(_select().where(column == value)).first()
    return _token(row) if row is not None else None


def lookup(conn: Connection, token: str) -> Token | None:
    """The stored token for a presented token text (revoked ones too), or None."""
    row = conn.execute(_select().where(api_tokens.c.token_hash == token_hash(token))).first()
    return _token(row) if row is not None else None


def by_id(conn: Connection, ident: str) -> Token | None:
    """The stored token of a public id, or None."""
    row = conn.execute(_select().where(api_tokens.c.id == ident)).first()
    return _token(row) if row is not None else None


def list_tokens(conn: Connection) -> list[Token]:
    """Every token, oldest first."""
    rows = conn.execute(_select().order_by(api_tokens.c.created_ms, api_tokens.c.id)).all()
    return [_token(r) for r in rows]


def _select() -> sa.Select[tuple[object, ...]]:
    s = st.token_scopes
    return sa.select(api_tokens, s.c.scope).outerjoin(s, s.c.token_id == api_tokens.c.id)


def _token(row: sa.Row[tuple[object, ...]]) -> Token:
    m = row._mapping
    revoked, scope = m["revoked_ms"], m["scope"]
    return Token(str(m["id"]), str(m["role"]), m["enterprise_id"], str(m["label"]), int(m["created_ms"]),
                 int(revoked) if revoked is not None else None,
                 from_doc(loads(scope)) if scope is not None else None)
