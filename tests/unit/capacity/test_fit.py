from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from airflow_wecube.capacity.dataset import build_dataset
from airflow_wecube.capacity.errors import DatasetError
from airflow_wecube.capacity.fit import fit_model, format_number, formula_text
from airflow_wecube.capacity.spec import load_spec

from .synth import SPEC, TRUE, TRUE_INTERCEPT, make_frame


def _fit(frame, **spec_changes):
    spec = load_spec({**SPEC, **spec_changes})
    return fit_model(build_dataset(frame, spec), spec)


def test_seed_model_recovered_with_inference():
    fit = _fit(make_frame())
    for name, true in TRUE.items():
        c = fit.coefficients[name]
        assert c["ci_low"] <= true <= c["ci_high"], (name, c)
        assert c["p_value"] < 1e-10 and c["std_err"] > 0
    assert fit.intercept["ci_low"] <= TRUE_INTERCEPT <= fit.intercept["ci_high"]
    assert 0.98 < fit.r2 <= 1 and fit.adj_r2 <= fit.r2
    assert fit.n == 10080
    assert abs(fit.resid_std - 0.5) < 0.02
    assert all(v < 2 for v in fit.vif.values())
    assert fit.formula.startswith("cpu% = 0.145*accounts_opened + 0.267*accounts_closed ")
    assert fit.to_dict()["stats"]["n"] == fit.n


def test_formula_text_in_the_seed_form():
    assert formula_text("cpu%", {"accounts_opened": 0.145, "accounts_closed": 0.267}, 0.005) == (
        "cpu% = 0.145*accounts_opened + 0.267*accounts_closed + 0.005"
    )
    assert formula_text("mem", {"a": -1.5, "b": 2}, -3) == "mem = -1.5*a + 2*b - 3"
    assert format_number(1234.5) == "1234" or format_number(1234.5) == "1235"
    assert format_number(0.00012345) == "0.000123"


def test_gaps_are_dropped_not_filled():
    frame = make_frame(2000)
    frame.iloc[100:150, 1] = np.nan
    frame.iloc[300, 0] = np.inf
    spec = load_spec(SPEC)
    ds = build_dataset(frame, spec)
    assert ds.n == 2000 - 51 and ds.rows_dropped == 51
    assert "dropped 51 of 2000 rows" in ds.notes[0]


def test_constant_feature_is_a_clear_error():
    frame = make_frame(2000, extra={"frozen": np.full(2000, 5.0)})
    spec = load_spec({**SPEC, "features": {**SPEC["features"], "frozen": "accounts_frozen"}})
    with pytest.raises(DatasetError, match="feature 'frozen' is constant"):
        build_dataset(frame, spec)


def test_too_few_rows_and_missing_column():
    spec = load_spec(SPEC)
    with pytest.raises(DatasetError, match="only 3 aligned sample"):
        build_dataset(make_frame(3), spec)
    with pytest.raises(DatasetError, match="lacks column"):
        build_dataset(make_frame(100).drop(columns=["accounts_closed"]), spec)
    with pytest.raises(DatasetError, match="DatetimeIndex"):
        build_dataset(make_frame(100).reset_index(drop=True), spec)


def test_collinearity_warns_and_perfect_collinearity_fails():
    frame = make_frame(3000)
    rng = np.random.default_rng(1)
    frame["twin"] = frame["accounts_opened"] * 2 + rng.normal(0, 0.5, len(frame))
    fit = _fit(frame, features={**SPEC["features"], "twin": "twin"})
    assert fit.vif["twin"] > 10 and fit.vif["accounts_opened"] > 10
    assert any("collinearity" in w and "twin" in w for w in fit.warnings)
    frame["twin"] = frame["accounts_opened"] * 2
    with pytest.raises(DatasetError, match="perfectly collinear"):
        _fit(frame, features={**SPEC["features"], "twin": "twin"})


