"""Prometheus rules built from a fit, so Prometheus computes the prediction live.

* recording rule ``capacity:<model>:predicted`` = intercept + Σ coefficient × feature PromQL;
* alert ``CapacityEfficiencyRegression`` when the actual target exceeds that prediction by
  ``k`` residual standard deviations for ``for`` (each transaction now costs more than the model says);
* alert ``CapacityHeadroomLow`` (specs with a ``limit``) when the prediction at the current volume is
  within :data:`HEADROOM_MARGIN` of the limit for ``for``: the runbook ``wecube_scale_out`` adds an
  instance before the limit is reached.

Each PromQL is wrapped in ``sum(...)``: the spec guarantees one series per query, and ``sum``
drops its labels so the terms match each other in vector arithmetic.
"""

from __future__ import annotations

from typing import Any

from airflow_wecube.capacity.spec import CapacitySpec

#: the headroom alert (the runbook ``wecube_scale_out`` is scheduled on it)
HEADROOM_ALERT = "CapacityHeadroomLow"
#: the headroom alert fires when the prediction is above ``limit * (1 - HEADROOM_MARGIN)``
HEADROOM_MARGIN = 0.2


def recording_rule_name(model: str) -> str:
    return f"capacity:{model}:predicted"


def rule_group_name(model: str) -> str:
    return f"capacity_{model}"


def _num(value: float) -> str:
    text = f"{value:.10g}"
    return f"({text})" if value < 0 else text


def prediction_expr(spec: CapacitySpec, fit: dict[str, Any]) -> str:
    """The PromQL of the model's prediction."""
    missing = [f for f in fit["coefficients"] if f not in spec.features]
    if missing:
        raise ValueError(f"fit has feature(s) {missing} the spec {spec.name} does not define")
    terms = [f"{_num(c['value'])} * sum({spec.features[name]})" for name, c in fit["coefficients"].items()]
    return " + ".join(terms) + f" + {_num(fit['intercept']['value'])}"


def build_rules(spec: CapacitySpec, fit: dict[str, Any], *, version: str | None = None) -> list[dict[str, Any]]:
    """The rule group's rules (Prometheus rule-file format, as dicts)."""
    name = recording_rule_name(spec.name)
    labels = {"model": spec.name}
    rules: list[dict[str, Any]] = [{"record": name, "expr": prediction_expr(spec, fit), "labels": labels}]
    if spec.alert.enabled:
        margin = spec.alert.k * float(fit["resid_std"])
        rules.append(
            {
                "alert": "CapacityEfficiencyRegression",
                "expr": f"sum({spec.target}) - sum({name}) > {margin:.10g}",
                "for": spec.alert.for_,
                "labels": {**labels, "severity": spec.alert.severity},
                "annotations": {
                    "summary": (
                        f"{spec.name}: actual exceeds the capacity model by more than {spec.alert.k:g} "
                        "residual std devs"
                    ),
                    "description": (
                        f"Model {fit.get('formula', spec.name)} (version {version or '?'}) "
                        "predicts less than observed by "
                        f"over {margin:.4g}; a transaction now costs more than it did."
                    ),
                },
            }
        )
    headroom = headroom_rule(spec)
    if headroom:
        rules.append(headroom)
    return rules


def headroom_rule(spec: CapacitySpec, margin: float = HEADROOM_MARGIN) -> dict[str, Any] | None:
    """``CapacityHeadroomLow``: the prediction at the current volume within ``margin`` of the spec's
    ``limit`` (None when the spec has no limit)."""
    if spec.limit is None:
        return None
    if not 0 < margin < 1:
        raise ValueError(f"headroom margin must be between 0 and 1 (a fraction of the limit), got {margin!r}")
    threshold = float(spec.limit) * (1 - margin)
    label = spec.target_label or spec.name
    return {
        "alert": HEADROOM_ALERT,
        "expr": f"sum({recording_rule_name(spec.name)}) > {threshold:.10g}",
        "for": spec.alert.for_,
        "labels": {"model": spec.name, "severity": "warning"},
        "annotations": {
            "summary": (
                f"{spec.name}: predicted {label} at the current volume is within {margin:.0%} "
                f"of its limit {float(spec.limit):g}"
            ),
            "description": "Add capacity before the limit is reached (runbook wecube_scale_out).",
        },
    }
