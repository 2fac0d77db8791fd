"""Fit a probe's samples, test the spec's candidates, compare with the baseline, give the verdict.

Input: the frame fetched for the probe (target, features and candidates, one row per scrape
interval), the probe's steps (:class:`~airflow_wecube.capacity.probe.Step`) and the baseline record
of the model store (or None). Output: the probe result (what the operator returns as XCom and the
store keeps with the version) and the fit (for the plot). Pure: no Airflow, no network.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import timedelta
from typing import Any

from airflow_wecube.capacity.dataset import build_dataset
from airflow_wecube.capacity.errors import DatasetError
from airflow_wecube.capacity.fit import FitResult, fit_model
from airflow_wecube.capacity.gates import check_gates, failed_messages
from airflow_wecube.capacity.probe import ProbeDataError, Step, kept_mask, step_of
from airflow_wecube.capacity.spec import TARGET, CapacitySpec
from airflow_wecube.capacity.verdict import MIN_R2_GAIN, coefficient_rows, decide


def candidates_of(spec: CapacitySpec) -> dict[str, str]:
    """The spec's ``candidates`` (empty for a spec without them)."""
    return dict(getattr(spec, "candidates", None) or {})


def probe_candidates(spec: CapacitySpec, frame, *, min_r2_gain: float) -> list[dict[str, Any]]:
    """The spec's candidates tested on the probe's samples (the added-variable test of
    :mod:`airflow_wecube.capacity.candidates`), as the verdict and the report read them.

    :return: ``[{"name", "testable", "reason", "value", "ci_low", "ci_high", "p_value", "r2_base",
        "r2_with", "r2_gain", "n"}]``
    """
    from airflow_wecube.capacity.candidates import candidate_tests

    out = []
    for r in candidate_tests(spec, frame, min_r2_gain=min_r2_gain):
        row: dict[str, Any] = {"name": r["name"], "testable": r["status"] == "tested", "reason": r.get("reason")}
        row.update(p_value=None, r2_gain=0.0)
        if row["testable"]:
            row.update(
                value=r["coefficient"],
                ci_low=r["ci"][0],
                ci_high=r["ci"][1],
                p_value=r["p_value"],
                r2_base=r["r2_base"],
                r2_with=r["r2_with"],
                r2_gain=r["r2_gain"],
                n=r["n"],
            )
        out.append(row)
    return out


def analyse(
    spec: CapacitySpec,
    frame,
    steps: Sequence[Step],
    scrape_interval: timedelta,
    baseline: Mapping[str, Any] | None,
    *,
    min_r2_gain: float = MIN_R2_GAIN,
) -> tuple[dict[str, Any], FitResult]:
    """Keep the clean samples, fit, gate, test candidates, compare and decide.

    :param spec: the probe spec (:func:`~airflow_wecube.capacity.probe.probe_spec`)
    :param baseline: the baseline version's record (``fit`` inside), or None for a first release
    :raises ProbeDataError: too few clean samples, a feature the schedule did not vary, or (without a
        baseline) a fit that fails the spec's gates: the probe says so and stores nothing
    """
    keep = kept_mask(frame.index, steps, scrape_interval)
    kept = frame[keep]
    need = spec.gates.min_samples
    usable = kept[[TARGET, *spec.features]].dropna()
    per_step = {i: 0 for i in range(len(steps))}
    for i in step_of(usable.index, steps):
        if i is not None:
            per_step[i] += 1
    if len(usable) < need:
        raise ProbeDataError(
            f"capacity probe of {spec.name}: only {len(usable)} clean sample(s) of the canary (per step: "
            f"{', '.join(str(v) for v in per_step.values())}; fetched {len(frame)} row(s)), fewer than the "
            f"{need} a probe fit needs. Is the canary scraped by Prometheus (its target registered, up == 1), "
            "and is scrape_interval the one Prometheus uses? Hold each step longer (hold_intervals) or use more "
            "steps. Nothing was stored; the baseline is unchanged"
        )
    try:
        dataset = build_dataset(kept, spec)
        fit = fit_model(dataset, spec)
    except DatasetError as e:
        raise ProbeDataError(
            f"capacity probe of {spec.name}: {e}. Nothing was stored; the baseline is unchanged"
        ) from e
    fit_dict = fit.to_dict()
    gates = check_gates(spec, fit_dict)
    base_fit = (baseline or {}).get("fit")
    if not gates["passed"] and base_fit is None:
        # with a baseline, a poor fit is judged against it (an R² drop); without one it cannot become it
        raise ProbeDataError(
            f"capacity probe of {spec.name}: the canary's fit cannot be the first baseline: "
            + "; ".join(failed_messages(gates))
            + ". Nothing was stored"
        )
    candidates = probe_candidates(spec, kept, min_r2_gain=min_r2_gain)
    rows = coefficient_rows(base_fit, fit_dict, spec.drift)
    decision = decide(
        rows,
        baseline_r2=base_fit["r2"] if base_fit else None,
        new_r2=fit.r2,
        candidates=candidates,
        thresholds=spec.drift,
        alpha=spec.gates.max_p_value,
        min_r2_gain=min_r2_gain,
    )
    result = {
        **decision,
        "model": spec.name,
        "baseline_version": (baseline or {}).get("version"),
        "baseline_app_version": ((baseline or {}).get("probe") or {}).get("app_version"),
        "coefficient_table": rows,
        "candidates": candidates,
        "formula": fit.formula,
        "n": fit.n,
        "samples_per_step": list(per_step.values()),
        "inference": fit.inference.get("description"),
        "thresholds": {
            "max_relative_change": spec.drift.max_relative_change,
            "max_r2_drop": spec.drift.max_r2_drop,
            "alpha": spec.gates.max_p_value,
            "min_r2_gain": min_r2_gain,
        },
    }
    return {"result": result, "fit": fit_dict, "gates": gates}, fit


__all__ = ["analyse", "candidates_of", "probe_candidates"]
