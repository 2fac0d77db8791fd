"""Acceptance gates: a fit may replace the baseline only when every check passes."""

from __future__ import annotations

from typing import Any

from airflow_wecube.capacity.spec import CapacitySpec


def check_gates(spec: CapacitySpec, fit: dict[str, Any]) -> dict[str, Any]:
    """Evaluate the spec's gates on a fit (as :meth:`FitResult.to_dict` returns it).

    :return: ``{"passed": bool, "checks": [{"name", "passed", "value", "threshold", "message"}]}``
    """
    g = spec.gates
    checks: list[dict[str, Any]] = []

    def add(name: str, passed: bool, value: Any, threshold: Any, message: str) -> None:
        checks.append({"name": name, "passed": bool(passed), "value": value, "threshold": threshold, "message": message})

    n = int(fit["n"])
    add("min_samples", n >= g.min_samples, n, g.min_samples,
        f"{n} samples" + (" ok" if n >= g.min_samples else f", fewer than the {g.min_samples} required"))
    r2 = float(fit["r2"])
    add("min_r2", r2 >= g.min_r2, r2, g.min_r2,
        f"R² {r2:.4f}" + (" ok" if r2 >= g.min_r2 else f" below {g.min_r2}: the features do not explain the target"))
    for name, c in fit["coefficients"].items():
        p = float(c["p_value"])
        ok = p <= g.max_p_value
        add(f"max_p_value:{name}", ok, p, g.max_p_value,
            f"{name}: p-value {p:.3g}" + (" ok" if ok else f" above {g.max_p_value}: no evidence this factor costs anything"))
    if g.max_vif is not None:
        for name, v in fit["vif"].items():
            ok = v <= g.max_vif
            add(f"max_vif:{name}", ok, v, g.max_vif,
                f"{name}: VIF {v:.2f}" + (" ok" if ok else f" above {g.max_vif}: collinear with other features"))
    return {"passed": all(c["passed"] for c in checks), "checks": checks}


def failed_messages(gates: dict[str, Any]) -> list[str]:
    """The messages of the checks that failed."""
    return [c["message"] for c in gates.get("checks", []) if not c["passed"]]
