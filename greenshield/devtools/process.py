"""Process supervision for development servers: start, check and stop child processes by pid, never by name.

A process is identified by its pid *and* its kernel start time (``/proc/<pid>/stat``
field 22), so a recycled pid is never taken for it. Stopping is SIGTERM, then SIGKILL
after a timeout. Also the small helpers around it: free ports, log tails, a file lock.
"""

from __future__ import annotations

import contextlib
import ctypes
import errno
import fcntl
import os
import signal
import socket
import subprocess
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from greenshield.errors import DevtoolsError

STOP_TIMEOUT = 30.0
PR_SET_PDEATHSIG = 1

Log = Callable[[str], None]


class ProcessError(DevtoolsError):
    """A process could not be stopped, or a port cannot be checked; the message says which."""

    exit_code = 1


# --------------------------------------------------------------------------- liveness


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


def running(pid: int, started: str | None = None) -> bool:
    """Is the process ``pid`` (that started at ``started``, when given) still running?"""
    if not Path("/proc/self").exists():  # no procfs: trust kill(0)
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return False
        except PermissionError:
            return True
        return True
    now = start_time(pid)
    return now is not None and (started is None or now == started)


def pid_alive(pid: int) -> bool:
    """True while ``pid`` is a live process; a zombie is dead, and reaped when it is our child.

    For processes that outlive their parent on purpose (a broker started by ``kafka up``),
    where no ``Popen`` is left to reap them.
    """
    if running(pid):
        return True
    with contextlib.suppress(ChildProcessError, OSError):
        os.waitpid(pid, os.WNOHANG)
    return False


def command_line(pid: int) -> list[str] | None:
    """The argv of ``pid`` from ``/proc``, or None when it cannot be read."""
    try:
        raw = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return None
    return raw.decode(errors="replace").split("\0")


# --------------------------------------------------------------------------- stopping


def terminate(pid: int, started: str | None, timeout: float = STOP_TIMEOUT,
              proc: subprocess.Popen[bytes] | None = None, hurry: Callable[[], bool] = lambda: False) -> bool:
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
        raise ProcessError(f"process {pid} survived SIGKILL")
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


# --------------------------------------------------------------------------- children


def _die_with_parent(parent: int) -> Callable[[], None]:
    def setup() -> None:  # runs in the child between fork and exec
        with contextlib.suppress(Exception):
            ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGTERM)
        if os.getppid() != parent:  # the parent died before prctl took effect
            os.kill(os.getpid(), signal.SIGTERM)

    return setup


@dataclass
class Child:
    """A process we started."""

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
    """Child processes, in start order: each in its own session, asking for SIGTERM should we die first."""

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


# --------------------------------------------------------------------------- ports, logs, locks


def free_port(host: str = "127.0.0.1") -> int:
    """A TCP port nobody listens on at ``host`` right now."""
    with socket.socket() as s:
        s.bind((host, 0))
        return int(s.getsockname()[1])


def port_in_use(host: str, port: int) -> bool:
    """Is ``host:port`` taken? (ProcessError when it cannot be bound for another reason, e.g. no such address.)"""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind((host, port))
        except OSError as e:
            if e.errno == errno.EADDRINUSE:
                return True
            raise ProcessError(f"cannot bind {host}:{port}: {e.strerror}") from None
    return False


def port_free(host: str, port: int) -> bool:
    """Can ``host:port`` be bound now? (False for any failure to bind.)"""
    try:
        return not port_in_use(host, port)
    except ProcessError:
        return False


def tail_text(text: str, lines: int) -> str:
    """The last ``lines`` lines of ``text``."""
    return "\n".join(text.rstrip("\n").splitlines()[-lines:])


def tail(path: str | Path, lines: int = 15) -> str:
    """The last ``lines`` lines of the file at ``path`` ("" when it cannot be read)."""
    try:
        text = Path(path).read_text(errors="replace")
    except OSError:
        return ""
    return tail_text(text, lines)


@contextlib.contextmanager
def locked(path: Path) -> Iterator[None]:
    """An exclusive advisory lock on ``path`` held for the block (serialises processes on one directory)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)
