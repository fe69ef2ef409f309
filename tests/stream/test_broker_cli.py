"""Unit tests of the local-broker tooling that need no server, no Java and no network."""

from __future__ import annotations

import argparse
import os
import re
import socket
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from greenshield.devtools import kafka_broker as broker, kafka_config, kafka_jars
from greenshield.devtools.process import free_port
from greenshield.settings import Settings


def _cfg(tmp_path: Path, **kw: object) -> broker.BrokerConfig:
    args: dict[str, object] = {"data_dir": tmp_path / "kafka", "cache_dir": tmp_path / "cache"}
    args.update(kw)
    return broker.BrokerConfig(**args)  # type: ignore[arg-type]


def _props(text: str) -> dict[str, str]:
    out = {}
    for line in text.splitlines():
        if line and not line.startswith("#"):
            k, _, v = line.partition("=")
            out[k.strip()] = v.strip()
    return out


def _script(d: Path, name: str, body: str) -> Path:
    d.mkdir(parents=True, exist_ok=True)
    p = d / name
    p.write_text("#!/bin/sh\n" + body)
    p.chmod(p.stat().st_mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)
    return p


FAKE_JAVA = """echo 'openjdk version "17.0.15" 2025-04-15' >&2\n"""


def _kafka_cli(*argv: str) -> int:
    from greenshield.commands import kafka

    parser = argparse.ArgumentParser()
    kafka.register(parser.add_subparsers())
    args = parser.parse_args(["kafka", *argv])
    return int(args.func(args))


def _dead_pid() -> int:
    p = subprocess.Popen([sys.executable, "-c", "pass"])
    p.wait()
    return p.pid


# --------------------------------------------------------------------------- config rendering


def test_server_properties_single_node_on_loopback(tmp_path: Path) -> None:
    cfg = _cfg(tmp_path, port=29092, controller_port=29093)
    props = _props(broker.render_server_properties(cfg))
    assert props["process.roles"] == "broker,controller"
    assert props["node.id"] == "1"
    assert props["controller.quorum.voters"] == "1@127.0.0.1:29093"
    assert props["listeners"] == "PLAINTEXT://127.0.0.1:29092,CONTROLLER://127.0.0.1:29093"
    assert props["advertised.listeners"].startswith("PLAINTEXT://127.0.0.1:29092")
    assert props["controller.listener.names"] == "CONTROLLER"
    assert props["log.dirs"] == str(tmp_path / "kafka" / "kraft")
    for key in (
        "offsets.topic.replication.factor",
        "transaction.state.log.replication.factor",
        "transaction.state.log.min.isr",
        "share.coordinator.state.topic.replication.factor",
        "share.coordinator.state.topic.min.isr",
    ):
        assert props[key] == "1", key
    assert int(props["offsets.topic.num.partitions"]) <= 5
    assert props["group.initial.rebalance.delay.ms"] == "0"
    text = broker.render_server_properties(cfg)
    assert "0.0.0.0" not in text and "localhost" not in text


def test_server_properties_never_create_topics_on_first_use(tmp_path: Path) -> None:
    """Issue 14: a send before `greenshield topics create` must fail, not make gs.registry.v1 with cleanup=delete."""
    props = _props(broker.render_server_properties(_cfg(tmp_path)))
    assert props["auto.create.topics.enable"] == "false"


def test_log4j_config_writes_to_the_data_dir(tmp_path: Path) -> None:
    cfg = _cfg(tmp_path)
    props = _props(kafka_config.render_log4j2(cfg))
    assert props["appender.file.fileName"] == str(tmp_path / "kafka" / "broker.log")
    assert props["rootLogger.appenderRef.file.ref"] == props["appender.file.name"]
    assert props["rootLogger.level"] == "INFO"


