"""Durations and points in time as people write them: one parser each, shared by every package.

Capacity specs, Prometheus steps and rule ``for:`` values, CLI flags, DAG arguments and Airflow's
API JSON all go through :func:`parse_duration` and :func:`parse_time`, so they accept the same
forms and refuse the same nonsense. Pure (no Airflow). The errors are plain :class:`ValueError`\\ s
that say what is accepted; callers wrap them in their own error type and say where the value was.
"""

from __future__ import annotations

import math
import numbers
import re
from datetime import datetime, timedelta, timezone

_UNIT_SECONDS = {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800, "y": 31536000}
# one part of a duration: a number (decimals allowed) and a unit; "ms" before "m" and "s"
_PART = re.compile(r"(\d+(?:\.\d+)?)(ms|s|m|h|d|w|y)")
_DURATION_HINT = "use seconds or a duration such as 15s, 5m, 1h30m, 7d"
_TIME_HINT = "use ISO 8601 such as 2025-01-31T02:00:00Z, Unix seconds or a datetime"


def _number(value: object) -> float | None:
    """``value`` as a number when it is one (a real number or a string of one), else None."""
    if isinstance(value, bool):
        return None
    if isinstance(value, numbers.Real):  # int, float, numpy scalars
        return float(value)
    if isinstance(value, str):
        try:
            return float(value.strip())
        except ValueError:
            return None
    return None


def parse_duration(value: str | int | float | timedelta, *, allow_zero: bool = False) -> timedelta:
    """A duration from a Prometheus-style string, a number of seconds, or a :class:`~datetime.timedelta`.

    Strings are parts of a number and a unit (``ms s m h d w y``), in any order, decimals allowed:
    ``15s``, ``500ms``, ``1h30m``, ``1.5h``, ``7d``; a bare number (``"30"``, ``0.5``) is seconds.

    :param allow_zero: accept a zero duration (a rule's ``for: 0``); negative ones never are
    :raises ValueError: not a duration, not finite, zero (unless allowed) or negative, or longer
        than :class:`~datetime.timedelta` holds (``duration too long``)
    """
    if isinstance(value, timedelta):
        seconds = value.total_seconds()
    elif (number := _number(value)) is not None:
        seconds = number
    elif isinstance(value, str):
        text = value.strip()
        pos, seconds = 0, 0.0
        for m in _PART.finditer(text):
            if m.start() != pos:
                break
            seconds += float(m.group(1)) * _UNIT_SECONDS[m.group(2)]
            pos = m.end()
        if not text or pos != len(text):
            raise ValueError(f"not a duration: {value!r} ({_DURATION_HINT})")
    else:
        raise ValueError(f"not a duration: {value!r} ({_DURATION_HINT})")
    if not math.isfinite(seconds):
        raise ValueError(f"not a duration: {value!r} ({_DURATION_HINT})")
    if seconds < 0 or (seconds == 0 and not allow_zero):
        raise ValueError(f"duration must be {'zero or positive' if allow_zero else 'positive'}: {value!r}")
    if isinstance(value, timedelta):
        return value
    try:
        td = timedelta(seconds=seconds)
    except OverflowError:
        raise ValueError(f"duration too long: {value!r} (at most {timedelta.max.days} days)") from None
    if not td and not allow_zero:  # below a microsecond
        raise ValueError(f"duration must be positive: {value!r} (it is less than a microsecond)")
    return td


def format_duration(td: timedelta) -> str:
    """The shortest duration text for ``td`` in whole seconds (``1d2h``, ``90s`` → ``1m30s``)."""
    seconds = int(round(td.total_seconds()))
    out = ""
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60), ("s", 1)):
        if seconds >= size:
            out += f"{seconds // size}{unit}"
            seconds %= size
    return out or "0s"


def parse_time(value: str | int | float | datetime) -> datetime:
    """A point in time from a datetime, Unix seconds (number or string) or ISO 8601 text.

    ``Z`` means UTC, and so does no offset at all (a naive datetime or ``2025-01-31T02:00:00``);
    an aware value keeps its offset. pendulum and pandas times are datetimes, numpy numbers numbers.

    :raises ValueError: not a time, not finite, or outside the years 1-9999
    """
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=timezone.utc)
    number = _number(value)
    if number is not None:
        if not math.isfinite(number):
            raise ValueError(f"not a time: {value!r} ({_TIME_HINT})")
        try:
            return datetime.fromtimestamp(number, tz=timezone.utc)
        except (OverflowError, OSError, ValueError):
            raise ValueError(f"time out of range: {value!r} (Unix seconds of a year between 1 and 9999)") from None
    if isinstance(value, str):
        text = value.strip()
        if text.endswith(("Z", "z")):
            text = text[:-1] + "+00:00"
        try:
            dt = datetime.fromisoformat(text)
        except ValueError:
            pass
        else:
            return dt if dt.tzinfo else dt.replace(tzinfo=timezone.utc)
    raise ValueError(f"not a time: {value!r} ({_TIME_HINT})")


def to_unix(value: str | int | float | datetime) -> float:
    """Unix seconds of any time :func:`parse_time` accepts (numbers come back exactly as given)."""
    dt = parse_time(value)
    number = _number(value)
    return number if number is not None else dt.timestamp()


__all__ = ["format_duration", "parse_duration", "parse_time", "to_unix"]
