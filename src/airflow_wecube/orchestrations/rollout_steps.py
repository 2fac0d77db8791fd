"""The steps of ``wecube_app_rollout`` that hold decisions, as functions the DAG's tasks call: the
run's checks and lock (its first task), the plan, the alert rules, the error-rate gate, the app's CMDB
record, the baseline promotion and the end of the run (the lock given back). The rollback, the host
release and the failure report are in :mod:`.rollout_failure`.

Each takes the task instance (``ti``: XComs, task states) and its hooks as arguments, so the tests run
them with a small fake task instance, without an Airflow scheduler. Airflow's exceptions are
imported inside the functions that raise them.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any

from airflow_wecube.orchestrations.rollout import VERSION_METRIC, error_rate_promql, job_name
from airflow_wecube.orchestrations.rollout_params import RunRefused, check_params

if TYPE_CHECKING:
    from airflow_wecube.hooks.plugin import WeCubePluginHook
    from airflow_wecube.hooks.prometheus import PrometheusHook

#: every task that may fail the rollout, in DAG order: the first one that failed with an error of
#: its own is the cause the report names; ``rollback`` and ``release_hosts`` clean up after a failure
ORDER = (
    "host_requests",
    "create_hosts",
    "plan",
    "approve",
    "deploy_canary",
    "register_canary",
    "probe",
    "judge",
    "probe_decision",
    "deploy",
    "register_targets",
    "alert_rules",
    "gate_up",
    "wait_error_rate",
    "gate_error_rate",
    "rollback",
    "release_hosts",
    "record_cmdb",
    "promote_baseline",
)
#: the tasks whose failure rolls back (the rollback's upstream): from the canary's deploy to the gates
WATCHED = tuple(t for t in ORDER[ORDER.index("deploy_canary") : ORDER.index("rollback")] if t != "judge")
#: the tasks that clean up after a failure (their failure is reported, it is not the cause)
CLEANUP = ("rollback", "release_hosts")
#: XCom key (task ``plan``) of what ran before the run: the app's release and each host's version
BEFORE_XCOM_KEY = "before"


def plugin_hook() -> WeCubePluginHook:
    """The plugin hook on ``wecube_default`` (imported when a task runs, not when the DAG is parsed)."""
    from airflow_wecube.hooks.plugin import WeCubePluginHook

    return WeCubePluginHook()


def prometheus_hook() -> PrometheusHook:
    """The Prometheus hook on ``prometheus_default``."""
    from airflow_wecube.hooks.prometheus import PrometheusHook

    return PrometheusHook()


def states_of(ti: Any, task_ids: Sequence[str] | None = None) -> dict[str, str]:
    """This run's task states (mapped ones as ``task_i``)."""
    kwargs = {"task_ids": list(task_ids)} if task_ids is not None else {}
    return ti.get_task_states(dag_id=ti.dag_id, run_ids=[ti.run_id], **kwargs).get(ti.run_id, {})


def holder(ti: Any) -> str:
    """The name a run holds the app's rollout lock under."""
    return f"{ti.dag_id}/{ti.run_id}"


# -- the first task: the run's checks, then the lock -----------------------------------------------


def start_run(
    ti: Any,
    params: Mapping[str, Any],
    conf: Mapping[str, Any] | None,
    declared: Iterable[str],
    *,
    hook: WeCubePluginHook,
    steps: int,
    hold_intervals: int,
    now: float,
) -> list[dict[str, Any]]:
    """The first task: refuse unknown conf keys and bad parameters, take the app's rollout lock, and
    return one host-create request per host. Nothing is created when it refuses.

    :raises RunRefused: why the run cannot start (another rollout of the app runs: its name)
    """
    from airflow_wecube.orchestrations import rollout_lock
    from airflow_wecube.orchestrations.failures import ConfError, refuse_unknown_conf
    from airflow_wecube.orchestrations.rollout import host_requests
    from airflow_wecube.remediation.airflow import run_is_active

    try:
        refuse_unknown_conf(conf, declared)
    except ConfError as e:
        raise RunRefused(str(e)) from None
    check_params(params, steps=steps, hold_intervals=hold_intervals)
    try:
        rollout_lock.claim(
            hook, params["app"], holder(ti), version=params["version"], now=now, running=run_is_active(ti)
        )
    except (rollout_lock.RolloutBusy, rollout_lock.LockError) as e:
        raise RunRefused(str(e)) from None
    print(f"rollout lock of {params['app']} taken by {holder(ti)}")
    return host_requests(params)


