"""Ordinary least squares with inference, an optional outlier-robust pre-pass, VIF and headroom.

The fit is OLS (coefficients, standard errors, 95% intervals, p-values, R²) from the normal
equations of standardised features and scipy's t distribution, checked number for number against
statsmodels' OLS in the tests (``engine="statsmodels"`` runs statsmodels itself, at several times the
cost); the robust option uses scikit-learn's Huber or RANSAC only to find outliers, which are then
left out of the OLS so the report keeps its inference.

Standard errors are autocorrelation-robust by default (``cov_type: HAC``, Newey-West with Bartlett
weights, as statsmodels' ``cov_type="HAC"`` with ``use_correction=True``): PromQL rates over a
``[1m]`` window sampled every 15 s share most of their data with their neighbours, so consecutive
residuals are strongly correlated and the classical (iid) standard errors are several times too
small; intervals, p-values, gates and drift decisions built on them would cry wolf. The lag window
comes from the spec (:meth:`CapacitySpec.hac_lags_for`). ``cov_type: nonrobust`` gives the classical ones.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from airflow_wecube.capacity.dataset import Dataset
from airflow_wecube.capacity.errors import DatasetError
from airflow_wecube.capacity.ols import ols_fast
from airflow_wecube.capacity.spec import TARGET, CapacitySpec, counter_hint
from airflow_wecube.util.durations import parse_duration

INTERCEPT = "intercept"
VIF_WARNING = 10.0


@dataclass
class FitResult:
    """The outcome of one fit; :meth:`to_dict` is what the store and reports keep."""

    model: str
    features: list[str]
    coefficients: dict[str, dict[str, float]]
    intercept: dict[str, float]
    r2: float
    adj_r2: float
    resid_std: float
    n: int
    vif: dict[str, float]
    formula: str
    start: str | None
    end: str | None
    robust: dict[str, Any]
    headroom: dict[str, Any] | None
    stats: dict[str, Any]
    inference: dict[str, Any] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)
    target_constant: bool = False
    hints: list[str] = field(default_factory=list)
    fitted: pd.Series | None = field(default=None, repr=False)
    actual: pd.Series | None = field(default=None, repr=False)

    def to_dict(self) -> dict[str, Any]:
        return {
            "model": self.model,
            "features": list(self.features),
            "coefficients": self.coefficients,
            "intercept": self.intercept,
            "r2": self.r2,
            "adj_r2": self.adj_r2,
            "resid_std": self.resid_std,
            "n": self.n,
            "vif": self.vif,
            "formula": self.formula,
            "start": self.start,
            "end": self.end,
            "robust": self.robust,
            "headroom": self.headroom,
            "inference": self.inference,
            "warnings": list(self.warnings),
            "target_constant": self.target_constant,
            "hints": list(self.hints),
            "stats": self.stats,
        }


def format_number(value: float, digits: int = 3) -> str:
    """``value`` with ``digits`` significant digits in plain notation (0.145, 0.005, 12.5, 1234)."""
    if value == 0 or not math.isfinite(value):
        return "0" if value == 0 else str(value)
    decimals = max(0, digits - 1 - int(math.floor(math.log10(abs(value)))))
    text = f"{value:.{decimals}f}"
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return text


def formula_text(target_label: str, coefficients: dict[str, float], intercept: float) -> str:
    """The model in WeCube's form: ``cpu% = 0.145*accounts_opened + 0.267*accounts_closed + 0.005``."""
    parts: list[str] = []
    for name, value in coefficients.items():
        term = f"{format_number(abs(value))}*{name}"
        parts.append(("- " if value < 0 else "+ ") + term if parts else ("-" if value < 0 else "") + term)
    b0 = format_number(abs(intercept))
    parts.append(("- " if intercept < 0 else "+ ") + b0)
    return f"{target_label} = " + " ".join(parts)


def vif(X: np.ndarray, names: list[str]) -> dict[str, float]:
    """Variance inflation factors: the diagonal of the inverse correlation matrix of the features."""
    if X.shape[1] == 1:
        return {names[0]: 1.0}
    corr = np.corrcoef(X, rowvar=False)
    try:
        inv = np.linalg.inv(corr)
        values = np.diag(inv)
    except np.linalg.LinAlgError:
        values = np.full(len(names), np.inf)
    return {n: (float(v) if np.isfinite(v) and v > 0 else math.inf) for n, v in zip(names, values, strict=False)}


def _outlier_mask(X: np.ndarray, y: np.ndarray, method: str) -> np.ndarray:
    """True for rows the robust regressor treats as inliers."""
    if method == "huber":
        from sklearn.linear_model import HuberRegressor

        scale = X.std(axis=0)
        scale[scale == 0] = 1.0
        reg = HuberRegressor(epsilon=1.35, alpha=0.0, max_iter=500).fit(X / scale, y)
        return ~reg.outliers_
    if method == "ransac":
        from sklearn.linear_model import LinearRegression, RANSACRegressor

        reg = RANSACRegressor(LinearRegression(), random_state=0).fit(X, y)
        return reg.inlier_mask_
    raise ValueError(f"unknown robust method {method!r}")


