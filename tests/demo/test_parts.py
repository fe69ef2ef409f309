"""The demo's parts without servers: processes by pid, the data dir between runs, pacing, the CLI's options."""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from greenshield.commands.demo import duration
from greenshield.demo.orchestrator import PREVIOUS_DIR, STATE_FILE, DemoError, DemoState, prepare_data_dir
from greenshield.devtools.process import Children, running, start_time, stop_child
from greenshield.demo.progress import Counters
from greenshield.demo.streaming import as_of_text, stream_day

SLEEPER = [sys.executable, "-c", "import time; time.sleep(600)"]
STUBBORN = [sys.executable, "-c",
            "import signal, sys, time; signal.signal(signal.SIGTERM, signal.SIG_IGN); print('ready', flush=True); "
            "time.sleep(600)"]


def test_children_are_stopped_by_pid_and_recorded(tmp_path: Path) -> None:
    changes: list[int] = []
    children = Children(on_change=lambda: changes.append(1))
    a = children.spawn("a", SLEEPER, os.environ, tmp_path / "a.log")
    b = children.spawn("b", STUBBORN, os.environ, tmp_path / "b.log")
    assert running(a.pid, a.started) and running(b.pid, b.started)
    assert os.getsid(a.pid) == a.pid  # its own session: the terminal's Ctrl-C does not reach it
    deadline = time.monotonic() + 20
    while "ready" not in Path(b.log).read_text() and time.monotonic() < deadline:
        time.sleep(0.05)
    stopped: list[str] = []
    children.stop_all(timeout=1.0, log=stopped.append)
    assert stopped == [f"b (pid {b.pid}): killed", f"a (pid {a.pid}): stopped"]  # the last started first
    assert not running(a.pid, a.started) and not running(b.pid, b.started)
    assert [c.record()["stopped"] for c in children.children] == ["stopped", "killed"] and changes


def test_a_recycled_pid_is_not_taken_for_the_process() -> None:
    me = start_time(os.getpid())
    assert me is not None and running(os.getpid(), me)
    assert not running(os.getpid(), str(int(me) + 1))


def test_a_later_run_stops_what_a_killed_run_left_and_moves_its_data(tmp_path: Path) -> None:
    data = tmp_path / "demo"
    data.mkdir()
    orphan = Children().spawn("worker", SLEEPER, os.environ, data / "logs" / "worker.log")
    dead = Children().spawn("demo", [sys.executable, "-c", "pass"], os.environ, tmp_path / "x.log")
    deadline = time.monotonic() + 20
    while running(dead.pid, dead.started) and time.monotonic() < deadline:
        time.sleep(0.05)
    state = DemoState("r1", "kafka", dead.pid, dead.started, state="running", children=[orphan.record()])
    state.save(data)
    (data / "greenshield.db").write_text("old store")
    notes: list[str] = []
    prepare_data_dir(data, notes.append)
    assert not running(orphan.pid, orphan.started)
    assert (data / PREVIOUS_DIR / "greenshield.db").read_text() == "old store"
    assert (data / PREVIOUS_DIR / STATE_FILE).exists() and not (data / STATE_FILE).exists()
    assert any("left over" in n for n in notes) and any("moved" in n for n in notes)


def test_a_live_demo_or_a_foreign_store_is_refused(tmp_path: Path) -> None:
    live = tmp_path / "live"
    live.mkdir()
    DemoState("r2", "embedded", os.getpid(), start_time(os.getpid()), state="running").save(live)
    with pytest.raises(DemoError, match="another demo"):
        prepare_data_dir(live, lambda _: None)
    foreign = tmp_path / "foreign"
    foreign.mkdir()
    (foreign / "greenshield.db").write_text("")
    with pytest.raises(DemoError, match="no demo made"):
        prepare_data_dir(foreign, lambda _: None)


class FakeSink:
    def __init__(self) -> None:
        self.batches: list[list[bytes]] = []
        self.ticks = 0

    def feed(self, lines: list[bytes]) -> None:
        self.batches.append(lines)

    def tick(self) -> None:
        self.ticks += 1

    def finish(self, as_of_ms: int | None, stop: threading.Event) -> None:
        pass

    def close(self) -> None:
        pass


class FakeClock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.now += seconds


