"""RFC 3339 instants (contract §7 Timestamps): exact comparison across offsets, UTC whole-second output."""

from __future__ import annotations

import pytest
from tests.rules.builders import ABSENT, OUTLET, check, sort_scan

from greenshield.rules.timestamps import TimestampError, format_utc, parse_instant

SAME = [
    # id, two texts of one instant
    ("beijing-vs-z", "2026-11-11T08:00:00+08:00", "2026-11-11T00:00:00Z"),
    ("new-york-vs-z-across-midnight", "2026-11-10T19:00:00-05:00", "2026-11-11T00:00:00Z"),
    ("lower-case-t-z", "2026-11-11t00:00:00z", "2026-11-11T00:00:00Z"),
    ("minus-zero-is-utc", "2026-11-11T00:00:00-00:00", "2026-11-11T00:00:00Z"),
    ("plus-zero-is-utc", "2026-11-11T00:00:00+00:00", "2026-11-11T00:00:00Z"),
    ("trailing-zeros", "2026-11-11T00:00:00.500000Z", "2026-11-11T08:00:00.5+08:00"),
    ("zero-fraction", "2026-11-11T00:00:00.000Z", "2026-11-11T00:00:00Z"),
    ("nepal-offset", "2026-11-11T05:45:00+05:45", "2026-11-11T00:00:00Z"),
    ("across-year-end", "2025-12-31T23:30:00-01:00", "2026-01-01T00:30:00Z"),
    ("leap-day", "2024-02-29T23:00:00-02:00", "2024-03-01T01:00:00Z"),
]

LESS = [
    # id, earlier, later
    ("half-vs-forty-five-hundredths", "2026-11-11T00:00:00.45Z", "2026-11-11T00:00:00.5Z"),
    ("beyond-double-precision", "2026-11-11T00:00:00.1Z", "2026-11-11T00:00:00.10000000000000000001Z"),
    ("fraction-vs-next-second", "2026-11-11T00:00:00.999999999Z", "2026-11-11T00:00:01Z"),
    ("offset-makes-it-earlier", "2026-11-11T08:00:00+08:00", "2026-11-11T07:00:00+06:59"),
    ("leading-zero-fraction", "2026-11-11T00:00:00.05Z", "2026-11-11T00:00:00.5Z"),
]


class TestParseInstant:
    """Instants are compared exactly: offsets applied, fractions to any precision."""

    @pytest.mark.parametrize("a, b", [c[1:] for c in SAME], ids=[c[0] for c in SAME])
    def test_same_instant_in_two_spellings_is_equal(self, a, b):
        """Two spellings of one instant parse to equal instants."""
        assert parse_instant(a) == parse_instant(b)

    @pytest.mark.parametrize("a, b", [c[1:] for c in LESS], ids=[c[0] for c in LESS])
    def test_earlier_instant_compares_less(self, a, b):
        """An earlier instant compares strictly less, whatever the offsets or fraction lengths."""
        assert parse_instant(a) < parse_instant(b)

    @pytest.mark.parametrize("text", [
        "2026-11-11T08:00:00", "2026-11-11 08:00:00+08:00", "2026-11-11T08:00:00+0800", "2026-11-11",
        "2026-12-31T23:59:60Z", "2026-11-11T24:00:00Z", "2026-13-01T00:00:00Z", "2026-02-30T00:00:00Z",
        "2026-11-11T08:00:00.Z", "2026-11-11T08:00:00+24:00", "", "2026-11-11T08:00:00Z\n",
    ], ids=["no-offset", "space", "compact-offset", "date-only", "leap-second", "hour-24", "month-13", "feb-30",
            "empty-fraction", "offset-24h", "empty", "trailing-newline"])
    def test_malformed_timestamp_raises(self, text):
        """What §7 rules out raises TimestampError."""
        with pytest.raises(TimestampError):
            parse_instant(text)


class TestFormatUtc:
    """§5: outputs are in UTC with Z, truncated (not rounded) to whole seconds."""

    CASES = [
        ("whole-second", "2026-11-11T08:00:00+08:00", "2026-11-11T00:00:00Z"),
        ("fraction-truncated", "2026-11-11T08:00:00.999999+08:00", "2026-11-11T00:00:00Z"),
        ("negative-offset-next-day", "2026-11-10T23:59:59.9-01:00", "2026-11-11T00:59:59Z"),
        ("before-1970-truncates-toward-earlier", "1969-12-31T23:59:59.5Z", "1969-12-31T23:59:59Z"),
        ("year-1900", "1900-01-01T08:00:00+08:00", "1900-01-01T00:00:00Z"),
        ("year-1000", "1000-01-01T00:00:00Z", "1000-01-01T00:00:00Z"),
        ("year-9999", "9999-12-31T23:59:59Z", "9999-12-31T23:59:59Z"),
    ]

    @pytest.mark.parametrize("text, written", [c[1:] for c in CASES], ids=[c[0] for c in CASES])
    def test_instant_is_written_in_utc_whole_seconds(self, text, written):
        """format_utc writes the instant in UTC, truncating the fraction."""
        assert format_utc(parse_instant(text)) == written

    @pytest.mark.parametrize("text, written", [c[1:] for c in CASES], ids=[c[0] for c in CASES])
    def test_violation_occurred_at_is_written_the_same_way(self, text, written):
        """A violation at that instant carries the same UTC text in its occurred_at."""
        out = check([sort_scan("s", text, site=OUTLET, staff=ABSENT)], registry=False)
        assert out.when("PR-1") == written

    @pytest.mark.parametrize("text", ["0999-05-01T00:00:00Z", "0001-01-01T00:00:00Z"], ids=["0999", "0001"])
    def test_years_below_1000_keep_four_digits(self, text):
        """An accepted event in a year below 1000 gives an occurred_at with a four-digit year."""
        out = check([sort_scan("s", text, site=OUTLET, staff=ABSENT)], registry=False)
        assert out.when("PR-1") == text

    def test_year_zero_is_written_too(self):
        """An event accepted with occurred_at 0000-01-01T00:00:00Z gives a violation that can be written."""
        out = check([sort_scan("s", "0000-01-01T00:00:00Z", site=OUTLET, staff=ABSENT)], registry=False)
        assert out.rejections == []
        assert out.when("PR-1") == "0000-01-01T00:00:00Z"
