"""Durations and timestamps as Prometheus's API and rule files take them.

Parsing is :mod:`airflow_wecube.util.durations` (one parser for every package); this turns its results
into Prometheus's resolution (milliseconds) and text.
"""

from __future__ import annotations

import re
from datetime import datetime, timedelta

from airflow_wecube.util.durations import parse_duration, to_unix

# Prometheus's own duration grammar (model.ParseDuration): units largest first, each at most once
PROMETHEUS_DURATION = re.compile(r"(?:(\d+)y)?(?:(\d+)w)?(?:(\d+)d)?(?:(\d+)h)?(?:(\d+)m)?(?:(\d+)s)?(?:(\d+)ms)?")


def _ms(td: timedelta) -> int:
    """Whole milliseconds of ``td`` (half a millisecond rounds up), exactly."""
    return (td // timedelta(microseconds=1) + 500) // 1000


def duration_ms(value: str | int | float | timedelta) -> int:
    """A step or duration in whole milliseconds, from anything :func:`parse_duration` reads.

    :raises ValueError: not a positive duration of at least a millisecond
    """
    ms = _ms(parse_duration(value))
    if ms <= 0:
        raise ValueError(f"duration must be positive: {value!r} (it is less than a millisecond)")
    return ms


def prometheus_duration(value: str | int | float | timedelta, *, allow_zero: bool = False) -> str:
    """Duration text Prometheus reads (a rule's ``for``, a group's ``interval``).

    Text already in Prometheus's grammar is kept as written (``5m``, ``1h30m``); other durations
    (numbers of seconds, timedeltas, ``1.5h``) become whole seconds (``120s``) or milliseconds.
    """
    td = parse_duration(value, allow_zero=allow_zero)
    if isinstance(value, str) and PROMETHEUS_DURATION.fullmatch(value.strip()):
        return value.strip()
    ms = _ms(td)
    return f"{ms // 1000}s" if ms % 1000 == 0 else f"{ms}ms"


def to_ms(value: datetime | int | float | str) -> int:
    """Unix milliseconds (Prometheus's own resolution) of any time :func:`parse_time` (util.durations) reads."""
    return round(to_unix(value) * 1000)


def format_ms(ms: int) -> str:
    """Milliseconds as the seconds string Prometheus's API takes, exactly (no float rounding)."""
    sign = "-" if ms < 0 else ""
    whole, frac = divmod(abs(ms), 1000)
    return f"{sign}{whole}.{frac:03d}"
