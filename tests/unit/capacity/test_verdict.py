"""The probe's verdict rules and its report: which change stops a release, which is noise."""

from __future__ import annotations

import pytest

from airflow_wecube.capacity.probe_report import render_markdown
from airflow_wecube.capacity.spec import DriftThresholds
from airflow_wecube.capacity.verdict import coefficient_rows, decide, headline

T = DriftThresholds(max_relative_change=0.2, max_r2_drop=0.1)


def c(value, half):
    return {"value": value, "ci_low": value - half, "ci_high": value + half, "p_value": 1e-9, "std_err": half / 2}


def fit(opened, closed, r2=0.95, half=0.0001):
    return {
        "coefficients": {"opened": c(opened, half), "closed": c(closed, half)},
        "intercept": c(0.01, 0.002),
        "r2": r2,
    }


BASE = fit(0.001, 0.002)


def verdict(new, candidates=(), baseline=BASE):
    rows = coefficient_rows(baseline, new, T)
    return rows, decide(
        rows,
        baseline_r2=baseline["r2"] if baseline else None,
        new_r2=new["r2"],
        candidates=list(candidates),
        thresholds=T,
        alpha=0.01,
    )


def test_first_release_passes():
    rows, d = verdict(fit(0.001, 0.002), baseline=None)
    assert d["verdict"] == "pass" and "first baseline" in d["reasons"][0]
    assert rows[0]["baseline"] is None and rows[0]["relative_change"] is None


def test_same_costs_pass():
    _, d = verdict(fit(0.00102, 0.00198))
    assert d["verdict"] == "pass" and d["coefficients"] == []


def test_doubled_close_cost_is_a_regression_naming_closed():
    rows, d = verdict(fit(0.001, 0.004))
    assert d["verdict"] == "regression" and d["coefficients"] == ["closed"]
    assert d["reasons"][0].startswith("coefficient closed rose 0.002 → 0.004 (+100%")
    closed = next(r for r in rows if r["name"] == "closed")
    assert closed["relative_change"] == pytest.approx(1.0) and closed["ci_overlap"] is False


def test_a_large_change_with_overlapping_intervals_is_noise():
    wide = fit(0.001, 0.0026, half=0.0008)
    _, d = verdict(wide, baseline=fit(0.001, 0.002, half=0.0008))
    assert d["verdict"] == "pass"


def test_a_significant_small_change_is_not_worth_stopping_for():
    _, d = verdict(fit(0.001, 0.00224, half=0.00001), baseline=fit(0.001, 0.002, half=0.00001))
    assert d["verdict"] == "pass"  # +12%: intervals apart, but below max_relative_change


def test_a_cheaper_operation_is_not_a_regression():
    _, d = verdict(fit(0.001, 0.001))
    assert d["verdict"] == "pass"


def cand(p, gain, name="transferred"):
    return {
        **c(0.0015, 0.0002),
        "name": name,
        "testable": True,
        "p_value": p,
        "r2_gain": gain,
        "r2_base": 0.8,
        "r2_with": 0.8 + gain,
    }


def test_a_significant_candidate_with_real_gain_is_a_new_factor():
    _, d = verdict(fit(0.001, 0.002, r2=0.8), candidates=[cand(1e-6, 0.15)])
    assert d["verdict"] == "new_factor" and d["new_factors"] == ["transferred"]
    assert "candidate transferred explains the target" in d["reasons"][0]


@pytest.mark.parametrize("candidate", [cand(0.2, 0.15), cand(1e-6, 0.001), {"name": "x", "testable": False}])
def test_a_candidate_without_evidence_or_gain_is_no_factor(candidate):
    _, d = verdict(fit(0.001, 0.002), candidates=[{"p_value": None, "r2_gain": 0, **candidate}])
    assert d["verdict"] == "pass"


def test_an_unexplained_r2_drop_is_a_regression():
    _, d = verdict(fit(0.001, 0.002, r2=0.7))
    assert d["verdict"] == "regression" and d["reasons"][0].startswith("R² fell 0.950 → 0.700")


def test_a_cost_regression_wins_over_a_new_factor():
    _, d = verdict(fit(0.001, 0.004, r2=0.8), candidates=[cand(1e-6, 0.15)])
    assert d["verdict"] == "regression" and d["new_factors"] == ["transferred"] and len(d["reasons"]) == 2


def test_report_names_verdict_coefficients_and_schedule():
    rows, d = verdict(fit(0.001, 0.004))
    result = {
        **d,
        "model": "svc_canary",
        "app_version": "1.1.0+slowclose",
        "baseline_version": "v1",
        "baseline_app_version": "1.0.0",
        "coefficient_table": rows,
        "candidates": [cand(0.3, 0.0), {"name": "y", "testable": False, "reason": "no series"}],
        "instances": ["127.0.0.1:25001"],
        "steps": [{"rates": {"open_rate": 10.0, "close_rate": 20.0}}],
        "samples_per_step": [3],
        "hold_seconds": 20,
        "thresholds": {"max_relative_change": 0.2, "max_r2_drop": 0.1, "alpha": 0.01, "min_r2_gain": 0.02},
        "version": "v2",
        "plot": "/store/v2.png",
    }
    md = render_markdown(result)
    assert md.startswith("## Capacity probe: svc_canary 1.1.0+slowclose — **REGRESSION**")
    assert "| closed | 0.002 [0.0019, 0.0021] | 0.004 [0.0039, 0.0041] | +100.0% | **yes** |" in md
    assert "| y | – | – | – | not testable: no series |" in md
    assert "| 1 | 10 | 20 | 3 |" in md and "Plot: `/store/v2.png`" in md
    assert headline(result).startswith("svc_canary 1.1.0+slowclose: regression: coefficient closed rose")
