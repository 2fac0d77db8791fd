"""Prometheus rules built from a fit, so Prometheus computes the prediction live.

* recording rule ``capacity:<model>:predicted`` = intercept + Σ coefficient × feature PromQL;
* alert ``CapacityEfficiencyRegression`` when the actual target exceeds that prediction by
  ``k`` residual standard deviations for ``for`` (each transaction now costs more than the model says).

Each PromQL is wrapped in ``sum(...)``: the spec guarantees one series per query, and ``sum``
drops its labels so the terms match each other in vector arithmetic.
"""

from __future__ import annotations

from typing import Any

from airflow_wecube.capacity.spec import CapacitySpec


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
    return rules