def _day(history: int, lines: int) -> list[tuple[int, bytes]]:
    day = [(i, b'{"type":"registry"}\n') for i in range(history)]
    return day + [(1000 + i, b'{"type":"acceptance"}\n' if i % 10 == 0 else b'{"type":"xray"}\n')
                  for i in range(lines)]


def test_the_history_goes_first_then_the_day_at_the_rate() -> None:
    sink, counters, clock = FakeSink(), Counters(), FakeClock()
    ended = stream_day(iter(_day(5, 1000)), 1000, sink, counters, 100.0, threading.Event(), clock=clock,
                       sleep=clock.sleep)
    assert ended == "day complete"
    assert sink.batches[0] == [b'{"type":"registry"}\n'] * 5 and counters.history == 5
    assert counters.sent == 1005 and counters.accepted_parcels == 100 and counters.sim_ms == 1999
    assert 9.9 <= clock.now - 100.0 <= 10.2  # 1,000 lines at 100/s
    assert max(len(b) for b in sink.batches[1:]) <= 100


def test_duration_and_stop_end_the_stream() -> None:
    sink, counters, clock = FakeSink(), Counters(), FakeClock()
    ended = stream_day(iter(_day(0, 10_000)), 1000, sink, counters, 50.0, threading.Event(), until=102.0,
                       clock=clock, sleep=clock.sleep)
    assert ended == "duration" and 95 <= counters.sent <= 101
    stop = threading.Event()
    stop.set()
    assert stream_day(iter(_day(3, 10)), 1000, FakeSink(), Counters(), 50.0, stop) == "stopped"


def test_a_slow_sink_is_not_caught_up_with_a_burst() -> None:
    clock = FakeClock()

    class Slow(FakeSink):
        def feed(self, lines: list[bytes]) -> None:
            super().feed(lines)
            clock.now += 3.0  # a verdict round that took 3 s

    sink = Slow()
    stream_day(iter(_day(0, 2000)), 1000, sink, Counters(), 100.0, threading.Event(), until=130.0, clock=clock,
               sleep=clock.sleep)
    assert max(len(b) for b in sink.batches) <= 100  # never more than a second's worth at once


def test_options() -> None:
    assert [duration(x) for x in ("30s", "30", "2m", "1h30m", "1.5s")] == [30, 30, 120, 5400, 1.5]
    for bad in ("", "0s", "abc", "1d"):
        with pytest.raises(argparse.ArgumentTypeError):
            duration(bad)
    assert as_of_text(1_794_326_400_000) == "2026-11-10T16:00:00Z"
    assert as_of_text(1_794_326_400_123) == "2026-11-10T16:00:00.123Z"


def test_the_signal_handler_asks_then_hurries() -> None:
    from greenshield.demo.runner import Stop

    stop = Stop()
    stop.install()
    try:
        os.kill(os.getpid(), signal.SIGINT)
        time.sleep(0.05)
        assert stop.requested.is_set() and not stop.hurry.is_set()
        os.kill(os.getpid(), signal.SIGTERM)
        time.sleep(0.05)
        assert stop.hurry.is_set()
    finally:
        stop.restore()


def test_a_display_line_never_wraps() -> None:
    from greenshield.demo.progress import fit

    assert fit("open 实名收寄 RN 5", 11) == "open 实名收"  # 5 + 3 characters of two columns each
    assert fit("short", 80) == "short"


class TestStopChild:
    """stop_child: SIGTERM a child this process started, SIGKILL it if it ignores that, and reap it."""

    def test_a_child_that_exits_on_sigterm_is_stopped_not_killed(self) -> None:
        proc = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
        assert stop_child(proc, timeout=10) is False
        assert proc.returncode is not None and proc.returncode != 0  # ended by the signal, and reaped

    def test_a_child_that_ignores_sigterm_is_killed_after_the_timeout(self) -> None:
        code = ("import signal, sys, time; signal.signal(signal.SIGTERM, signal.SIG_IGN); "
                "print('ready', flush=True); time.sleep(60)")
        proc = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE)
        assert proc.stdout is not None and proc.stdout.readline() == b"ready\n"
        assert stop_child(proc, timeout=0.5) is True
        assert proc.returncode == -9

    def test_a_child_that_already_exited_is_just_reaped(self) -> None:
        proc = subprocess.Popen([sys.executable, "-c", "pass"])
        proc.wait()
        assert stop_child(proc) is False and proc.returncode == 0
