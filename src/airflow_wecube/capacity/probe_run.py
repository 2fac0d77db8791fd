"""Run a capacity probe: drive the load schedule through the plugin, fetch, fit, store.

:func:`run_probe` is what :class:`~airflow_wecube.operators.capacity.CapacityProbeOperator` does;
it takes the plugin and Prometheus hooks as arguments (anything with ``call`` / ``query`` and
``query_range_frame``), so this module imports no Airflow (the bench drives it too). The modelling
is in :mod:`airflow_wecube.capacity.probe`, ``probe_fit``, ``verdict`` and ``probe_report``.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime, timedelta, timezone
from typing import Any

from airflow_wecube.capacity.probe import Step, restore_inputs

log = logging.getLogger(__name__)

#: the load plugin interface (host, app, rates per operation)
LOAD_SERVICE = "deploy/app/load"


def _now() -> datetime:
    return datetime.now(timezone.utc)


def hold_until(deadline: datetime, clock: Callable[[], datetime] = _now) -> None:
    """Keep the current load step until ``deadline`` (holding the load is the probe's job, not a wait
    for a condition)."""
    while (left := (deadline - clock()).total_seconds()) > 0:
        time.sleep(min(left, 1.0))


def _entities(canary: Sequence[Mapping[str, Any]], rates: Mapping[str, Any]) -> list[dict[str, Any]]:
    return [{"callbackParameter": c["host"], "host": c["host"], "app": c["app"], **rates} for c in canary]


def run_schedule(
    hook: Any,
    canary: Sequence[Mapping[str, Any]],
    schedule: Sequence[Mapping[str, float]],
    hold: timedelta,
    *,
    service: str = LOAD_SERVICE,
    request_id: str | None = None,
) -> tuple[list[Step], list[str]]:
    """Run every step on the canary, then put back the load it ran before (also when a step fails).

    The load that ran before comes from the first call's outputs (``previous_<rate>`` and
    ``previous_wave`` per entity). Returns ``(steps as they ran, restore problems)``; a failing step
    raises after the restore.
    """
    steps: list[Step] = []
    before: dict[str, dict[str, Any]] = {}
    names = list(schedule[0])
    try:
        for i, rates in enumerate(schedule):
            outs = hook.call(
                service, _entities(canary, rates), request_id=f"{request_id}-step{i}" if request_id else None
            ).outputs
            start = _now()
            if i == 0:
                for c, o in zip(canary, outs, strict=False):
                    before[c["host"]] = {k[len("previous_") :]: v for k, v in o.items() if k.startswith("previous_")}
            hold_until(start + hold)
            steps.append(Step(rates=dict(rates), start=start, end=start + hold))
    finally:
        problems = restore(hook, canary, before, names, service=service)
    return steps, problems


def restore(
    hook: Any,
    canary: Sequence[Mapping[str, Any]],
    before: Mapping[str, Mapping[str, Any]],
    names: Sequence[str],
    *,
    service: str = LOAD_SERVICE,
) -> list[str]:
    """Put back the load each canary ran before the probe; returns problems (never raises)."""
    problems = []
    for c in canary:
        inputs = restore_inputs(before.get(c["host"]) or {}, names)
        if not inputs:
            if c["host"] in before or not before:
                problems.append(f"{c['host']}: the load before the probe is unknown; it was not restored")
            continue
        try:
            hook.call(service, _entities([c], inputs))
            log.info("load of %s on %s restored to %s", c["app"], c["host"], inputs)
        except Exception as e:  # the probe's own error matters more; say it in the result
            problems.append(f"{c['host']}: restoring the load ({inputs}) failed: {e}")
    return problems


def wait_up(prometheus: Any, instances: Sequence[str], interval: timedelta) -> None:
    """Wait (bounded) until Prometheus scrapes every canary (``up == 1``), before any load is changed."""
    from airflow_wecube.capacity.probe import ProbeDataError, instance_matcher

    promql = f"up{{{instance_matcher(instances)}}}"
    deadline = time.monotonic() + 3 * interval.total_seconds() + 15
    while True:
        up = {s["labels"].get("instance"): s["value"] for s in prometheus.query(promql)}
        down = [i for i in instances if up.get(i) != 1]
        if not down:
            return
        if time.monotonic() > deadline:
            raise ProbeDataError(
                f"Prometheus does not scrape the canary {', '.join(down)} ({promql}: "
                f"{up or 'no series'}): register the canary's target with Prometheus. Nothing was changed; "
                "the baseline is unchanged"
            )
        time.sleep(min(1.0, interval.total_seconds() / 2))


def wait_scraped(prometheus: Any, instances: Sequence[str], end: datetime, interval: timedelta) -> None:
    """Wait (bounded) until Prometheus has scraped every canary after ``end``, so the last step's samples exist."""
    from airflow_wecube.capacity.probe import ProbeDataError, instance_matcher

    promql = f"min(timestamp(up{{{instance_matcher(instances)}}}))"
    deadline = time.monotonic() + 3 * interval.total_seconds() + 15
    while True:
        got = prometheus.query(promql)
        if got and got[0].get("value") is not None and float(got[0]["value"]) >= end.timestamp():
            return
        if time.monotonic() > deadline:
            raise ProbeDataError(
                f"Prometheus has not scraped {', '.join(instances)} since {end.isoformat()} ({promql} = "
                f"{got[0]['value'] if got else 'no series'}): register the canary's target with Prometheus. "
                "Nothing was stored; the baseline is unchanged"
            )
        time.sleep(min(1.0, interval.total_seconds() / 2))


