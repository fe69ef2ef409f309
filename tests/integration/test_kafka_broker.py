"""The local broker is a real Kafka: keyed produce/consume, consumer groups, and its own lifecycle."""

from __future__ import annotations

import argparse
import threading
import time
import uuid
from collections import defaultdict
from pathlib import Path

import pytest

from tests.support.stream import kafka_client

pytestmark = pytest.mark.kafka


def _topic(admin_bootstrap: str, partitions: int) -> str:
    from kafka import KafkaAdminClient

    name = f"gs.test.{uuid.uuid4().hex[:10]}"
    admin = KafkaAdminClient(**kafka_client(admin_bootstrap), client_id="gs-test-admin")
    try:
        admin.create_topics(
            {name: {"num_partitions": partitions, "replication_factor": 1}}, wait_for_metadata=True
        )
    finally:
        admin.close()
    return name


def _delete_topic(bootstrap: str, name: str) -> None:
    from kafka import KafkaAdminClient

    admin = KafkaAdminClient(**kafka_client(bootstrap), client_id="gs-test-admin")
    try:
        admin.delete_topics([name])
    finally:
        admin.close()


def test_keyed_messages_arrive_complete_and_in_order_per_key(kafka_bootstrap: str) -> None:
    from kafka import KafkaConsumer, KafkaProducer, TopicPartition

    n, n_keys = 1000, 37
    topic = _topic(kafka_bootstrap, partitions=3)
    try:
        producer = KafkaProducer(
            **kafka_client(kafka_bootstrap),
            acks="all",
            linger_ms=5,
        )
        sent: dict[str, list[int]] = defaultdict(list)
        futures = []
        for i in range(n):
            key = f"WB{i % n_keys:06d}"
            sent[key].append(i)
            futures.append(producer.send(topic, key=key.encode(), value=f"{key}:{i}".encode()))
        producer.flush(timeout=60)
        for f in futures:
            f.get(timeout=30)  # raises if any send failed
        producer.close()

        consumer = KafkaConsumer(
            **kafka_client(kafka_bootstrap),
            group_id=None,
            enable_auto_commit=False,
            auto_offset_reset="earliest",
        )
        parts = [TopicPartition(topic, p) for p in range(3)]
        consumer.assign(parts)
        consumer.seek_to_beginning(*parts)
        got: dict[str, list[int]] = defaultdict(list)
        partition_of: dict[str, set[int]] = defaultdict(set)
        count = 0
        deadline = time.monotonic() + 60
        while count < n and time.monotonic() < deadline:
            for tp, records in consumer.poll(timeout_ms=500).items():
                for r in records:
                    key, seq = r.value.decode().split(":")
                    assert key == r.key.decode()
                    got[key].append(int(seq))
                    partition_of[key].add(tp.partition)
                    count += 1
        consumer.close()
    finally:
        _delete_topic(kafka_bootstrap, topic)

    assert count == n
    assert set(got) == set(sent)
    for key, seqs in sent.items():
        assert got[key] == seqs, f"order or content differs for key {key}"
        assert len(partition_of[key]) == 1, f"key {key} spread over partitions {partition_of[key]}"
    assert len({p for ps in partition_of.values() for p in ps}) > 1  # keys really spread out


