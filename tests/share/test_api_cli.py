"""``/v1/subscriptions`` and the commands: a department manages its own, the regulator sees all; department
tokens carry their scope; filters outside it, plain-http callbacks and other roles are refused."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from tests.share.sharekit import copy

from greenshield import cli
from greenshield.api.app import create_app
from greenshield.store import tokens
from greenshield.store.database import Store
from greenshield.settings import Settings
from greenshield.share.scope import parse


class Api:
    def __init__(self, client: TestClient, store: Store) -> None:
        self.client, self.store = client, store
        self.tokens: dict[str, str] = {}
        self.ids: dict[str, str] = {}

    def issue(self, name: str, role: str, scope: str | None = None, enterprise: str | None = None) -> None:
        token, text = tokens.create(self.store, role, enterprise, name,
                                    scope=parse(scope) if scope is not None else None)
        self.tokens[name], self.ids[name] = text, token.id

    def call(self, method: str, path: str, who: str, **kwargs: Any) -> Any:
        return self.client.request(method, path, headers={"Authorization": f"Bearer {self.tokens[who]}"}, **kwargs)


@pytest.fixture
def api(seeded: Path, tmp_path: Path) -> Iterator[Api]:
    settings = copy(seeded, tmp_path)
    store = Store.open(settings.db_url)
    tokens.ensure_tables(store)
    try:
        with TestClient(create_app(settings, store, upkeep_seconds=0)) as client:
            a = Api(client, store)
            a.issue("customs", "department", "rules=PH-1,PH-2;severities=critical")
            a.issue("police", "department", "regions=320500")
            a.issue("regulator", "regulator")
            a.issue("enterprise", "enterprise", enterprise="E3100001")
            yield a
    finally:
        store.close()


HOOK = "https://customs.example/hook"


def test_a_department_subscribes_inside_its_scope_and_gets_the_secret_once(api: Api) -> None:
    r = api.call("POST", "/v1/subscriptions", "customs", json={"callback": HOOK, "filter": {"rules": ["PH-1"]}})
    assert r.status_code == 201, r.text
    made = r.json()
    assert made["secret"].startswith("whsec_") and made["filter"]["rules"] == ["PH-1"]
    assert made["filter"]["severities"] == ["critical"]  # narrowed to the scope
    listed = api.call("GET", "/v1/subscriptions", "customs").json()["items"]
    assert [s["id"] for s in listed] == [made["id"]] and "secret" not in listed[0]


def test_outside_the_scope_plain_http_and_other_roles_are_refused(api: Api, tmp_path: Path) -> None:
    assert api.call("POST", "/v1/subscriptions", "customs",
                    json={"callback": HOOK, "filter": {"rules": ["XR-1"]}}).status_code == 400
    assert api.call("POST", "/v1/subscriptions", "customs",
                    json={"callback": "http://customs.example/h"}).status_code == 400
    assert api.call("POST", "/v1/subscriptions", "customs",
                    json={"callback": HOOK, "filter": {"colour": ["red"]}}).status_code == 400
    assert api.call("POST", "/v1/subscriptions", "enterprise", json={"callback": HOOK}).status_code == 403
    assert api.call("GET", "/v1/subscriptions", "enterprise").status_code == 403
    assert api.call("POST", "/v1/subscriptions", "regulator", json={"callback": HOOK}).status_code == 403
    assert api.call("GET", "/v1/violations", "customs").status_code == 403  # only through its scope


def test_each_department_sees_and_changes_only_its_own_and_the_regulator_all(api: Api) -> None:
    mine = api.call("POST", "/v1/subscriptions", "customs", json={"callback": HOOK}).json()["id"]
    theirs = api.call("POST", "/v1/subscriptions", "police", json={"callback": "https://police.example/"}).json()["id"]
    assert [s["id"] for s in api.call("GET", "/v1/subscriptions", "police").json()["items"]] == [theirs]
    assert {s["id"] for s in api.call("GET", "/v1/subscriptions", "regulator").json()["items"]} == {mine, theirs}
    assert api.call("POST", f"/v1/subscriptions/{theirs}/pause", "customs").status_code == 404
    assert api.call("DELETE", f"/v1/subscriptions/{theirs}", "customs").status_code == 404
    assert api.call("POST", f"/v1/subscriptions/{mine}/pause", "customs").json()["state"] == "paused"
    assert api.call("POST", f"/v1/subscriptions/{mine}/pause", "customs").status_code == 409
    assert api.call("POST", f"/v1/subscriptions/{mine}/resume", "customs").json()["state"] == "active"
    assert api.call("POST", f"/v1/subscriptions/{theirs}/pause", "regulator").json()["state"] == "paused"
    assert api.call("DELETE", f"/v1/subscriptions/{mine}", "customs").json()["state"] == "deleted"
    assert api.call("GET", f"/v1/subscriptions/{mine}/deliveries", "customs").json() == {"items": []}
    assert api.call("GET", f"/v1/subscriptions/{mine}/deliveries", "police").status_code == 404


def test_a_revoked_department_token_is_refused(api: Api) -> None:
    tokens.revoke(api.store, api.ids["customs"])
    assert api.call("GET", "/v1/subscriptions", "customs").status_code == 401


def _gs(*argv: object) -> int:
    return cli.main([str(a) for a in argv])


def test_the_commands_issue_a_scoped_token_and_manage_its_subscriptions(
        seeded: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    settings: Settings = copy(seeded, tmp_path)
    db = settings.db_url
    monkeypatch.setenv("GREENSHIELD_DATA_DIR", str(tmp_path / "var"))
    assert _gs("tokens", "create", "--role", "department", "--db", db) == 2  # a department needs --scope
    assert "needs --scope" in capsys.readouterr().err
    assert _gs("tokens", "create", "--role", "regulator", "--scope", "all", "--db", db) == 2
    assert _gs("tokens", "create", "--role", "department", "--scope", "regions=320582", "--db", db) == 2
    capsys.readouterr()
    assert _gs("tokens", "create", "--role", "department", "--scope", "rules=PH-1;regions=320500",
               "--label", "customs", "--db", db) == 0
    out = capsys.readouterr().out
    assert "with scope rules=PH-1; regions=320500" in out
    token_id = out.split(", id ")[1].split(";")[0]
    assert _gs("tokens", "list", "--db", db) == 0 and "rules=PH-1; regions=320500" in capsys.readouterr().out
    assert _gs("subscriptions", "create", "--token", token_id, "--callback", "http://127.0.0.1:9/h", "--db", db) == 2
    assert "https" in capsys.readouterr().err  # local http only with the dev setting
    monkeypatch.setenv("GREENSHIELD_NOTIFY_ALLOW_LOCAL_HTTP", "1")
    assert _gs("subscriptions", "create", "--token", token_id, "--callback", "http://127.0.0.1:9/h",
               "--filter", "rules=XR-1", "--db", db) == 2
    assert "outside the department's scope" in capsys.readouterr().err
    assert _gs("subscriptions", "create", "--token", token_id, "--callback", "http://127.0.0.1:9/h", "--db", db) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[-1].startswith("whsec_")
    sub_id = lines[0].split()[2]
    for action, state in [("pause", "paused"), ("resume", "active"), ("redrive", "active"), ("delete", "deleted")]:
        assert _gs("subscriptions", action, sub_id, "--db", db) == 0
        assert capsys.readouterr().out.strip() == f"subscription {sub_id}: {state}"
    assert _gs("subscriptions", "resume", sub_id, "--db", db) == 1
    capsys.readouterr()
    assert _gs("subscriptions", "list", "--json", "--db", db) == 0
    listed = capsys.readouterr().out
    assert sub_id in listed and "whsec_" not in listed


def test_a_pull_feed_serves_the_same_messages_and_ids_signed(api: Api) -> None:
    from standardwebhooks import Webhook

    from tests.share.sharekit import topic_values

    from greenshield.store import outbox
    from greenshield.notifier.service import route, violation_messages

    made = api.call("POST", "/v1/subscriptions", "police", json={"filter": {}}).json()
    assert made["callback"] == "" and made["state"] == "active"
    push = api.call("POST", "/v1/subscriptions", "police", json={"callback": HOOK}).json()["id"]
    values = topic_values(api.store)
    with api.store.write() as conn:
        route(conn, api.store, violation_messages(conn, values), outbox.now_ms())
    feed = f"/v1/feed?subscription={made['id']}"
    page = api.call("GET", f"{feed}&limit=5", "police").json()
    assert len(page["items"]) == 5
    hook = Webhook(made["secret"])
    bodies = [hook.verify(i["body"], i["headers"]) for i in page["items"]]
    assert {b["data"]["region"] for b in bodies} == {"320500"}  # the police scope: one city
    again = api.call("GET", f"{feed}&limit=5", "police").json()
    assert [i["id"] for i in again["items"]] == [i["id"] for i in page["items"]]  # at least once, same ids
    rest = api.call("GET", f"{feed}&cursor={page['next_cursor']}&limit=1000", "police").json()
    assert not {i["id"] for i in rest["items"]} & {i["id"] for i in page["items"]}
    end = api.call("GET", f"{feed}&cursor={rest['next_cursor']}&wait=0.5", "police").json()
    assert end == {"items": [], "next_cursor": rest["next_cursor"]}
    served = api.call("GET", f"/v1/subscriptions/{made['id']}/deliveries", "police").json()["items"]
    assert len(served) == 10 + len(rest["items"]) and {s["outcome"] for s in served} == {"served"}
    assert api.call("GET", f"/v1/feed?subscription={push}", "police").status_code == 404
    assert api.call("GET", feed, "customs").status_code == 404
    assert api.call("GET", feed, "regulator").status_code == 403
    with api.store.read() as conn:
        assert all(d.subscription_id != made["id"] for d in outbox.due(conn, outbox.now_ms()))  # never POSTed
