"""Fit → gate → compare → accept, on a fetched frame and a store. Used by the DAG, the operator and the CLI.

Each step reads and updates the stored version, so the DAG can run them as separate tasks and
a report can be rebuilt from the store at any time.
"""

from __future__ import annotations

import math
from typing import Any

from airflow_wecube.capacity.dataset import build_dataset
from airflow_wecube.capacity.drift import compare
from airflow_wecube.capacity.errors import GateRefusal, StoreError
from airflow_wecube.capacity.fit import fit_model
from airflow_wecube.capacity.gates import check_gates
from airflow_wecube.capacity.spec import CapacitySpec
from airflow_wecube.capacity.store import ModelStore

EXIT_ACCEPTED = 0
EXIT_GATE_FAILED = 2
EXIT_DRIFT = 3


def fit_and_save(
    spec: CapacitySpec, frame, store: ModelStore, *, window: dict[str, Any] | None = None, plot: bool = True
) -> str:
    """Fit the frame and store it as a new version with its gates (not yet compared nor accepted); returns the version.

    The gates are judged before anything is stored, so a version never lacks them because the
    gate step failed on it (a model of nothing is a failed gate, not a crash).

    :raises DatasetError: when the data cannot be fitted; nothing is stored then
    """
    dataset = build_dataset(frame, spec)
    fit = fit_model(dataset, spec)
    gates = check_gates(spec, fit.to_dict())
    png = None
    if plot:
        from airflow_wecube.capacity.plot import render_png

        png = render_png(
            fit.actual,
            fit.fitted,
            title=f"{spec.name}: n={fit.n}, R²={fit.r2:.3f}",
            formula=fit.formula,
            resid_std=fit.resid_std,
        )
    record = {
        "spec": spec.model_dump(mode="json", by_alias=True),
        "window": {"start": fit.start, "end": fit.end, "step": spec.step, **(window or {})},
        "rows": {"fetched": dataset.rows_in, "dropped": dataset.rows_dropped},
        "fit": fit.to_dict(),
        "gates": gates,
        "drift": None,
        "accepted": False,
    }
    return store.save_version(spec.name, record, png)


def gate_version(spec: CapacitySpec, store: ModelStore, version: str) -> dict[str, Any]:
    """Evaluate the gates on a stored version and record them."""
    record = store.load_version(spec.name, version)
    gates = check_gates(spec, record["fit"])
    store.update_version(spec.name, version, gates=gates)
    return gates


def compare_version(spec: CapacitySpec, store: ModelStore, version: str) -> dict[str, Any] | None:
    """Compare a stored version with the model's baseline (None when there is none) and record it."""
    base_version = store.baseline_version(spec.name)
    if base_version is None or base_version == version:
        store.update_version(spec.name, version, drift=None, baseline_version=None)
        return None
    baseline = store.load_version(spec.name, base_version)
    fit = store.load_version(spec.name, version)["fit"]
    if fit.get("target_constant") or fit.get("r2") is None:
        # a model of nothing has no intervals or R² to compare; its gates already failed
        drift = {
            "found": False,
            "compared": False,
            "baseline_version": base_version,
            "reason": "the new fit's statistics are undefined (the target has no variance)",
            "messages": [],
            "coefficients": [],
            "new_factors": [],
            "dropped_factors": [],
            "chow": {"applicable": False},
            "notes": [],
        }
    else:
        drift = compare(baseline["fit"], fit, spec.drift, baseline_version=base_version)
    store.update_version(spec.name, version, drift=drift, baseline_version=base_version)
    return drift


def accept_if_clean(spec: CapacitySpec, store: ModelStore, version: str) -> bool:
    """Make the version the baseline when its gates passed and no drift was found."""
    record = store.load_version(spec.name, version)
    if not (record.get("gates") or {}).get("passed"):
        return False
    if (record.get("drift") or {}).get("found"):
        return False
    store.accept(spec.name, version)
    store.update_version(spec.name, version, accepted=True)
    return True


def run(
    spec: CapacitySpec,
    frame,
    store: ModelStore,
    *,
    window: dict[str, Any] | None = None,
    accept: bool = True,
    plot: bool = True,
) -> dict[str, Any]:
    """All steps at once; returns :func:`build_report` of the new version."""
    version = fit_and_save(spec, frame, store, window=window, plot=plot)
    gate_version(spec, store, version)
    compare_version(spec, store, version)
    if accept:
        accept_if_clean(spec, store, version)
    return build_report(store, spec.name, version)


