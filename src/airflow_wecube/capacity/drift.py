"""Drift of a new fit against the accepted baseline.

Three signals, each reported with its numbers:

* a **coefficient moved**: its 95% interval no longer overlaps the baseline's, or its relative
  change passes ``max_relative_change`` (the intercept is judged on interval overlap only, since a
  relative change of a near-zero intercept means nothing); the report gives old → new, the change,
  and a z-test of the difference;
* a **Chow-type test** across the two windows (same features): do both windows share one model?
  With HAC fits (the default) it is a Wald test of equal coefficients,
  ``W = (b_new - b_base)' (V_new + V_base)^-1 (b_new - b_base)`` with each window's HAC covariance,
  χ² with p degrees of freedom (p = features + intercept): the classical Chow F assumes independent
  residuals of equal variance in both windows and, on autocorrelated rate data, finds "drift" between
  two windows of one unchanged system. With ``cov_type: nonrobust`` fits it is the classical Chow F.
  Both are computed from statistics stored with each fit, so the baseline's raw data is not needed;
  the classical F is always reported beside the robust test for comparison;
* an **R² drop** beyond ``max_r2_drop``: the target now moves with something the model lacks.

A factor added to or removed from the spec is reported as drift too.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from airflow_wecube.capacity.fit import INTERCEPT, format_number
from airflow_wecube.capacity.spec import DriftThresholds


def _p_two_sided(z: float) -> float:
    return math.erfc(abs(z) / math.sqrt(2.0))


def chow_test(base_stats: dict[str, Any], new_stats: dict[str, Any]) -> dict[str, Any]:
    """Chow F-test of one model for both windows against a model per window."""
    from scipy import stats as sps

    xtx1, xtx2 = np.asarray(base_stats["xtx"]), np.asarray(new_stats["xtx"])
    xty1, xty2 = np.asarray(base_stats["xty"]), np.asarray(new_stats["xty"])
    if xtx1.shape != xtx2.shape:
        return {"applicable": False, "reason": "the two fits have different features"}
    k = xtx1.shape[0]
    n1, n2 = int(base_stats["n"]), int(new_stats["n"])
    dof = n1 + n2 - 2 * k
    if dof <= 0:
        return {"applicable": False, "reason": "too few samples"}
    xtx, xty = xtx1 + xtx2, xty1 + xty2
    yty = float(base_stats["yty"]) + float(new_stats["yty"])
    try:
        beta = np.linalg.solve(xtx, xty)
    except np.linalg.LinAlgError:
        return {"applicable": False, "reason": "pooled design is singular"}
    ssr_pooled = max(yty - float(beta @ xty), 0.0)
    ssr_split = float(base_stats["ssr"]) + float(new_stats["ssr"])
    if ssr_split <= 0:
        return {"applicable": False, "reason": "zero residuals"}
    f = max(ssr_pooled - ssr_split, 0.0) / k / (ssr_split / dof)
    return {"applicable": True, "f": float(f), "df1": k, "df2": dof, "p_value": float(sps.f.sf(f, k, dof))}


def _aligned(fit: dict[str, Any], names: list[str]) -> tuple[np.ndarray, np.ndarray]:
    """(intercept, coefficients in ``names`` order) and their covariance from a stored fit."""
    order = [0] + [1 + list(fit["features"]).index(n) for n in names]
    params = np.array([fit["intercept"]["value"]] + [fit["coefficients"][n]["value"] for n in names])
    cov = np.asarray(fit["stats"]["cov"], dtype=float)[np.ix_(order, order)]
    return params, cov


def wald_equality_test(baseline: dict[str, Any], new: dict[str, Any]) -> dict[str, Any]:
    """Wald test that both windows share one coefficient vector (intercept included), robust to autocorrelation.

    ``W = d' (V_base + V_new)^-1 d`` with ``d`` the difference of the coefficient vectors and ``V``
    each fit's stored covariance (HAC unless the fit was ``nonrobust``); the windows do not overlap, so
    their estimates are independent. Under one model for both, W is χ² with p degrees of freedom.
    """
    from scipy import stats as sps

    names = list(baseline.get("coefficients", {}))
    if sorted(names) != sorted(new.get("coefficients", {})):
        return {"applicable": False, "reason": "the two fits have different features"}
    if "cov" not in baseline.get("stats", {}) or "cov" not in new.get("stats", {}):
        return {"applicable": False, "reason": "a fit stored no covariance matrix (fitted by an older version)"}
    b1, v1 = _aligned(baseline, names)
    b2, v2 = _aligned(new, names)
    d = b2 - b1
    v = v1 + v2
    if not np.all(np.isfinite(v)) or not np.all(np.isfinite(d)):
        return {"applicable": False, "reason": "non-finite coefficients or covariance"}
    try:
        w = float(d @ np.linalg.solve(v, d))
    except np.linalg.LinAlgError:
        return {"applicable": False, "reason": "the summed covariance is singular"}
    k = len(d)
    return {
        "applicable": True,
        "statistic": w,
        "df": k,
        "f": w / k,
        "p_value": float(sps.chi2.sf(w, k)),
        "cov_types": [baseline["stats"].get("cov_type", "nonrobust"), new["stats"].get("cov_type", "nonrobust")],
    }


def structural_break_test(baseline: dict[str, Any], new: dict[str, Any]) -> dict[str, Any]:
    """The test drift decisions use, with the classical Chow F beside it for comparison.

    HAC on either side (and both covariances stored): :func:`wald_equality_test` (``method: "wald"``);
    otherwise the classical :func:`chow_test` (``method: "chow_f"``), exact for independent residuals.
    """
    classical = chow_test(baseline["stats"], new["stats"])
    cov_types = {baseline["stats"].get("cov_type", "nonrobust"), new["stats"].get("cov_type", "nonrobust")}
    if "HAC" in cov_types:
        wald = wald_equality_test(baseline, new)
        if wald["applicable"]:
            return {**wald, "method": "wald", "classical": classical}
        return {
            **classical,
            "method": "chow_f",
            "classical": classical,
            "fallback": f"robust test not possible ({wald['reason']}): classical Chow F used",
        }
    return {**classical, "method": "chow_f", "classical": classical}


def compare(
    baseline: dict[str, Any], new: dict[str, Any], thresholds: DriftThresholds, *, baseline_version: str | None = None
) -> dict[str, Any]:
    """Compare fit dicts (:meth:`FitResult.to_dict`) and say what drifted, by how much, how significantly.

    :return: ``{"found", "baseline_version", "messages", "coefficients", "new_factors",
        "dropped_factors", "chow", "r2"}``
    """
    messages: list[str] = []
    rows: list[dict[str, Any]] = []
    base_coefs = {**baseline["coefficients"], INTERCEPT: baseline["intercept"]}
    new_coefs = {**new["coefficients"], INTERCEPT: new["intercept"]}
    new_factors = [n for n in new["coefficients"] if n not in baseline["coefficients"]]
    dropped = [n for n in baseline["coefficients"] if n not in new["coefficients"]]
    for name in new_factors:
        messages.append(
            f"new factor {name!r} (coefficient {format_number(new_coefs[name]['value'])}) is not in the baseline"
        )
    for name in dropped:
        messages.append(f"factor {name!r} of the baseline is gone from the model")

    for name in [n for n in new_coefs if n in base_coefs]:
        old, cur = base_coefs[name], new_coefs[name]
        change = cur["value"] - old["value"]
        rel = change / abs(old["value"]) if old["value"] != 0 else math.inf if change else 0.0
        overlap = not (cur["ci_low"] > old["ci_high"] or cur["ci_high"] < old["ci_low"])
        se = math.hypot(old.get("std_err", 0.0), cur.get("std_err", 0.0))
        z = change / se if se > 0 else (math.inf if change else 0.0)
        reasons = []
        if thresholds.require_ci_overlap and not overlap:
            reasons.append("interval no longer overlaps the baseline's")
        if name != INTERCEPT and abs(rel) > thresholds.max_relative_change:
            reasons.append(f"relative change above {thresholds.max_relative_change:g}")
        row = {
            "name": name,
            "old": old["value"],
            "new": cur["value"],
            "change": change,
            "relative_change": rel if math.isfinite(rel) else None,
            "old_ci": [old["ci_low"], old["ci_high"]],
            "new_ci": [cur["ci_low"], cur["ci_high"]],
            "ci_overlap": overlap,
            "z": z if math.isfinite(z) else None,
            "p_value": _p_two_sided(z) if math.isfinite(z) else 0.0,
            "moved": bool(reasons),
            "reasons": reasons,
        }
        rows.append(row)
        if reasons:
            pct = f"{rel * 100:+.1f}%" if math.isfinite(rel) else "new from 0"
            messages.append(
                f"{name}: {format_number(old['value'])} → {format_number(cur['value'])} ({pct}, "
                f"z={row['z'] if row['z'] is None else round(row['z'], 1)}, p={row['p_value']:.2g}): "
                + "; ".join(reasons)
                + f" [new 95% CI {format_number(cur['ci_low'])}..{format_number(cur['ci_high'])}, "
                f"baseline {format_number(old['ci_low'])}..{format_number(old['ci_high'])}]"
            )

    chow = (
        structural_break_test(baseline, new)
        if not new_factors and not dropped
        else {"applicable": False, "method": None, "reason": "the two fits have different features"}
    )
    chow_drift = bool(
        chow.get("applicable") and thresholds.chow_alpha is not None and chow["p_value"] < thresholds.chow_alpha
    )
    chow["drift"] = chow_drift
    if chow_drift:
        if chow["method"] == "wald":
            stat = f"Wald χ²={chow['statistic']:.1f}, df={chow['df']}"
            what = f"Chow test (Wald test of equal coefficients, {'/'.join(chow['cov_types'])} covariances)"
        else:
            stat = f"F={chow['f']:.1f}"
            what = "Chow test (classical F, iid residuals)"
        messages.append(
            f"{what}: one model does not fit both windows ({stat}, p={chow['p_value']:.2g} < {thresholds.chow_alpha:g})"
        )

    r2_drop = float(baseline["r2"]) - float(new["r2"])
    r2 = {"old": baseline["r2"], "new": new["r2"], "drop": r2_drop, "drift": r2_drop > thresholds.max_r2_drop}
    if r2["drift"]:
        messages.append(
            f"R² fell {baseline['r2']:.3f} → {new['r2']:.3f} (drop {r2_drop:.3f} > {thresholds.max_r2_drop:g}): "
            "a factor the model lacks now drives the target"
        )

    notes: list[str] = []
    base_cov, new_cov = (
        (baseline.get("inference") or {}).get("cov_type", "nonrobust"),
        (new.get("inference") or {}).get("cov_type", "nonrobust"),
    )
    if base_cov != new_cov:
        notes.append(
            f"the baseline's standard errors are {base_cov}, the new fit's {new_cov}: intervals and tests mix "
            "both; accept a fresh fit to compare like with like"
        )
    found = bool(new_factors or dropped or any(r["moved"] for r in rows) or chow_drift or r2["drift"])
    return {
        "found": found,
        "baseline_version": baseline_version,
        "messages": messages,
        "coefficients": rows,
        "new_factors": new_factors,
        "dropped_factors": dropped,
        "chow": chow,
        "r2": r2,
        "standard_errors": {"baseline": base_cov, "new": new_cov},
        "notes": notes,
    }
