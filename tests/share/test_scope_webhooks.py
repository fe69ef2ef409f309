"""The pure parts: scopes and filters, Standard Webhooks signatures (checked by the standardwebhooks verifier),
stable message ids, backoff with jitter, callback URLs."""

from __future__ import annotations

import random
import time

import pytest
from standardwebhooks import Webhook
from standardwebhooks.webhooks import WebhookVerificationError

from greenshield.share import messages
from greenshield.share.scope import Facts, Scope, parse
from greenshield.share.webhooks import Backoff, check_callback, headers, new_secret, violation_id

PH1 = Facts("violation.opened", "PH-1", "critical", "320500", "E3100001")


class TestScope:
    def test_each_kind_limits_and_a_missing_value_is_not_admitted(self) -> None:
        assert parse("all").admits(PH1)
        assert parse("rules=PH-1,PH-2").admits(PH1) and not parse("rules=XR-1").admits(PH1)
        assert parse("severities=critical").admits(PH1) and not parse("severities=high").admits(PH1)
        assert parse("regions=320500").admits(PH1) and not parse("regions=330100").admits(PH1)
        assert parse("enterprises=E3100001").admits(PH1) and not parse("enterprises=E3300001").admits(PH1)
        no_region = Facts("violation.opened", "TR-1", "high", None, "E3100001")
        assert not parse("regions=320500").admits(no_region)  # fails closed
        assert not parse("rules=PH-1").admits(Facts("registry.blacklisted", enterprise="E3100001"))

    def test_a_filter_must_lie_inside_the_scope_and_is_narrowed_to_it(self) -> None:
        scope = parse("rules=PH-1,PH-2;regions=320500")
        assert parse("rules=PH-1").within(scope) == []
        assert parse("rules=PH-1,XR-1").within(scope) == ["rules: XR-1 outside the scope"]
        assert parse("all").within(scope) == []  # unlimited kinds take the scope's
        narrowed = parse("types=violation.opened").narrowed(scope)
        assert narrowed.rules == {"PH-1", "PH-2"} and narrowed.regions == {"320500"}
        assert not narrowed.admits(Facts("violation.retracted", "PH-1", "critical", "320500", "E3100001"))

    @pytest.mark.parametrize("text", ["", "rules=", "rules=PH1", "regions=320582", "severities=low",
                                      "colour=red", "types=violation.deleted", "enterprises=E31", "rules"])
    def test_a_bad_scope_is_refused(self, text: str) -> None:
        with pytest.raises(ValueError):
            parse(text)

    def test_the_json_form_round_trips(self) -> None:
        from greenshield.share.scope import from_doc

        scope = parse("rules=PH-1;severities=critical,high;regions=320500;enterprises=E3100001")
        assert from_doc(scope.to_doc()) == scope and Scope().to_doc() == {}


class TestSignatures:
    def test_the_standardwebhooks_verifier_accepts_ours_and_refuses_a_changed_body_or_secret(self) -> None:
        secret, body = new_secret(), b'{"type":"violation.opened","timestamp":"t","data":{}}'
        h = headers(secret, "msg_1", int(time.time()), body)
        assert Webhook(secret).verify(body, h) == {"type": "violation.opened", "timestamp": "t", "data": {}}
        with pytest.raises(WebhookVerificationError):
            Webhook(secret).verify(body.replace(b"opened", b"closed"), h)
        with pytest.raises(WebhookVerificationError):
            Webhook(new_secret()).verify(body, h)
        with pytest.raises(WebhookVerificationError):
            Webhook(secret).verify(body, {**h, "webhook-id": "msg_2"})
        assert secret.startswith("whsec_") and h["webhook-signature"].startswith("v1,")

    def test_a_violation_change_has_one_id_whatever_is_sent(self) -> None:
        value = {"v": 1, "change": "opened", "seq": 2, "enterprise_id": "E3100001", "waybill_no": "W1",
                 "rule_id": "PH-1", "severity": "critical", "occurred_at": "2026-11-13T01:00:00Z", "evidence": ["e"],
                 "message": "m", "rule_pack": "p@1", "status": "open", "as_of": "2026-11-13T02:00:00Z"}
        a, b = messages.violation(value, "320500"), messages.violation(dict(value), "320500")
        assert a.id == b.id == violation_id("E3100001", "W1", "PH-1", 2) and a.body == b.body
        assert messages.violation({**value, "seq": 3}, "320500").id != a.id
        assert messages.violation({**value, "waybill_no": "W2"}, "320500").id != a.id

    def test_bodies_hold_named_fields_only(self) -> None:
        """A field the contract keeps private never rides along, whatever the input holds."""
        value = {"v": 1, "change": "opened", "seq": 1, "enterprise_id": "E3100001", "waybill_no": "W1",
                 "rule_id": "RN-1", "sender": {"name": "张三", "id_number": "110101199003070011"}}
        assert "张三" not in messages.violation(value, None).body and "1101011990" not in messages.violation(value, None).body
        doc = {"enterprise_id": "E3100001", "event_id": "r1", "entity": "person", "id": "D-1",
               "status": "blacklisted", "occurred_at": "2026-11-13T00:00:00Z",
               "person": {"id_type": "resident_id", "id_hash": "ab" * 32, "id_number_masked": "110*************11",
                          "id_number": "110101199003070011"}}
        body = messages.blacklisting(7, doc).body
        assert "ab" * 32 in body and "110*************11" in body and "110101199003070011" not in body


class TestBackoff:
    def test_delays_double_to_the_cap_with_jitter_and_the_limit_parks(self) -> None:
        b, rng = Backoff(base_ms=100, cap_ms=1000, limit=4, jitter=0.5), random.Random(1)
        for attempt, full in [(1, 100), (2, 200), (3, 400), (4, 800), (5, 1000), (9, 1000)]:
            delays = {b.delay_ms(attempt, rng) for _ in range(50)}
            assert all(full // 2 <= d <= full for d in delays) and len(delays) > 5
        assert not b.exhausted(3) and b.exhausted(4)


class TestCallback:
    @pytest.mark.parametrize("url, local, ok", [
        ("https://dept.example/hook", False, True), ("http://dept.example/hook", True, False),
        ("http://127.0.0.1:8080/h", False, False), ("http://127.0.0.1:8080/h", True, True),
        ("http://localhost/h", True, True), ("https://user:pw@dept.example/", False, False),
        ("ftp://dept.example/", True, False), ("/relative", True, False)])
    def test_https_only_but_local_http_when_allowed(self, url: str, local: bool, ok: bool) -> None:
        if ok:
            assert check_callback(url, local) == url
        else:
            with pytest.raises(ValueError):
                check_callback(url, local)
