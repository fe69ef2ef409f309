"""The local broker's process: its pid file, whether a pid is this data dir's broker, stopping it, its log's tail."""

from __future__ import annotations

import contextlib
import os
from pathlib import Path

from greenshield.devtools.kafka_config import STOP_TIMEOUT, BrokerConfig, BrokerError
from greenshield.devtools.process import ProcessError, command_line, pid_alive, port_in_use, tail_text, terminate


def read_pid_file(cfg: BrokerConfig) -> int | None:
    """The pid recorded in the pid file; None when there is none (or it is garbage)."""
    try:
        text = cfg.pid_file.read_text().strip()
    except FileNotFoundError:
        return None
    try:
        pid = int(text)
    except ValueError:
        return None
    return pid if pid > 0 else None


def write_pid_file(cfg: BrokerConfig, pid: int) -> None:
    tmp = cfg.pid_file.with_suffix(".pid.tmp")
    tmp.write_text(f"{pid}\n")
    os.replace(tmp, cfg.pid_file)


def remove_pid_file(cfg: BrokerConfig) -> None:
    with contextlib.suppress(FileNotFoundError):
        cfg.pid_file.unlink()


def is_our_broker(pid: int, cfg: BrokerConfig) -> bool:
    """True when ``pid`` is alive and is the broker of this data dir (guards against pid reuse)."""
    if not pid_alive(pid):
        return False
    args = command_line(pid)
    if args is None:
        return not Path("/proc/self").exists()  # no procfs at all: trust the pid file
    return "kafka.Kafka" in args and str(cfg.server_properties) in args


def broker_port_in_use(host: str, port: int) -> bool:
    try:
        return port_in_use(host, port)
    except ProcessError as e:
        raise BrokerError(str(e)) from None


def stop_process(pid: int, timeout: float = STOP_TIMEOUT) -> bool:
    """SIGTERM ``pid`` (Kafka's controlled shutdown), SIGKILL after ``timeout``; True if killed."""
    try:
        return terminate(pid, None, timeout)
    except ProcessError as e:
        raise BrokerError(str(e)) from None


def log_tail(cfg: BrokerConfig, lines: int = 40) -> str:
    """The last lines of the broker log and of the JVM's own output, for error messages."""
    parts = []
    for path in (cfg.log_file, cfg.stdout_file):
        try:
            text = path.read_text(errors="replace")
        except FileNotFoundError:
            continue
        if text.strip():
            parts.append(f"--- last {lines} lines of {path} ---\n{tail_text(text, lines)}")
    return "\n".join(parts) if parts else f"(no broker log in {cfg.data_dir})"