def fetch(prometheus: Any, spec: Any, start: datetime, end: datetime, interval: timedelta):
    """The probe window's frame: target and features (each exactly one series), candidates when present."""
    import pandas as pd

    from airflow_wecube.capacity.probe import ProbeDataError
    from airflow_wecube.exceptions import WeCubeError
    from airflow_wecube.prometheus.errors import PrometheusNoSeriesError

    step = interval.total_seconds()
    try:
        frame = prometheus.query_range_frame(spec.queries(), start, end, step)
    except PrometheusNoSeriesError as e:
        raise ProbeDataError(
            f"capacity probe of {spec.name}: only 0 clean sample(s) of the canary ({e}), fewer than the "
            f"{spec.gates.min_samples} a probe fit needs. Is scrape_interval ({step:g}s) the one Prometheus "
            "uses? rate() needs two scrapes in its window. Nothing was stored; the baseline is unchanged"
        ) from None
    for name, query in (getattr(spec, "candidates", None) or {}).items():
        try:
            col = prometheus.query_range_frame({name: query}, start, end, step)[name]
        except WeCubeError as e:  # no series: the version does not expose it; the candidate is untestable
            log.info("candidate %s: %s", name, e)
            col = pd.Series(float("nan"), index=frame.index)
        frame[name] = col.reindex(frame.index)
    return frame


def canary_list(canary: Any) -> list[dict[str, Any]]:
    """The canary instances as ``[{"host", "app", "target", "version"}]`` from a deploy's outputs
    (a list, one dict, or their JSON text).

    :raises ValueError: an entry without ``host``, ``app`` or ``target`` (nothing was changed)
    """
    import json

    if isinstance(canary, str):
        try:
            canary = json.loads(canary)
        except ValueError:
            raise ValueError(
                f"canary must be the deploy's outputs (a list of dicts or its JSON), got {canary!r}"
            ) from None
    if isinstance(canary, Mapping):
        canary = [canary]
    if not isinstance(canary, (list, tuple)) or not canary:
        raise ValueError(f"canary must list at least one instance (the deploy's outputs), got {canary!r}")
    out, problems = [], []
    for i, c in enumerate(canary):
        missing = [k for k in ("host", "app", "target") if not (isinstance(c, Mapping) and c.get(k))]
        if missing:
            problems.append(f"canary[{i}] lacks {', '.join(missing)}")
            continue
        out.append({k: c.get(k) for k in ("host", "app", "target", "version")})
    if problems:
        raise ValueError("; ".join(problems) + " (give the deploy's outputs: host, app, target)")
    return out


