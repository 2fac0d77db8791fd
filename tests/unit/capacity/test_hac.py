"""Autocorrelation-robust (HAC / Newey-West) inference and drift decisions.

Rates over ``[1m]`` windows sampled every 15 s share 45 s of data with their neighbours, so the
residuals are autocorrelated; classical (iid) standard errors are then far too small and an
unchanged system "drifts" from night to night. These tests show the false alarm with iid errors,
its absence with HAC, and that a real change is still found.
"""

from __future__ import annotations

from datetime import timedelta

import numpy as np
import pytest

from airflow_wecube.capacity.dataset import build_dataset
from airflow_wecube.capacity.drift import compare, structural_break_test, wald_equality_test
from airflow_wecube.capacity.errors import SpecError
from airflow_wecube.capacity.fit import fit_model
from airflow_wecube.capacity.ols import hac_meat
from airflow_wecube.capacity.spec import DriftThresholds, load_spec, newey_west_rule, promql_ranges

from .synth import RATE_SPEC, SPEC, TRUE, make_frame, make_rate_frame

WEEK, DAY = 7 * 5760, 5760  # samples at 15 s


def _fits(frame, spec):
    ds = build_dataset(frame, spec)
    return fit_model(ds, spec).to_dict(), fit_model(ds, spec, cov_type="nonrobust").to_dict()


@pytest.fixture(scope="module")
def rate_spec():
    return load_spec(RATE_SPEC)


@pytest.mark.parametrize("lags", [0, 1, 4, 15, 299, 400])
def test_hac_meat_equals_the_lagged_sum(lags):
    from statsmodels.stats.sandwich_covariance import S_hac_simple

    g = np.random.default_rng(lags).normal(size=(300, 3)).cumsum(axis=0)  # autocorrelated scores
    ours = hac_meat(np.ascontiguousarray(g.T), lags)
    ref = S_hac_simple(g, nlags=min(lags, 299))
    assert ours == pytest.approx(ref, rel=1e-9, abs=1e-9 * np.abs(ref).max())


def test_lag_window_comes_from_the_spec(rate_spec):
    # [1m] at 15 s: 4 steps share data; the Newey-West rule of thumb wins for long windows
    info = rate_spec.hac_lags_for(WEEK)
    assert info["largest_range"] == "1m" and info["range_lags"] == 4
    assert info["rule_of_thumb"] == newey_west_rule(WEEK) == 15 and info["maxlags"] == 15
    short = rate_spec.hac_lags_for(50)  # few samples: the rule of thumb (3) is below the 4 steps of [1m]
    assert newey_west_rule(50) == 3 and short["maxlags"] == 4 and short["source"] == "range"
    slow = load_spec({**RATE_SPEC, "target": "sum(rate(app_cpu_seconds_total[10m])) * 100"})
    assert slow.hac_lags_for(WEEK)["maxlags"] == 40 and slow.hac_lags_for(WEEK)["source"] == "range"
    fixed = load_spec({**RATE_SPEC, "hac_lags": 7})
    assert fixed.hac_lags_for(WEEK)["maxlags"] == 7 and fixed.hac_lags_for(WEEK)["source"] == "spec"
    assert fixed.hac_lags_for(5)["maxlags"] == 4  # never more than n - 1
    assert load_spec({**RATE_SPEC, "hac_lags": "3"}).hac_lags == 3
    # a [..] inside a string literal (a regex) is not a range
    assert promql_ranges('max_over_time(rate(x{path=~"[0-9]m"}[2m])[30m:1m]) + y[1h30m]') == [
        timedelta(minutes=2),
        timedelta(minutes=30),
        timedelta(minutes=90),
    ]


@pytest.mark.parametrize(
    ("change", "needle"),
    [
        ({"hac_lags": -1}, "hac_lags"),
        ({"hac_lags": "many"}, "hac_lags"),
        ({"hac_lags": True}, "hac_lags"),
        ({"cov_type": "HC7"}, "cov_type"),
    ],
)
def test_bad_inference_options_are_refused(change, needle):
    with pytest.raises(SpecError, match=needle):
        load_spec({**RATE_SPEC, **change})


def test_report_says_which_standard_errors(rate_spec):
    hac, iid = _fits(make_rate_frame(DAY, seed=3), rate_spec)
    assert hac["inference"]["cov_type"] == "HAC" and hac["inference"]["maxlags"] == newey_west_rule(DAY)
    assert "Newey-West" in hac["inference"]["description"] and "1m = 4 step(s)" in hac["inference"]["description"]
    assert iid["inference"]["cov_type"] == "nonrobust" and hac["stats"]["cov_type"] == "HAC"
    # the autocorrelation makes the honest standard errors much wider than the iid ones
    for name in TRUE:
        assert hac["coefficients"][name]["std_err"] > 1.5 * iid["coefficients"][name]["std_err"]
        assert hac["coefficients"][name]["value"] == iid["coefficients"][name]["value"]


