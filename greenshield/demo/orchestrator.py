"""The demo's processes: started as children, recorded in a state file, stopped by pid (never by name).

Every process the demo starts (the worker, the service; the broker when it starts
one) is written to ``<data dir>/demo.json`` with its pid and its kernel start time
(``/proc/<pid>/stat`` field 22), so a recycled pid is never taken for it. Children
run in their own session, so the terminal's Ctrl-C reaches only the demo, which then
stops them in order (SIGTERM, SIGKILL after a timeout); and each child asks the kernel
for SIGTERM should the demo itself die first (``PR_SET_PDEATHSIG``). The state file
stays after the demo ends (``state: "stopped"``), so a test or a person can check that
no process of the run is left.

A later demo in the same data dir stops the children of an earlier one that was
killed before it could (found by pid *and* start time), refuses to run beside a live
one, and moves the earlier run's store to ``<data dir>/previous/``.
"""

from __future__ import annotations

import contextlib
import ctypes
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import IO, Any

STATE_FILE = "demo.json"
STORE_FILE = "greenshield.db"
PREVIOUS_DIR = "previous"
LOGS_DIR = "logs"
STOP_TIMEOUT = 30.0
PR_SET_PDEATHSIG = 1

Log = Callable[[str], None]


class DemoError(Exception):
    """Something the demo cannot do; the message says what to change."""


# --------------------------------------------------------------------------- processes


def start_time(pid: int) -> str | None:
    """The kernel's start time of ``pid`` (clock ticks since boot), or None when there is no such process.

    A zombie counts as gone: it has exited and only waits to be reaped.
    """
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = stat.rsplit(")", 1)[-1].split()
    if len(fields) < 20 or fields[0] in ("Z", "X"):
        return None
    return fields[19]  # field 22 of stat(5); fields[0] is field 3


def running(pid: int, started: str | None) -> bool:
    """Is the process ``pid`` that started at ``started`` still running?"""
    now = start_time(pid)
    return now is not None and (started is None or now == started)


def _die_with_parent(parent: int) -> Callable[[], None]:
    def setup() -> None:  # runs in the child between fork and exec
        with contextlib.suppress(Exception):
            ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGTERM)
        if os.getppid() != parent:  # the demo died before prctl took effect
            os.kill(os.getpid(), signal.SIGTERM)

    return setup


@dataclass
class Child:
    """A process the demo started."""

    name: str
    pid: int
    started: str | None
    log: str
    argv: list[str] = field(default_factory=list)
    stopped: str = ""  # "", "stopped", "killed", "exited <code>"

    def record(self) -> dict[str, Any]:
        return {"name": self.name, "pid": self.pid, "started": self.started, "log": self.log,
                "argv": self.argv, "stopped": self.stopped}


class Children:
    """The demo's child processes, in start order."""

    def __init__(self, on_change: Callable[[], None] = lambda: None) -> None:
        self.children: list[Child] = []
        self._popen: dict[int, subprocess.Popen[bytes]] = {}
        self._on_change = on_change

    def spawn(self, name: str, argv: Sequence[str], env: Mapping[str, str], log_path: Path,
              cwd: Path | None = None) -> Child:
        """Start ``argv`` in its own session, output to ``log_path``; record it before returning."""
        log_path.parent.mkdir(parents=True, exist_ok=True)
        with open(log_path, "ab") as out:
            proc = subprocess.Popen(list(argv), stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT,
                                    env=dict(env), cwd=cwd, start_new_session=True, close_fds=True,
                                    preexec_fn=_die_with_parent(os.getpid()))
        child = Child(name, proc.pid, start_time(proc.pid), str(log_path), list(argv))
        self._popen[proc.pid] = proc
        self.children.append(child)
        self._on_change()
        return child

    def exit_code(self, child: Child) -> int | None:
        """The child's exit code once it has exited by itself, else None."""
        proc = self._popen.get(child.pid)
        return proc.poll() if proc is not None else None

    def stop(self, child: Child, timeout: float = STOP_TIMEOUT, hurry: Callable[[], bool] = lambda: False) -> str:
        """SIGTERM, then SIGKILL after ``timeout`` (or once ``hurry()``); returns how it ended."""
        proc = self._popen.get(child.pid)
        if proc is not None and proc.poll() is not None:
            child.stopped = f"exited {proc.returncode}"
        elif not running(child.pid, child.started):
            child.stopped = "gone"
        else:
            child.stopped = "killed" if terminate(child.pid, child.started, timeout, proc, hurry) else "stopped"
        self._on_change()
        return child.stopped

    def stop_all(self, timeout: float = STOP_TIMEOUT, log: Log = lambda _: None,
                 hurry: Callable[[], bool] = lambda: False) -> None:
        """Stop every child still running, the last started first."""
        for child in reversed(self.children):
            if child.stopped:
                continue
            how = self.stop(child, timeout, hurry)
            log(f"{child.name} (pid {child.pid}): {how}")


