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

from .conftest import CONTROL_KEY, HMAC_KEY, SENDER_KEY
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
                        "GREENSHIELD_SENDER_KEY": SENDER_KEY,
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


def test_replay_in_production_without_a_control_key_is_refused(monkeypatch: pytest.MonkeyPatch,
                                                               capsys: pytest.CaptureFixture[str],
                                                               tmp_path: Path) -> None:
    """Only the system's identity may move the clock: in production mode no configured key, no replay (nothing
    is sent, no key is made). Development makes one instead (below). Was: refused in any mode."""
    monkeypatch.delenv("GREENSHIELD_CONTROL_KEY", raising=False)
    monkeypatch.setenv("GREENSHIELD_PRODUCTION", "true")
    monkeypatch.setenv("GREENSHIELD_DATA_DIR", str(tmp_path / "var"))
    assert replay.run(parse(replay, ["replay", str(tmp_path / "x.jsonl"), "--as-of", SAMPLE_AS_OF])) == 2
    err = capsys.readouterr().err
    assert "production mode needs a control key: set GREENSHIELD_CONTROL_KEY" in err
    assert not (tmp_path / "var").exists()


def test_a_production_worker_without_a_control_key_does_not_start(tmp_path: Path) -> None:
    """The worker refuses to start (exit 2, the variable named) before it touches the store or Kafka."""
    import os
    import subprocess
    import sys

    env = {k: v for k, v in os.environ.items() if not k.startswith("GREENSHIELD_")}
    env.update(GREENSHIELD_PRODUCTION="true", GREENSHIELD_DATA_DIR=str(tmp_path / "var"))
    done = subprocess.run([sys.executable, "-m", "greenshield.commands.worker", "--db", f"sqlite:///{tmp_path}/x.db",
                           "--metrics-port", "0"], env=env, capture_output=True, text=True, timeout=120,
                          cwd=Path(__file__).resolve().parents[2])
    assert done.returncode == 2, done.stderr
    assert "production mode needs a control key: set GREENSHIELD_CONTROL_KEY" in done.stderr
    assert not (tmp_path / "x.db").exists()


def test_replay_then_a_worker_agree_on_the_key_with_no_configuration(
        pipeline: Callable[..., tuple[Settings, str]], tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        caplog: pytest.LogCaptureFixture) -> None:
    """Development, no GREENSHIELD_CONTROL_KEY (nor GREENSHIELD_SENDER_KEY) anywhere: replay makes
    var/control.key and var/sender.key (0600) and says where; a
    `greenshield worker` started afterwards on the same data directory verifies replay's control messages (no
    control reject) and advances its clock, so its open violations are check's verdict at --as-of, which the
    events alone (clock at the last event) do not reach."""
    import os
    import stat
    import subprocess
    import sys

    from greenshield.store import schema as t
    from greenshield.translog.keys import DEV_CONTROL_KEY
    from greenshield.rules.timestamps import parse_instant

    from .helpers import batch_verdict, count_rows, worker_env

    settings, db = pipeline()
    lines = sample_lines()
    last = max((orjson.loads(line)["occurred_at"] for line in lines), key=parse_instant)
    want = batch_verdict(lines)
    assert want != batch_verdict(lines, last) and want  # the verdict needs the clock moved past the last event
    monkeypatch.delenv("GREENSHIELD_CONTROL_KEY", raising=False)
    monkeypatch.delenv("GREENSHIELD_SENDER_KEY", raising=False)
    for name, value in {"GREENSHIELD_KAFKA_HOST": settings.kafka_host, "GREENSHIELD_HMAC_KEY": HMAC_KEY,
                        "GREENSHIELD_KAFKA_PORT": str(settings.kafka_port),
                        "GREENSHIELD_TOPIC_PREFIX": settings.topic_prefix,
                        "GREENSHIELD_DATA_DIR": str(settings.data_dir)}.items():
        monkeypatch.setenv(name, value)
    data = tmp_path / "history.jsonl"
    data.write_bytes(b"\n".join(lines) + b"\n")

    assert replay.run(parse(replay, ["replay", str(data), "--as-of", SAMPLE_AS_OF, "--no-progress"])) == 0
    key_file = settings.data_dir / DEV_CONTROL_KEY
    assert f"event=development_key_created key=control path={key_file}" in caplog.text
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    assert f"event=development_key_created key=sender path={settings.data_dir / 'sender.key'}" in caplog.text

    env = {k: v for k, v in worker_env(settings).items()
           if k not in ("GREENSHIELD_CONTROL_KEY", "GREENSHIELD_SENDER_KEY")}
    with open(tmp_path / "worker.log", "ab") as log:
        worker = subprocess.Popen([sys.executable, "-m", "greenshield.commands.worker", "--db", db,
                                   "--metrics-port", "0"], env=env, stdout=log, stderr=subprocess.STDOUT,
                                  cwd=Path(__file__).resolve().parents[2])
    try:
        assert wait_until(lambda: open_violations(db) == want or worker.poll() is not None, timeout=120), \
            (tmp_path / "worker.log").read_text()
        assert worker.poll() is None, (tmp_path / "worker.log").read_text()
        assert count_rows(db, t.rejects) == 0  # neither a control nor an enterprise_mismatch reject
        log_text = (tmp_path / "worker.log").read_text()
        assert "key=control" not in log_text and "key=sender" not in log_text  # it used replay's keys, made none
    finally:
        worker.terminate()
        worker.wait(timeout=60)
    assert os.environ.get("GREENSHIELD_CONTROL_KEY") is None
