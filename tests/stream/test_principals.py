"""The principals table as data, their credentials files, and a secure broker's configuration (no broker)."""

from __future__ import annotations

import json
import stat
from pathlib import Path

import pytest

from greenshield.stream import principals as p
from greenshield.devtools.kafka_config import BrokerConfig, BrokerError, format_command, render_server_properties
from greenshield.sdk.sender import Signer, Verifier, enterprise_key
from greenshield.settings import Settings

S = Settings.from_env({})
INPUTS = {S.events_topic, S.registry_topic}
OUTPUTS = {S.violations_topic, S.rejects_topic}


def _ops(principal: p.Principal) -> set[tuple[str, str, str]]:
    return {(g.resource, g.name, g.operation) for g in p.grants(principal, S)}


def _writes(principal: p.Principal) -> set[str]:
    return {name for kind, name, op in _ops(principal) if kind == "topic" and op == "WRITE"}


def _reads(principal: p.Principal) -> set[str]:
    return {name for kind, name, op in _ops(principal) if op == "READ"}


class TestTable:
    def test_an_enterprise_writes_events_and_nothing_else(self) -> None:
        e = p.enterprise("E3100001")
        assert _writes(e) == {S.events_topic}
        assert _reads(e) == set()

    def test_only_the_registry_feed_and_the_service_write_the_registry(self) -> None:
        writers = {r for r in p.ROLES if S.registry_topic in _writes(_any(r))}
        assert writers == {"registry-feed", "api"}

    def test_the_worker_reads_inputs_writes_outputs_and_states_nothing(self) -> None:
        w = p.system("worker")
        assert _writes(w) == OUTPUTS
        assert _reads(w) == INPUTS | {S.worker_group}
        assert ("group", S.worker_group, "READ") in _ops(w)

    def test_nobody_but_the_worker_writes_violations_and_only_it_and_the_service_rejects(self) -> None:
        assert {r for r in p.ROLES if S.violations_topic in _writes(_any(r))} == {"worker"}
        assert {r for r in p.ROLES if S.rejects_topic in _writes(_any(r))} == {"worker", "api"}

    def test_nobody_but_the_notifier_reads_an_output_topic_on_kafka(self) -> None:
        """Violations and rejects reach people through the API or the notifier's webhooks (both scoped by
        token), never their own Kafka read; the notifier reads the violations and writes nothing."""
        assert all(not (_reads(_any(r)) & OUTPUTS) for r in p.ROLES if r != "notifier")
        n = p.system("notifier")
        assert _reads(n) == {S.violations_topic, S.notifier_group} and _writes(n) == set()

    def test_only_the_tools_publish_warnings(self) -> None:
        assert {r for r in p.ROLES if S.warnings_topic in _writes(_any(r))} == {"tools"}

    def test_every_grant_names_a_topic_of_these_settings_or_the_workers_group(self) -> None:
        names = INPUTS | OUTPUTS | {S.warnings_topic, S.worker_group, S.notifier_group}
        assert all(g.name in names for r in p.ROLES for g in p.grants(_any(r), S))

    @pytest.mark.parametrize("user, role, eid", [
        ("admin", "tools", ""), ("E3100001", "enterprise", ""), ("x", "enterprise", "E31"), ("a b", "tools", ""),
        ("x", "root", ""), ("x", "tools", "E3100001")])
    def test_a_principal_that_cannot_be(self, user: str, role: str, eid: str) -> None:
        with pytest.raises(p.PrincipalError):
            p.Principal(user, role, eid)


def _any(role: str) -> p.Principal:
    return p.enterprise("E3100001") if role == "enterprise" else p.system(role)


class TestCredentials:
    def test_an_enterprise_file_is_private_and_holds_its_login_and_derived_key(self, tmp_path: Path) -> None:
        path, password, made = p.write_credentials(tmp_path, p.enterprise("E3100001"), S, b"master")
        assert made and stat.S_IMODE(path.stat().st_mode) == 0o600
        doc = json.loads(path.read_text())
        assert doc["security"]["sasl_plain_username"] == "E3100001"
        assert doc["security"]["sasl_plain_password"] == password and len(password) >= 24
        assert bytes.fromhex(doc["sender_key"]) == enterprise_key(b"master", "E3100001")
        assert "master" not in path.read_text()

    def test_a_second_run_keeps_the_password(self, tmp_path: Path) -> None:
        first = p.write_credentials(tmp_path, p.system("worker"), S)
        second = p.write_credentials(tmp_path, p.system("worker"), S)
        assert first[1] == second[1] and first[2] and not second[2]

    def test_settings_from_the_file_sign_as_that_enterprise_only(self, tmp_path: Path) -> None:
        from greenshield.sdk.sender import signer_for

        path, _, _ = p.write_credentials(tmp_path, p.enterprise("E3100001"), S, b"master")
        s = Settings.from_env({"GREENSHIELD_KAFKA_CREDENTIALS": str(path)})
        assert s.enterprise_id == "E3100001" and s.kafka_security["sasl_mechanism"] == "SCRAM-SHA-512"
        assert "password" not in repr(s)
        signer = signer_for(s)
        value = b'{"v":1}'
        assert Verifier(b"master").check(signer.headers("E3100001", value), value, "E3100001") == (None, "E3100001")
        assert isinstance(signer, Signer) and signer.enterprise_id == "E3100001"

    def test_an_unreadable_file_is_a_clear_error(self, tmp_path: Path) -> None:
        bad = tmp_path / "x.json"
        bad.write_text('{"security": {"sasl_plain_username": 1}}')
        with pytest.raises(ValueError, match="not a credentials file"):
            Settings.from_env({"GREENSHIELD_KAFKA_CREDENTIALS": str(bad)})
        with pytest.raises(ValueError, match="cannot read the credentials file"):
            Settings.from_env({"GREENSHIELD_KAFKA_CREDENTIALS": str(tmp_path / "missing.json")})


class TestSecureBrokerConfig:
    def test_secure_properties_authenticate_and_authorize(self, tmp_path: Path) -> None:
        cfg = BrokerConfig(tmp_path, tmp_path, secure=True)
        props = render_server_properties(cfg, "p" * 32)
        for line in ("listeners=SASL_PLAINTEXT://127.0.0.1:19092,CONTROLLER://127.0.0.1:19093",
                     "sasl.enabled.mechanisms=SCRAM-SHA-512",
                     "authorizer.class.name=org.apache.kafka.metadata.authorizer.StandardAuthorizer",
                     "super.users=User:admin", "allow.everyone.if.no.acl.found=false",
                     "listener.security.protocol.map=CONTROLLER:SASL_PLAINTEXT,SASL_PLAINTEXT:SASL_PLAINTEXT"):
            assert line in props.splitlines()
        assert "PLAINTEXT://" not in props.replace("SASL_PLAINTEXT://", "")
        assert "--add-scram" in format_command(cfg, "cid", password="p" * 32)

    def test_a_plain_broker_has_no_authorizer(self, tmp_path: Path) -> None:
        props = render_server_properties(BrokerConfig(tmp_path, tmp_path))
        assert "authorizer" not in props and "listeners=PLAINTEXT://" in props

    def test_a_weak_or_odd_password_is_refused(self, tmp_path: Path) -> None:
        with pytest.raises(BrokerError, match="16\\+"):
            render_server_properties(BrokerConfig(tmp_path, tmp_path, secure=True), 'x";evil')
