"""The demo's terminal display: events sent and per second, the simulated clock, open violations by safety system.

On a terminal the display is a block of lines redrawn in place twice a second;
elsewhere (a pipe, a log, a test) it is one plain line every few seconds. Figures of
the store (events stored, violations by rule prefix, rejects) are read straight from
the SQLite store, read-only (:mod:`greenshield.store.demo_figures`).
"""

from __future__ import annotations

import collections
import shutil
import threading
import time
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import IO

from greenshield.rules.catalog import SYSTEMS
from greenshield.store import demo_figures
from greenshield.store.database import DATABASE_ERRORS, Store
from greenshield.store.demo_figures import StoreFigures

SAFETY_SYSTEMS = ("RN", "IN", "XR")  # 实名收寄, 收寄验视, 过机安检: the three safety systems
OTHER_SYSTEMS = ("PH", "TR", "TK", "PR")
CST = timezone(timedelta(hours=8))
RATE_WINDOW = 5.0


class StoreView:
    """Read-only figures of the demo's store (its own connection pool)."""

    def __init__(self, db_url: str) -> None:
        self.store = Store.open(db_url, create=False)

    def figures(self) -> StoreFigures:
        with self.store.read() as conn:
            return demo_figures.store_figures(conn)

    def sample_waybill(self) -> str | None:
        """A parcel with an open violation, the most severe kind first (for the "try next" commands)."""
        with self.store.read() as conn:
            return demo_figures.sample_waybill(conn)

    def close(self) -> None:
        self.store.close()


@dataclass
class Counters:
    """What the streaming loop has done so far (written by one thread, read by the display)."""

    sent: int = 0                 # lines handed to the producer SDK / the pipeline (history included)
    history: int = 0              # registry records from before the day, sent first
    refused: int = 0              # lines the producer SDK refused (invalid; Kafka mode)
    acked: int = 0                # acknowledged by the broker (Kafka mode)
    accepted_parcels: int = 0
    sim_ms: int | None = None     # occurred_at of the latest line sent
    phase: str = "starting"


def _sim_clock(ms: int | None) -> str:
    if ms is None:
        return "—"
    return datetime.fromtimestamp(ms / 1000, CST).strftime("%Y-%m-%d %H:%M")


def _n(x: int) -> str:
    return f"{x:,}"


def fit(line: str, width: int) -> str:
    """``line`` cut to ``width`` terminal columns (CJK characters take two), so a redraw never wraps."""
    used = 0
    for i, ch in enumerate(line):
        used += 2 if unicodedata.east_asian_width(ch) in ("W", "F") else 1
        if used > width:
            return line[:i]
    return line


