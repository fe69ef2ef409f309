"""Tokens and roles: 401 without a valid token, 403 without the right, hashes at rest, the sign-in cookie."""

from __future__ import annotations

import sqlalchemy as sa
from tests.api.apiworld import World

from greenshield.store import tokens

ROUTES = {  # a request of each endpoint, and the roles that may make it
    ("GET", "/v1/violations"): {"regulator", "enterprise"},
    ("GET", "/v1/stats"): {"regulator", "enterprise"},
    ("GET", "/v1/vehicles/V00000001/trace"): {"regulator", "enterprise", "auditor"},
    ("GET", "/v1/staff/P00000001/trace"): {"regulator", "enterprise", "auditor"},
    ("GET", "/v1/staff/P00000001/record"): {"regulator", "enterprise", "auditor"},  # revision 2 §8.2
    ("GET", "/v1/machines/X00000001/trace"): {"regulator", "enterprise", "auditor"},
    ("GET", "/v1/audit/checkpoints"): {"regulator", "enterprise", "auditor"},
    ("GET", "/v1/audit/public-key"): {"regulator", "enterprise", "auditor"},
    ("GET", "/v1/audit/consistency?first=1&second=2"): {"auditor"},
    ("GET", "/v1/audit/proof/0"): {"auditor"},
    ("POST", "/v1/senders/lookup"): {"auditor"},
    ("POST", "/v1/events"): {"enterprise", "regulator", "registrar"},  # what each may state: test_registry_authority
    ("GET", "/openapi.json"): {"regulator", "enterprise", "auditor", "registrar", "department"},
    ("GET", "/v1/risk/site"): {"regulator", "enterprise"},
    ("GET", "/v1/credit"): {"regulator", "enterprise", "auditor"},
    ("GET", "/v1/warnings"): {"regulator", "enterprise"},
    ("POST", "/v1/sanctions"): {"regulator"},
    ("GET", "/v1/epcis/events?since=2026-01-01T00:00:00Z&until=2026-01-02T00:00:00Z"): {"regulator", "enterprise", "auditor"},
    ("GET", "/tile/entries/000.p/1"): {"auditor"},  # C2SP entry bundles hold leaf data
    ("GET", "/v1/subscriptions"): {"regulator", "department"},
    ("POST", "/v1/subscriptions"): {"department"},  # the regulator manages, but a subscription is a department's
    ("GET", "/v1/subscriptions/sub_0000000000000000/deliveries"): {"regulator", "department"},
    ("POST", "/v1/subscriptions/sub_0000000000000000/pause"): {"regulator", "department"},
    ("GET", "/v1/feed?subscription=sub_0000000000000000"): {"department"},
}
OPEN = ("/healthz", "/checkpoint", "/tile/0/000.p/1")  # C2SP checkpoint and hash tiles: hashes only
SENDER = {"id_type": "passport", "id_number": "E12345678"}


def call(world: World, method: str, path: str, headers: dict[str, str]) -> int:
    if method == "GET":
        return int(world.client.get(path, headers=headers).status_code)
    body = SENDER if "senders" in path else []
    return int(world.client.post(path, json=body, headers=headers).status_code)


class TestAuthentication:
    def test_healthz_and_the_tlog_hashes_are_the_only_open_paths(self, world: World) -> None:
        """Without a token /healthz, /checkpoint and the hash tiles answer; every other route answers 401."""
        for path in OPEN:
            assert world.client.get(path).status_code == 200, path
        for (method, path) in ROUTES:
            assert call(world, method, path, {}) == 401, path
        for path in ("/", "/auditor", "/static/app.js", "/static/vendor/chart.umd.min.js"):
            assert world.client.get(path).status_code == 401, path

    def test_every_route_of_the_app_is_covered(self, world: World) -> None:
        """No route escapes the table above (a new one must be listed, and so checked)."""
        app_paths = {getattr(r, "path", "") for r in world.client.app.routes}  # type: ignore[attr-defined]
        listed = {p.split("?")[0] for _, p in ROUTES}
        api = {p for p in app_paths if p.startswith(("/v1", "/tile/entries")) or p == "/openapi.json"}
        templated = {"/v1/parcels/{waybill}/trace", "/v1/vehicles/{vehicle_id}/trace", "/v1/staff/{staff_id}/trace",
                     "/v1/staff/{staff_id}/record", "/v1/machines/{machine_id}/trace", "/v1/audit/proof/{n}",
                     "/v1/risk/{kind}", "/tile/entries/{rest:path}", "/v1/subscriptions/{sub_id}/{action}",
                     "/v1/subscriptions/{sub_id}", "/v1/subscriptions/{sub_id}/deliveries"}
        assert api - templated <= listed

    def test_unknown_and_malformed_tokens_get_401_with_a_challenge(self, world: World) -> None:
        """A made-up token, a Basic header or an over-long token is 401 with WWW-Authenticate."""
        for header in ("Bearer gs_nothing", "Basic dXNlcjpwYXNz", "Bearer " + "x" * 5000, "Bearer"):
            r = world.client.get("/v1/violations", headers={"Authorization": header})
            assert r.status_code == 401
            assert r.headers["www-authenticate"].startswith("Bearer")
            assert set(r.json()) == {"error"}

    def test_revoked_tokens_fail(self, world: World) -> None:
        """After revocation (by id or by the token itself) the token is 401 at once."""
        assert world.get("/v1/violations", "regulator").status_code == 200
        found = tokens.revoke(world.store, world.tokens["regulator"])
        assert found is not None and not found.active
        assert world.get("/v1/violations", "regulator").status_code == 401
        record, text = tokens.create(world.store, "auditor")
        headers = {"Authorization": f"Bearer {text}"}
        assert world.client.get("/v1/audit/checkpoints", headers=headers).status_code == 200
        tokens.revoke(world.store, record.id)
        assert world.client.get("/v1/audit/checkpoints", headers=headers).status_code == 401


