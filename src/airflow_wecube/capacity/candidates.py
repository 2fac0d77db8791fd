"""Testing a spec's ``candidates``: factors not in the model that may belong in it.

The added-variable test: refit the target on the features plus the candidate (and the other
candidates, so that a factor the model misses is not credited to an unrelated series by chance),
over the rows where all of them are present, and ask whether the candidate's coefficient
is significant (its p-value, on the spec's ``cov_type`` standard errors: HAC with the spec's lag
window by default) and whether it explains a real share more of the target (the R² gain over the
features alone, on the same rows). A candidate that is both is a **new factor**: the model misses a
business operation that costs (the demo's ``+transfers`` build).

A candidate that cannot be tested says why instead of failing the others: ``missing`` (no such
column), ``constant`` (no variance in the window: e.g. transfers never happened, so they cannot
explain anything), ``collinear`` (a combination of the features: no information of its own), or
``too_few`` (fewer rows than the fit needs).

Pure (numpy and the package's OLS), no Airflow: the capacity probe calls it on the frame it
fetched with :meth:`CapacitySpec.candidate_queries`.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from airflow_wecube.capacity.ols import ols_fast
from airflow_wecube.capacity.spec import TARGET, CapacitySpec

#: the R² gain (absolute) a significant candidate must bring to count as a new factor
MIN_R2_GAIN = 0.02


def _fit(spec: CapacitySpec, X: np.ndarray, y: np.ndarray) -> dict[str, Any]:
    maxlags = spec.hac_lags_for(len(y))["maxlags"] if spec.cov_type == "HAC" else None
    return ols_fast(X, y, maxlags)


def candidate_test(
    spec: CapacitySpec,
    frame,
    name: str,
    *,
    others: list[str] | tuple[str, ...] = (),
    alpha: float | None = None,
    min_r2_gain: float = MIN_R2_GAIN,
) -> dict[str, Any]:
    """The added-variable test of one candidate column of ``frame`` (see the module docstring).

    :param frame: a pandas frame with the columns ``__target__``, every feature and ``name``
    :param others: other candidates kept in both fits (so that a factor the model misses is not
        credited to ``name`` by chance): ``name`` is tested on what they leave unexplained
    :param alpha: significance level (default: the spec's ``gates.max_p_value``)
    :return: ``{"name", "query", "status", "new_factor", "reason", ...}``; when ``status`` is
        ``tested`` also ``n``, ``coefficient``, ``ci`` ([low, high], 95%), ``p_value``, ``r2_base``
        (without ``name``), ``r2_with``, ``r2_gain``, ``partial_r2`` (the share of what the others
        leave unexplained that ``name`` explains), ``significant``, ``cov_type``, ``maxlags``, ``others``
    """
    alpha = spec.gates.max_p_value if alpha is None else alpha
    others = [o for o in others if o != name]
    columns = [TARGET, *spec.features, *others, name]
    out: dict[str, Any] = {"name": name, "query": spec.candidates.get(name), "new_factor": False}
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        return {**out, "status": "missing", "reason": f"no column {', '.join(missing)} in the data"}
    data = frame[columns].to_numpy(dtype=float)
    data = data[np.isfinite(data).all(axis=1)]
    n, k = len(data), len(columns) - 1
    if n < k + 3:
        return {**out, "status": "too_few", "n": n, "reason": f"{n} usable rows, the fit needs at least {k + 3}"}
    y, X = data[:, 0], data[:, 1:]
    if np.ptp(X[:, -1]) == 0:
        return {
            **out,
            "status": "constant",
            "n": n,
            "reason": f"{name} is constant ({X[0, -1]:g}) in the window: it cannot explain anything",
        }
    base, full = _fit(spec, X[:, :-1], y), _fit(spec, X, y)
    if "params" not in full or "params" not in base:
        return {
            **out,
            "status": "collinear",
            "n": n,
            "reason": f"{name} is a linear combination of the features (or a feature is constant): no own information",
        }
    p_value = float(full["pvalues"][-1])
    gain = float(full["r2"] - base["r2"])
    significant = bool(p_value < alpha)
    real_gain = bool(gain >= min_r2_gain)
    if significant and real_gain:
        reason = f"{name} is significant (p = {p_value:.2g} < {alpha:g}) and explains {gain:.1%} more of the target"
    elif significant:
        reason = f"{name} is significant (p = {p_value:.2g}) but adds only {gain:.2%} R² (< {min_r2_gain:.0%})"
    else:
        reason = f"{name} is not significant (p = {p_value:.2g} >= {alpha:g})"
    lo, hi = (float(v) for v in full["ci"][-1])
    return {
        **out,
        "status": "tested",
        "n": n,
        "coefficient": float(full["params"][-1]),
        "ci": [lo, hi],
        "p_value": p_value,
        "r2_base": float(base["r2"]),
        "r2_with": float(full["r2"]),
        "r2_gain": gain,
        "partial_r2": gain / (1 - float(base["r2"])) if base["r2"] < 1 else float("nan"),
        "significant": significant,
        "new_factor": significant and real_gain,
        "cov_type": spec.cov_type,
        "maxlags": spec.hac_lags_for(n)["maxlags"] if spec.cov_type == "HAC" else None,
        "others": others,
        "reason": reason,
    }


def candidate_tests(
    spec: CapacitySpec, frame, *, alpha: float | None = None, min_r2_gain: float = MIN_R2_GAIN
) -> list[dict[str, Any]]:
    """Every candidate of the spec, in the spec's order, each tested with the other testable ones in
    the model (:func:`candidate_test` ``others``); when together they are collinear, each alone."""
    alone = {name: candidate_test(spec, frame, name, alpha=alpha, min_r2_gain=min_r2_gain) for name in spec.candidates}
    testable = [name for name, r in alone.items() if r["status"] == "tested"]
    if len(testable) < 2:
        return list(alone.values())
    joint = {
        name: candidate_test(spec, frame, name, others=testable, alpha=alpha, min_r2_gain=min_r2_gain)
        for name in testable
    }
    if any(r["status"] != "tested" for r in joint.values()):
        return list(alone.values())
    return [joint.get(name, result) for name, result in alone.items()]


def new_factors(results: list[dict[str, Any]]) -> list[str]:
    """The names of the candidates found to be new factors."""
    return [r["name"] for r in results if r.get("new_factor")]


__all__ = ["MIN_R2_GAIN", "candidate_test", "candidate_tests", "new_factors"]