class Progress:
    """Draws the display from the counters and the store, on its own thread, until stopped."""

    def __init__(self, counters: Counters, view: StoreView, out: IO[str], *, mode: str, parcels: int,
                 rate: float, dashboard: str, tty: bool | None = None, plain_every: float = 5.0,
                 started: float | None = None) -> None:
        self.counters = counters
        self.view = view
        self.out = out
        self.mode = mode
        self.parcels = parcels
        self.target = rate
        self.dashboard = dashboard
        self.tty = out.isatty() if tty is None else tty
        self.plain_every = plain_every
        self.started = time.monotonic() if started is None else started  # a time.monotonic() reading
        self.first_violation: float | None = None  # seconds after `started`
        self.figures = StoreFigures()
        self._samples: collections.deque[tuple[float, int]] = collections.deque()
        self._drawn = 0
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._last_plain = 0.0
        self.on_first_violation: Callable[[float], None] = lambda _: None

    # ----------------------------------------------------------------- figures

    def rate(self) -> float:
        """Events sent per second over the last few seconds."""
        now = time.monotonic()
        self._samples.append((now, self.counters.sent - self.counters.history))
        while len(self._samples) > 2 and now - self._samples[0][0] > RATE_WINDOW:
            self._samples.popleft()
        (t0, n0), (t1, n1) = self._samples[0], self._samples[-1]
        return (n1 - n0) / (t1 - t0) if t1 > t0 else 0.0

    def refresh(self) -> None:
        try:
            self.figures = self.view.figures()
        except DATABASE_ERRORS:
            return  # the store is busy or being created: next time
        if self.first_violation is None and (self.figures.open_total or self.figures.retracted):
            self.first_violation = time.monotonic() - self.started
            self.on_first_violation(self.first_violation)

    def lines(self) -> list[str]:
        c, f = self.counters, self.figures
        rate = self.rate()
        elapsed = time.monotonic() - self.started
        safety = "  ".join(f"{SYSTEMS[s].split()[0]} {s} {_n(f.open_by_system.get(s, 0))}" for s in SAFETY_SYSTEMS)
        other = "  ".join(f"{SYSTEMS[s].split()[0]} {s} {_n(f.open_by_system.get(s, 0))}" for s in OTHER_SYSTEMS)
        refused = f"   refused by the SDK {_n(c.refused)}" if self.mode == "kafka" else ""
        acked = f" (acked {_n(c.acked)})" if self.mode == "kafka" else ""
        return [
            f"绿盾 Green Shield demo · {self.mode} · {int(elapsed) // 60}:{int(elapsed) % 60:02d} · {c.phase}",
            f"  simulated day    {_sim_clock(c.sim_ms)} +08:00   parcels {_n(min(c.accepted_parcels, self.parcels))}"
            f" / {_n(self.parcels)}",
            f"  events sent      {_n(c.sent)}{acked}   {rate:,.0f}/s (target {self.target:,.0f})",
            f"  stored           {_n(f.events)} events{refused}   rejected {_n(f.rejects)}",
            f"  open violations  {_n(f.open_total)}   {safety}",
            f"                   {other}   retracted {_n(f.retracted)}",
            f"  dashboard        {self.dashboard}   Ctrl-C: stop, keep the data",
        ]

    def plain(self) -> str:
        c, f = self.counters, self.figures
        by = " ".join(f"{s}={f.open_by_system.get(s, 0)}" for s in SAFETY_SYSTEMS + OTHER_SYSTEMS)
        return (f"demo: {int(time.monotonic() - self.started)}s {c.phase} sim={_sim_clock(c.sim_ms)} sent={c.sent} "
                f"rate={self.rate():.0f}/s stored={f.events} rejected={f.rejects} open={f.open_total} {by}")

    # ----------------------------------------------------------------- drawing

    def draw(self, force: bool = False) -> None:
        with self._lock:
            self.refresh()
            if self.tty:
                width = max(40, shutil.get_terminal_size((100, 24)).columns - 1)
                text = [fit(line, width) for line in self.lines()]
                up = f"\x1b[{self._drawn}F" if self._drawn else ""
                self.out.write(up + "".join(f"{line}\x1b[K\n" for line in text))
                self._drawn = len(text)
                self.out.flush()
            elif force or time.monotonic() - self._last_plain >= self.plain_every:
                self._last_plain = time.monotonic()
                self.out.write(self.plain() + "\n")
                self.out.flush()

    def note(self, message: str) -> None:
        """Print a line above the display (the display redraws below it)."""
        with self._lock:
            if self.tty and self._drawn:
                self.out.write(f"\x1b[{self._drawn}F\x1b[J")
                self._drawn = 0
            self.out.write(message + "\n")
            self.out.flush()

    def start(self, interval: float = 0.5) -> None:
        def loop() -> None:
            while not self._stop.wait(interval):
                try:
                    self.draw()
                except Exception as err:  # the display must never take the demo down
                    self.out.write(f"(display: {err!r})\n")

        self.draw(force=True)
        self._thread = threading.Thread(target=loop, name="greenshield-demo-progress", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=10)
        self.draw(force=True)
