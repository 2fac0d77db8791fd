"""Durations, timestamps, range splitting and fetching the chunks (pure)."""

from __future__ import annotations

import threading
import time
from datetime import datetime, timedelta

import pytest

from airflow_wecube.prometheus.ranges import MAX_POINTS, fetch_in_order, split_range
from airflow_wecube.prometheus.times import duration_ms, format_ms, prometheus_duration, to_ms


@pytest.mark.parametrize(
    ("value", "ms"),
    [
        (15, 15_000),
        (0.5, 500),
        ("15s", 15_000),
        ("1h30m", 5_400_000),
        ("500ms", 500),
        ("30", 30_000),
        ("1.5m", 90_000),
        (timedelta(minutes=2), 120_000),
        (0.0015, 2),
        (timedelta(microseconds=1500), 2),
    ],
)
def test_duration_ms(value, ms):
    """Parsing is util.durations's (tests/unit/util/test_durations.py); this is the rounding to Prometheus's ms."""
    assert duration_ms(value) == ms


@pytest.mark.parametrize(
    ("bad", "message"), [("fast", "not a duration"), (0, "positive"), (0.0004, "less than a millisecond")]
)
def test_duration_ms_refuses_bad_input(bad, message):
    with pytest.raises(ValueError, match=message):
        duration_ms(bad)


def test_to_ms_reads_every_time_form():
    assert to_ms(1.25) == 1250
    assert to_ms("2025-01-02T03:04:05Z") == to_ms(datetime(2025, 1, 2, 3, 4, 5)) == 1_735_787_045_000


@pytest.mark.parametrize(
    ("value", "text"),
    [
        ("5m", "5m"),
        (" 1h30m ", "1h30m"),
        (120, "120s"),
        (0.5, "500ms"),
        (timedelta(minutes=2), "120s"),
        ("1.5m", "90s"),
        ("30m1h", "5400s"),
        ("90", "90s"),
    ],
)
def test_prometheus_duration_keeps_prometheus_text_and_writes_the_rest_in_seconds(value, text):
    assert prometheus_duration(value) == text


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


def test_fetch_in_order_consumes_in_task_order_with_several_in_flight():
    in_flight, most, lock, seen = [0], [0], threading.Lock(), []

    def fetch(task):
        with lock:
            in_flight[0] += 1
            most[0] = max(most[0], in_flight[0])
        time.sleep(0.02 * (5 - task % 5))  # later tasks finish first
        with lock:
            in_flight[0] -= 1
        return task * 10

    fetch_in_order(list(range(10)), fetch, lambda task, result: seen.append((task, result)), 3)
    assert seen == [(t, t * 10) for t in range(10)]
    assert most[0] == 3


def test_fetch_in_order_raises_the_first_failure_and_stops():
    fetched = []

    def fetch(task):
        fetched.append(task)
        if task == 2:
            raise RuntimeError("chunk 2 failed")
        return task

    with pytest.raises(RuntimeError, match="chunk 2 failed"):
        fetch_in_order(list(range(100)), fetch, lambda task, result: None, 2)
    assert len(fetched) < 100
