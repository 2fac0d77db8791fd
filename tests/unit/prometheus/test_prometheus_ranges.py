"""Durations, timestamps and range splitting (pure)."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from airflow_wecube.prometheus.ranges import MAX_POINTS, split_range
from airflow_wecube.prometheus.timeutil import duration_ms, format_ms, to_ms, to_unix


@pytest.mark.parametrize(
    ("value", "ms"),
    [(15, 15_000), (0.5, 500), ("15s", 15_000), ("1m", 60_000), ("1h30m", 5_400_000), ("500ms", 500),
     ("2d", 172_800_000), ("30", 30_000), (timedelta(minutes=2), 120_000)],
)
def test_duration_ms(value, ms):
    assert duration_ms(value) == ms


@pytest.mark.parametrize("bad", ["", "abc", "1x", "-5s", 0, -1, "1.5m", True, None, float("nan")])
def test_duration_ms_refuses_bad_input(bad):
    with pytest.raises(ValueError):
        duration_ms(bad)


def test_to_unix_accepts_datetimes_numbers_and_iso():
    aware = datetime(2025, 1, 2, 3, 4, 5, tzinfo=timezone.utc)
    assert to_unix(aware) == aware.timestamp()
    assert to_unix(datetime(2025, 1, 2, 3, 4, 5)) == aware.timestamp()  # naive means UTC
    assert to_unix(1_700_000_000) == 1_700_000_000.0
    assert to_unix("2025-01-02T03:04:05Z") == aware.timestamp()
    assert to_ms(1.25) == 1250
    with pytest.raises(ValueError):
        to_unix("yesterday")


def test_format_ms_is_exact():
    assert format_ms(1_700_000_000_015) == "1700000000.015"
    assert format_ms(5) == "0.005"
    assert format_ms(-1500) == "-1.500"


@pytest.mark.parametrize(
    ("start", "end", "step", "max_points"),
    [(0, 3 * 86_400_000, 15_000, MAX_POINTS), (1_000, 1_000, 1_000, 5), (0, 10_500, 1_000, 3), (7, 10_007, 1_000, 11)],
)
def test_split_range_covers_the_grid_exactly_once(start, end, step, max_points):
    chunks = split_range(start, end, step, max_points)
    instants = [t for s, e in chunks for t in range(s, e + 1, step)]
    assert instants == list(range(start, end + 1, step))  # every instant once, in order
    assert all((e - s) // step + 1 <= max_points for s, e in chunks)
    # Prometheus refuses (end-start)/step > 11000: every chunk stays within
    assert all((e - s) / step <= MAX_POINTS for s, e in chunks)


def test_split_range_three_days_at_15s_needs_two_chunks():
    chunks = split_range(0, 3 * 86_400_000, 15_000)
    assert len(chunks) == 2  # 17,281 instants
    assert chunks[1][0] == chunks[0][1] + 15_000


def test_split_range_refuses_bad_input():
    with pytest.raises(ValueError):
        split_range(10, 0, 1)
    with pytest.raises(ValueError):
        split_range(0, 10, 0)