@pytest.mark.parametrize("method", ["huber", "ransac"])
def test_robust_option_leaves_outliers_out(method):
    frame = make_frame(4000, seed=3)
    spikes = np.random.default_rng(4).choice(len(frame), 80, replace=False)
    frame.iloc[spikes, 0] += 60  # e.g. a backup job burning CPU
    plain = _fit(frame)
    robust = _fit(frame, robust=method)
    true = TRUE["accounts_closed"]
    assert (
        abs(robust.coefficients["accounts_closed"]["value"] - true)
        < abs(plain.coefficients["accounts_closed"]["value"] - true)
        or robust.resid_std < plain.resid_std / 3
    )
    assert robust.robust["outliers"] >= 80
    for name, t in TRUE.items():
        c = robust.coefficients[name]
        assert c["ci_low"] - 3 * c["std_err"] <= t <= c["ci_high"] + 3 * c["std_err"]
    assert any(method in w for w in robust.warnings)


def test_headroom_until_the_limit():
    fit = _fit(make_frame())
    h = fit.headroom
    b = {n: fit.coefficients[n]["value"] for n in TRUE}
    variable = sum(b[n] * h["current"][n] for n in b)
    assert h["predicted_now"] == pytest.approx(fit.intercept["value"] + variable)
    # at `scale` times today's volume the prediction meets the limit
    assert fit.intercept["value"] + h["scale"] * variable == pytest.approx(80)
    for n in b:
        assert h["predicted_now"] + b[n] * h["per_feature"][n] == pytest.approx(80)
    assert _fit(make_frame(), limit=None).headroom is None


def test_timezone_naive_index_is_taken_as_utc():
    frame = make_frame(500)
    frame.index = frame.index.tz_localize(None)
    ds = build_dataset(frame, load_spec(SPEC))
    assert str(ds.y.index.tz) == "UTC"
    assert isinstance(ds.start, pd.Timestamp)


@pytest.mark.parametrize(("cov_type", "hac_lags"), [("nonrobust", None), ("HAC", None), ("HAC", 0), ("HAC", 25)])
def test_fast_engine_matches_statsmodels(cov_type, hac_lags):
    import statsmodels.api as sm

    frame = make_frame(3000, seed=21)
    spec = load_spec(SPEC)
    ds = build_dataset(frame, spec)
    fast = fit_model(ds, spec, cov_type=cov_type, hac_lags=hac_lags).to_dict()
    ref = fit_model(ds, spec, engine="statsmodels", cov_type=cov_type, hac_lags=hac_lags).to_dict()
    model = sm.OLS(ds.y.to_numpy(), sm.add_constant(ds.X.to_numpy()))
    if cov_type == "HAC":
        lags = fast["inference"]["maxlags"]
        assert lags == (hac_lags if hac_lags is not None else spec.hac_lags_for(ds.n)["maxlags"])
        res = model.fit(cov_type="HAC", cov_kwds={"maxlags": lags, "use_correction": True}, use_t=True)
    else:
        res = model.fit()
    assert fast["inference"]["cov_type"] == ref["inference"]["cov_type"] == cov_type
    assert fast["r2"] == pytest.approx(res.rsquared, rel=1e-9) and fast["adj_r2"] == pytest.approx(
        res.rsquared_adj, rel=1e-9
    )
    for i, name in enumerate(["intercept", *SPEC["features"]]):
        a = fast["intercept"] if name == "intercept" else fast["coefficients"][name]
        b = ref["intercept"] if name == "intercept" else ref["coefficients"][name]
        for key in ("value", "std_err", "ci_low", "ci_high"):
            assert a[key] == pytest.approx(b[key], rel=1e-9, abs=1e-12), (name, key)
        assert a["p_value"] == pytest.approx(b["p_value"], rel=1e-6, abs=1e-300)
        assert a["std_err"] == pytest.approx(float(res.bse[i]), rel=1e-9)
        assert a["p_value"] == pytest.approx(float(res.pvalues[i]), rel=1e-6, abs=1e-300)
    assert np.asarray(fast["stats"]["cov"]) == pytest.approx(np.asarray(res.cov_params()), rel=1e-9, abs=1e-15)
    assert fast["resid_std"] == pytest.approx(ref["resid_std"], rel=1e-9)
    for i, row in enumerate(fast["stats"]["xtx"]):
        assert row == pytest.approx(ref["stats"]["xtx"][i], rel=1e-9)
    assert fast["stats"]["ssr"] == pytest.approx(res.ssr, rel=1e-9)
    with pytest.raises(ValueError, match="unknown engine"):
        fit_model(ds, spec, engine="R")
    with pytest.raises(ValueError, match="unknown cov_type"):
        fit_model(ds, spec, cov_type="HC3")
