"""Stream time of one events partition: the event-time watermark, the replay clock, the wall-clock backstop.

``wm = max(latest event time seen - allowed lateness, control clock, backstop)``, and it
never moves back; the backstop follows the wall clock on idle partitions only, and an
event pulls stream time at most to its arrival + ``max_future``. Instants are
:data:`~greenshield.rules.timestamps.Instant`; wall time is passed in by the caller:
nothing here reads a clock. A worked example and the reasons: ``docs/adr/0015-stream-time.md``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import orjson

from greenshield.rules.timestamps import Instant

Wall = float


def _max(a: Instant | None, b: Instant | None) -> Instant | None:
    if a is None:
        return b
    if b is None:
        return a
    return a if a >= b else b


@dataclass
class PartitionClock:
    """The stream time of one partition; feed it what arrives, ask it for the watermark."""

    lateness: int
    idle_seconds: int = 0
    max_future: int = 0                # seconds beyond the arrival wall clock an event may pull stream time (0: no cap)
    latest: Instant | None = None      # max event time of accepted parcel events
    control: Instant | None = None     # the latest replay control instant
    backstop: Instant | None = None
    pinned: bool = False
    last_activity: Wall | None = None
    mark: Instant | None = None        # the watermark last handed out (monotone)

    def saw_event(self, at: Instant) -> None:
        """An accepted parcel event with event time ``at`` (capped at arrival + ``max_future``)."""
        cap = self._future_cap()
        if cap is not None and at > cap:
            at = cap
        if self.latest is None or at > self.latest:
            self.latest = at

    def is_future(self, at: Instant) -> bool:
        """Is ``at`` beyond what :meth:`saw_event` lets move stream time (for the metric)?"""
        cap = self._future_cap()
        return cap is not None and at > cap

    def future_cap(self) -> Instant | None:
        """The instant past which an event is future-dated now (None: no cap): ``is_future(at)`` is ``at > cap``."""
        return self._future_cap()

    def _future_cap(self) -> Instant | None:
        if self.max_future <= 0 or self.last_activity is None:
            return None
        return (int(self.last_activity) + self.max_future, "")

    def saw_message(self, wall: Wall) -> None:
        """Any message arrived on the partition (it is not idle)."""
        self.last_activity = wall

    def advance_to(self, at: Instant) -> None:
        """A verified control message: stream time is at least ``at``; the backstop stops."""
        self.control = _max(self.control, at)
        self.pinned = True

    def tick(self, wall: Wall) -> bool:
        """Let the backstop follow the wall clock once the partition has been idle long enough.

        True when the backstop moved (the caller should evaluate again).
        """
        if self.idle_seconds <= 0 or self.pinned or self.last_activity is None:
            return False
        if wall - self.last_activity < self.idle_seconds:
            return False
        moved = _max(self.backstop, (int(wall) - self.lateness, ""))
        if moved == self.backstop:
            return False
        self.backstop = moved
        return True

    def watermark(self) -> Instant | None:
        """``max(latest - lateness, control, backstop)``, never below what it was."""
        from_events = (self.latest[0] - self.lateness, self.latest[1]) if self.latest is not None else None
        self.mark = _max(self.mark, _max(from_events, _max(self.control, self.backstop)))
        return self.mark

    # ----------------------------------------------------------------- persistence

    def to_metadata(self) -> str:
        """Compact text for the offset commit's metadata, so a restart resumes this clock.

        Each instant's fraction is cut to :data:`METADATA_FRACTION` digits: an event may
        carry any number of them, and the broker refuses a commit whose metadata is over
        ``offset.metadata.max.bytes`` (4 KiB by default; past 32 KiB it cannot even parse the
        request and drops the connection), so a hostile timestamp would stop every commit.
        A cut fraction is never later than the true one, so the restored clock is at most
        a fraction of a nanosecond behind: it can only wait longer, never release early.
        """
        return orjson.dumps({"v": 1, "latest": _cut(self.latest), "control": _cut(self.control),
                             "backstop": _cut(self.backstop), "pinned": self.pinned,
                             "mark": _cut(self.mark)}).decode()

    def restore(self, metadata: str | None) -> None:
        """Take back a clock saved by :meth:`to_metadata`; anything unreadable is ignored."""
        if not metadata:
            return
        try:  # librdkafka commits the text with a trailing NUL (kafka-python reads it back)
            doc = orjson.loads(metadata.rstrip("\x00"))
        except orjson.JSONDecodeError:
            return
        if not isinstance(doc, dict) or doc.get("v") != 1:
            return
        for name in ("latest", "control", "backstop", "mark"):
            value = doc.get(name)
            if isinstance(value, list) and len(value) == 2:
                setattr(self, name, _max(getattr(self, name), (int(value[0]), str(value[1]))))
        self.pinned = self.pinned or bool(doc.get("pinned"))


METADATA_FRACTION = 18  # digits of a fraction kept in the offset metadata


def _cut(value: Any) -> Any:
    if isinstance(value, tuple | list) and len(value) == 2 and isinstance(value[1], str):
        return (value[0], value[1][:METADATA_FRACTION])
    return value
