"""Who may state what, on a real secure broker: each test is a row of the table in docs/security.md.

The broker runs with SASL/SCRAM and the StandardAuthorizer (``make test`` starts it with
``greenshield kafka up --secure``). Each test makes its own principals (SCRAM users with
their ACLs, :mod:`greenshield.stream.principals`) on its own topics, and the worker logs
in as the worker principal: least privilege everywhere, the super user only for setup.
"""

from __future__ import annotations

import dataclasses
import uuid
from collections.abc import Callable, Iterator
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import orjson
import pytest
import sqlalchemy as sa

from greenshield.store import schema as t
from greenshield.stream import principals
from greenshield.sdk.clients import RELIABLE_PRODUCER, common, security_options
from greenshield.stream.control import send_advance
from greenshield.sdk.producer import GreenShieldProducer, InvalidEvent
from greenshield.sdk.sender import signature
from tests.support.stream import kafka_security
from greenshield.stream.topics import admin_client
from greenshield.rules.parse import is_blank
from greenshield.settings import Settings, read_credentials

from . import hostile_corpus as hc
from .conftest import SENDER_KEY
from .helpers import SAMPLE_AS_OF, WorkerThread, batch_verdict, count_rows, open_violations, sample_lines, \
    stored_events, wait_until

pytestmark = pytest.mark.kafka

A, B = "E3100001", "E3200001"
SAMPLE_ENTERPRISES = ("E3100001", "E3100002", "E3200001", "E3200002", "E3300001", "E3300002")


@dataclasses.dataclass
class World:
    """One test's topics, principals (their credentials files) and store."""

    settings: Settings
    db: str
    files: dict[str, Path]  # role or enterprise id -> credentials file

    def login(self, who: str) -> dict[str, str]:
        return read_credentials(self.files[who])[0]

    def as_(self, who: str) -> Settings:
        """The settings with ``who``'s login instead of the super user's."""
        return dataclasses.replace(self.settings, kafka_security=self.login(who))

    def producer(self, who: str) -> GreenShieldProducer:
        """The SDK as the enterprise ``who`` gets it: from its credentials file alone."""
        s = self.settings
        return GreenShieldProducer.from_credentials(s.kafka_bootstrap, self.files[who], events_topic=s.events_topic,
                                                    registry_topic=s.registry_topic)

    def raw(self, who: str) -> Any:
        """A bare kafka-python producer logged in as ``who`` (it sends whatever it is given)."""
        from kafka import KafkaProducer

        return KafkaProducer(**common(self.settings.kafka_bootstrap, f"test-{who}", self.login(who)),
                             acks="all", max_block_ms=15_000)


@pytest.fixture
def world(make_topics: Callable[..., Settings], tmp_path: Path, sqlite_url: str) -> Iterator[World]:
    if not kafka_security():  # CI fails on a skipped kafka test: `make test` always starts a secure broker
        pytest.skip("the authority tests need a secure broker (GREENSHIELD_TEST_KAFKA_CREDENTIALS)")
    settings = make_topics(data_dir=tmp_path / "data", backstop_idle_seconds=0)
    tag = f"t{uuid.uuid4().hex[:8]}-"
    wanted = {role: principals.system(role, tag) for role in principals.SYSTEM_ROLES}
    wanted.update({e: principals.enterprise(e, tag) for e in SAMPLE_ENTERPRISES})
    admin = admin_client(settings)  # the super user
    try:
        paths = principals.apply(admin, wanted.values(), settings, tmp_path / "credentials", SENDER_KEY.encode())
    finally:
        admin.close()
    yield World(settings, sqlite_url, dict(zip(wanted, paths)))


def _event(enterprise: str, event_id: str, waybill: str, staff: str = "P31000001") -> bytes:
    doc = hc.acceptance(enterprise_id=enterprise, event_id=event_id, waybill_no=waybill, staff_id=staff)
    doc["inspection"] = {**doc["inspection"], "inspector_id": staff}
    return orjson.dumps(doc)


