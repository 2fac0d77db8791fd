"""The parameters of ``wecube_app_rollout``: Airflow's schema (checked when the run is triggered: a
bad value is refused with HTTP 400 and no run) and what that schema cannot express, checked by the
run's first task before anything is created (:func:`check_params`).

Airflow is imported inside :func:`dag_params` only (the DAG file calls it at parse time).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import timedelta
from typing import Any

from airflow_wecube.orchestrations.rollout import APP_PATTERN, SUBNET_PATTERN, VERSION_PATTERN, WINDOW_PATTERN

#: a capacity spec's name: ``capacity/<name>.yml`` beside the DAGs
SPEC_PATTERN = r"^[A-Za-z_][A-Za-z0-9_]*$"
#: the shortest scrape interval the probe accepts (seconds): Prometheus's own durations are in
#: milliseconds, and a probe step holds a few scrapes
MIN_SCRAPE_INTERVAL = 1


class RunRefused(ValueError):
    """The run cannot start: a bad parameter, or another rollout of the app in progress."""


def dag_params(default_subnet: str) -> dict[str, Any]:
    """The DAG's ``params``: each one typed and bounded, with the text the trigger form shows."""
    from airflow.sdk import Param

    return {
        "app": Param("account-service", type="string", pattern=APP_PATTERN, description="Application name"),
        "version": Param(
            "1.0.0",
            type="string",
            pattern=VERSION_PATTERN,
            description='Version to deploy ("broken" in it fails the health check)',
        ),
        "host_count": Param(2, type="integer", minimum=1, maximum=50, description="Hosts to run it on"),
        "subnet": Param(
            default_subnet,
            type="string",
            minLength=1,
            pattern=SUBNET_PATTERN,
            description="Subnet (name or guid) for the hosts",
        ),
        "rate": Param(5.0, type="number", minimum=0, maximum=500, description="Generated load (opens per second)"),
        "error_rate": Param(
            0.0,
            type="number",
            minimum=0,
            maximum=1,
            description="Fraction of operations the app fails (to try the gate)",
        ),
        "max_error_rate": Param(
            0.05, type="number", minimum=0, maximum=1, description="The gate: highest error rate accepted per instance"
        ),
        "down_for": Param(
            "1m",
            type="string",
            pattern=WINDOW_PATTERN,
            description="How long a target must be down before its alert fires (the rule's `for`)",
        ),
        "rate_window": Param(
            "30s", type="string", pattern=WINDOW_PATTERN, description="PromQL rate() window, above zero (e.g. 30s, 2m)"
        ),
        "probe": Param(True, type="boolean", description="Run the capacity probe on the canary before the other hosts"),
        "capacity_spec": Param(
            "account_service",
            type="string",
            pattern=SPEC_PATTERN,
            description="Capacity spec the probe fits (capacity/<name>.yml beside the DAGs)",
        ),
        "scrape_interval": Param(
            5,
            type="number",
            minimum=MIN_SCRAPE_INTERVAL,
            maximum=300,
            description="Prometheus's scrape interval (seconds, at least 1)",
        ),
    }


def check_params(params: Mapping[str, Any], *, steps: int, hold_intervals: int) -> None:
    """What the schema cannot check, before anything is created: the capacity spec loads (when the
    probe is on) and the probe can run at that scrape interval; raises :class:`RunRefused` naming
    every problem."""
    from airflow_wecube.capacity.airflow import resolve_spec
    from airflow_wecube.capacity.probe import check_probe_params

    problems = []
    value = params.get("scrape_interval")
    try:
        seconds = float(value)  # type: ignore[arg-type]
        if not seconds >= MIN_SCRAPE_INTERVAL:  # NaN too
            raise ValueError(f"must be at least {MIN_SCRAPE_INTERVAL} second(s)")
        check_probe_params(steps, hold_intervals, timedelta(seconds=seconds))
    except (TypeError, ValueError, OverflowError) as e:
        problems.append(f"scrape_interval {value!r}: {e}")
    if params.get("probe", True):
        try:
            resolve_spec(params.get("capacity_spec", ""))
        except Exception as e:  # no such file, or a spec that does not load: say which and why
            problems.append(f"capacity_spec {params.get('capacity_spec')!r}: {e}")
    if problems:
        raise RunRefused("; ".join(problems) + " (nothing was created)")


__all__ = ["MIN_SCRAPE_INTERVAL", "SPEC_PATTERN", "RunRefused", "check_params", "dag_params"]
