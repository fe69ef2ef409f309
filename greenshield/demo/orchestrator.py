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

import json
import os
import shutil
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import IO, Any

from greenshield.devtools.process import STOP_TIMEOUT, Child, Children, running, start_time, tail, terminate
from greenshield.errors import GreenShieldError

STATE_FILE = "demo.json"
STORE_FILE = "greenshield.db"
PREVIOUS_DIR = "previous"
LOGS_DIR = "logs"

Log = Callable[[str], None]


class DemoError(GreenShieldError):
    """Something the demo cannot do; the message says what to change."""


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


def command_name() -> str:
    """How the user runs ``greenshield`` from here: on PATH, else the venv's script, else ``python -m``."""
    script = Path(sys.executable).parent / "greenshield"
    found = shutil.which("greenshield")
    if found and script.exists() and Path(found).resolve() == script.resolve():
        return "greenshield"
    if script.exists():
        try:
            return str(script.relative_to(Path.cwd()))
        except ValueError:
            return str(script)
    return f"{sys.executable} -m greenshield.cli"


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
    from greenshield.devtools import kafka_broker as broker

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