def terminate(pid: int, started: str | None, timeout: float, proc: subprocess.Popen[bytes] | None = None,
              hurry: Callable[[], bool] = lambda: False) -> bool:
    """Stop one process by pid: SIGTERM, SIGKILL after ``timeout`` or once ``hurry()``. True when killed."""
    if not running(pid, started):
        return False
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGTERM)
    if _gone(pid, started, timeout, proc, hurry):
        return False
    if running(pid, started):
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
    if not _gone(pid, started, 15.0, proc):
        raise DemoError(f"process {pid} survived SIGKILL")
    return True


def stop_child(proc: subprocess.Popen[bytes], timeout: float = STOP_TIMEOUT) -> bool:
    """Stop a child this process started (:func:`terminate` by its pid) and reap it; True when killed."""
    killed = terminate(proc.pid, None, timeout, proc) if proc.poll() is None else False
    proc.wait()
    return killed


def _gone(pid: int, started: str | None, timeout: float, proc: subprocess.Popen[bytes] | None,
          hurry: Callable[[], bool] = lambda: False) -> bool:
    deadline = time.monotonic() + timeout
    while True:
        if proc is not None:
            with contextlib.suppress(subprocess.TimeoutExpired):
                proc.wait(timeout=0.1)
            if proc.returncode is not None:
                return True
        elif not running(pid, started):
            return True
        else:
            time.sleep(0.1)
        if time.monotonic() >= deadline or hurry():
            return not running(pid, started)


# --------------------------------------------------------------------------- the state file


@dataclass
class DemoState:
    """What ``<data dir>/demo.json`` holds about one run."""

    run_id: str
    mode: str
    demo_pid: int
    demo_started: str | None
    state: str = "starting"  # starting, running, stopping, stopped
    db_url: str = ""
    dashboard: str = ""
    bootstrap: str = ""
    topic_prefix: str = ""
    broker: dict[str, Any] = field(default_factory=dict)  # {"pid", "started", "ours", "data_dir"}
    children: list[dict[str, Any]] = field(default_factory=list)
    started_at: str = ""
    stopped_at: str = ""
    first_violation_seconds: float | None = None
    events_sent: int = 0

    def save(self, data_dir: Path) -> None:
        path = data_dir / STATE_FILE
        tmp = path.with_suffix(f".json.{os.getpid()}.{threading.get_ident()}.tmp")
        tmp.write_text(json.dumps(asdict(self), indent=2, ensure_ascii=False) + "\n")
        os.replace(tmp, path)

    @classmethod
    def load(cls, data_dir: Path) -> DemoState | None:
        try:
            doc = json.loads((data_dir / STATE_FILE).read_text())
            return cls(**{k: v for k, v in doc.items() if k in cls.__dataclass_fields__})
        except (OSError, ValueError, TypeError):
            return None


def prepare_data_dir(data_dir: Path, log: Log) -> None:
    """Make ``data_dir`` ready for a new run (see the module docstring); raise DemoError when it cannot be."""
    data_dir.mkdir(parents=True, exist_ok=True)
    old = DemoState.load(data_dir)
    store = data_dir / STORE_FILE
    if old is None:
        if store.exists():
            raise DemoError(f"{data_dir} holds a store ({store}) that no demo made; choose another --data-dir")
        return
    if old.state != "stopped" and running(old.demo_pid, old.demo_started):
        raise DemoError(f"another demo (pid {old.demo_pid}) is running in {data_dir}; stop it with Ctrl-C "
                        f"(or kill -INT {old.demo_pid}), or use another --data-dir")
    for record in reversed(old.children):
        pid, started = int(record["pid"]), record.get("started")
        if running(pid, started):
            log(f"stopping {record['name']} (pid {pid}) left over by an earlier demo that did not stop it")
            terminate(pid, started, STOP_TIMEOUT)
    previous = data_dir / PREVIOUS_DIR
    files = [p for p in data_dir.iterdir() if p.name.startswith(STORE_FILE) or p.name in (STATE_FILE, LOGS_DIR)]
    if files:
        shutil.rmtree(previous, ignore_errors=True)
        previous.mkdir()
        for path in files:
            os.replace(path, previous / path.name)
        log(f"the previous run's data moved to {previous}")


# --------------------------------------------------------------------------- small helpers


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket() as s:
        s.bind((host, 0))
        return int(s.getsockname()[1])


def port_free(host: str, port: int) -> bool:
    with socket.socket() as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind((host, port))
        except OSError:
            return False
    return True


def tail(path: str | Path, lines: int = 15) -> str:
    try:
        text = Path(path).read_text(errors="replace")
    except OSError:
        return ""
    return "\n".join(text.splitlines()[-lines:])


def wait_until(check: Callable[[], bool], timeout: float, what: str, child: Child | None = None,
               children: Children | None = None, stop: Callable[[], bool] = lambda: False) -> None:
    """Poll ``check`` until true; DemoError when ``timeout`` passes or ``child`` exits first."""
    deadline = time.monotonic() + timeout
    while not check():
        if stop():
            raise KeyboardInterrupt
        if child is not None and children is not None and children.exit_code(child) is not None:
            raise DemoError(f"{child.name} exited with code {children.exit_code(child)} while {what}:\n"
                            f"{tail(child.log)}")
        if time.monotonic() >= deadline:
            detail = f"; its log {child.log} ends:\n{tail(child.log)}" if child is not None else ""
            raise DemoError(f"timed out after {timeout:.0f}s {what}{detail}")
        time.sleep(0.2)