def end_run(ti: Any, params: Mapping[str, Any], *, hook: WeCubePluginHook) -> bool:
    """The run's end: give the app's rollout lock back (never fails: a lock whose run ended is stale)."""
    from airflow_wecube.orchestrations import rollout_lock

    try:
        given = rollout_lock.release(hook, params["app"], holder(ti))
    except rollout_lock.LockError as e:
        print(f"the rollout lock was not given back ({e}); it is taken over since this run ended")
        return False
    print(f"rollout lock of {params['app']} " + ("given back" if given else "not held by this run"))
    return given


# -- the plan ---------------------------------------------------------------------------------------


def plan(host_outputs: Any, params: Mapping[str, Any], *, hook: WeCubePluginHook) -> dict[str, Any]:
    """The rollout plan (the approver's evidence), the deploy requests, and what runs before the run
    (the app's release and each host's version: what a rollback puts back)."""
    from airflow_wecube.orchestrations.rollback import read_before
    from airflow_wecube.orchestrations.rollout import rollout_plan

    out = rollout_plan(host_outputs, params)
    before = read_before(hook, params["app"], [h["name"] for h in out["hosts"]])
    release = before["released"]
    out["markdown"] += (
        f"\n\nReleased now: **{release['version']}** on {', '.join(release['hosts']) or 'no host'}; "
        "a failure puts it back on every host that served it."
        if release
        else "\n\nNothing of this app is released yet: a failure removes it again."
    )
    out[BEFORE_XCOM_KEY] = before
    return out


# -- monitoring: the alert rules and the error-rate gate --------------------------------------------

#: the app's Prometheus job, as a template of the run's parameters
JOB = "wecube_app_{{ params.app }}"
_INSTANCE = "{{ '{{' }} $labels.instance {{ '}}' }}"  # Prometheus's own template, kept through Jinja


def alert_rules(job: str = JOB) -> list[dict[str, Any]]:
    """The app's alert rules, templated on the run's parameters (filters ``down_alert`` and
    ``error_rate_alert`` of :mod:`airflow_wecube.orchestrations.rollout`): ``<App>Down`` (a target down for
    ``params.down_for``; for ``account-service`` it is ``AccountServiceDown``, the runbook
    ``wecube_remediate_instance`` answers it) and ``<App>ErrorRateHigh``."""
    return [
        {
            "alert": "{{ params.app | down_alert }}",
            "expr": f'up{{job="{job}"}} == 0',
            "for": "{{ params.down_for }}",
            "labels": {"severity": "critical", "app": "{{ params.app }}", "job": job, "instance": _INSTANCE},
            "annotations": {"summary": f"{_INSTANCE} of {{{{ params.app }}}} is down"},
        },
        {
            "alert": "{{ params.app | error_rate_alert }}",
            "expr": error_rate_promql(f'job="{job}"', "{{ params.rate_window }}") + " > {{ params.max_error_rate }}",
            "for": "2m",
            "labels": {"severity": "warning", "app": "{{ params.app }}", "job": job},
            "annotations": {
                "summary": f"{_INSTANCE} of {{{{ params.app }}}} fails more than "
                "{{ params.max_error_rate }} of its operations"
            },
        },
    ]


def gate_error_rate(series: list, params: Mapping[str, Any]) -> list:
    """Fail when an instance fails more than ``max_error_rate`` of its operations."""
    from airflow.sdk.exceptions import AirflowFailException

    from airflow_wecube.orchestrations.rollout import error_rate_failure, error_rates

    rates = error_rates(series)
    for instance, value in sorted(rates.items()):
        print(f"  {instance}: error rate {value}")
    failure = error_rate_failure(rates, float(params["max_error_rate"]))
    if failure:
        raise AirflowFailException(failure)
    return series


