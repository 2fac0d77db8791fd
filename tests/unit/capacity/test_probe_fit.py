"""The probe's fit on synthetic samples with known costs: the verdict follows the costs, too few
samples are refused, a candidate the version does not expose is untestable, not an error."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import numpy as np
import pandas as pd
import pytest

from airflow_wecube.capacity.design import design_schedule
from airflow_wecube.capacity.probe import ProbeDataError, Step, probe_spec
from airflow_wecube.capacity.probe_fit import analyse
from airflow_wecube.capacity.spec import TARGET, load_spec

IVL = timedelta(seconds=5)
T0 = datetime(2026, 1, 1, tzinfo=timezone.utc)
SPEC = probe_spec(
    load_spec(
        {
            "name": "svc",
            "target": "sum(rate(cpu_total[15s])) * 100",
            "features": {"opened": "sum(rate(o_total[15s]))", "closed": "sum(rate(c_total[15s]))"},
            "candidates": {"transferred": "sum(rate(t_total[15s]))"},
            "drift": {"max_relative_change": 0.3},
        }
    ),
    ["h:1"],
    IVL,
    name="svc_canary",
)


def frame(costs=(0.1, 0.2, 0.15), transfers=False, hold=4, seed=0):
    """Samples every 5 s over 8 designed steps: cpu% = costs · rates + 1 + noise."""
    rng = np.random.default_rng(seed)
    schedule = design_schedule({"o": (10, 100), "c": (10, 80), "t": (5, 60)}, 8, seed=1)
    steps = [Step(s, T0 + k * hold * IVL, T0 + (k + 1) * hold * IVL) for k, s in enumerate(schedule)]
    index = pd.DatetimeIndex([T0 + k * IVL for k in range(8 * hold + 1)])
    rows = []
    for t in index:
        s = next((st for st in steps if st.start <= t <= st.end), steps[-1]).rates
        tr = s["t"] if transfers else 0.0
        cpu = costs[0] * s["o"] + costs[1] * s["c"] + costs[2] * tr + 1 + rng.normal(0, 0.2)
        rows.append({TARGET: cpu, "opened": s["o"], "closed": s["c"], "transferred": tr})
    return pd.DataFrame(rows, index=index), steps


def test_first_release_passes_and_finds_the_costs():
    data, steps = frame()
    out, fit = analyse(SPEC, data, steps, IVL, None)
    r = out["result"]
    assert r["verdict"] == "pass" and out["gates"]["passed"]
    assert fit.coefficients["opened"]["value"] == pytest.approx(0.1, rel=0.05)
    assert fit.coefficients["closed"]["value"] == pytest.approx(0.2, rel=0.05)
    assert r["samples_per_step"] == [3] * 8  # a step of 4 intervals keeps 3 samples
    [cand] = r["candidates"]
    assert cand["testable"] is False and "constant" in cand["reason"]  # no transfers: nothing to test


def test_doubled_close_cost_against_the_baseline_is_a_regression():
    data, steps = frame()
    base, _ = analyse(SPEC, data, steps, IVL, None)
    slow, steps2 = frame(costs=(0.1, 0.4, 0.15), seed=1)
    out, _ = analyse(SPEC, slow, steps2, IVL, {"fit": base["fit"], "version": "v1"})
    assert out["result"]["verdict"] == "regression" and out["result"]["coefficients"] == ["closed"]
    same, steps3 = frame(seed=2)
    assert analyse(SPEC, same, steps3, IVL, {"fit": base["fit"], "version": "v1"})[0]["result"]["verdict"] == "pass"


def test_transfers_are_a_new_factor():
    data, steps = frame()
    base, _ = analyse(SPEC, data, steps, IVL, None)
    extra, steps2 = frame(transfers=True, seed=3)
    out, _ = analyse(SPEC, extra, steps2, IVL, {"fit": base["fit"], "version": "v1"})
    assert out["result"]["verdict"] == "new_factor" and out["result"]["new_factors"] == ["transferred"]


def test_too_few_samples_are_refused_with_the_reason():
    data, steps = frame()
    with pytest.raises(ProbeDataError, match=r"only 8 clean sample\(s\).*per step: 1, 1, 1.*baseline is unchanged"):
        analyse(SPEC, data.iloc[::4], steps, IVL, None)  # a scrape every 20 s: one sample per step
    with pytest.raises(ProbeDataError, match=r"only 0 clean sample\(s\).*per step: 0, 0, 0"):
        analyse(SPEC, data.assign(**{TARGET: np.nan}), steps, IVL, None)