def run_probe(
    spec: Any,
    canary: Sequence[Mapping[str, Any]],
    schedule: Sequence[Mapping[str, float]],
    *,
    store: Any,
    model: str,
    plugin: Any,
    prometheus: Any,
    scrape_interval: timedelta,
    hold_intervals: int,
    app_version: str | None = None,
    accept_on_pass: bool = True,
    min_r2_gain: float | None = None,
    request_id: str | None = None,
    log: Any = log,
) -> dict[str, Any]:
    """Probe the canary and store the result as a new version of ``model``; returns the result.

    :raises ProbeDataError: too little data (nothing stored, the baseline unchanged), or the load
        could not be put back (the result is kept in the message)
    """
    from airflow_wecube.capacity.plot import render_png
    from airflow_wecube.capacity.probe import ProbeDataError, probe_spec
    from airflow_wecube.capacity.probe_fit import analyse
    from airflow_wecube.capacity.probe_report import render_markdown
    from airflow_wecube.capacity.verdict import MIN_R2_GAIN

    instances = [c["target"] for c in canary]
    pspec = probe_spec(spec, instances, scrape_interval, name=model)
    version_under_test = app_version or next((c["version"] for c in canary if c.get("version")), None)
    baseline_version = store.baseline_version(model)
    baseline = store.load_version(model, baseline_version) if baseline_version else None
    hold = scrape_interval * hold_intervals
    log.info(
        "probing %s %s on %s: %d steps of %ss (%s)",
        model,
        version_under_test,
        ", ".join(instances),
        len(schedule),
        hold.total_seconds(),
        "baseline " + baseline_version if baseline_version else "no baseline yet",
    )
    began = time.monotonic()
    wait_up(prometheus, instances, scrape_interval)
    steps, restore_problems = run_schedule(plugin, canary, schedule, hold, request_id=request_id)
    start, end = steps[0].start, steps[-1].end
    wait_scraped(prometheus, instances, end, scrape_interval)
    frame = fetch(prometheus, pspec, start, end, scrape_interval)
    analysed, fit = analyse(
        pspec, frame, steps, scrape_interval, baseline, min_r2_gain=MIN_R2_GAIN if min_r2_gain is None else min_r2_gain
    )
    result = {
        **analysed["result"],
        "app_version": version_under_test,
        "instances": instances,
        "start": start.isoformat(),
        "end": end.isoformat(),
        "hold_seconds": hold.total_seconds(),
        "scrape_interval_seconds": scrape_interval.total_seconds(),
        "steps": [s.to_dict() for s in steps],
        "duration_seconds": round(time.monotonic() - began, 1),
        "restore_problems": restore_problems,
        "accepted": False,
    }
    png = render_png(
        fit.actual,
        fit.fitted,
        title=f"{model} {version_under_test}: probe on {', '.join(instances)}, n={fit.n}, R²={fit.r2:.3f}",
        formula=fit.formula,
        resid_std=fit.resid_std,
    )
    record = {
        "spec": pspec.model_dump(mode="json", by_alias=True),
        "window": {"start": result["start"], "end": result["end"], "step": pspec.step},
        "rows": {"fetched": len(frame), "kept": fit.n},
        "fit": analysed["fit"],
        "gates": analysed["gates"],
        "drift": None,
        "accepted": False,
        "probe": result,
    }
    version = store.save_version(model, record, png)
    result["version"] = version
    result["plot"] = str(store.plot_path(model, version))
    result["report"] = str(store.report_path(model, version))
    if result["verdict"] == "pass" and accept_on_pass and analysed["gates"]["passed"]:
        reason = f"capacity probe of {version_under_test}: pass"
        store.accept(model, version, reason=reason)
        result["accepted"] = True
    result["report_markdown"] = render_markdown(result)
    store.save_report(model, version, result["report_markdown"])
    store.update_version(model, version, probe=result, accepted=result["accepted"])
    if restore_problems:
        raise ProbeDataError(
            f"capacity probe of {model}: verdict {result['verdict']} (version {version}), but the load was not "
            "put back: " + "; ".join(restore_problems)
        )
    return result


__all__ = [
    "LOAD_SERVICE",
    "canary_list",
    "fetch",
    "hold_until",
    "restore",
    "run_probe",
    "run_schedule",
    "wait_scraped",
    "wait_up",
]