def log_has(path: str | Path, text: str) -> Callable[[], bool]:
    def check() -> bool:
        try:
            return text in Path(path).read_text(errors="replace")
        except OSError:
            return False

    return check


def http_ok(url: str) -> Callable[[], bool]:
    def check() -> bool:
        import urllib.request

        try:
            with urllib.request.urlopen(url, timeout=2) as response:  # noqa: S310 - loopback only
                return bool(response.status == 200)
        except OSError:
            return False

    return check


def greenshield_argv(*args: str) -> list[str]:
    """A ``greenshield`` command line run by this interpreter (the same package, venv or not)."""
    return [sys.executable, "-m", "greenshield.cli", *args]


# --------------------------------------------------------------------------- the broker


@dataclass
class BrokerUse:
    """The broker the demo uses; ``ours`` when the demo started it (and so stops it)."""

    bootstrap: str
    ours: bool
    pid: int | None = None
    started: str | None = None
    data_dir: str = ""


def ensure_broker(settings: Any, env: Mapping[str, str], stop: Callable[[], bool], log: Log,
                  err: IO[str], earlier: Mapping[str, Any] | None = None) -> BrokerUse:
    """Use the broker answering at the settings' address; else start one with ``greenshield kafka up``.

    A broker the demo starts keeps its data in ``<data dir>/kafka`` and starts ``--fresh``
    (each run has topics of its own; a fresh start is twice as fast as a restart).
    ``earlier`` is the broker record of an earlier demo in this data dir: a broker that
    demo started and could not stop (it was killed) is this demo's to stop.
    """
    from greenshield.ingest import broker

    cfg = broker.BrokerConfig.from_settings(settings)  # data dir: settings.kafka_dir, the demo's own
    try:
        broker.probe(cfg.bootstrap, timeout=3.0, security=settings.kafka_security)
    except broker.ProbeError:
        pass
    else:
        pid = broker.read_pid_file(cfg)
        if earlier and earlier.get("ours") and pid is not None and pid == earlier.get("pid") \
                and broker.is_our_broker(pid, cfg) and running(pid, earlier.get("started")):
            log(f"Kafka: using the broker an earlier demo started at {cfg.bootstrap} (pid {pid}); "
                "the demo stops it at the end")
            return BrokerUse(cfg.bootstrap, True, pid, start_time(pid), str(cfg.data_dir))
        log(f"Kafka: using the broker already running at {cfg.bootstrap}; the demo leaves it running")
        return BrokerUse(cfg.bootstrap, False)
    try:
        broker.find_tools(need_mvn=not broker.jars_present(cfg))
    except broker.MissingToolError as e:
        raise DemoError(f"{e}\nOr run the demo without Kafka: greenshield demo --embedded") from None
    log(f"Kafka: starting a broker at {cfg.bootstrap} with `greenshield kafka up` (data in {cfg.data_dir}; "
        "the very first start fetches its jars from Maven Central)")
    args = ["kafka", "up", "--fresh", "--data-dir", str(cfg.data_dir), "--host", cfg.host, "--port", str(cfg.port),
            "--controller-port", str(cfg.controller_port)]
    done = subprocess.run(greenshield_argv(*args), env=dict(env), stdout=subprocess.PIPE, stderr=err, text=True,
                          check=False)
    pid = broker.read_pid_file(cfg)
    if pid is not None and not broker.is_our_broker(pid, cfg):
        pid = None
    use = BrokerUse(cfg.bootstrap, pid is not None, pid, start_time(pid) if pid else None, str(cfg.data_dir))
    if stop():  # Ctrl-C reached `kafka up` too: it stopped what it started, or the caller stops it
        if use.ours:
            return use
        raise KeyboardInterrupt
    if done.returncode != 0 or pid is None:
        raise DemoError(f"`greenshield kafka up` failed (exit {done.returncode}); see the lines above. "
                        "Or run the demo without Kafka: greenshield demo --embedded")
    return use


def stop_broker(use: BrokerUse, env: Mapping[str, str], log: Log) -> None:
    """``greenshield kafka down`` for a broker the demo started (it stops exactly that pid)."""
    if not use.ours:
        return
    args = ["kafka", "down"] + (["--data-dir", use.data_dir] if use.data_dir else [])
    done = subprocess.run(greenshield_argv(*args), env=dict(env), capture_output=True, text=True, check=False)
    message = (done.stderr.strip().splitlines() or [""])[-1]
    log(message or f"Kafka broker pid {use.pid} stopped")
    if use.pid is not None and running(use.pid, use.started):  # `down` refused (e.g. its pid file is gone)
        killed = terminate(use.pid, use.started, 60.0)
        log(f"Kafka broker (pid {use.pid}) {'killed' if killed else 'stopped'}")