class TestAuthorization:
    def test_each_role_gets_exactly_its_rights(self, world: World) -> None:
        """Each route answers 403 to the roles without the right, and not 401/403 to the others."""
        for (method, path), allowed in ROUTES.items():
            for role in ("regulator", "auditor", "enterprise", "registrar", "department"):
                status = call(world, method, path, world.auth(role))
                if role in allowed:
                    assert status not in (401, 403), (role, path, status)
                else:
                    assert status == 403, (role, path, status)

    def test_pages_by_role(self, world: World) -> None:
        """The dashboard is the regulator's, the auditor page the auditor's; the others get 403."""
        assert world.get("/", "regulator").status_code == 200
        assert world.get("/auditor", "auditor").status_code == 200
        assert world.get("/", "auditor").status_code == 403
        assert world.get("/auditor", "regulator").status_code == 403
        assert world.get("/", "enterprise").status_code == 403
        assert world.get("/", "registrar").status_code == 403
        assert world.get("/", "department").status_code == 403
        assert world.get("/auditor", "department").status_code == 403


class TestTokensAtRest:
    def test_only_the_sha256_of_a_token_is_stored(self, world: World) -> None:
        """No column of the token table holds a token's text; its SHA-256 is the key."""
        with world.store.read() as conn:
            rows = conn.execute(sa.select(tokens.api_tokens)).all()
        dump = repr(rows)
        for text in world.tokens.values():
            assert text not in dump
            assert tokens.token_hash(text) in dump
        assert all(len(t) == 46 and t.startswith("gs_") for t in world.tokens.values())

    def test_grants_are_checked(self, world: World) -> None:
        """An enterprise token needs an enterprise; the other roles take none."""
        import pytest

        for role, ent in (("enterprise", None), ("enterprise", "X1"), ("regulator", "E3100001"), ("root", None),
                          ("registrar", "E3100001")):
            with pytest.raises(ValueError):
                tokens.create(world.store, role, ent)


class TestSignIn:
    def test_login_sets_an_httponly_strict_cookie_and_redirects(self, world: World) -> None:
        """POST /login with a valid token: 303 to the role's page and a cookie that opens it."""
        r = world.client.post("/login", data={"token": world.tokens["auditor"], "next": "/"},
                              follow_redirects=False)
        assert r.status_code == 303 and r.headers["location"] == "/auditor"
        cookie = r.headers["set-cookie"].lower()
        assert "httponly" in cookie and "samesite=strict" in cookie
        assert world.client.get("/auditor").status_code == 200
        assert world.client.get("/static/auditor.js").status_code == 200

    def test_cookie_counts_for_v1_only_with_the_web_header(self, world: World) -> None:
        """A cross-site request carries the cookie but not the header: it gets 401."""
        world.client.post("/login", data={"token": world.tokens["regulator"]}, follow_redirects=False)
        assert world.client.get("/v1/stats").status_code == 401
        assert world.client.get("/v1/stats", headers={"X-Greenshield-Web": "1"}).status_code == 200

    def test_bad_login_is_401_with_the_form_and_no_cookie(self, world: World) -> None:
        """A wrong token shows the sign-in form again, 401, and sets nothing."""
        r = world.client.post("/login", data={"token": "gs_wrong"}, follow_redirects=False)
        assert r.status_code == 401 and "set-cookie" not in r.headers
        assert 'name="token"' in r.text

    def test_logout_clears_the_cookie(self, world: World) -> None:
        world.client.post("/login", data={"token": world.tokens["regulator"]}, follow_redirects=False)
        world.client.post("/logout", follow_redirects=False)
        assert world.client.get("/").status_code == 401
