"""The in-flight event of a parcel journey, the simulator's units of time (epoch ms), and fast RFC 3339 formatting."""

from __future__ import annotations

from datetime import date, datetime, timezone

MINUTE_MS = 60_000
HOUR_MS = 3_600_000
DAY_MS = 24 * HOUR_MS
CST_OFFSET_MS = 8 * 3_600_000  # China Standard Time, +08:00
_EPOCH_ORDINAL = date(1970, 1, 1).toordinal()


class Ev:
    """One parcel event while its journey is being built (time in epoch ms)."""

    __slots__ = ("t", "type", "site", "staff", "extra")

    def __init__(self, t: int, type: str, site: str, staff: str | None, extra: dict[str, object] | None = None) -> None:
        self.t = t
        self.type = type
        self.site = site
        self.staff = staff
        self.extra: dict[str, object] = extra if extra is not None else {}

    def __repr__(self) -> str:  # pragma: no cover - debugging aid
        return f"Ev({self.t}, {self.type!r}, {self.site!r}, {self.staff!r}, {self.extra!r})"


_MMSS: tuple[str, ...] = tuple(f"{m:02d}:{s:02d}" for m in range(60) for s in range(60))
_hour_prefix: dict[int, str] = {}


def _prefix(hour: int) -> str:
    """``YYYY-MM-DDTHH:`` for an hour count since the epoch (cached)."""
    p = _hour_prefix.get(hour)
    if p is None:
        day, h = divmod(hour, 24)
        p = f"{date.fromordinal(_EPOCH_ORDINAL + day).isoformat()}T{h:02d}:"
        if len(_hour_prefix) > 100_000:
            _hour_prefix.clear()
        _hour_prefix[hour] = p
    return p


def local_date(ms: int) -> date:
    """The calendar date at ``ms`` in +08:00."""
    return date.fromordinal(_EPOCH_ORDINAL + (ms + CST_OFFSET_MS) // 86_400_000)


def format_ts(ms: int, offset_ms: int = CST_OFFSET_MS, suffix: str = "+08:00") -> str:
    """RFC 3339 for ``ms`` written at ``offset_ms`` with ``suffix`` (``Z``, ``+08:00``, ...).

    A fraction (milliseconds) is written only when ``ms`` has one.
    """
    secs, frac = divmod(ms + offset_ms, 1000)
    hour, sec = divmod(secs, 3600)
    p = _hour_prefix.get(hour) or _prefix(hour)
    if frac:
        return f"{p}{_MMSS[sec]}.{frac:03d}{suffix}"
    return p + _MMSS[sec] + suffix


def to_ms(dt: datetime) -> int:
    """Epoch milliseconds of an aware datetime."""
    if dt.tzinfo is None:
        raise ValueError("start time needs a UTC offset")
    delta = dt - datetime(1970, 1, 1, tzinfo=timezone.utc)
    return (delta.days * 86400 + delta.seconds) * 1000 + delta.microseconds // 1000
