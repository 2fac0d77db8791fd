from __future__ import annotations

import numpy as np
import pytest

from airflow_wecube.capacity.dataset import build_dataset
from airflow_wecube.capacity.drift import chow_test, compare
from airflow_wecube.capacity.fit import fit_model
from airflow_wecube.capacity.spec import DriftThresholds, load_spec

from .synth import SPEC, make_frame


def _fit(frame, **changes):
    spec = load_spec({**SPEC, **changes})
    return fit_model(build_dataset(frame, spec), spec).to_dict()


@pytest.fixture(scope="module")
def baseline():
    return _fit(make_frame(10080, seed=0))


def test_same_model_new_window_is_no_drift(baseline):
    new = _fit(make_frame(1440, seed=11))
    report = compare(baseline, new, DriftThresholds(), baseline_version="v1")
    assert not report["found"], report["messages"]
    assert report["chow"]["applicable"] and report["chow"]["p_value"] > 0.001
    assert all(not r["moved"] and r["ci_overlap"] for r in report["coefficients"])


def test_closing_an_account_got_dearer(baseline):
    new = _fit(make_frame(1440, seed=12, closed_coef=0.35))
    report = compare(baseline, new, DriftThresholds(), baseline_version="v1")
    assert report["found"]
    moved = {r["name"]: r for r in report["coefficients"] if r["moved"]}
    assert set(moved) == {"accounts_closed"}
    row = moved["accounts_closed"]
    assert row["old"] == pytest.approx(0.267, abs=0.002) and row["new"] == pytest.approx(0.35, abs=0.003)
    assert row["relative_change"] == pytest.approx(0.31, abs=0.02)
    assert row["p_value"] < 1e-10 and not row["ci_overlap"]
    assert report["chow"]["drift"] and report["chow"]["p_value"] < 1e-10
    text = " ".join(report["messages"])
    assert "accounts_closed: 0.267 → 0.35" in text and "Chow test" in text


def test_relative_threshold_alone(baseline):
    # intervals ignored: only a relative change over 50% counts; 0.267 -> 0.35 is 31%
    new = _fit(make_frame(1440, seed=12, closed_coef=0.35))
    t = DriftThresholds(max_relative_change=0.5, require_ci_overlap=False, chow_alpha=None)
    report = compare(baseline, new, t)
    assert not report["found"], report["messages"]
    assert report["chow"]["applicable"] and not report["chow"]["drift"]


def test_r2_drop_means_a_missing_factor(baseline):
    frame = make_frame(1440, seed=13)
    hidden = np.random.default_rng(5).uniform(0, 40, len(frame))
    frame["__target__"] += 0.5 * hidden  # a batch job the model does not know about
    new = _fit(frame)
    report = compare(baseline, new, DriftThresholds(require_ci_overlap=False, max_relative_change=10, chow_alpha=None))
    assert report["found"] and report["r2"]["drift"]
    assert report["r2"]["drop"] > 0.1
    assert any("R² fell" in m for m in report["messages"])


def test_new_factor_is_drift(baseline):
    frame = make_frame(1440, seed=14)
    frame["transfers"] = np.random.default_rng(6).uniform(0, 10, len(frame))
    new = _fit(frame, features={**SPEC["features"], "transfers": "transfers"})
    report = compare(baseline, new, DriftThresholds())
    assert report["found"] and report["new_factors"] == ["transfers"]
    assert not report["chow"]["applicable"]
    assert "new factor 'transfers'" in report["messages"][0]


def test_chow_matches_the_textbook_statistic():
    import statsmodels.api as sm

    a, b = make_frame(600, seed=1), make_frame(400, seed=2, closed_coef=0.28)
    fa, fb = _fit(a), _fit(b)
    res = chow_test(fa["stats"], fb["stats"])
    both = a.__class__(np.vstack([a.to_numpy(), b.to_numpy()]), columns=a.columns)
    X = sm.add_constant(both[["accounts_opened", "accounts_closed"]].to_numpy())
    ssr_p = sm.OLS(both["__target__"].to_numpy(), X).fit().ssr
    ssr_s = fa["stats"]["ssr"] + fb["stats"]["ssr"]
    expected = ((ssr_p - ssr_s) / 3) / (ssr_s / (1000 - 6))
    assert res["f"] == pytest.approx(expected, rel=1e-6)
    assert res["df1"] == 3 and res["df2"] == 994