def build_report(store: ModelStore, model: str, version: str) -> dict[str, Any]:
    """The report of a stored version (the CLI's JSON)."""
    record = store.load_version(model, version)
    fit = record["fit"]
    plot = store.plot_path(model, version) if record.get("plot") else None
    return {
        "model": model,
        "version": version,
        "window": record.get("window"),
        "formula": fit["formula"],
        "coefficients": fit["coefficients"],
        "intercept": fit["intercept"],
        "r2": fit["r2"],
        "adj_r2": fit["adj_r2"],
        "resid_std": fit["resid_std"],
        "n": fit["n"],
        "vif": fit["vif"],
        "robust": fit["robust"],
        "inference": fit.get("inference")
        or {"cov_type": "nonrobust", "description": "classical (nonrobust), fitted before HAC"},
        "headroom": fit["headroom"],
        "warnings": fit["warnings"],
        "gates": record.get("gates"),
        "drift": record.get("drift"),
        "accepted": bool(record.get("accepted")),
        "baseline_version": store.baseline_version(model),
        "plot": str(plot) if plot is not None else None,
    }


def version_status(record: dict[str, Any], baseline_version: str | None) -> str:
    """One word for a stored version: baseline, accepted (earlier), drift, gate-failed, not-gated or passed."""
    if record.get("version") == baseline_version:
        return "baseline"
    if record.get("accepted"):
        return "accepted"
    gates = record.get("gates")
    if gates is None:
        return "not-gated"
    if not gates.get("passed"):
        return "gate-failed"
    if (record.get("drift") or {}).get("found"):
        return "drift"
    return "passed"


def list_versions(store: ModelStore, model: str) -> dict[str, Any]:
    """The model's history, oldest first, with the current baseline marked (``wecube capacity list``).

    :raises StoreError: when the model has no version in the store
    """
    versions = store.versions(model)
    if not versions:
        known = store.models()
        raise StoreError(
            f"model {model!r} has no versions in {store}" + (f" (models there: {', '.join(known)})" if known else "")
        )
    baseline = store.baseline_version(model)
    accepted_at = {h["version"]: h for h in store.baseline_history(model)}
    rows = []
    for version in versions:
        record = store.load_version(model, version)
        fit = record.get("fit") or {}
        window = record.get("window") or {}
        drift = record.get("drift")
        rows.append(
            {
                "version": version,
                "created_at": record.get("created_at"),
                "start": window.get("start"),
                "end": window.get("end"),
                "n": fit.get("n"),
                "r2": fit.get("r2"),
                "formula": fit.get("formula"),
                "standard_errors": (fit.get("inference") or {}).get("cov_type", "nonrobust"),
                "gates_passed": (record.get("gates") or {}).get("passed") if record.get("gates") is not None else None,
                "drift_found": drift.get("found") if drift is not None else None,
                "compared_with": record.get("baseline_version"),
                "status": version_status(record, baseline),
                "baseline": version == baseline,
                "accepted_at": (accepted_at.get(version) or {}).get("accepted_at"),
                "accept_reason": (accepted_at.get(version) or {}).get("reason"),
            }
        )
    return {"model": model, "baseline_version": baseline, "versions": rows, "history": store.baseline_history(model)}


def format_versions(listing: dict[str, Any]) -> str:
    """A table of :func:`list_versions`: ``*`` marks the accepted baseline."""
    lines = [
        f"model {listing['model']}  baseline: {listing['baseline_version'] or 'none'}",
        "  version                          status       n        R²      window",
    ]
    for r in listing["versions"]:
        mark = "*" if r["baseline"] else " "
        r2 = f"{r['r2']:.4f}" if isinstance(r["r2"], (int, float)) else "-"
        lines.append(
            f"{mark} {r['version']:<32} {r['status']:<12} {r['n'] or '-':<8} {r2:<7} "
            f"{r['start'] or '?'} .. {r['end'] or '?'}"
        )
        lines.append(f"      {r['formula'] or ''}")
    lines.append("  (* accepted baseline)")
    return "\n".join(lines)


def accept_version(store: ModelStore, model: str, version: str, *, reason: str = "") -> dict[str, Any]:
    """Make a stored version the baseline by hand, after an intended change (a release that made closing dearer).

    Only a version whose gates passed may become the baseline: the gates say the fit is trustworthy,
    drift only says it differs from the old baseline, which is the point of an intended change.

    :return: ``{"model", "version", "previous", "changed", "drift"}``
    :raises StoreError: unknown version, or its gates failed or were never evaluated (nothing changes then)
    """
    from airflow_wecube.capacity.gates import failed_messages

    if version == "latest":
        versions = store.versions(model)
        if not versions:
            raise StoreError(f"model {model!r} has no versions in {store}")
        version = versions[-1]
    record = store.load_version(model, version)
    previous = store.baseline_version(model)
    if previous == version:
        return {
            "model": model,
            "version": version,
            "previous": previous,
            "changed": False,
            "drift": record.get("drift"),
        }
    gates = record.get("gates")
    if gates is None:
        raise GateRefusal(
            f"model {model!r} version {version} was never gated (its run stopped before the gate); "
            "refusing to make it the baseline"
        )
    if not gates.get("passed"):
        raise GateRefusal(
            f"model {model!r} version {version} failed its gates, refusing to make it the baseline: "
            + "; ".join(failed_messages(gates))
        )
    note = "accepted by hand" + (f": {reason}" if reason else "")
    store.accept(model, version, reason=note)
    store.update_version(
        model, version, accepted=True, accepted_by_hand={"previous_baseline": previous, "reason": reason}
    )
    return {"model": model, "version": version, "previous": previous, "changed": True, "drift": record.get("drift")}