def test_consumer_group_members_share_partitions(kafka_bootstrap: str) -> None:
    from kafka import KafkaConsumer, KafkaProducer

    partitions, n = 4, 400
    topic = _topic(kafka_bootstrap, partitions=partitions)
    group = f"gs-test-group-{uuid.uuid4().hex[:8]}"
    lock = threading.Lock()
    assignment: dict[str, set[int]] = {"a": set(), "b": set()}
    consumed: dict[str, list[tuple[int, int, str]]] = {"a": [], "b": []}
    stop = threading.Event()
    errors: list[BaseException] = []

    def member(name: str) -> None:
        try:
            c = KafkaConsumer(
                **kafka_client(kafka_bootstrap),
                group_id=group,
                client_id=f"member-{name}",
                auto_offset_reset="earliest",
                enable_auto_commit=True,
                session_timeout_ms=10000,
                heartbeat_interval_ms=1000,
            )
            try:
                # Know the topic's partitions before the first JoinGroup. Otherwise the
                # leader assigns nothing, rejoins once metadata arrives, and kafka-python
                # 3.0.12 can lose that rejoin's SyncGroup result when poll() times out
                # mid-rebalance: the member then never gets partitions or heartbeats.
                deadline = time.monotonic() + 30
                while len(c.partitions_for_topic(topic)) < partitions and time.monotonic() < deadline:
                    time.sleep(0.1)
                c.subscribe([topic])
                while not stop.is_set():
                    batch = c.poll(timeout_ms=1000)
                    with lock:
                        assignment[name] = {tp.partition for tp in c.assignment()}
                        for tp, records in batch.items():
                            consumed[name].extend((tp.partition, r.offset, r.value.decode()) for r in records)
            finally:
                c.close()
        except BaseException as e:  # surfaced by the main thread
            errors.append(e)

    threads = [threading.Thread(target=member, args=(m,), daemon=True) for m in ("a", "b")]
    try:
        threads[0].start()
        _wait_for(lambda: len(assignment["a"]) == partitions, 60, "first member owns every partition")
        threads[1].start()

        def balanced() -> bool:
            a, b = assignment["a"], assignment["b"]
            return bool(a) and bool(b) and not (a & b) and (a | b) == set(range(partitions))

        _wait_for(balanced, 90, "the group rebalances over both members")
        with lock:
            final = {k: set(v) for k, v in assignment.items()}

        producer = KafkaProducer(**kafka_client(kafka_bootstrap), acks="all")
        for i in range(n):
            producer.send(topic, key=f"k{i}".encode(), value=f"m{i}".encode())
        producer.flush(timeout=60)
        producer.close()

        _wait_for(lambda: len(consumed["a"]) + len(consumed["b"]) >= n, 60, f"{n} messages consumed")
        time.sleep(1.0)  # anything extra (a duplicate) would show up now
        with lock:  # before shutdown: a member leaving rebalances the other
            a_msgs, b_msgs = list(consumed["a"]), list(consumed["b"])
            after = {k: set(v) for k, v in assignment.items()}
    finally:
        stop.set()
        for t in threads:
            t.join(timeout=30)
        _delete_topic(kafka_bootstrap, topic)
    assert not errors, errors

    assert after == final, "assignment changed after the group settled"
    assert final["a"] and final["b"]
    assert not final["a"] & final["b"]
    assert final["a"] | final["b"] == set(range(partitions))
    assert {p for p, _, _ in a_msgs} <= final["a"]
    assert {p for p, _, _ in b_msgs} <= final["b"]
    assert a_msgs and b_msgs, "both members must consume"
    values = [v for _, _, v in a_msgs + b_msgs]
    assert len(values) == n, "no message twice"
    assert set(values) == {f"m{i}" for i in range(n)}


def _wait_for(cond: object, timeout: float, what: str) -> None:
    assert callable(cond)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if cond():
            return
        time.sleep(0.2)
    raise AssertionError(f"timed out after {timeout:.0f}s waiting until {what}")


def _kafka_cli(*argv: str) -> int:
    from greenshield.commands import kafka

    parser = argparse.ArgumentParser()
    kafka.register(parser.add_subparsers())
    args = parser.parse_args(["kafka", *argv])
    return int(args.func(args))


