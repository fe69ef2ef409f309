"""``greenshield replay``: after it, ``violations --open`` equals ``check --as-of`` for any arrival order."""

from __future__ import annotations

import argparse
import random
from collections.abc import Callable
from pathlib import Path

import orjson
import pytest

from greenshield.commands import check, replay, violations
from greenshield.settings import Settings

from .conftest import CONTROL_KEY, HMAC_KEY
from .helpers import SAMPLE_AS_OF, WorkerThread, open_violations, sample_lines, wait_until

pytestmark = pytest.mark.kafka


def parse(module: object, argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    module.register(parser.add_subparsers())  # type: ignore[attr-defined]
    return parser.parse_args(argv)


def noisy_day(seed: int) -> list[bytes]:
    """The sample day shuffled, with exact duplicates, a conflicting duplicate and malformed lines."""
    rng = random.Random(seed)
    lines = sample_lines()
    first = orjson.loads(lines[300])
    conflicting = orjson.dumps({**first, "note": "same key, other content"})
    noisy = lines + rng.sample(lines, 60) + [conflicting, b"{not json", b"[]", b'{"v": 1}', b"   "]
    rng.shuffle(noisy)
    return noisy


@pytest.mark.parametrize("seed", [1, 2])
def test_open_violations_after_a_replay_equal_check_as_of(
        seed: int, pipeline: Callable[..., tuple[Settings, str]], tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch, capsysbinary: pytest.CaptureFixture[bytes]) -> None:
    """Shuffled sample day with duplicates and junk: the stream's open set is check's verdict at --as-of."""
    settings, db = pipeline()
    for name, value in {"GREENSHIELD_KAFKA_HOST": settings.kafka_host,
                        "GREENSHIELD_KAFKA_PORT": str(settings.kafka_port),
                        "GREENSHIELD_TOPIC_PREFIX": settings.topic_prefix,
                        "GREENSHIELD_CONTROL_KEY": CONTROL_KEY, "GREENSHIELD_HMAC_KEY": HMAC_KEY,
                        "GREENSHIELD_DATA_DIR": str(settings.data_dir)}.items():
        monkeypatch.setenv(name, value)
    data = tmp_path / "history.jsonl"
    data.write_bytes(b"\n".join(noisy_day(seed)) + b"\n")

    assert check.run(parse(check, ["check", str(data), "--as-of", SAMPLE_AS_OF])) == 0
    want = {(v["waybill_no"], v["rule_id"]) for v in map(orjson.loads, capsysbinary.readouterr().out.splitlines())}

    with WorkerThread(settings, db):
        assert replay.run(parse(replay, ["replay", str(data), "--as-of", SAMPLE_AS_OF, "--no-progress"])) == 0
        assert "invalid=3" in capsysbinary.readouterr().err.decode()
        assert wait_until(lambda: {(w, r) for w, r, _ in open_violations(db)} == want)

    assert violations.run(parse(violations, ["violations", "--db", db, "--open", "--json"])) == 0
    got = {(v["waybill_no"], v["rule_id"]) for v in map(orjson.loads, capsysbinary.readouterr().out.splitlines())}
    assert got == want and len(want) == 22


def test_replay_without_a_control_key_is_refused(monkeypatch: pytest.MonkeyPatch,
                                                 capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    """Only the system's identity may move the clock: no key, no replay (and nothing is sent)."""
    monkeypatch.delenv("GREENSHIELD_CONTROL_KEY", raising=False)
    assert replay.run(parse(replay, ["replay", str(tmp_path / "x.jsonl"), "--as-of", SAMPLE_AS_OF])) == 2
    assert "GREENSHIELD_CONTROL_KEY" in capsys.readouterr().err