def fit_model(
    dataset: Dataset,
    spec: CapacitySpec,
    *,
    engine: str = "fast",
    cov_type: str | None = None,
    hac_lags: int | None = None,
) -> FitResult:
    """Fit ``target ~ features`` by OLS and collect the inference the report shows.

    :param engine: ``"fast"`` (default, numpy/scipy on standardised features) or ``"statsmodels"``
        (``statsmodels.OLS``); both give the same coefficients, standard errors, intervals, p-values and R²
    :param cov_type: ``"HAC"`` or ``"nonrobust"``; default the spec's ``cov_type`` (to compare both on one dataset)
    :param hac_lags: Newey-West lag window; default from the spec (:meth:`CapacitySpec.hac_lags_for`)

    :raises DatasetError: when the features are perfectly collinear (the fit is not identifiable)
    """
    names = dataset.features
    X = dataset.X.to_numpy(dtype="float64")
    y = dataset.y.to_numpy(dtype="float64")
    index = dataset.y.index
    warnings = list(dataset.notes)
    hints = counter_hints(spec, y)
    warnings += hints

    robust: dict[str, Any] = {"method": spec.robust, "outliers": 0}
    if spec.robust != "none":
        mask = _outlier_mask(X, y, spec.robust)
        dropped = int((~mask).sum())
        if mask.sum() <= len(names) + 1:
            raise DatasetError(f"model {spec.name}: the {spec.robust} pass kept only {int(mask.sum())} inliers")
        robust["outliers"] = dropped
        if dropped:
            warnings.append(f"{spec.robust} left out {dropped} outlier(s) of {len(y)} samples")
        X, y, index = X[mask], y[mask], index[mask]

    n, k = X.shape
    cov_type = cov_type or spec.cov_type
    if cov_type not in ("HAC", "nonrobust"):
        raise ValueError(f"unknown cov_type {cov_type!r} (HAC or nonrobust)")
    inference: dict[str, Any] = {"cov_type": cov_type, "distribution": f"t({n - k - 1})"}
    maxlags = None
    if cov_type == "HAC":
        lag_info = spec.hac_lags_for(n)
        if hac_lags is not None:
            lag_info.update(maxlags=max(0, min(int(hac_lags), n - 1)), source="argument")
        maxlags = lag_info["maxlags"]
        inference.update(kernel="bartlett", small_sample_correction=True, **lag_info)
        inference["description"] = (
            f"HAC (Newey-West, Bartlett kernel), {maxlags} lag(s) of {spec.step} "
            f"({_lag_reason(lag_info)}), small-sample factor n/(n-p)"
        )
    else:
        inference["description"] = "classical (nonrobust): assume independent, equal-variance residuals"
    if engine == "statsmodels":
        import statsmodels.api as sm

        design = np.column_stack([np.ones(n), X])
        model = sm.OLS(y, design, hasconst=True)
        if maxlags is None:
            res = model.fit()
        else:
            res = model.fit(cov_type="HAC", cov_kwds={"maxlags": maxlags, "use_correction": True}, use_t=True)
        rank = int(res.model.rank)
        ols = {
            "params": np.asarray(res.params),
            "bse": np.asarray(res.bse),
            "ci": np.asarray(res.conf_int(alpha=0.05)),
            "pvalues": np.asarray(res.pvalues),
            "r2": float(res.rsquared),
            "adj_r2": float(res.rsquared_adj),
            "scale": float(res.scale),
            "ssr": float(res.ssr),
            "xtx": design.T @ design,
            "xty": design.T @ y,
            "cov": np.asarray(res.cov_params()),
        }
    elif engine == "fast":
        ols = ols_fast(X, y, maxlags)
        rank = ols["rank"]
    else:
        raise ValueError(f"unknown engine {engine!r}")
    if rank < k + 1:
        raise DatasetError(
            f"model {spec.name}: the features {names} are perfectly collinear (rank {rank} < {k + 1}); drop one of them"
        )
    params, bse, ci, pvalues = ols["params"], ols["bse"], ols["ci"], ols["pvalues"]

    def entry(i: int) -> dict[str, float]:
        return {
            "value": float(params[i]),
            "std_err": float(bse[i]),
            "ci_low": float(ci[i, 0]),
            "ci_high": float(ci[i, 1]),
            "p_value": float(pvalues[i]),
        }

    coefficients = {name: entry(i + 1) for i, name in enumerate(names)}
    intercept = entry(0)
    vifs = {nm: float(v) for nm, v in zip(names, ols["vif"], strict=False)} if "vif" in ols else vif(X, names)
    for name, v in vifs.items():
        if v > VIF_WARNING:
            warnings.append(
                f"collinearity: VIF of {name!r} is {v:.1f} (> {VIF_WARNING:g}); its coefficient is unstable "
                "because other features move with it"
            )
    resid_std = float(math.sqrt(ols["scale"]))
    fitted = pd.Series(np.einsum("ij,j->i", X, params[1:]) + params[0], index=index, name="predicted")
    actual = pd.Series(y, index=index, name="actual")

    target_label = spec.target_label or spec.name
    formula = formula_text(target_label, {n_: c["value"] for n_, c in coefficients.items()}, intercept["value"])
    headroom = compute_headroom(spec, dataset, coefficients, intercept["value"]) if spec.limit is not None else None

    stats = {
        # sufficient statistics of the design (intercept first): enough for a Chow test later
        "xtx": np.asarray(ols["xtx"]).tolist(),
        "xty": np.asarray(ols["xty"]).tolist(),
        "yty": float(np.einsum("i,i->", y, y)),
        "ssr": ols["ssr"],
        "n": int(n),
        # covariance of (intercept, coefficients) as the inference used it: enough for a robust Wald test later
        "cov": np.asarray(ols["cov"]).tolist(),
        "cov_type": cov_type,
    }
    return FitResult(
        model=spec.name,
        features=list(names),
        coefficients=coefficients,
        intercept=intercept,
        r2=ols["r2"],
        adj_r2=ols["adj_r2"],
        resid_std=resid_std,
        n=int(n),
        vif=vifs,
        formula=formula,
        start=index[0].isoformat() if n else None,
        end=index[-1].isoformat() if n else None,
        robust=robust,
        headroom=headroom,
        stats=stats,
        inference=inference,
        warnings=warnings,
        target_constant=dataset.target_constant,
        hints=hints,
        fitted=fitted,
        actual=actual,
    )


