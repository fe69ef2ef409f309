"""``greenshield credit --publish`` and ``risk --publish`` on the real broker: warnings on gs.warnings.v1."""

from __future__ import annotations

import dataclasses
import secrets
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson
import pytest

from greenshield import cli
from tests.support.stream import consume_all, create_test_topics, delete_test_topics, kafka_security
from greenshield.settings import Settings
from greenshield.simulate.day import Simulation
from greenshield.simulate.planted import plant

pytestmark = pytest.mark.kafka


@pytest.fixture
def topics(kafka_bootstrap: str) -> Iterator[Settings]:
    host, port = kafka_bootstrap.rsplit(":", 1)
    settings = dataclasses.replace(Settings(), kafka_host=host, kafka_port=int(port), kafka_security=kafka_security(),
                                   topic_prefix=f"gsrisk{secrets.token_hex(4)}.")
    create_test_topics(settings)
    yield settings
    delete_test_topics(settings)


def test_warnings_are_published_keyed_by_subject(topics: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                 capsys: pytest.CaptureFixture[str]) -> None:
    """The planted outlet's red warning and the grade warnings arrive on the warnings topic, each keyed
    ``<subject_kind>:<subject_id>``, equal to what the store keeps; running again publishes the same again."""
    day = tmp_path / "day.jsonl"
    planted = plant(list(Simulation(2000, 11).events()), 11)
    day.write_bytes(b"".join(orjson.dumps(e) + b"\n" for e in planted.events))
    monkeypatch.setenv("GREENSHIELD_DATA_DIR", str(tmp_path / "var"))
    monkeypatch.setenv("GREENSHIELD_HMAC_KEY", "test-hmac-key")
    monkeypatch.setenv("GREENSHIELD_TOPIC_PREFIX", topics.topic_prefix)
    url, boot = f"sqlite:///{tmp_path / 'day.db'}", topics.kafka_bootstrap

    def gs(*argv: Any) -> int:
        return cli.main([str(a) for a in argv])

    assert gs("run", day, "--db", url) == 0
    capsys.readouterr()
    assert gs("risk", "--by", "site", "--db", url, "--publish", "--bootstrap", boot, "--top", "1") == 0
    sites = int(capsys.readouterr().err.split(" warning(s) for site")[0].split()[-1])
    assert gs("credit", "--db", url, "--publish", "--bootstrap", boot) == 0
    capsys.readouterr()
    assert gs("credit", "--db", url, "--json") == 0
    grades = [orjson.loads(line) for line in capsys.readouterr().out.splitlines()]
    due = [g for g in grades if g["grade"] in "CD"]
    got = consume_all(boot, topics.warnings_topic, 1, expected=sites + len(due), timeout=30)
    assert len(got) == sites + len(due) and sites >= 1
    values = [orjson.loads(m.value) for m in got]
    outlet = [v for v in values if v["subject_id"] == planted.outlet]
    assert len(outlet) == 1 and outlet[0]["level"] == "red" and outlet[0]["reason"] == "level_rose"
    assert {(m.key.decode(), orjson.loads(m.value)["level"]) for m in got if b"credit:" in m.key} == \
        {(f"credit:{g['enterprise_id']}", g["grade"]) for g in due}
    assert all(m.key.decode() == f"{v['subject_kind']}:{v['subject_id']}" for m, v in zip(got, values))
    assert gs("risk", "--by", "site", "--db", url, "--publish", "--bootstrap", boot, "--top", "1") == 0
    again = consume_all(boot, topics.warnings_topic, 1, expected=len(got) + sites, timeout=30)
    assert [orjson.loads(m.value) for m in again[len(got):]] == values[:sites]


def test_a_missing_topic_is_named_and_nothing_crashes(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                      kafka_bootstrap: str, capsys: pytest.CaptureFixture[str]) -> None:
    """With no warnings topic, --publish exits 1 naming it (the warnings stay stored)."""
    day = tmp_path / "day.jsonl"
    day.write_bytes(b"".join(orjson.dumps(e) + b"\n" for e in plant(list(Simulation(2000, 11).events()), 11).events))
    monkeypatch.setenv("GREENSHIELD_DATA_DIR", str(tmp_path / "var"))
    monkeypatch.setenv("GREENSHIELD_TOPIC_PREFIX", f"gsnone{secrets.token_hex(4)}.")
    url = f"sqlite:///{tmp_path / 'day.db'}"
    assert cli.main(["run", str(day), "--db", url]) == 0
    capsys.readouterr()
    assert cli.main(["risk", "--by", "site", "--db", url, "--publish", "--bootstrap", kafka_bootstrap]) == 1
    assert "warnings.v1" in capsys.readouterr().err