# -- the record and the baseline ---------------------------------------------------------------------


def record_app(
    params: Mapping[str, Any],
    deployed: list,
    targets_added: list,
    rule_group: dict,
    run_id: str,
    *,
    hook: WeCubePluginHook,
) -> dict[str, Any]:
    """The app's CI, the release a later rollback puts back: version, instances, targets, rule group
    and deploy settings (created once, then updated)."""
    from airflow_wecube.orchestrations.rollout import app_attributes

    attributes = app_attributes(params, deployed, targets_added, rule_group, run_id)
    app = params["app"]
    ci = hook.call("cmdb/ci/create", {"callbackParameter": app, "type": "app", "name": app}).outputs[0]
    hook.call("cmdb/ci/update", {"callbackParameter": app, "guid": ci["guid"], "attributes": attributes})
    return {"guid": ci["guid"], "name": app, **attributes}


def _iso(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def canary_problem(prometheus: PrometheusHook, job: str, result: Mapping[str, Any]) -> str | None:
    """Why the probe's canary did NOT run the probed version throughout the probe, from the versions
    Prometheus scraped from it over the probe's window (another run's deploy or rollback shows as a
    second version); ``None`` when it did."""
    version, start, end = result.get("app_version"), result.get("start"), result.get("end")
    if not (version and start and end and result.get("instances")):
        return "the probe result does not say which version it probed, where and when"
    seconds = max(1, math.ceil((_iso(end) - _iso(start)).total_seconds()))
    problems = []
    for instance in result["instances"]:
        selector = f'job="{job}", instance="{instance}"'
        expr = f"sum by (version) (count_over_time({VERSION_METRIC}{{{selector}}}[{seconds}s]))"
        try:
            seen = prometheus.query(expr, at=end)
        except Exception as e:
            return f"could not ask Prometheus what the canary ran during the probe: {e}"
        versions = sorted(s["labels"].get("version", "?") for s in seen)
        if versions != [version]:
            shown = ", ".join(versions) or "no version at all"
            problems.append(f"{instance} reported {shown} during the probe, not only {version}")
    return "; ".join(problems) or None


def promote_baseline(
    ti: Any, params: Mapping[str, Any], *, store: Any, prometheus: Callable[[], PrometheusHook]
) -> dict[str, Any]:
    """The released version's canary fit becomes the capacity baseline the next release is judged by,
    only if the canary ran the probed version throughout the probe (:func:`canary_problem`)."""
    from airflow.sdk.exceptions import AirflowSkipException

    from airflow_wecube.capacity.errors import StoreError
    from airflow_wecube.capacity.pipeline import accept_version
    from airflow_wecube.orchestrations.rollout import baseline_reason

    result = ti.xcom_pull(task_ids="probe")
    if not result or not result.get("version"):
        raise AirflowSkipException("no capacity probe ran: the baseline stays")
    problem = canary_problem(prometheus(), job_name(params["app"]), result)
    if problem:
        print(f"the canary's fit {result['version']} did not become the baseline: {problem}")
        return {"accepted": False, "reason": problem}
    reason = baseline_reason(result, ti.xcom_pull(task_ids="probe_decision"))
    try:
        done = accept_version(store(), result["model"], result["version"], reason=reason)
    except StoreError as e:  # the release went through; a fit that cannot be the baseline is said, not fatal
        print(f"the canary's fit did not become the baseline: {e}")
        return {"accepted": False, "reason": str(e)}
    print(f"capacity baseline of {result['model']}: {done['previous']} -> {done['version']} ({reason})")
    return {"accepted": True, **done}


__all__ = [
    "BEFORE_XCOM_KEY",
    "CLEANUP",
    "JOB",
    "ORDER",
    "WATCHED",
    "RunRefused",
    "alert_rules",
    "canary_problem",
    "end_run",
    "gate_error_rate",
    "holder",
    "plan",
    "plugin_hook",
    "prometheus_hook",
    "promote_baseline",
    "record_app",
    "start_run",
    "states_of",
]
