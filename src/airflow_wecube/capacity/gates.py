"""Acceptance gates: a fit may replace the baseline only when every check passes."""

from __future__ import annotations

import math
from typing import Any

from airflow_wecube.capacity.spec import CapacitySpec


def check_gates(spec: CapacitySpec, fit: dict[str, Any]) -> dict[str, Any]:
    """Evaluate the spec's gates on a fit (as :meth:`FitResult.to_dict` returns it).

    :return: ``{"passed": bool, "checks": [{"name", "passed", "value", "threshold", "message"}]}``
    """
    g = spec.gates
    checks: list[dict[str, Any]] = []

    def add(name: str, passed: bool, value: Any, threshold: Any, message: str) -> None:
        checks.append(
            {"name": name, "passed": bool(passed), "value": value, "threshold": threshold, "message": message}
        )

    hint = "".join(f"; hint: {h}" for h in fit.get("hints") or [] if h.startswith("the target"))
    n = int(fit["n"])
    add(
        "min_samples",
        n >= g.min_samples,
        n,
        g.min_samples,
        f"{n} samples" + (" ok" if n >= g.min_samples else f", fewer than the {g.min_samples} required"),
    )
    if fit.get("target_constant"):
        add(
            "target_variance",
            False,
            0.0,
            "> 0",
            f"target has no variance: it is {fit['intercept']['value']:g} at every sample of the window, so there "
            "is nothing for the features to explain (R² and p-values are undefined); check that the target "
            "PromQL selects the series you mean" + hint,
        )
    r2 = _number(fit.get("r2"))
    if r2 is None:
        add("min_r2", False, None, g.min_r2, "R² undefined (the target has no variance): nothing explained" + hint)
    else:
        add(
            "min_r2",
            r2 >= g.min_r2,
            r2,
            g.min_r2,
            f"R² {r2:.4f}"
            + (" ok" if r2 >= g.min_r2 else f" below {g.min_r2}: the features do not explain the target{hint}"),
        )
    for name, c in fit["coefficients"].items():
        p = _number(c.get("p_value"))
        if p is None:
            add(
                f"max_p_value:{name}",
                False,
                None,
                g.max_p_value,
                f"{name}: p-value undefined: no evidence this factor costs anything",
            )
            continue
        ok = p <= g.max_p_value
        add(
            f"max_p_value:{name}",
            ok,
            p,
            g.max_p_value,
            f"{name}: p-value {p:.3g}"
            + (" ok" if ok else f" above {g.max_p_value}: no evidence this factor costs anything"),
        )
    if g.max_vif is not None:
        for name, v in fit["vif"].items():
            v = _number(v)
            ok = v is not None and v <= g.max_vif
            add(
                f"max_vif:{name}",
                ok,
                v,
                g.max_vif,
                f"{name}: VIF {'infinite' if v is None else f'{v:.2f}'}"
                + (" ok" if ok else f" above {g.max_vif}: collinear with other features"),
            )
    return {"passed": all(c["passed"] for c in checks), "checks": checks}


def _number(value: Any) -> float | None:
    """A finite float, or None for what the fit could not define (NaN in memory, null once stored)."""
    if value is None:
        return None
    value = float(value)
    return value if math.isfinite(value) else None


def failed_messages(gates: dict[str, Any]) -> list[str]:
    """The messages of the checks that failed."""
    return [c["message"] for c in gates.get("checks", []) if not c["passed"]]