def test_up_twice_is_harmless_and_down_leaves_no_process(
    tmp_path: Path, free_ports: tuple[int, int], capsys: pytest.CaptureFixture[str]
) -> None:
    """A private broker on its own ports and data dir; the shared test broker is not touched."""
    from greenshield.devtools import kafka_broker as broker
    from greenshield.settings import Settings

    port, cport = free_ports
    data = tmp_path / "kafka"
    flags = ["--data-dir", str(data), "--port", str(port), "--controller-port", str(cport)]
    cfg = broker.BrokerConfig(
        data_dir=data, cache_dir=Settings.from_env().kafka_cache_dir, port=port, controller_port=cport
    )
    try:
        assert _kafka_cli("up", *flags) == 0
        out = capsys.readouterr()
        assert out.out.strip() == f"127.0.0.1:{port}"
        pid = broker.read_pid_file(cfg)
        assert pid is not None and broker.is_our_broker(pid, cfg)

        assert _kafka_cli("up", *flags) == 0
        out = capsys.readouterr()
        assert "already running" in out.err
        assert out.out.strip() == f"127.0.0.1:{port}"
        assert broker.read_pid_file(cfg) == pid

        assert _kafka_cli("status", *flags) == 0
        assert capsys.readouterr().out.startswith(f"running pid {pid} at 127.0.0.1:{port}")
    finally:
        rc = _kafka_cli("down", *flags)
    assert rc == 0
    assert not broker.pid_alive(pid), "the broker process is still there"
    assert not cfg.pid_file.exists()
    assert _kafka_cli("status", *flags) == 1
    assert capsys.readouterr().out.startswith("stopped")
    assert _kafka_cli("down", *flags) == 0  # nothing to stop is fine


def test_a_secure_broker_makes_its_principals_and_refuses_to_start_plain(
    tmp_path: Path, free_ports: tuple[int, int], capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """`kafka up --secure`: the super user's and the system principals' files; `kafka acl --enterprise` adds one;
    `status` and a later `up` find the mode in the data dir; a data dir made open is not turned secure."""
    import json
    import stat

    from kafka import KafkaProducer
    from kafka.errors import KafkaError

    from greenshield.devtools import kafka_broker as broker
    from greenshield.sdk.clients import security_options
    from greenshield.settings import Settings, read_credentials

    monkeypatch.setenv("GREENSHIELD_DATA_DIR", str(tmp_path / "var"))
    monkeypatch.delenv("GREENSHIELD_KAFKA_CREDENTIALS", raising=False)
    port, cport = free_ports
    data = tmp_path / "kafka"
    flags = ["--data-dir", str(data), "--port", str(port), "--controller-port", str(cport)]
    cfg = broker.BrokerConfig(data_dir=data, cache_dir=Settings.from_env().kafka_cache_dir, port=port,
                              controller_port=cport, secure=True)
    try:
        assert _kafka_cli("up", "--secure", *flags) == 0
        err = capsys.readouterr().err
        assert f"super user {data / 'credentials' / 'admin.json'}" in err
        made = sorted(p.name for p in (data / "credentials").iterdir())
        assert made == ["admin.json", "gs-api.json", "gs-notifier.json", "gs-registry-feed.json", "gs-tools.json",
                        "gs-worker.json"]
        assert all(stat.S_IMODE(p.stat().st_mode) == 0o600 for p in (data / "credentials").iterdir())
        assert _kafka_cli("acl", "--no-system", "--enterprise", "E3100001", *flags) == 0
        path = Path(capsys.readouterr().out.strip())
        assert json.loads(path.read_text())["enterprise_id"] == "E3100001"
        assert _kafka_cli("status", *flags) == 0  # no --secure: the data dir says so
        capsys.readouterr()
        login = security_options(read_credentials(path)[0])
        with pytest.raises(KafkaError):  # logged in, but no ACL lets it create a topic's metadata write
            p = KafkaProducer(bootstrap_servers=cfg.bootstrap, max_block_ms=5_000, **login)
            try:
                p.send("not-a-topic-of-ours", b"x").get(timeout=10)
            finally:
                p.close(timeout=5)
        with pytest.raises(KafkaError):  # and nobody gets in without a login
            p = KafkaProducer(bootstrap_servers=cfg.bootstrap, max_block_ms=5_000)
            try:
                p.send("gs.events.v1", b"x").get(timeout=10)
            finally:
                p.close(timeout=5)
    finally:
        assert _kafka_cli("down", *flags) == 0
    open_dir = tmp_path / "open"
    (open_dir / "kraft").mkdir(parents=True)
    (open_dir / "kraft" / "meta.properties").write_text("formatted without --secure\n")
    capsys.readouterr()
    assert _kafka_cli("up", "--secure", "--data-dir", str(open_dir), "--port", str(port),
                      "--controller-port", str(cport)) == 1
    assert "was made without --secure" in capsys.readouterr().err
