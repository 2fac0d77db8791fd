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


def _with_features(spec: CapacitySpec, features: Mapping[str, str]) -> CapacitySpec:
    data = spec.model_dump(by_alias=True)
    data["features"] = dict(features)
    if "candidates" in data:
        data["candidates"] = {k: v for k, v in data["candidates"].items() if k not in features}
    return CapacitySpec.model_validate(data)


def test_candidates(spec: CapacitySpec, frame, base_r2: float) -> list[dict[str, Any]]:
    """Add each candidate to the model on its own and say what it explains.

    A candidate is testable when its column has finite values that vary; its R² gain is measured
    against the model without it fitted on the same rows.

    :return: ``[{"name", "testable", "reason", "value", "ci_low", "ci_high", "p_value", "r2_base",
        "r2_with", "r2_gain"}]``
    """
    out = []
    for name, query in candidates_of(spec).items():
        row: dict[str, Any] = {"name": name, "testable": False, "reason": None, "p_value": None, "r2_gain": 0.0}
        if name not in frame.columns or frame[name].notna().sum() == 0:
            row["reason"] = "Prometheus has no series for it on the canary (the version does not expose it)"
            out.append(row)
            continue
        aug = _with_features(spec, {**spec.features, name: query})
        try:
            dataset = build_dataset(frame, aug)
            with_it = fit_model(dataset, aug)
        except DatasetError as e:
            row["reason"] = str(e).split(": ", 1)[-1]
            out.append(row)
            continue
        without = fit_model(
            type(dataset)(
                X=dataset.X[list(spec.features)], y=dataset.y, rows_in=dataset.rows_in, rows_dropped=0, notes=[]
            ),
            spec,
        )
        c = with_it.coefficients[name]
        row.update(
            testable=True,
            value=c["value"],
            ci_low=c["ci_low"],
            ci_high=c["ci_high"],
            p_value=c["p_value"],
            r2_base=without.r2,
            r2_with=with_it.r2,
            r2_gain=with_it.r2 - without.r2,
            n=with_it.n,
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
    per_step = {i: 0 for i in range(len(steps))}
    for i in step_of(kept.index, steps):
        if i is not None:
            per_step[i] += 1
    need = spec.gates.min_samples
    usable = kept[[TARGET, *spec.features]].dropna()
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
    candidates = test_candidates(spec, kept, fit.r2)
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


__all__ = ["analyse", "candidates_of", "test_candidates"]
