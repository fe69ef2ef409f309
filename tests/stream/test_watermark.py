"""The stream clock of a partition: watermark from event time, the replay clock, the wall-clock backstop."""

from __future__ import annotations

from greenshield.stream.watermark import PartitionClock
from greenshield.rules.timestamps import parse_instant

T = parse_instant


class TestWatermark:
    def test_nothing_seen_means_no_watermark(self) -> None:
        """Before any event the stream has no "now"."""
        assert PartitionClock(lateness=600).watermark() is None

    def test_the_watermark_trails_the_latest_event_by_the_allowed_lateness(self) -> None:
        """Latest 08:30 with 10 minutes' lateness: watermark 08:20."""
        clock = PartitionClock(lateness=600)
        for text in ("2026-11-11T08:00:00Z", "2026-11-11T08:30:00.5Z", "2026-11-11T08:10:00Z"):
            clock.saw_event(T(text))
        assert clock.watermark() == T("2026-11-11T08:20:00.5Z")

    def test_the_watermark_never_moves_back(self) -> None:
        """A control clock ahead of the events holds even when events are older."""
        clock = PartitionClock(lateness=600)
        clock.advance_to(T("2026-11-13T00:00:00Z"))
        clock.saw_event(T("2026-11-11T08:00:00Z"))
        assert clock.watermark() == T("2026-11-13T00:00:00Z")


class TestBackstop:
    def test_an_idle_partition_follows_the_wall_clock(self) -> None:
        """Idle for 60 s of wall time: the watermark becomes wall time minus lateness."""
        clock = PartitionClock(lateness=600, idle_seconds=60)
        clock.saw_event(T("2026-11-11T08:00:00Z"))
        clock.saw_message(1_800_000_000.0)
        assert clock.tick(1_800_000_030.0) is False
        assert clock.tick(1_800_000_060.0) is True
        assert clock.watermark() == (1_800_000_060 - 600, "")

    def test_a_replayed_partition_is_pinned_to_its_control_clock(self) -> None:
        """After a control message the backstop stays off: history finalises at its --as-of."""
        clock = PartitionClock(lateness=600, idle_seconds=60)
        clock.saw_message(1_000_000.0)
        clock.advance_to(T("2026-11-13T00:00:00Z"))
        assert clock.tick(2_000_000.0) is False
        assert clock.watermark() == T("2026-11-13T00:00:00Z")

    def test_zero_idle_seconds_turns_the_backstop_off(self) -> None:
        """idle_seconds=0: only events and control messages move the clock."""
        clock = PartitionClock(lateness=600, idle_seconds=0)
        clock.saw_message(0.0)
        assert clock.tick(10_000_000.0) is False


class TestPersistence:
    def test_a_clock_survives_the_offset_commit_metadata(self) -> None:
        """to_metadata/restore keeps latest, control, pinned and the watermark."""
        clock = PartitionClock(lateness=600)
        clock.saw_event(T("2026-11-11T08:30:00.25Z"))
        clock.advance_to(T("2026-11-12T00:00:00Z"))
        clock.watermark()
        again = PartitionClock(lateness=600)
        again.restore(clock.to_metadata())
        assert (again.latest, again.control, again.pinned, again.watermark()) == \
               (clock.latest, clock.control, True, T("2026-11-12T00:00:00Z"))

    def test_a_hostile_fraction_keeps_the_metadata_small_and_the_clock_no_later(self) -> None:
        """An event may carry 40,000 fraction digits (a valid instant); the commit metadata stays far below the
        broker's 4 KiB offset.metadata.max.bytes (over 32 KiB it dropped the connection: no commit ever landed),
        and the restored clock is not later than the true one."""
        clock = PartitionClock(lateness=0)
        huge = T("2026-11-11T08:30:00." + "9" * 40_000 + "Z")
        clock.saw_event(huge)
        text = clock.to_metadata()
        assert len(text.encode()) < 1024
        again = PartitionClock(lateness=0)
        again.restore(text)
        assert again.latest is not None and again.latest <= huge and again.latest[0] == huge[0]
        assert again.latest[1] == "9" * 18

    def test_unreadable_metadata_is_ignored(self) -> None:
        """Metadata written by something else leaves a fresh clock."""
        clock = PartitionClock(lateness=600)
        for junk in ("", "not json", '{"v": 9}', "[]"):
            clock.restore(junk)
        assert clock.watermark() is None


class TestFutureDated:
    """An event dated beyond arrival + max_future pulls stream time only up to that cap."""

    ARRIVAL = float(T("2026-11-11T08:00:00Z")[0])

    def test_a_future_dated_event_moves_stream_time_only_to_the_cap(self) -> None:
        """Arrived 08:00 wall time, dated 2030: the watermark stops at 08:00 + 1 h - lateness."""
        clock = PartitionClock(lateness=600, max_future=3600)
        clock.saw_message(self.ARRIVAL)
        clock.saw_event(T("2030-01-01T00:00:00Z"))
        assert clock.is_future(T("2030-01-01T00:00:00Z"))
        assert clock.watermark() == T("2026-11-11T08:50:00Z")

    def test_an_event_within_the_cap_counts_in_full(self) -> None:
        """Dated 08:30 (within the hour): it is not future-dated and moves the clock as usual."""
        clock = PartitionClock(lateness=600, max_future=3600)
        clock.saw_message(self.ARRIVAL)
        clock.saw_event(T("2026-11-11T08:30:00.25Z"))
        assert not clock.is_future(T("2026-11-11T08:30:00.25Z"))
        assert clock.watermark() == T("2026-11-11T08:20:00.25Z")

    def test_zero_turns_the_cap_off(self) -> None:
        """max_future 0: the 2030 event sets stream time, as before the cap existed."""
        clock = PartitionClock(lateness=600, max_future=0)
        clock.saw_message(self.ARRIVAL)
        clock.saw_event(T("2030-01-01T00:00:00Z"))
        assert not clock.is_future(T("2030-01-01T00:00:00Z"))
        assert clock.watermark() == T("2029-12-31T23:50:00Z")

    def test_the_replay_control_clock_is_not_capped(self) -> None:
        """Only the system's own control message can set a clock far ahead; it is trusted."""
        clock = PartitionClock(lateness=600, max_future=3600)
        clock.saw_message(self.ARRIVAL)
        clock.advance_to(T("2030-01-01T00:00:00Z"))
        assert clock.watermark() == T("2030-01-01T00:00:00Z")
