"""Range queries on backfilled history: splitting past 11,000 points, stitching, aligned frames."""

from __future__ import annotations

from datetime import datetime, timezone

import numpy as np
import pandas as pd
import pytest
import requests

from airflow_wecube.hooks.prometheus import PrometheusHook
from airflow_wecube.prometheus.errors import PrometheusQueryError


def test_prometheus_itself_refuses_the_unsplit_range(history):
    """The limit the hook works around is real: one request for 3 days at 15 s is refused."""
    resp = requests.get(
        f"{history.server.url}/api/v1/query_range",
        params={"query": "wecube_hist", "start": history.start, "end": history.end, "step": "15s"},
        timeout=30,
    )
    assert resp.status_code == 400 and "11,000 points" in resp.json()["error"]


def test_three_days_at_15s_every_timestamp_exactly_once(history, history_conn):
    hook = PrometheusHook(history_conn)
    start = datetime.fromtimestamp(history.start, tz=timezone.utc)
    frame = hook.query_range("wecube_hist", start, history.end, "15s")

    expected = pd.date_range(start, periods=(history.end - history.start) // 15 + 1, freq="15s", tz="UTC")
    assert len(expected) == 17_281 > 11_000
    assert frame.index.tz is not None and str(frame.index.tz) == "UTC"
    assert frame.index.is_unique and frame.index.is_monotonic_increasing
    assert frame.index.equals(expected)  # none missing, none doubled
    assert list(frame.columns) == ['wecube_hist{series="a"}', 'wecube_hist{series="b"}']
    k = np.arange(len(expected), dtype=float)
    np.testing.assert_array_equal(frame['wecube_hist{series="a"}'].to_numpy(), k)  # sample k at instant k
    np.testing.assert_array_equal(frame['wecube_hist{series="b"}'].to_numpy(), -k)


def test_aligned_frame_one_column_per_name(history, history_conn):
    hook = PrometheusHook(history_conn)
    frame = hook.query_range_frame(
        {"load": 'wecube_hist{series="a"}', "neg": 'wecube_hist{series="b"} * 2'},
        history.start,
        history.end,
        "1m",
    )
    assert list(frame.columns) == ["load", "neg"]
    assert len(frame) == 3 * 24 * 60 + 1
    assert frame.index[0] == pd.Timestamp(history.start, unit="s", tz="UTC")
    assert (frame.index[1:] - frame.index[:-1] == pd.Timedelta("1m")).all()
    np.testing.assert_array_equal(frame["neg"].to_numpy(), -2 * frame["load"].to_numpy())


def test_frame_query_with_several_series_names_the_query(history, history_conn):
    with pytest.raises(PrometheusQueryError, match=r"query 'both' \(wecube_hist\) returned 2 series, expected exactly 1"):
        PrometheusHook(history_conn).query_range_frame(
            {"ok": 'wecube_hist{series="a"}', "both": "wecube_hist"}, history.start, history.start + 600, 15
        )


def test_frame_query_with_no_series_names_the_query(history, history_conn):
    with pytest.raises(PrometheusQueryError, match=r"query 'none' .* returned 0 series"):
        PrometheusHook(history_conn).query_range_frame({"none": "no_such_metric"}, history.start, history.start + 600, 15)


def test_bad_promql_in_a_range_carries_prometheus_message(history, history_conn):
    with pytest.raises(PrometheusQueryError, match="parse error") as info:
        PrometheusHook(history_conn).query_range("rate(wecube_hist[5m]", history.start, history.start + 600, "15s")
    assert info.value.status_code == 400 and info.value.error_type == "bad_data"


def test_gaps_stay_gaps_and_bad_steps_are_refused(history, history_conn):
    hook = PrometheusHook(history_conn)
    # the range runs past the backfilled data: the frame stops where the data stops (5 min lookback)
    frame = hook.query_range('wecube_hist{series="a"}', history.end - 60, history.end + 3600, "15s")
    assert frame.index[0] == pd.Timestamp(history.end - 60, unit="s", tz="UTC")
    assert frame.index[-1] <= pd.Timestamp(history.end + 300, unit="s", tz="UTC")
    with pytest.raises(ValueError, match="invalid duration"):
        hook.query_range("wecube_hist", history.start, history.end, "fast")
    with pytest.raises(PrometheusQueryError, match="before start"):
        hook.query_range("wecube_hist", history.end, history.start, "15s")
