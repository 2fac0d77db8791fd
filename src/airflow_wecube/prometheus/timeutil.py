"""Durations and timestamps as Prometheus understands them."""

from __future__ import annotations

import math
import re
from datetime import datetime, timedelta, timezone

_UNITS_MS = {
    "ms": 1,
    "s": 1000,
    "m": 60_000,
    "h": 3_600_000,
    "d": 86_400_000,
    "w": 604_800_000,
    "y": 31_536_000_000,
}
_DURATION_RE = re.compile(r"^(?:(\d+)(ms|y|w|d|h|m|s))+$")
_PART_RE = re.compile(r"(\d+)(ms|y|w|d|h|m|s)")


def duration_ms(value: str | int | float | timedelta) -> int:
    """A step or duration in whole milliseconds.

    Accepts seconds (``15``, ``0.5``), a :class:`~datetime.timedelta`, or a Prometheus duration
    string (``"15s"``, ``"1m"``, ``"1h30m"``, ``"500ms"``; a bare number string means seconds).
    """
    if isinstance(value, bool):
        raise ValueError(f"invalid duration {value!r}")
    if isinstance(value, timedelta):
        ms = round(value.total_seconds() * 1000)
    elif isinstance(value, (int, float)):
        if not math.isfinite(value):
            raise ValueError(f"invalid duration {value!r}")
        ms = round(value * 1000)
    elif isinstance(value, str):
        text = value.strip()
        try:
            ms = round(float(text) * 1000)
        except ValueError:
            if not _DURATION_RE.match(text):
                raise ValueError(
                    f"invalid duration {value!r}: use seconds or a Prometheus duration such as '15s', '1m', '1h30m'"
                ) from None
            ms = sum(int(n) * _UNITS_MS[unit] for n, unit in _PART_RE.findall(text))
    else:
        raise ValueError(f"invalid duration {value!r}")
    if ms <= 0:
        raise ValueError(f"duration must be positive, got {value!r}")
    return ms


def to_unix(value: datetime | int | float | str) -> float:
    """Unix seconds from a datetime (naive means UTC), unix seconds, or an ISO 8601 string."""
    if isinstance(value, bool):
        raise ValueError(f"invalid time {value!r}")
    if isinstance(value, (int, float)):
        if not math.isfinite(value):
            raise ValueError(f"invalid time {value!r}")
        return float(value)
    if isinstance(value, str):
        text = value.strip()
        try:
            return float(text)
        except ValueError:
            try:
                value = datetime.fromisoformat(text.replace("Z", "+00:00"))
            except ValueError:
                raise ValueError(f"invalid time {value!r}: use a datetime, unix seconds or ISO 8601") from None
    if isinstance(value, datetime):
        if value.tzinfo is None:
            value = value.replace(tzinfo=timezone.utc)
        return value.timestamp()
    # pendulum DateTime and pandas Timestamp are datetime subclasses; anything else is an error
    raise ValueError(f"invalid time {value!r}: use a datetime, unix seconds or ISO 8601")


def to_ms(value: datetime | int | float | str) -> int:
    """Unix milliseconds (Prometheus's own resolution)."""
    return round(to_unix(value) * 1000)


def format_ms(ms: int) -> str:
    """Milliseconds as the seconds string Prometheus's API takes, exactly (no float rounding)."""
    sign = "-" if ms < 0 else ""
    whole, frac = divmod(abs(ms), 1000)
    return f"{sign}{whole}.{frac:03d}"