def counter_hints(spec: CapacitySpec, y: np.ndarray) -> list[str]:
    """Hints for a counter used where a rate belongs: by the PromQL (``x_total`` outside a range
    selector) and, for the target, by the data (it only ever rises over the whole window)."""
    hints = []
    for name, query in spec.queries().items():
        hint = counter_hint(query)
        if hint:
            hints.append(("the target's " if name == TARGET else f"feature {name!r}: ") + hint)
    if not any(h.startswith("the target") for h in hints) and len(y) > 2:
        diffs = np.diff(y)
        if np.all(diffs >= 0) and np.count_nonzero(diffs) >= len(diffs) / 2:
            plain = re.fullmatch(r"[a-zA-Z_:][a-zA-Z0-9_:]*(?:\{[^{}]*\})?", spec.target)
            rate = f"rate({spec.target}[5m])" if plain else "rate(...) of its counter"
            hints.append(f"the target only ever rises over the window, like a counter: did you mean {rate}?")
    return hints


def _lag_reason(info: dict[str, Any]) -> str:
    if info["source"] in ("spec", "argument"):
        return f"set by {'the spec' if info['source'] == 'spec' else 'the caller'}"
    rng = (
        f"largest PromQL range {info['largest_range']} = {info['range_lags']} step(s)"
        if info["largest_range"]
        else "no range selector in the PromQL"
    )
    return f"{rng}; rule of thumb for n: {info['rule_of_thumb']}"


def compute_headroom(
    spec: CapacitySpec, dataset: Dataset, coefficients: dict[str, dict[str, float]], intercept: float
) -> dict[str, Any]:
    """Business volume left until the predicted target reaches ``spec.limit``.

    "Current" is the mean of the last ``headroom_lookback`` of the window. ``scale`` is how many
    times today's mix of transactions fits under the limit (1.0 = at the limit); ``per_feature``
    is how much one feature alone could grow (in its own units) with the others held.
    """
    limit = float(spec.limit)  # type: ignore[arg-type]
    end = dataset.X.index[-1]
    recent = dataset.X[dataset.X.index > end - parse_duration(spec.headroom_lookback)]
    if recent.empty:
        recent = dataset.X.iloc[-1:]
    current = {name: float(recent[name].mean()) for name in dataset.features}
    variable = sum(coefficients[n]["value"] * current[n] for n in current)
    predicted_now = intercept + variable
    out: dict[str, Any] = {
        "limit": limit,
        "current": current,
        "predicted_now": predicted_now,
        "scale": None,
        "growth_pct": None,
        "per_feature": {},
    }
    if variable > 0:
        scale = (limit - intercept) / variable
        out["scale"] = scale
        out["growth_pct"] = (scale - 1.0) * 100.0
    for name in current:
        b = coefficients[name]["value"]
        out["per_feature"][name] = (limit - predicted_now) / b if b > 0 else None
    return out