def exit_code(report: dict[str, Any]) -> int:
    """0 accepted (or passed without accepting), 2 a gate failed, 3 drift found (baseline kept)."""
    if not (report.get("gates") or {}).get("passed"):
        return EXIT_GATE_FAILED
    if (report.get("drift") or {}).get("found"):
        return EXIT_DRIFT
    return EXIT_ACCEPTED


def _num(value: Any, fmt: str) -> str:
    """``value`` formatted, or ``undefined`` (right-aligned like it).

    ``undefined`` stands for what the fit could not define (stored as null).
    """
    if isinstance(value, (int, float)) and math.isfinite(value):
        return format(value, fmt)
    width = "".join(ch for ch in fmt.split(".")[0] if ch.isdigit())
    return format("undefined", f">{width}" if width else "")


def format_report(report: dict[str, Any]) -> str:
    """A human-readable report."""
    lines = [f"model {report['model']}  version {report['version']}", f"  {report['formula']}"]
    w = report.get("window") or {}
    lines.append(f"  window {w.get('start')} .. {w.get('end')} step {w.get('step')}  n={report['n']}")
    lines.append(
        f"  R² {_num(report['r2'], '.4f')}  adj R² {_num(report['adj_r2'], '.4f')}  "
        f"residual std {_num(report['resid_std'], '.4g')}"
    )
    inference = report.get("inference") or {}
    if inference.get("description"):
        lines.append(f"  standard errors: {inference['description']}")
    lines.append("  coefficient        value        95% CI                     p-value     VIF")
    for name, c in {**report["coefficients"], "intercept": report["intercept"]}.items():
        v = report["vif"].get(name)
        lines.append(
            f"  {name:<16} {_num(c['value'], '>10.4g')}   [{_num(c['ci_low'], '>10.4g')}, "
            f"{_num(c['ci_high'], '>10.4g')}]   {_num(c['p_value'], '>9.3g')}"
            + (f"   {v:6.2f}" if v is not None else "")
        )
    h = report.get("headroom")
    if h:
        if h.get("scale") is not None:
            lines.append(
                f"  headroom: predicted {h['predicted_now']:.4g} now, limit {h['limit']:g}: "
                f"volume can grow ×{h['scale']:.2f} ({h['growth_pct']:+.0f}%) at today's mix"
            )
        else:
            lines.append(
                f"  headroom: predicted {h['predicted_now']:.4g} now, limit {h['limit']:g}: "
                "volume does not raise the target"
            )
    for wmsg in report.get("warnings") or []:
        lines.append(f"  warning: {wmsg}")
    gates = report.get("gates") or {}
    lines.append("  gates: " + ("passed" if gates.get("passed") else "FAILED"))
    for c in gates.get("checks", []):
        if not c["passed"]:
            lines.append(f"    - {c['message']}")
    drift = report.get("drift")
    if drift is None:
        lines.append("  drift: no baseline to compare with")
    elif drift.get("compared") is False:
        lines.append(f"  drift vs {drift['baseline_version']}: not compared: {drift['reason']}")
    else:
        lines.append(f"  drift vs {drift['baseline_version']}: " + ("FOUND" if drift["found"] else "none"))
        for m in drift["messages"]:
            lines.append(f"    - {m}")
        chow = drift.get("chow") or {}
        if chow.get("applicable"):
            if chow.get("method") == "wald":
                line = (
                    f"    Chow test as Wald (HAC): χ²={chow['statistic']:.2f} df={chow['df']} p={chow['p_value']:.3g}"
                )
                classical = chow.get("classical") or {}
                if classical.get("applicable"):
                    line += f"  (classical F={classical['f']:.2f} p={classical['p_value']:.3g}, assumes iid residuals)"
                lines.append(line)
            else:
                lines.append(
                    f"    Chow F={chow['f']:.2f} p={chow['p_value']:.3g}"
                    + (f"  ({chow['fallback']})" if chow.get("fallback") else "")
                )
        for note in drift.get("notes") or []:
            lines.append(f"    note: {note}")
    lines.append(f"  accepted: {'yes' if report['accepted'] else 'no'}  baseline: {report.get('baseline_version')}")
    if report.get("plot"):
        lines.append(f"  plot: {report['plot']}")
    return "\n".join(lines)
