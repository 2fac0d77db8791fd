"""The steps every runbook DAG shares, so that a runbook file shows only what is its own.

A runbook (``dags/wecube_remediate_instance.py``, ``dags/wecube_scale_out.py``) is triage → (approve)
→ claim → its own action → ``gate_up`` → finish → (escalate) → report. The guard-rail params, the
approval before acting, the PromQL gate after it, the escalation to a person and the final report
are the same in each: they are made here. The decisions behind them are in
:mod:`airflow_wecube.remediation` (pure, no Airflow).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import timedelta
from typing import Any

from airflow.sdk import Param, task

from airflow_wecube.orchestrations.failures import record_failure
from airflow_wecube.sensors.approval import ApprovalSensor
from airflow_wecube.sensors.prometheus import PrometheusQuerySensor

#: a task that fails for a passing reason (a busy machine, a plugin restarting) is tried again: every
#: step is safe to repeat (reads, the lock is ours, the action's request id is stable, attempts are
#: recorded once per run and alert)
DEFAULT_ARGS: dict[str, Any] = {
    "on_failure_callback": record_failure,
    "retries": 2,
    "retry_delay": timedelta(seconds=3),
}
#: the targets ``finish`` says a person must look at, for the escalation's subject
TARGETS = "{{ ti.xcom_pull(task_ids='finish', key='summary')['targets'] | join(', ') }}"


def guard_params(*, cooldown: int, cooldown_help: str, flap_help: str, **extra: Param) -> dict[str, Param]:
    """The guard rails' params (read by :func:`airflow_wecube.remediation.runs.policy`), and ``extra``."""
    return {
        "dry_run": Param(False, type="boolean", description="Decide and record what would be done; change nothing"),
        "cooldown": Param(cooldown, type="integer", minimum=0, description=cooldown_help),
        "flap_limit": Param(3, type="integer", minimum=1, description=flap_help),
        "flap_window": Param(3600, type="integer", minimum=60, description="Seconds (see flap_limit)"),
        **extra,
    }


def approve_step(subject: str) -> ApprovalSensor:
    """``approve``: with the kill switch on ``approve``, a person approves triage's plan before anything acts."""
    return ApprovalSensor(
        task_id="approve",
        subject=subject,
        body="{{ ti.xcom_pull(task_ids='triage', key='plan') }}",
        priority="high",
        response_timeout=timedelta(minutes=30),
        on_timeout="reject",
        on_reject="skip",
    )


def claim_step(describe: Callable[[Mapping[str, Any]], str] | None = None):
    """``claim`` (after triage, or after ``approve``): the locks of the targets to act on; the entries.

    :param describe: the action in words for an entry (default: the instance runbook's redeploy)
    """

    @task(task_id="claim", trigger_rule="none_failed_min_one_success")
    def claim(params: dict | None = None, ti=None) -> list[dict[str, Any]]:
        """Lock each target to act on (one remediation per target at a time); decide again on its fresh history."""
        from airflow_wecube.remediation.runs import claim_run

        return claim_run(ti, params, describe)

    return claim()


def gate_step(act_task: str, timeout: int) -> PrometheusQuerySensor:
    """``gate_up``: the instances ``act_task`` started are ``up == 1`` in Prometheus within ``timeout`` s
    (its XComs ``gate_promql`` and ``gate_count``)."""
    return PrometheusQuerySensor(
        task_id="gate_up",
        promql=f"{{{{ ti.xcom_pull(task_ids='{act_task}', key='gate_promql') }}}}",
        condition=f"all == 1 and count >= {{{{ ti.xcom_pull(task_ids='{act_task}', key='gate_count') }}}}",
        poke_interval=1,
        timeout=timeout,
        mode="poke",
        retries=0,  # not up within the bound: that is the fix's outcome, not a passing failure
    )


def escalate_step(subject: str) -> ApprovalSensor:
    """``escalate``: a request in the Required Actions inbox, priority high, with ``finish``'s evidence."""
    return ApprovalSensor(
        task_id="escalate",
        subject=subject + TARGETS,
        body="{{ ti.xcom_pull(task_ids='finish', key='evidence') }}",
        options=["Fixed by hand", "Leave it"],
        approve_options=["Fixed by hand"],
        priority="high",
        response_timeout=timedelta(days=1),
        on_timeout="reject",
        on_reject="skip",
    )


@task(task_id="report", trigger_rule="all_done")
def _report(ti=None) -> str:
    """The run's message; the run fails, saying why, when a person had to be asked."""
    from airflow_wecube.remediation.runs import report_run

    return report_run(ti)


def report_step():
    """``report`` (after ``finish`` and ``escalate``, whatever they did): the run's message (XCom
    ``message``); the run fails, saying why, when it escalated."""
    return _report()
