"""RFC 3339 timestamps (contract §7) as exact, comparable instants.

An :data:`Instant` is ``(epoch_seconds, fraction_digits)`` where the fraction is
the decimal digits after the point with trailing zeros stripped. Comparing two
such digit strings lexicographically is comparing the fractions numerically
(``"5" > "45"`` as 0.5 > 0.45), so tuple order is exact instant order with no
loss of precision, whatever the number of fraction digits.

    "2026-11-11T08:00:00.50+08:00"  ->  (1794355200, "5")
    "2026-11-11T00:00:00.5Z"        ->  (1794355200, "5")   same instant
"""

from __future__ import annotations

import re

from greenshield.errors import RulesError

Instant = tuple[int, str]

#: the shape of an RFC 3339 timestamp with an offset (groups: fraction digits, zone)
SHAPE = r"[0-9]{4}-[0-9]{2}-[0-9]{2}[Tt][0-9]{2}:[0-9]{2}:[0-9]{2}(?:\.([0-9]+))?([Zz]|[+-][0-9]{2}:[0-9]{2})"
_RFC3339 = re.compile(SHAPE)
_DAYS_IN_MONTH = (0, 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31)
_day_cache: dict[str, int] = {}


class TimestampError(RulesError, ValueError):
    """A string that is not an RFC 3339 timestamp with an offset."""


def days_from_civil(year: int, month: int, day: int) -> int:
    """Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's algorithm)."""
    y = year - (month <= 2)
    era = y // 400
    yoe = y - era * 400
    doy = (153 * (month + (-3 if month > 2 else 9)) + 2) // 5 + day - 1
    doe = yoe * 365 + yoe // 4 - yoe // 100 + doy
    return era * 146097 + doe - 719468


def is_leap(year: int) -> bool:
    return year % 4 == 0 and (year % 100 != 0 or year % 400 == 0)


def valid_date(year: int, month: int, day: int) -> bool:
    """True when ``year-month-day`` is a real calendar date."""
    if not 1 <= month <= 12 or day < 1:
        return False
    limit = 29 if month == 2 and is_leap(year) else _DAYS_IN_MONTH[month]
    return day <= limit


_minute_cache: dict[str, int] = {}
_offset_cache: dict[str, int] = {"Z": 0, "z": 0}
_CACHE_LIMIT = 200_000


def shown(text: str) -> str:
    """A timestamp-shaped text for a message: short ones whole, long fractions elided (never huge)."""
    return repr(text) if len(text) <= 40 else f"'{text[:26]}...{text[-6:]}'"


def _minute(prefix: str, text: str) -> int:
    """Epoch seconds of ``YYYY-MM-DDTHH:MM`` (validated), cached."""
    seconds = _minute_cache.get(prefix)
    if seconds is None:
        year, month, day = int(prefix[0:4]), int(prefix[5:7]), int(prefix[8:10])
        if not valid_date(year, month, day):
            raise TimestampError(f"{shown(text)} is not a calendar date")
        hour, minute = int(prefix[11:13]), int(prefix[14:16])
        if hour > 23 or minute > 59:
            raise TimestampError(f"{shown(text)} has a time of day out of range")
        seconds = days_from_civil(year, month, day) * 86400 + hour * 3600 + minute * 60
        if len(_minute_cache) >= _CACHE_LIMIT:
            _minute_cache.clear()
        _minute_cache[prefix] = seconds
    return seconds


def _offset(text: str, zone: str) -> int:
    offset = _offset_cache.get(zone)
    if offset is None:
        hours, minutes = int(zone[1:3]), int(zone[4:6])
        if hours > 23 or minutes > 59:
            raise TimestampError(f"{shown(text)} has an offset out of range")
        offset = (hours * 3600 + minutes * 60) * (1 if zone[0] == "+" else -1)
        _offset_cache[zone] = offset
    return offset


MIN_SECONDS = days_from_civil(0, 1, 1) * 86400               # 0000-01-01T00:00:00Z
MAX_SECONDS = days_from_civil(9999, 12, 31) * 86400 + 86399  # 9999-12-31T23:59:59(.999...)Z
OUT_OF_RANGE = "its UTC instant is outside the years 0000-9999, so it cannot be written in RFC 3339"


def parse_instant(text: str) -> Instant:
    """Parse an RFC 3339 timestamp that carries an offset; raise :class:`TimestampError`.

    The UTC instant must fall in the years 0000-9999 (``0000-01-01T00:00:00+23:59`` does
    not): every instant accepted can be written back (:func:`format_utc`). Messages never
    echo a text that is not timestamp-shaped, and elide long fractions.
    """
    if _RFC3339.fullmatch(text) is None:
        # never echoed: a text of any other shape may be anything, personal data included
        raise TimestampError(f"a string of {len(text)} characters is not an RFC 3339 timestamp with an offset")
    return instant_of_shaped(text)


_SECONDS = {f"{n:02d}": n for n in range(60)}


def instant_of_shaped(text: str) -> Instant:
    """:func:`parse_instant` of a text already known to have :data:`SHAPE` (matched by a caller's regex).

    The same instant and the same errors, without matching the shape again: the fraction
    starts at the 20th character, the zone is ``Z``/``z`` or the last six characters.
    """
    second = _SECONDS.get(text[17:19])
    if second is None:
        raise TimestampError(f"{shown(text)} has a time of day out of range")
    prefix = text[:16]
    minute = _minute_cache.get(prefix)
    if minute is None:
        minute = _minute(prefix, text)
    last = text[-1]
    if last == "Z" or last == "z":
        offset, end = 0, len(text) - 1
    else:
        zone = text[-6:]
        found = _offset_cache.get(zone)
        offset, end = (found if found is not None else _offset(text, zone)), len(text) - 6
    seconds = minute + second - offset
    if not MIN_SECONDS <= seconds <= MAX_SECONDS:
        raise TimestampError(OUT_OF_RANGE)
    return (seconds, text[20:end].rstrip("0") if text[19] == "." else "")


def add_seconds(instant: Instant, seconds: int) -> Instant:
    return (instant[0] + seconds, instant[1])


def civil_from_days(days: int) -> tuple[int, int, int]:
    """The proleptic Gregorian date ``days`` after 1970-01-01 (inverse of :func:`days_from_civil`)."""
    z = days + 719468
    era = z // 146097
    doe = z - era * 146097
    yoe = (doe - doe // 1460 + doe // 36524 - doe // 146096) // 365
    doy = doe - (365 * yoe + yoe // 4 - yoe // 100)
    mp = (5 * doy + 2) // 153
    day = doy - (153 * mp + 2) // 5 + 1
    month = mp + 3 if mp < 10 else mp - 9
    return yoe + era * 400 + (month <= 2), month, day


def format_utc(instant: Instant) -> str:
    """Whole-second UTC form with ``Z`` (contract §5 truncates fractions); any year 0000-9999."""
    days, rest = divmod(instant[0], 86400)
    y, m, d = civil_from_days(days)
    return f"{y:04d}-{m:02d}-{d:02d}T{rest // 3600:02d}:{rest // 60 % 60:02d}:{rest % 60:02d}Z"


def format_utc_exact(instant: Instant) -> str:
    """UTC form keeping the fraction, for keys that must stay exact."""
    base = format_utc(instant)
    return f"{base[:-1]}.{instant[1]}Z" if instant[1] else base


def local_date(text: str) -> tuple[int, int, int]:
    """The calendar date of a timestamp in its own offset (its first ten characters)."""
    return int(text[0:4]), int(text[5:7]), int(text[8:10])