def _refused(producer: Any, topic: str, key: bytes | None = b"k", value: bytes = b"{}") -> str:
    """The broker's error class for one send (the test fails if the broker took it)."""
    try:
        producer.send(topic, key=key, value=value).get(timeout=20)
    except Exception as err:
        return type(err).__name__
    pytest.fail(f"the broker accepted a message on {topic}")


def _rejects(db: str) -> list[Any]:
    engine = sa.create_engine(db)
    try:
        with engine.connect() as conn:
            if not sa.inspect(conn).has_table(t.rejects.name):
                return []
            return list(conn.execute(sa.select(t.rejects.c.reason, t.rejects.c.enterprise_id, t.rejects.c.event_id)))
    finally:
        engine.dispose()


def _stored(db: str) -> list[Any]:
    engine = sa.create_engine(db)
    try:
        with engine.connect() as conn:
            if not sa.inspect(conn).has_table(t.events.name):
                return []
            return list(conn.execute(sa.select(t.events.c.enterprise_id, t.events.c.event_id, t.events.c.staff_id)))
    finally:
        engine.dispose()


def _advance(world: World, who: str, as_of: str = SAMPLE_AS_OF, key: bytes | None = None) -> None:
    from kafka import KafkaProducer

    s = world.settings
    control = KafkaProducer(**common(s.kafka_bootstrap, "test-control", world.login(who)), **RELIABLE_PRODUCER)
    try:
        send_advance(control, s.events_topic, s.events_partitions, key or s.control_key.reveal().encode(), as_of,
                     datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"))
    finally:
        control.close()


class TestEnterprise:
    """Row "an enterprise": writes its own events; is no other enterprise; writes and reads nothing else."""

    def test_it_cannot_get_an_event_accepted_as_another_enterprise_nor_take_its_keys(self, world: World) -> None:
        b = world.raw(B)
        key_b = bytes.fromhex(orjson.loads(world.files[B].read_bytes())["sender_key"])
        forged = _event(A, "a-1", "WB0000000001", staff="P32000666")
        tries = [
            [("gs-sender", B.encode()), ("gs-sender-sig", signature(key_b, B, forged))],  # B's true signature
            [("gs-sender", A.encode()), ("gs-sender-sig", signature(key_b, A, forged))],  # B's key, A's name
            [],  # unsigned
        ]
        for headers in tries:
            b.send(world.settings.events_topic, key=b"WB0000000001", value=forged, headers=headers).get(timeout=20)
        b.close()
        with world.producer(B) as sdk, pytest.raises(InvalidEvent, match="enterprise_mismatch"):
            sdk.send(forged)  # B's own SDK will not even send it
        with WorkerThread(world.as_("worker"), world.db) as w:
            assert wait_until(lambda: len(_rejects(world.db)) >= 3), w.error
            with world.producer(A) as sdk:
                sdk.send(_event(A, "a-1", "WB0000000001"))  # A's real event, same idempotency key
            assert wait_until(lambda: stored_events(world.db) >= 1), w.error
        rejects = _rejects(world.db)
        assert [r.reason.split(":")[0] for r in rejects] == ["enterprise_mismatch"] * 3
        assert sorted((r.enterprise_id or "-") for r in rejects) == ["-", "-", B]  # never A's rejects
        assert _stored(world.db) == [(A, "a-1", "P31000001")]  # A's own content, not a conflicting duplicate

    def test_it_cannot_write_the_registry_the_outputs_or_a_control_message(self, world: World) -> None:
        s = world.settings
        b = world.raw(B)
        try:
            for topic in (s.registry_topic, s.violations_topic, s.rejects_topic):
                assert _refused(b, topic) == "TopicAuthorizationFailedError"
        finally:
            b.close()
        with WorkerThread(world.as_("worker"), world.db) as w:
            with world.producer(A) as sdk:
                sdk.send(_event(A, "a-2", "WB0000000002"))  # accepted, never delivered: a violation once time passes
            _advance(world, B, "2030-01-01T00:00:00Z", key=b"B's guess at the control key")
            assert wait_until(lambda: len(_rejects(world.db)) >= s.events_partitions), w.error
            assert {r.reason for r in _rejects(world.db)} == {
                "control message with a missing or wrong signature (not sent by the system)"}
            assert open_violations(world.db) == set()  # the forged clock moved nothing
            _advance(world, "tools", "2030-01-01T00:00:00Z")  # the system's own control message
            assert wait_until(lambda: open_violations(world.db)), w.error

    def test_it_reads_nothing_not_even_its_own_violations(self, world: World) -> None:
        """It sees its violations and rejects through the API (its token); on Kafka it reads no topic at all."""
        from kafka import KafkaConsumer, TopicPartition
        from kafka.errors import TopicAuthorizationFailedError

        s = world.settings
        with WorkerThread(world.as_("worker"), world.db) as w:
            with world.producer(B) as sdk:
                sdk.send(_event(B, "b-1", "WB0000000003"))
            _advance(world, "tools", "2030-01-01T00:00:00Z")
            assert wait_until(lambda: open_violations(world.db)), w.error
        topics = (s.events_topic, s.registry_topic, s.violations_topic, s.rejects_topic)
        super_user = KafkaConsumer(**common(s.kafka_bootstrap, "test-admin", s.kafka_security))
        mine = KafkaConsumer(**common(s.kafka_bootstrap, "test-b", world.login(B)))
        try:
            assert all(super_user.partitions_for_topic(topic) for topic in topics)
            assert all(mine.partitions_for_topic(topic) is not None for topic in topics[:1])  # it writes there
            assert not any(mine.partitions_for_topic(topic) for topic in topics[1:])  # not even their partitions
            for topic, partitions in ((s.registry_topic, s.registry_partitions),
                                      (s.violations_topic, s.violations_partitions),
                                      (s.rejects_topic, s.rejects_partitions)):
                mine.assign([TopicPartition(topic, p) for p in range(partitions)])
                mine.seek_to_beginning()
                assert sum(len(batch) for _ in range(4) for batch in mine.poll(timeout_ms=500).values()) == 0
            mine.assign([TopicPartition(s.events_topic, p) for p in range(s.events_partitions)])
            mine.seek_to_beginning()
            with pytest.raises(TopicAuthorizationFailedError):  # its own topic to write, not to read
                for _ in range(10):
                    mine.poll(timeout_ms=500)
        finally:
            super_user.close()
            mine.close()


    def test_send_with_its_credentials_file_speaks_for_it_alone(self, world: World, tmp_path: Path,
                                                             monkeypatch: pytest.MonkeyPatch) -> None:
        """`greenshield send` from the enterprise's credentials file: its events are signed and accepted; a line
        of another enterprise is not sent (exit 1, named), and nothing reaches the store as anyone else's."""
        import argparse

        from greenshield.commands import send

        s = world.settings
        mine = [_event(B, f"b-{i}", f"WB000000010{i}") for i in range(3)]
        day = tmp_path / "day.jsonl"
        day.write_bytes(b"\n".join([*mine, _event(A, "a-9", "WB0000000199")]) + b"\n")
        monkeypatch.setenv("GREENSHIELD_KAFKA_CREDENTIALS", str(world.files[B]))
        for name, value in {"GREENSHIELD_KAFKA_HOST": s.kafka_host, "GREENSHIELD_KAFKA_PORT": str(s.kafka_port),
                            "GREENSHIELD_TOPIC_PREFIX": s.topic_prefix, "GREENSHIELD_DATA_DIR": str(tmp_path / "b")
                            }.items():
            monkeypatch.setenv(name, value)
        parser = argparse.ArgumentParser()
        send.register(parser.add_subparsers())
        assert send.run(parser.parse_args(["send", str(day), "--no-progress"])) == 1  # one line not sent
        with WorkerThread(world.as_("worker"), world.db) as w:
            assert wait_until(lambda: stored_events(world.db) >= 3), w.error
        assert sorted(_stored(world.db)) == [(B, f"b-{i}", "P31000001") for i in range(3)]
        assert _rejects(world.db) == []


class TestRegistry:
    """Row "the registry": only the regulator's feed (and the service, for registrar tokens) writes it."""

    def test_only_the_registry_feed_writes_it(self, world: World) -> None:
        s = world.settings
        record = orjson.dumps({"v": 1, "type": "registry", "event_id": "r-1", "enterprise_id": A,
                               "occurred_at": "2026-11-01T00:00:00+08:00", "entity": "staff", "id": "P31000009",
                               "status": "active"})
        for who in ("tools", "worker", A):
            producer = world.raw(who)
            try:
                assert _refused(producer, s.registry_topic, b"staff:P31000009@x", record) \
                    == "TopicAuthorizationFailedError", who
            finally:
                producer.close()
        feed = GreenShieldProducer(s.kafka_bootstrap, None, events_topic=s.events_topic,
                                   registry_topic=s.registry_topic, security=world.login("registry-feed"))
        with feed:
            feed.send_registry(record)
        with WorkerThread(world.as_("worker"), world.db) as w:
            assert wait_until(lambda: w.worker.registry is not None and len(w.worker.registry.records) == 1), w.error


class TestWorkerAndStrangers:
    """Rows "a worker" (reads inputs, writes outputs, states no event) and "anyone else" (nothing)."""

    def test_a_worker_cannot_state_an_event(self, world: World) -> None:
        producer = world.raw("worker")
        try:
            assert _refused(producer, world.settings.events_topic) == "TopicAuthorizationFailedError"
        finally:
            producer.close()

    def test_no_login_or_a_wrong_password_gets_nothing(self, world: World) -> None:
        from kafka import KafkaProducer
        from kafka.errors import KafkaError

        s = world.settings
        wrong = {**world.login(A), "sasl_plain_password": "not-the-password"}
        for options in ({}, security_options(wrong)):
            with pytest.raises(KafkaError):
                producer = KafkaProducer(bootstrap_servers=s.kafka_bootstrap, max_block_ms=5_000, **options)
                try:
                    producer.send(s.events_topic, b"x").get(timeout=10)
                finally:
                    producer.close(timeout=5)


class TestPipelineWithLeastPrivilege:
    def test_stream_equals_batch_with_every_principal_at_its_own_rights(self, world: World) -> None:
        """The sample day: each enterprise sends its own events with its own credentials, the registry feed the
        registry, the tools the clock; the worker (its own login) reaches the batch checker's verdict."""
        s = world.settings
        lines = [line for line in sample_lines() if not is_blank(line)]
        feed = GreenShieldProducer(s.kafka_bootstrap, None, events_topic=s.events_topic,
                                   registry_topic=s.registry_topic, security=world.login("registry-feed"))
        sdks = {e: world.producer(e) for e in SAMPLE_ENTERPRISES}
        with WorkerThread(world.as_("worker"), world.db) as w:
            for line in lines:
                doc = orjson.loads(line)
                try:
                    if doc.get("type") == "registry":
                        feed.send_registry(line)
                    else:
                        sdks[doc["enterprise_id"]].send(line)
                except InvalidEvent:
                    pass  # the SDK refuses what the contract rejects; the checker below rejects it too
            for producer in (feed, *sdks.values()):
                producer.flush(timeout=60)
                producer.close()
            _advance(world, "tools")
            want = batch_verdict(lines)
            assert wait_until(lambda: open_violations(world.db) == want, timeout=120), \
                (w.error, sorted(open_violations(world.db) ^ want)[:10])
        assert count_rows(world.db, t.rejects) == 0