def test_java_command(tmp_path: Path) -> None:
    cfg = _cfg(tmp_path)
    cmd = kafka_config.java_command(cfg, "/usr/bin/java")
    assert cmd[0] == "/usr/bin/java"
    for flag in ("-Xms256m", "-Xmx1g", "-XX:+UseG1GC", "-XX:MaxGCPauseMillis=20", "-XX:+ExplicitGCInvokesConcurrent"):
        assert flag in cmd
    assert f"-Dlog4j2.configurationFile={cfg.log4j_config}" in cmd
    assert cmd[cmd.index("-cp") + 1] == f"{tmp_path / 'cache' / '4.0.2' / 'libs'}/*"
    assert cmd[-2:] == ["kafka.Kafka", str(cfg.server_properties)]
    assert not any("jmxremote" in a for a in cmd)

    fmt = kafka_config.format_command(cfg, "abc", "/usr/bin/java")
    assert fmt[fmt.index("kafka.tools.StorageTool") :] == [
        "kafka.tools.StorageTool", "format", "-t", "abc", "-c", str(cfg.server_properties), "-g"
    ]


def test_maven_command_uses_the_repo_pom(tmp_path: Path) -> None:
    cfg = _cfg(tmp_path)
    cmd = kafka_jars.maven_command(cfg, tmp_path / "out", mvn="mvn")
    assert "dependency:copy-dependencies" in cmd
    assert "-DincludeScope=runtime" in cmd
    assert f"-DoutputDirectory={tmp_path / 'out'}" in cmd
    assert "-Dkafka.version=4.0.2" in cmd
    pom = Path(cmd[cmd.index("-f") + 1])
    assert pom.is_file()
    text = pom.read_text()
    assert "<artifactId>kafka_2.13</artifactId>" in text
    assert "<artifactId>log4j-slf4j-impl</artifactId>" in text
    assert "<slf4j.version>1.7.36</slf4j.version>" in text
    assert re.search(r"maven-dependency-plugin</artifactId>\s*<version>3\.", text)


def test_cluster_id_shape() -> None:
    ids = {kafka_config.new_cluster_id() for _ in range(50)}
    assert len(ids) == 50
    for cid in ids:
        assert re.fullmatch(r"[A-Za-z0-9_-]{22}", cid) and not cid.startswith("-")


def test_config_from_settings_and_flags(tmp_path: Path) -> None:
    s = Settings.from_env({"GREENSHIELD_DATA_DIR": str(tmp_path / "d"), "GREENSHIELD_KAFKA_CACHE": str(tmp_path / "c")})
    cfg = broker.BrokerConfig.from_settings(s)
    assert (cfg.host, cfg.port, cfg.controller_port) == ("127.0.0.1", 19092, 19093)
    assert cfg.data_dir == tmp_path / "d" / "kafka"
    assert cfg.libs_dir == tmp_path / "c" / "4.0.2" / "libs"
    assert cfg.bootstrap == "127.0.0.1:19092"
    cfg = broker.BrokerConfig.from_settings(s, port=29100, data_dir=Path("rel"))
    assert cfg.controller_port == 29101
    assert cfg.data_dir.is_absolute()
    with pytest.raises(broker.BrokerError, match="all interfaces"):
        broker.BrokerConfig.from_settings(s, host="0.0.0.0")
    with pytest.raises(broker.BrokerError, match="different ports"):
        broker.BrokerConfig.from_settings(s, port=1000, controller_port=1000)


# --------------------------------------------------------------------------- missing tools


def test_missing_java_and_mvn_named_with_install_command(tmp_path: Path) -> None:
    empty = tmp_path / "bin"
    empty.mkdir()
    with pytest.raises(broker.MissingToolError) as ei:
        broker.find_tools(str(empty))
    msg = str(ei.value)
    assert ei.value.exit_code == 2
    assert "`java`" in msg and "`mvn`" in msg
    assert "sudo apt-get install -y openjdk-17-jre-headless maven" in msg


def test_only_mvn_missing(tmp_path: Path) -> None:
    _script(tmp_path / "bin", "java", FAKE_JAVA)
    with pytest.raises(broker.MissingToolError) as ei:
        broker.find_tools(str(tmp_path / "bin"))
    assert ei.value.missing == ["mvn"]
    assert "sudo apt-get install -y maven" in str(ei.value)
    # with the jars cached, Maven is not needed at all
    assert set(broker.find_tools(str(tmp_path / "bin"), need_mvn=False)) == {"java"}


