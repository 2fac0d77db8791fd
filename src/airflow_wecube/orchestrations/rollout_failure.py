"""What ``wecube_app_rollout`` does when it fails: the rollback, the release of the hosts it created,
and the one message that says it all (the first real cause, what the rollback did, which hosts were
given back).

Each step takes the task instance (``ti``: XComs, task states) and its hooks as arguments, so the tests
run them with a small fake task instance. The order the report follows is
:data:`~airflow_wecube.orchestrations.rollout_steps.ORDER`; what the rollback puts back is
:mod:`.rollback`'s rule.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

from airflow_wecube.orchestrations.rollout_steps import BEFORE_XCOM_KEY, CLEANUP, ORDER, WATCHED, states_of

if TYPE_CHECKING:
    from airflow_wecube.hooks.plugin import WeCubePluginHook
    from airflow_wecube.hooks.prometheus import PrometheusHook

#: the deploys, in order, with the plan's XCom key of their inputs
DEPLOYS = (("deploy_canary", "canary_inputs"), ("deploy", "deploy_inputs"))


def rollback(
    ti: Any, params: Mapping[str, Any], *, hook: WeCubePluginHook, prometheus: Callable[[], PrometheusHook]
) -> dict[str, Any]:
    """Put back what was released on the hosts this run changed; fail when that could not be done.

    Summary (XCom ``summary``, pushed before a failure too): ``failed_tasks``, ``actions``, ``problems``.
    """
    from airflow.sdk.exceptions import AirflowFailException, AirflowSkipException

    from airflow_wecube.operators.plugin import RESULT_XCOM_KEY
    from airflow_wecube.orchestrations.failures import SUMMARY_XCOM_KEY
    from airflow_wecube.orchestrations.rollback import RollbackError, roll_back, touched_hosts

    decision = ti.xcom_pull(task_ids="approve")
    if not decision or decision.get("decision") != "approved":
        raise AirflowSkipException("nothing was deployed: the rollout was not approved")
    states = states_of(ti, WATCHED)
    failed = [t for t in WATCHED if states.get(t) == "failed"]
    touched: list[str] = []
    for task_id, key in DEPLOYS:  # the hosts each deploy that ran changed ("Stop" at the canary: only it)
        if states.get(task_id) in ("success", "failed"):
            planned = ti.xcom_pull(task_ids="plan", key=key) or []
            hosts = touched_hosts(ti.xcom_pull(task_ids=task_id, key=RESULT_XCOM_KEY), planned)
            touched += [h for h in hosts if h not in touched]
    before = ti.xcom_pull(task_ids="plan", key=BEFORE_XCOM_KEY) or {}
    summary: dict[str, Any] = {"failed_tasks": failed, "actions": [], "problems": []}
    try:
        summary["actions"], summary["problems"] = roll_back(
            hook, app=params["app"], touched=touched, before=before, prometheus=prometheus
        )
    except RollbackError as e:
        ti.xcom_push(key=SUMMARY_XCOM_KEY, value=summary)
        raise AirflowFailException(str(e)) from None
    print(f"Rollback of {params['app']} {params['version']} (failed: {', '.join(failed) or 'none'}):")
    for line in summary["actions"] + summary["problems"]:
        print(f"  - {line}")
    ti.xcom_push(key=SUMMARY_XCOM_KEY, value=summary)
    if summary["problems"]:
        raise AirflowFailException("rollback incomplete: " + "; ".join(summary["problems"]))
    return summary


def release_hosts(ti: Any, *, hook: WeCubePluginHook, request_id: str | None = None) -> dict[str, Any]:
    """When the rollout failed, destroy the hosts this run created (the hosts that existed are kept)."""
    from airflow.sdk.exceptions import AirflowFailException, AirflowSkipException

    from airflow_wecube.orchestrations.failures import SUMMARY_XCOM_KEY, created_hosts, failed_in_order
    from airflow_wecube.orchestrations.failures import release_hosts as destroy

    if not failed_in_order(states_of(ti), ORDER[: ORDER.index(CLEANUP[0])]):
        raise AirflowSkipException("the rollout went through: its hosts stay")
    outputs = [o for o in ti.xcom_pull(task_ids=["create_hosts"]) or [] if o]
    created = created_hosts(outputs)
    kept = sorted(o["name"] for o in outputs if o.get("created") != "Y")
    print(
        f"The rollout failed: releasing the {len(created)} host(s) it created"
        + (f", keeping {', '.join(kept)} (they existed before)" if kept else "")
    )
    summary = destroy(hook, created, request_id=request_id)
    summary["kept"] = kept
    for r in summary["released"]:
        print(f"  - released {r['name']} ({r['ip']}, ports {r['ports']})")
    ti.xcom_push(key=SUMMARY_XCOM_KEY, value=summary)
    if summary["problems"]:
        raise AirflowFailException(
            f"host(s) {', '.join(summary['not_released'])} created by this run were NOT released: "
            + "; ".join(summary["problems"])
        )
    return summary


def failure_report(ti: Any, params: Mapping[str, Any]) -> str | None:
    """The run's final message when the rollout failed (``None`` when it went through): the first
    real cause in :data:`ORDER` (each task records its own error), what the rollback did or could
    not do, and which hosts were released."""
    from airflow_wecube.operators.plugin import RESULT_XCOM_KEY
    from airflow_wecube.orchestrations.failures import (
        FAILURE_XCOM_KEY,
        SUMMARY_XCOM_KEY,
        deploy_reason,
        describe_release,
        describe_rollback,
        failed_in_order,
        failure_message,
        first_cause,
    )
    from airflow_wecube.orchestrations.rollout import probe_stop_reason

    states = states_of(ti)
    rollout_failed = [t for t in failed_in_order(states, ORDER) if t not in CLEANUP]
    if not rollout_failed:
        return None
    records = {r["task"]: r["error"] for r in ti.xcom_pull(task_ids=list(ORDER), key=FAILURE_XCOM_KEY) or [] if r}
    for task_id, _ in DEPLOYS:
        reason = deploy_reason(params["app"], params["version"], ti.xcom_pull(task_ids=task_id, key=RESULT_XCOM_KEY))
        if reason:
            records[task_id] = reason
    if "probe_decision" in records:  # a "Stop": name the verdict and its coefficient
        records["probe_decision"] = probe_stop_reason(ti.xcom_pull(task_ids="probe"), records["probe_decision"])
    cause = first_cause(rollout_failed, records)
    if states.get("rollback") == "skipped" and states.get("gate_error_rate") == "success":
        rollback_text = "none: every gate passed, the release stays deployed"
    else:
        summary = ti.xcom_pull(task_ids="rollback", key=SUMMARY_XCOM_KEY)
        rollback_text = describe_rollback(states.get("rollback"), summary, records.get("rollback"))
    release = ti.xcom_pull(task_ids="release_hosts", key=SUMMARY_XCOM_KEY)
    if release is not None and states.get("release_hosts") == "failed" and not release.get("problems"):
        release = {**release, "problems": [records.get("release_hosts", "")]}
    created = [o for o in ti.xcom_pull(task_ids=["create_hosts"]) or [] if o and o.get("created") == "Y"]
    subject = f"rollout of {params['app']} {params['version']}"
    return failure_message(subject, cause, rollback=rollback_text, hosts=describe_release(release, created))


def report_failure(ti: Any, params: Mapping[str, Any]) -> None:
    """Fail the run with :func:`failure_report`'s message (also XCom ``message``); skip when it went through."""
    from airflow.sdk.exceptions import AirflowFailException, AirflowSkipException

    from airflow_wecube.orchestrations.failures import MESSAGE_XCOM_KEY

    message = failure_report(ti, params)
    if message is None:
        raise AirflowSkipException("the rollout went through")
    ti.xcom_push(key=MESSAGE_XCOM_KEY, value=message)
    raise AirflowFailException(message)


__all__ = ["DEPLOYS", "failure_report", "release_hosts", "report_failure", "rollback"]
