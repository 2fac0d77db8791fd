"""The probe's data rules: the spec narrowed to the canary, short rate windows, only clean samples kept."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pandas as pd
import pytest

from airflow_wecube.capacity.probe import (
    ProbeDataError,
    Step,
    check_probe_params,
    instance_matcher,
    kept_mask,
    probe_spec,
    restrict_promql,
    rewrite_ranges,
)
from airflow_wecube.capacity.spec import load_spec

M = 'instance=~"127\\\\.0\\\\.0\\\\.1:25001"'


def test_matcher_escapes_the_target():
    assert instance_matcher(["127.0.0.1:25001"]) == M
    assert instance_matcher(["a:1", "b:2"]) == 'instance=~"a:1|b:2"'
    with pytest.raises(ValueError, match="at least one canary"):
        instance_matcher([])


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        (
            'sum(rate(process_cpu_seconds_total{job="wecube_app_x"}[1m]))',
            f'sum(rate(process_cpu_seconds_total{{job="wecube_app_x",{M}}}[1m]))',
        ),
        ("sum(rate(accounts_opened_total[1m]))", f"sum(rate(accounts_opened_total{{{M}}}[1m]))"),
        (
            "sum by (instance) (rate(a_total[1m])) / on(job) group_left b",
            f"sum by (instance) (rate(a_total{{{M}}}[1m])) / on(job) group_left b{{{M}}}",
        ),
        (
            '100 * sum(rate({__name__="a_total"}[1m] offset 5m))',
            f'100 * sum(rate({{__name__="a_total",{M}}}[1m] offset 5m))',
        ),
        (
            'sum(rate(a_total{path=~"/x{1,2}"}[1m])) > bool 0',
            f'sum(rate(a_total{{path=~"/x{{1,2}}",{M}}}[1m])) > bool 0',
        ),
    ],
)
def test_every_selector_gets_the_canary_matcher(query, expected):
    assert restrict_promql(query, M) == expected


def test_ranges_become_two_scrape_intervals():
    assert rewrite_ranges("rate(a[1m]) + rate(b[5m:30s])", timedelta(seconds=10)) == "rate(a[10s]) + rate(b[10s:30s])"


def test_probe_spec_narrows_target_features_and_candidates():
    spec = load_spec(
        {
            "name": "svc",
            "target": 'sum(rate(process_cpu_seconds_total{job="j"}[1m]))',
            "features": {"opened": "sum(rate(accounts_opened_total[1m]))"},
            "candidates": {"transferred": "sum(rate(accounts_transferred_total[1m]))"},
            "gates": {"min_samples": 500},
        }
    )
    p = probe_spec(spec, ["h:1"], timedelta(seconds=5), name="svc_canary")
    assert p.name == "svc_canary" and p.step == "5s"
    assert p.target == 'sum(rate(process_cpu_seconds_total{job="j",instance=~"h:1"}[10s]))'
    assert p.features["opened"] == 'sum(rate(accounts_opened_total{instance=~"h:1"}[10s]))'
    assert p.candidates["transferred"] == 'sum(rate(accounts_transferred_total{instance=~"h:1"}[10s]))'
    assert p.gates.min_samples == 12  # the probe's own, not the nightly 500
    assert p.hac_lags_for(24)["range_lags"] == 2


def test_only_samples_whose_window_lies_in_one_step_are_kept():
    t0 = datetime(2026, 1, 1, tzinfo=timezone.utc)
    i = timedelta(seconds=5)
    steps = [Step({"a": 1}, t0, t0 + 4 * i), Step({"a": 2}, t0 + 4 * i, t0 + 8 * i)]
    index = pd.DatetimeIndex([t0 + k * i for k in range(9)])
    keep = kept_mask(index, steps, i)
    # a step held 4 intervals gives 3 samples: at +2, +3, +4 intervals (the first interval is discarded)
    assert list(keep) == [False, False, True, True, True, False, True, True, True]


def test_a_probe_needs_three_intervals_per_step():
    with pytest.raises(ValueError, match="at least 3 scrape intervals"):
        check_probe_params(8, 2, timedelta(seconds=5))


def test_probe_data_error_is_a_capacity_error():
    from airflow_wecube.capacity.errors import CapacityError

    assert issubclass(ProbeDataError, CapacityError)
