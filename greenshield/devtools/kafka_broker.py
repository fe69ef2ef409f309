"""A local single-node Apache Kafka broker (KRaft) for development and tests: up, status, down, probe.

No Docker needed: the official broker jars come from Maven Central (:mod:`kafka_jars`)
and run on the local Java 17 as one process that is both broker and controller, on
loopback only. Everything it writes lives in its data directory (:class:`BrokerConfig`).
Only :func:`probe` (:mod:`kafka_probe`) talks Kafka; it imports kafka-python lazily.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
import time
import warnings
from dataclasses import dataclass, field
from pathlib import Path

from greenshield.devtools.kafka_config import (
    MIN_JAVA,
    READY_TIMEOUT,
    SECURE_MARKER,
    STOP_TIMEOUT,
    BrokerConfig,
    BrokerError,
    Log,
    MissingToolError,
    ProbeError,
    _quiet,
    admin_password,
    format_command,
    java_command,
    new_cluster_id,
    render_log4j2,
    render_server_properties,
)
from greenshield.devtools.kafka_jars import (
    POM_PATH,
    _child_env,
    ensure_jars,
    find_tools,
    jars_present,
    java_major_version,
)
from greenshield.devtools.kafka_probe import probe
from greenshield.devtools.kafka_process import (
    broker_port_in_use,
    is_our_broker,
    log_tail,
    read_pid_file,
    remove_pid_file,
    stop_process,
    write_pid_file,
)
from greenshield.devtools.process import locked, pid_alive, tail_text

__all__ = [  # the broker's API, for `greenshield kafka`, the demo, tests and benchmarks
    "BrokerConfig", "BrokerError", "BrokerStatus", "DownResult", "MissingToolError", "ProbeError", "UpResult",
    "down", "ensure_jars", "find_tools", "is_our_broker", "jars_present", "pid_alive", "probe", "read_pid_file",
    "render_server_properties", "status", "stop_process", "up",
]


@dataclass(frozen=True)
class BrokerStatus:
    state: str  # "running" | "unhealthy" | "stopped"
    pid: int | None
    bootstrap: str
    detail: str = ""

    @property
    def healthy(self) -> bool:
        return self.state == "running"


@dataclass(frozen=True)
class UpResult:
    pid: int
    bootstrap: str
    already_running: bool
    download_seconds: float | None = None
    startup_seconds: float | None = None
    notes: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class DownResult:
    pid: int | None
    stopped: bool
    forced: bool = False
    detail: str = ""


def status(cfg: BrokerConfig, *, timeout: float = 10.0) -> BrokerStatus:
    """Running (pid alive and answering), unhealthy (alive, not answering) or stopped."""
    pid = read_pid_file(cfg)
    if pid is None:
        return BrokerStatus("stopped", None, cfg.bootstrap, f"no pid file at {cfg.pid_file}")
    if not is_our_broker(pid, cfg):
        return BrokerStatus(
            "stopped", None, cfg.bootstrap, f"stale pid file {cfg.pid_file}: pid {pid} is not this broker"
        )
    try:
        probe(cfg.bootstrap, timeout=timeout, security=cfg.client_security())
    except ProbeError as e:
        return BrokerStatus("unhealthy", pid, cfg.bootstrap, f"{e}; log: {cfg.log_file}")
    return BrokerStatus("running", pid, cfg.bootstrap)


def _looks_like_broker_dir(path: Path) -> bool:
    if not path.exists():
        return True
    entries = {p.name for p in path.iterdir()} - {"greenshield.lock"}
    known = {"server.properties", "kraft", "cluster.id", "broker.log", "broker.pid"}
    return not entries or bool(entries & known)


def _wipe(cfg: BrokerConfig) -> None:
    if not _looks_like_broker_dir(cfg.data_dir):
        raise BrokerError(f"--fresh: {cfg.data_dir} does not look like a broker data dir; not wiping it")
    for entry in cfg.data_dir.iterdir():
        if entry == cfg.lock_file:
            continue
        if entry.is_dir() and not entry.is_symlink():
            shutil.rmtree(entry)
        else:
            entry.unlink()


def up(
    cfg: BrokerConfig,
    *,
    path: str | None = None,
    fresh: bool = False,
    ready_timeout: float = READY_TIMEOUT,
    pom: Path = POM_PATH,
    log: Log = _quiet,
) -> UpResult:
    """Start the broker unless a healthy one runs; block until a client can use it.

    ``path`` is the PATH to find java and mvn on (default: the environment's).
    """
    cfg.data_dir.mkdir(parents=True, exist_ok=True)
    with locked(cfg.lock_file):
        pid = read_pid_file(cfg)
        if pid is not None:
            if is_our_broker(pid, cfg):
                try:
                    _wait_until_ready(cfg, None, min(ready_timeout, 30.0), roundtrip=False)
                except BrokerError as e:
                    raise BrokerError(
                        f"a broker (pid {pid}) runs in {cfg.data_dir} but does not answer: {e}\n"
                        "Stop it with `greenshield kafka down` and start again."
                    ) from None
                if fresh:
                    raise BrokerError(f"--fresh: a broker (pid {pid}) is running in {cfg.data_dir}; stop it first")
                return UpResult(pid, cfg.bootstrap, already_running=True)
            log(f"removing stale pid file {cfg.pid_file} (pid {pid} is not running this broker)")
            remove_pid_file(cfg)
        if fresh:
            _wipe(cfg)

        for port in (cfg.port, cfg.controller_port):
            if broker_port_in_use(cfg.host, port):
                raise BrokerError(
                    f"{cfg.host}:{port} is already in use by another process; "
                    "pick other ports with --port/--controller-port"
                )

        need_mvn = not jars_present(cfg)
        tools = find_tools(path, need_mvn=need_mvn)
        env = _child_env(path)
        major = java_major_version(tools["java"], env)
        if major is not None and major < MIN_JAVA:
            raise MissingToolError(["java"], detail=f"{tools['java']} is Java {major}, too old")

        download_seconds = None
        if need_mvn:
            download_seconds = ensure_jars(cfg, mvn=tools["mvn"], pom=pom, env=env, log=log)

        formatted = (cfg.storage_dir / "meta.properties").exists()
        was_secure = (cfg.data_dir / SECURE_MARKER).exists()
        if formatted and was_secure != cfg.secure:
            made, asked = ("with", "without") if was_secure else ("without", "with")
            raise BrokerError(f"{cfg.data_dir} was made {made} --secure; it cannot start {asked} it. "
                              "Start it as it was made, or wipe it with --fresh (topics and offsets are lost)")
        password = admin_password(cfg) if cfg.secure else ""
        _write_private_text(cfg.server_properties, render_server_properties(cfg, password))
        cfg.log4j_config.write_text(render_log4j2(cfg))
        if cfg.cluster_id_file.exists():
            cluster_id = cfg.cluster_id_file.read_text().strip()
        else:
            cluster_id = new_cluster_id()
            cfg.cluster_id_file.write_text(cluster_id + "\n")

        t0 = time.monotonic()
        if not (cfg.storage_dir / "meta.properties").exists():
            log(f"formatting KRaft storage in {cfg.storage_dir}")
        fmt = subprocess.run(
            format_command(cfg, cluster_id, tools["java"], password),
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            env=env,
            cwd=cfg.data_dir,
            timeout=120,
            check=False,
        )
        if fmt.returncode != 0:
            raise BrokerError(
                f"formatting KRaft storage failed (exit {fmt.returncode}):\n"
                f"{tail_text(fmt.stdout + fmt.stderr, 30)}\n{log_tail(cfg, 20)}"
            )
        if cfg.secure:
            (cfg.data_dir / SECURE_MARKER).write_text("SASL/SCRAM + StandardAuthorizer\n")

        with open(cfg.stdout_file, "ab") as out:
            proc = subprocess.Popen(
                java_command(cfg, tools["java"]),
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
                cwd=cfg.data_dir,
                env=env,
                start_new_session=True,  # Ctrl-C on the CLI must not kill it
                close_fds=True,
            )
        write_pid_file(cfg, proc.pid)
        log(f"started broker pid {proc.pid}; waiting for it to answer at {cfg.bootstrap}")
        try:
            _wait_until_ready(cfg, proc, ready_timeout, roundtrip=True)
        except BaseException:
            if proc.poll() is None:
                with contextlib.suppress(BrokerError):
                    stop_process(proc.pid, 20.0)
            with contextlib.suppress(ChildProcessError):
                proc.wait(timeout=5)
            remove_pid_file(cfg)
            raise
        startup = time.monotonic() - t0
        pid = proc.pid
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ResourceWarning)
            del proc  # the broker outlives us on purpose
        return UpResult(pid, cfg.bootstrap, False, download_seconds, startup)


def _write_private_text(path: Path, text: str) -> None:
    """Write a file only its owner can read (a secure broker's properties hold the super user's password)."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(text)
    os.chmod(path, 0o600)


def _wait_until_ready(
    cfg: BrokerConfig, proc: subprocess.Popen[bytes] | None, timeout: float, *, roundtrip: bool
) -> None:
    deadline = time.monotonic() + timeout
    last = "no attempt yet"
    while True:
        if proc is not None and proc.poll() is not None:
            raise BrokerError(
                f"the broker exited with code {proc.returncode} while starting.\n{log_tail(cfg)}"
            )
        remaining = deadline - time.monotonic()
        try:
            probe(cfg.bootstrap, timeout=max(1.0, min(remaining, 15.0)), roundtrip=roundtrip, group=roundtrip,
                  security=cfg.client_security())
            return
        except ProbeError as e:
            last = str(e)
        if time.monotonic() >= deadline:
            raise BrokerError(
                f"the broker did not answer at {cfg.bootstrap} within {timeout:.0f}s (last error: {last}).\n"
                f"{log_tail(cfg)}"
            )
        time.sleep(0.5)


def down(cfg: BrokerConfig, *, timeout: float = STOP_TIMEOUT, log: Log = _quiet) -> DownResult:
    """Stop the broker of this data dir by its pid and remove the pid file."""
    if not cfg.data_dir.is_dir():
        return DownResult(None, False, detail=f"no broker data dir at {cfg.data_dir}")
    with locked(cfg.lock_file):
        pid = read_pid_file(cfg)
        if pid is None:
            return DownResult(None, False, detail=f"no broker running (no pid file at {cfg.pid_file})")
        if not is_our_broker(pid, cfg):
            remove_pid_file(cfg)
            return DownResult(None, False, detail=f"removed stale pid file {cfg.pid_file} (pid {pid} was not running)")
        log(f"stopping broker pid {pid} (controlled shutdown)")
        forced = stop_process(pid, timeout)
        remove_pid_file(cfg)
        return DownResult(pid, True, forced=forced)
