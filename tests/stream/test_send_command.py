"""``greenshield send``: valid lines are sent, invalid ones reported, and the summary adds up."""

from __future__ import annotations

import argparse
import os
from collections.abc import Callable
from pathlib import Path

import pytest

from greenshield.commands import send
from greenshield.settings import Settings

from .conftest import consume_all

SAMPLE = Path(__file__).resolve().parents[1] / "data" / "sample-day.jsonl"


def parse(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    send.register(parser.add_subparsers())
    return parser.parse_args(["send", *argv])


def env_of(settings: Settings) -> dict[str, str]:
    return {"GREENSHIELD_KAFKA_HOST": settings.kafka_host, "GREENSHIELD_KAFKA_PORT": str(settings.kafka_port),
            "GREENSHIELD_TOPIC_PREFIX": settings.topic_prefix}


@pytest.mark.kafka
def test_send_delivers_valid_lines_and_reports_invalid_ones(
        make_topics: Callable[..., Settings], tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    """Sample day plus a junk line and a blank: 636 sent, 1 invalid with its file:line, exit status 1."""
    settings = make_topics()
    for name, value in env_of(settings).items():
        monkeypatch.setenv(name, value)
    data = tmp_path / "day.jsonl"
    data.write_bytes(SAMPLE.read_bytes() + b"\n{not json}\n")
    code = send.run(parse([str(data), "--no-progress"]))
    err = capsys.readouterr().err
    assert code == 1
    assert f"{data}:638: not sent: not valid JSON" in err
    assert "lines=638 sent=636 acked=636 invalid=1" in err
    assert len(consume_all(settings.kafka_bootstrap, settings.events_topic, 6, 432)) == 432


def test_an_unreadable_file_is_a_usage_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                             capsys: pytest.CaptureFixture[str]) -> None:
    """A missing file exits 2 with the reason (the producer is a stand-in: nothing is sent)."""

    class Idle:
        acked = 0

        def send_line(self, line: bytes) -> None:
            raise AssertionError("nothing to send")

        def flush(self) -> None:
            pass

        def close(self) -> None:
            pass

    monkeypatch.setattr(send, "make_producer", lambda args, settings: Idle())
    assert send.run(parse([str(tmp_path / "missing.jsonl")])) == 2
    assert "cannot read input" in capsys.readouterr().err
    assert not os.path.exists(tmp_path / "missing.jsonl")
