"""Who may do what: tokens from the ``Authorization`` header (or the dashboard's cookie), roles, scopes.

401 when there is no valid token (none, unknown, revoked); 403 when the token is
valid but its role lacks the right, or an enterprise asks for another
enterprise. The right each role holds is one table, :data:`PERMISSIONS`; what a
role may *state* through ``POST /v1/events`` is part of it: parcel events
(``state_events``) only an enterprise, registry records (``state_registry``) only
the registrar (the registry feed's own identity) and the regulator.

The dashboard's pages are navigations, which cannot carry a header: ``POST
/login`` checks a token and keeps it in an HttpOnly, SameSite=Strict cookie. The
cookie counts for page loads (``GET``), and for ``/v1`` calls only together with
the header ``X-Greenshield-Web: 1``, which a cross-site form cannot send.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from greenshield.api.errors import ApiError, forbidden, unauthorized
from greenshield.api.service import Service, service_of
from greenshield.share.scope import Scope

COOKIE = "gs_token"
WEB_HEADER = "x-greenshield-web"
MAX_TOKEN_CHARS = 200

PERMISSIONS: dict[str, frozenset[str]] = {
    "enterprise": frozenset({"violations", "stats", "trace", "ingest", "state_events", "checkpoints",
                             "risk", "credit", "warnings"}),
    "regulator": frozenset({"violations", "stats", "trace", "checkpoints", "dashboard", "ingest", "state_registry",
                            "risk", "credit", "warnings", "sanctions", "subscriptions"}),
    "registrar": frozenset({"ingest", "state_registry"}),
    "auditor": frozenset({"trace", "sender", "proofs", "checkpoints", "auditor_page", "credit"}),
    # a department receives only what its scope admits, through its subscriptions (greenshield.share)
    # "subscribe" (create a subscription, read the pull feed) is a department's own; the regulator manages them
    "department": frozenset({"subscriptions", "subscribe"}),
}
RECORDED_ROLES = frozenset({"auditor"})  # every request of these roles is written to the audit log

bearer = HTTPBearer(auto_error=False, scheme_name="token",
                    description="`greenshield tokens create --role enterprise|regulator|registrar|auditor|department`")


@dataclass(frozen=True)
class Principal:
    """The holder of a valid token."""

    token_id: str
    role: str
    enterprise_id: str | None
    scope: Scope | None = None  # a department's (greenshield.share.scope)

    def may(self, permission: str) -> bool:
        return permission in PERMISSIONS.get(self.role, frozenset())

    def enterprise_scope(self, asked: str | None) -> str | None:
        """The enterprise a query is limited to: an enterprise token's own, whatever was asked."""
        if self.role != "enterprise":
            return asked
        if asked is not None and asked != self.enterprise_id:
            raise forbidden("an enterprise token reads only its own enterprise")
        return self.enterprise_id

    @property
    def recorded(self) -> bool:
        return self.role in RECORDED_ROLES

    def who(self) -> dict[str, str | None]:
        """How the audit log names the asker (never the token)."""
        return {"token_id": self.token_id, "role": self.role, "enterprise_id": self.enterprise_id}


def presented_token(request: Request, credentials: HTTPAuthorizationCredentials | None, page: bool) -> str | None:
    """The token of a request: the bearer header, else the cookie where it counts (see the module docstring)."""
    if credentials is not None and credentials.credentials:
        return credentials.credentials
    cookie = request.cookies.get(COOKIE)
    if not cookie:
        return None
    if page and request.method in ("GET", "HEAD"):
        return cookie
    return cookie if request.headers.get(WEB_HEADER) == "1" else None


def authenticate(service: Service, token: str | None) -> Principal:
    """The principal of a token; 401 unless it is a stored, unrevoked one."""
    if not token or len(token) > MAX_TOKEN_CHARS:
        raise unauthorized()
    found = service.lookup_token(token)
    if found is None or not found.active:
        raise unauthorized("the token is unknown or revoked")
    return Principal(found.id, found.role, found.enterprise_id, found.scope)


def require(permission: str, page: bool = False) -> Callable[..., Principal]:
    """A dependency: the request's principal, holding ``permission`` (401 / 403 otherwise)."""

    def dependency(request: Request,
                   credentials: HTTPAuthorizationCredentials | None = Depends(bearer)) -> Principal:
        principal = authenticate(service_of(request), presented_token(request, credentials, page))
        if not principal.may(permission):
            raise forbidden(f"the {principal.role} role may not use this")
        return principal

    return dependency


def any_token(page: bool = False) -> Callable[..., Principal]:
    """A dependency: any valid token (401 otherwise)."""

    def dependency(request: Request,
                   credentials: HTTPAuthorizationCredentials | None = Depends(bearer)) -> Principal:
        return authenticate(service_of(request), presented_token(request, credentials, page))

    return dependency


__all__ = ["ApiError", "COOKIE", "PERMISSIONS", "Principal", "any_token", "authenticate", "require"]