def test_cli_up_without_java_and_mvn_exits_2(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    empty = tmp_path / "bin"
    empty.mkdir()
    monkeypatch.setenv("PATH", str(empty))
    monkeypatch.setenv("GREENSHIELD_KAFKA_CACHE", str(tmp_path / "cache"))
    rc = _kafka_cli("up", "--data-dir", str(tmp_path / "k"), "--port", str(free_port()),
                    "--controller-port", str(free_port()))
    err = capsys.readouterr().err
    assert rc == 2
    assert "`java` and `mvn` not found" in err
    assert "sudo apt-get install -y openjdk-17-jre-headless maven" in err
    assert not (tmp_path / "k" / "broker.pid").exists()


def test_old_java_is_refused(tmp_path: Path) -> None:
    bin_ = tmp_path / "bin"
    _script(bin_, "java", """echo 'openjdk version "11.0.22" 2024-01-16' >&2\n""")
    _script(bin_, "mvn", "exit 99\n")
    cfg = _cfg(tmp_path, port=free_port(), controller_port=free_port())
    with pytest.raises(broker.MissingToolError, match="Java 11, too old"):
        broker.up(cfg, path=str(bin_))


# --------------------------------------------------------------------------- download


def test_failed_download_leaves_no_cache(tmp_path: Path) -> None:
    bin_ = tmp_path / "bin"
    _script(bin_, "java", FAKE_JAVA)
    # writes a partial jar, then fails as Maven does when the network is down
    _script(
        bin_,
        "mvn",
        'for a in "$@"; do case "$a" in -DoutputDirectory=*) out="${a#-DoutputDirectory=}";; esac; done\n'
        'echo partial > "$out/kafka_2.13-4.0.2.jar"\n'
        'echo "[ERROR] Could not resolve dependencies: repo.maven.apache.org: Temporary failure"\n'
        "exit 1\n",
    )
    cfg = _cfg(tmp_path, port=free_port(), controller_port=free_port())
    with pytest.raises(kafka_config.DownloadError) as ei:
        broker.up(cfg, path=str(bin_))
    assert ei.value.exit_code == 2
    assert "Could not resolve dependencies" in str(ei.value)
    assert "dependency:copy-dependencies" in str(ei.value)
    assert not cfg.libs_dir.exists()
    assert list(cfg.libs_dir.parent.glob(".libs-*")) == []
    assert not cfg.pid_file.exists()


def test_download_renames_complete_jars_into_place(tmp_path: Path) -> None:
    bin_ = tmp_path / "bin"
    _script(
        bin_,
        "mvn",
        'for a in "$@"; do case "$a" in -DoutputDirectory=*) out="${a#-DoutputDirectory=}";; esac; done\n'
        'for j in kafka_2.13-4.0.2 kafka-clients-4.0.2 log4j-core-2.24.3 log4j-slf4j-impl-2.24.3 slf4j-api-1.7.36; '
        'do echo jar > "$out/$j.jar"; done\n',
    )
    cfg = _cfg(tmp_path)
    # a leftover of a killed earlier download is cleaned up
    cfg.libs_dir.parent.mkdir(parents=True)
    (cfg.libs_dir.parent / ".libs-dead").mkdir()
    seconds = broker.ensure_jars(cfg, mvn=str(bin_ / "mvn"))
    assert seconds is not None
    assert broker.jars_present(cfg)
    assert sorted(p.name for p in cfg.libs_dir.parent.iterdir()) == ["download.lock", "libs"]
    assert broker.ensure_jars(cfg, mvn=str(bin_ / "mvn")) is None  # cached: no second download


def test_download_missing_a_jar_is_an_error(tmp_path: Path) -> None:
    bin_ = tmp_path / "bin"
    _script(
        bin_,
        "mvn",
        'for a in "$@"; do case "$a" in -DoutputDirectory=*) out="${a#-DoutputDirectory=}";; esac; done\n'
        'echo jar > "$out/kafka_2.13-4.0.2.jar"\n',
    )
    cfg = _cfg(tmp_path)
    with pytest.raises(kafka_config.DownloadError, match="log4j-core"):
        broker.ensure_jars(cfg, mvn=str(bin_ / "mvn"))
    assert not cfg.libs_dir.exists()


# --------------------------------------------------------------------------- pid files


def test_stale_pid_file_reported_and_removed(tmp_path: Path) -> None:
    cfg = _cfg(tmp_path)
    cfg.data_dir.mkdir(parents=True)
    cfg.pid_file.write_text(f"{_dead_pid()}\n")
    st = broker.status(cfg)
    assert st.state == "stopped" and not st.healthy and "stale pid file" in st.detail
    assert cfg.pid_file.exists()  # status only looks
    res = broker.down(cfg)
    assert not res.stopped and "removed stale pid file" in res.detail
    assert not cfg.pid_file.exists()


def test_pid_file_naming_another_process_is_never_signalled(tmp_path: Path) -> None:
    cfg = _cfg(tmp_path)
    cfg.data_dir.mkdir(parents=True)
    other = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        cfg.pid_file.write_text(f"{other.pid}\n")
        assert broker.pid_alive(other.pid)
        assert not broker.is_our_broker(other.pid, cfg)
        assert broker.status(cfg).state == "stopped"
        broker.down(cfg)
        assert other.poll() is None, "down must not signal a process that is not its broker"
        assert not cfg.pid_file.exists()
    finally:
        other.kill()
        other.wait()


def test_garbage_pid_file(tmp_path: Path) -> None:
    cfg = _cfg(tmp_path)
    cfg.data_dir.mkdir(parents=True)
    cfg.pid_file.write_text("not a pid")
    assert broker.read_pid_file(cfg) is None
    assert broker.status(cfg).state == "stopped"


def test_up_cleans_stale_pid_file_before_failing_on_tools(tmp_path: Path) -> None:
    empty = tmp_path / "bin"
    empty.mkdir()
    cfg = _cfg(tmp_path, port=free_port(), controller_port=free_port())
    cfg.data_dir.mkdir(parents=True)
    cfg.pid_file.write_text(f"{_dead_pid()}\n")
    notes: list[str] = []
    with pytest.raises(broker.MissingToolError):
        broker.up(cfg, path=str(empty), log=notes.append)
    assert not cfg.pid_file.exists()
    assert any("stale pid file" in n for n in notes)


def test_cli_status_and_down_when_nothing_runs(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    flags = ["--data-dir", str(tmp_path / "k"), "--port", str(free_port())]
    assert _kafka_cli("status", *flags) == 1
    assert capsys.readouterr().out.startswith("stopped at 127.0.0.1:")
    assert _kafka_cli("down", *flags) == 0


def test_port_in_use_is_reported(tmp_path: Path) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen()
        port = s.getsockname()[1]
        cfg = _cfg(tmp_path, port=port, controller_port=free_port())
        with pytest.raises(broker.BrokerError, match=f"127.0.0.1:{port} is already in use"):
            broker.up(cfg, path=os.defpath)


def test_fresh_refuses_to_wipe_a_foreign_dir(tmp_path: Path) -> None:
    d = tmp_path / "precious"
    d.mkdir()
    (d / "thesis.tex").write_text("years of work")
    cfg = broker.BrokerConfig(data_dir=d, cache_dir=tmp_path / "c", port=free_port(), controller_port=free_port())
    with pytest.raises(broker.BrokerError, match="does not look like a broker data dir"):
        broker.up(cfg, fresh=True, path=str(tmp_path))
    assert (d / "thesis.tex").exists()


def test_probe_of_a_closed_port_fails_fast() -> None:
    with pytest.raises(broker.ProbeError, match="cannot connect"):
        broker.probe(f"127.0.0.1:{free_port()}", timeout=2)
