"""The one duration parser and the one time parser every package uses (pure)."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import numpy as np
import pandas as pd
import pendulum
import pytest

from airflow_wecube.util.durations import format_duration, parse_duration, parse_time, to_unix

UTC = timezone.utc


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("15s", timedelta(seconds=15)),
        ("500ms", timedelta(milliseconds=500)),
        ("1h30m", timedelta(minutes=90)),
        ("1.5h", timedelta(minutes=90)),  # decimals, as capacity specs always took them
        ("2d", timedelta(days=2)),
        ("1w", timedelta(weeks=1)),
        ("1y", timedelta(days=365)),
        ("30m1h", timedelta(minutes=90)),  # any order
        (" 5m ", timedelta(minutes=5)),
        ("30", timedelta(seconds=30)),  # a bare number string is seconds, as Prometheus steps always took it
        ("0.5", timedelta(milliseconds=500)),
        (15, timedelta(seconds=15)),
        (0.25, timedelta(milliseconds=250)),
        (np.int64(60), timedelta(minutes=1)),
        (timedelta(minutes=2), timedelta(minutes=2)),
    ],
)
def test_parse_duration_accepts(value, expected):
    assert parse_duration(value) == expected


@pytest.mark.parametrize(
    ("bad", "message"),
    [
        ("", "not a duration: ''"),
        ("abc", "not a duration: 'abc' (use seconds or a duration such as 15s, 5m, 1h30m, 7d)"),
        ("7 days", "not a duration"),
        ("1x", "not a duration"),
        ("-5s", "not a duration"),
        ("5m garbage", "not a duration"),
        (None, "not a duration: None"),
        (True, "not a duration: True"),
        ([5], "not a duration"),
        (float("nan"), "not a duration"),
        ("inf", "not a duration"),
        (float("-inf"), "not a duration"),
        (0, "duration must be positive: 0"),
        ("0s", "duration must be positive: '0s'"),
        (-1, "duration must be positive: -1"),
        (timedelta(0), "duration must be positive"),
        (1e-9, "less than a microsecond"),
        ("99999999999d", "duration too long: '99999999999d' (at most 999999999 days)"),
        (1e20, "duration too long"),
    ],
)
def test_parse_duration_refuses(bad, message):
    with pytest.raises(ValueError) as err:
        parse_duration(bad)
    assert message in str(err.value)


def test_zero_is_a_duration_only_when_allowed():
    assert parse_duration(0, allow_zero=True) == timedelta(0)
    assert parse_duration("0s", allow_zero=True) == timedelta(0)
    with pytest.raises(ValueError, match="duration must be zero or positive: -1"):
        parse_duration(-1, allow_zero=True)


def test_format_duration_is_the_shortest_text():
    assert format_duration(timedelta(seconds=90)) == "1m30s"
    assert format_duration(timedelta(days=1, hours=2)) == "1d2h"
    assert format_duration(timedelta(0)) == "0s"
    assert parse_duration(format_duration(timedelta(hours=36, seconds=5))) == timedelta(hours=36, seconds=5)


AT = datetime(2025, 1, 31, 2, tzinfo=UTC)


@pytest.mark.parametrize(
    "value",
    [
        "2025-01-31T02:00:00Z",
        "2025-01-31T02:00:00z",
        "2025-01-31T02:00:00+00:00",
        "2025-01-31T04:00:00+02:00",
        "2025-01-31T02:00:00",  # no offset means UTC
        " 2025-01-31 02:00:00 ",
        datetime(2025, 1, 31, 2),  # naive means UTC
        AT,
        pendulum.datetime(2025, 1, 31, 2),
        pd.Timestamp("2025-01-31T02:00:00Z"),
        1738288800,
        1738288800.0,
        "1738288800",
        np.int64(1738288800),
    ],
)
def test_parse_time_accepts(value):
    parsed = parse_time(value)
    assert parsed == AT and parsed.tzinfo is not None


def test_parse_time_keeps_an_explicit_offset():
    assert parse_time("2025-01-31T04:00:00+02:00").isoformat() == "2025-01-31T04:00:00+02:00"
    assert parse_time("2025-01-31T02:00:00").isoformat() == "2025-01-31T02:00:00+00:00"


@pytest.mark.parametrize(
    ("bad", "message"),
    [
        (
            "yesterday",
            "not a time: 'yesterday' (use ISO 8601 such as 2025-01-31T02:00:00Z, Unix seconds or a datetime)",
        ),
        ("", "not a time: ''"),
        ("Z", "not a time"),
        (None, "not a time: None"),
        (True, "not a time: True"),
        (float("nan"), "not a time"),
        ("inf", "not a time"),
        (1e20, "time out of range: 1e+20"),
        ("-1e15", "time out of range"),
    ],
)
def test_parse_time_refuses(bad, message):
    with pytest.raises(ValueError) as err:
        parse_time(bad)
    assert message in str(err.value)


def test_to_unix_is_exact_for_numbers_and_reads_every_time():
    assert to_unix(1_700_000_000.123) == 1_700_000_000.123
    assert to_unix("1700000000.123") == 1_700_000_000.123
    assert to_unix(datetime(2025, 1, 31, 2)) == AT.timestamp()  # naive means UTC
    assert to_unix("2025-01-31T02:00:00Z") == AT.timestamp()
    with pytest.raises(ValueError, match="time out of range"):
        to_unix(1e20)  # Prometheus would refuse it; say so here
