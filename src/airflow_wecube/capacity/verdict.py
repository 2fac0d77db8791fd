"""The capacity probe's verdict: ``pass``, ``regression`` or ``new_factor``, and why.

Rules, in this order (the first that holds decides):

1. ``regression``: a feature's coefficient (a cost per operation; the intercept is not judged) rose
   by more than the spec's ``drift.max_relative_change`` **and** its 95 % interval lies wholly
   above the baseline's. Both are needed: a large change with overlapping intervals is noise, a
   significant change of 3 % is not worth stopping a release for.
2. ``new_factor``: a candidate (``candidates:`` in the spec) has a p-value below ``alpha`` (the
   spec's ``gates.max_p_value``) when added to the model, and adding it raises R² by at least
   ``min_r2_gain``: the new version spends resources on something the model does not know.
3. ``regression``: R² fell below the baseline's by more than ``drift.max_r2_drop`` (something the
   model lacks drives the target, and no candidate explains it).
4. ``pass`` otherwise, and always when there is no baseline yet (the first release records it).

Pure: no Airflow.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

from airflow_wecube.capacity.spec import DriftThresholds

PASS, REGRESSION, NEW_FACTOR = "pass", "regression", "new_factor"
VERDICTS = (PASS, REGRESSION, NEW_FACTOR)
from airflow_wecube.capacity.candidates import MIN_R2_GAIN  # noqa: E402 - one threshold for both


def _ci(c: Mapping[str, Any]) -> dict[str, float]:
    return {"value": c["value"], "ci_low": c["ci_low"], "ci_high": c["ci_high"], "p_value": c.get("p_value")}


def coefficient_rows(
    baseline: Mapping[str, Any] | None, new: Mapping[str, Any], thresholds: DriftThresholds
) -> list[dict[str, Any]]:
    """Per coefficient of the new fit (features, then the intercept): baseline and new value with
    their 95 % intervals, the relative change, and whether it counts as a regression (rule 1)."""
    rows = []
    base_coefs = {**baseline["coefficients"], "intercept": baseline["intercept"]} if baseline else {}
    for name, cur in {**new["coefficients"], "intercept": new["intercept"]}.items():
        old = base_coefs.get(name)
        row: dict[str, Any] = {
            "name": name,
            "baseline": _ci(old) if old else None,
            "new": _ci(cur),
            "relative_change": None,
            "ci_overlap": None,
            "regressed": False,
        }
        if old:
            change = cur["value"] - old["value"]
            rel = change / abs(old["value"]) if old["value"] else (math.inf if change else 0.0)
            row["relative_change"] = rel if math.isfinite(rel) else None
            row["ci_overlap"] = not (cur["ci_low"] > old["ci_high"] or cur["ci_high"] < old["ci_low"])
            row["regressed"] = bool(
                name != "intercept" and rel > thresholds.max_relative_change and cur["ci_low"] > old["ci_high"]
            )
        rows.append(row)
    return rows


def decide(
    rows: Sequence[Mapping[str, Any]],
    *,
    baseline_r2: float | None,
    new_r2: float,
    candidates: Sequence[Mapping[str, Any]],
    thresholds: DriftThresholds,
    alpha: float,
    min_r2_gain: float = MIN_R2_GAIN,
) -> dict[str, Any]:
    """Apply the rules above.

    :param rows: :func:`coefficient_rows`
    :param candidates: ``[{"name", "p_value", "r2_gain", "testable", ...}]`` (see ``probe_fit.test_candidates``)
    :return: ``{"verdict", "reasons", "coefficients": [names regressed], "new_factors": [names], "r2": {...}}``
    """
    r2 = {"baseline": baseline_r2, "new": new_r2, "drop": None, "significant_drop": False}
    if baseline_r2 is None:
        return {
            "verdict": PASS,
            "reasons": ["no baseline yet: this fit is recorded as the first baseline"],
            "coefficients": [],
            "new_factors": [],
            "r2": r2,
        }
    regressed = [r for r in rows if r["regressed"]]
    reasons = []
    for r in sorted(regressed, key=lambda r: -(r["relative_change"] or math.inf)):
        b, n = r["baseline"], r["new"]
        pct = f"{r['relative_change'] * 100:+.0f}%" if r["relative_change"] is not None else "new from 0"
        reasons.append(
            f"coefficient {r['name']} rose {_fmt(b['value'])} → {_fmt(n['value'])} ({pct}, above "
            f"{thresholds.max_relative_change * 100:.0f}%); 95% intervals do not overlap: new "
            f"[{_fmt(n['ci_low'])}, {_fmt(n['ci_high'])}], baseline [{_fmt(b['ci_low'])}, {_fmt(b['ci_high'])}]"
        )
    found = [
        c
        for c in candidates
        if c.get("testable") and c["p_value"] is not None and c["p_value"] < alpha and c["r2_gain"] >= min_r2_gain
    ]
    factor_reasons = [
        f"candidate {c['name']} explains the target: coefficient {_fmt(c['value'])} "
        f"[{_fmt(c['ci_low'])}, {_fmt(c['ci_high'])}], p={c['p_value']:.2g} < {alpha:g}, "
        f"R² {c['r2_base']:.3f} → {c['r2_with']:.3f} (+{c['r2_gain']:.3f})"
        for c in found
    ]
    drop = float(baseline_r2) - float(new_r2)
    r2.update(drop=drop, significant_drop=drop > thresholds.max_r2_drop)
    r2_reason = (
        f"R² fell {baseline_r2:.3f} → {new_r2:.3f} (drop {drop:.3f} > {thresholds.max_r2_drop:g}): "
        "something the model lacks drives the target"
    )
    if regressed:
        verdict = REGRESSION
        reasons += factor_reasons
    elif found:
        verdict, reasons = NEW_FACTOR, factor_reasons
    elif r2["significant_drop"]:
        verdict, reasons = REGRESSION, [r2_reason]
    else:
        verdict = PASS
        reasons = ["every coefficient within its drift threshold or its baseline interval; no candidate matters"]
    return {
        "verdict": verdict,
        "reasons": reasons,
        "coefficients": [r["name"] for r in regressed],
        "new_factors": [c["name"] for c in found],
        "r2": r2,
    }


def headline(result: Mapping[str, Any]) -> str:
    """One line: ``account_service 1.1.0+slowclose: regression: coefficient closed rose ...``."""
    who = f"{result.get('model')} {result.get('app_version') or ''}".strip()
    return f"{who}: {result['verdict']}: " + (result["reasons"][0] if result.get("reasons") else "")


def _fmt(value: float | None) -> str:
    from airflow_wecube.capacity.fit import format_number

    return "undefined" if value is None or not math.isfinite(value) else format_number(value)


__all__ = ["MIN_R2_GAIN", "NEW_FACTOR", "PASS", "REGRESSION", "VERDICTS", "coefficient_rows", "decide", "headline"]