def test_unchanged_system_is_not_drift_with_hac_but_is_with_iid(rate_spec):
    """Same true coefficients in both windows, [1m]-rate residuals at 15 s: a nightly refit of an unchanged system."""
    iid_alarms, iid_p, hac_p = 0, [], []
    for seed in range(8):
        base_hac, base_iid = _fits(make_rate_frame(WEEK, seed=seed), rate_spec)
        new_hac, new_iid = _fits(make_rate_frame(DAY, seed=100 + seed, t0=WEEK * 15), rate_spec)
        robust = compare(base_hac, new_hac, DriftThresholds(), baseline_version="v1")
        naive = compare(base_iid, new_iid, DriftThresholds(), baseline_version="v1")
        assert not robust["found"], (seed, robust["messages"])
        assert robust["chow"]["method"] == "wald" and robust["chow"]["p_value"] > 0.01, (seed, robust["chow"])
        assert naive["chow"]["method"] == "chow_f"
        # the classical F reported beside the robust test is the one the iid comparison decides on
        assert robust["chow"]["classical"]["p_value"] == pytest.approx(naive["chow"]["p_value"])
        iid_alarms += naive["found"]
        iid_p.append(naive["chow"]["p_value"])
        hac_p.append(robust["chow"]["p_value"])
    # with iid standard errors most of these unchanged nights would have been reported as drift
    assert iid_alarms >= 4, iid_p
    assert iid_p[0] < 0.001 and np.median(iid_p) < 0.01
    assert min(hac_p) > 0.01


def test_real_change_is_still_found_with_hac(rate_spec):
    base, _ = _fits(make_rate_frame(WEEK, seed=0), rate_spec)
    new, _ = _fits(make_rate_frame(DAY, seed=100, t0=WEEK * 15, closed_coef=0.35), rate_spec)
    report = compare(base, new, DriftThresholds(), baseline_version="v1")
    assert report["found"]
    moved = {r["name"]: r for r in report["coefficients"] if r["moved"]}
    assert set(moved) == {"accounts_closed"}
    row = moved["accounts_closed"]
    assert row["old"] == pytest.approx(0.267, abs=0.005) and row["new"] == pytest.approx(0.35, abs=0.01)
    assert row["p_value"] < 1e-10 and not row["ci_overlap"]
    assert report["chow"]["method"] == "wald" and report["chow"]["drift"] and report["chow"]["p_value"] < 1e-10
    assert report["standard_errors"] == {"baseline": "HAC", "new": "HAC"}
    assert any(m.startswith("Chow test (Wald test of equal coefficients, HAC/HAC") for m in report["messages"])
    # the true coefficients sit inside the HAC intervals of each window
    assert (
        base["coefficients"]["accounts_closed"]["ci_low"] <= 0.267 <= base["coefficients"]["accounts_closed"]["ci_high"]
    )
    assert new["coefficients"]["accounts_closed"]["ci_low"] <= 0.35 <= new["coefficients"]["accounts_closed"]["ci_high"]


def test_wald_test_by_hand_and_feature_order():
    spec = load_spec(SPEC)
    a, b = (
        fit_model(build_dataset(make_frame(600, seed=1), spec), spec).to_dict(),
        fit_model(build_dataset(make_frame(400, seed=2, closed_coef=0.28), spec), spec).to_dict(),
    )
    res = wald_equality_test(a, b)
    d = np.array(
        [b["intercept"]["value"] - a["intercept"]["value"]]
        + [b["coefficients"][n]["value"] - a["coefficients"][n]["value"] for n in a["features"]]
    )
    v = np.asarray(a["stats"]["cov"]) + np.asarray(b["stats"]["cov"])
    assert res["statistic"] == pytest.approx(float(d @ np.linalg.inv(v) @ d), rel=1e-9) and res["df"] == 3
    # same model with the features listed in another order: the same statistic
    swapped_spec = load_spec({**SPEC, "features": dict(reversed(list(SPEC["features"].items())))})
    b2 = fit_model(build_dataset(make_frame(400, seed=2, closed_coef=0.28), swapped_spec), swapped_spec).to_dict()
    assert wald_equality_test(a, b2)["statistic"] == pytest.approx(res["statistic"], rel=1e-9)


def test_baseline_fitted_before_hac_falls_back_to_the_classical_chow():
    spec = load_spec(SPEC)
    new = fit_model(build_dataset(make_frame(1440, seed=11), spec), spec).to_dict()
    old = fit_model(build_dataset(make_frame(10080, seed=0), spec), spec, cov_type="nonrobust").to_dict()
    old["stats"].pop("cov")
    old["stats"].pop("cov_type")
    old.pop("inference")
    test = structural_break_test(old, new)
    assert test["method"] == "chow_f" and "older version" in test["fallback"]
    report = compare(old, new, DriftThresholds())
    assert report["standard_errors"] == {"baseline": "nonrobust", "new": "HAC"}
    assert "accept a fresh fit" in report["notes"][0]
