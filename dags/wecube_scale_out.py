"""Runbook: add an instance before the capacity model's limit is reached. Started by ``CapacityHeadroomLow``.

The capacity rules (``airflow_wecube.capacity.rules``, published by the nightly refit and the rollout's
capacity probe) fire ``CapacityHeadroomLow`` when the model's prediction at the current volume
(``capacity:<model>:predicted``) is within 20 % of the spec's ``limit``. For the model ``MODEL`` of
``APP`` this DAG, scheduled on that alert's Asset:

1. ``triage``: the app's CI (version, instances) and the guard rails on its scale-out record
   (``<app>:scale-out``: cooldown, 3 within an hour, one run at a time, the kill switch Variable
   ``wecube_auto_remediation``), and ``max_instances``: beyond it a person is asked (``at_limit``).
2. ``approve`` (Variable ``approve``), ``claim`` (the lock, decided again on fresh history).
3. ``scale``: a host ``<app>-<n+1>`` in the subnet of the app's hosts, the running version on it, its
   Prometheus target (job ``wecube_app_<app>``), the instance added to the app's CI.
4. ``gate_up``: PromQL gate, the new instance ``up == 1`` (bounded).
5. ``finish`` / ``escalate`` / ``report`` as in ``wecube_remediate_instance``: recorded in the CMDB
   and XCom ``remediation``; a failure or a guard rail asks a person in the Required Actions inbox.
"""

from __future__ import annotations

from typing import Any

import pendulum
from airflow.sdk import DAG, Param, task

from airflow_wecube.alertmanager.assets import alert_asset
from airflow_wecube.capacity.rules import HEADROOM_ALERT
from airflow_wecube.orchestrations.rollout import job_name
from airflow_wecube.orchestrations.runbooks import (
    DEFAULT_ARGS,
    approve_step,
    claim_step,
    escalate_step,
    gate_step,
    guard_params,
    report_step,
)
from airflow_wecube.remediation.scale import describe

#: the capacity model (spec dags/capacity/account_service.yml) and the app it measures
MODEL, APP = "account_service", "account-service"
GATE_TIMEOUT = 90

with DAG(
    dag_id="wecube_scale_out",
    description=f"Runbook for {HEADROOM_ALERT} of {MODEL}: add a host running {APP}, gate on up == 1",
    start_date=pendulum.datetime(2026, 1, 1, tz="UTC"),
    schedule=[alert_asset(HEADROOM_ALERT)],
    catchup=False,
    max_active_runs=16,
    tags=["wecube", "runbook", "capacity"],
    default_args=DEFAULT_ARGS,
    params=guard_params(
        cooldown=900,
        cooldown_help="Seconds after a scale-out before another",
        flap_help="Scale-outs within flap_window that escalate",
        max_instances=Param(6, type="integer", minimum=1, description="Never run more instances than this"),
    ),
    doc_md=__doc__,
) as dag:

    @task.branch
    def triage(params: dict | None = None, triggering_asset_events=None, ti=None) -> list[str]:
        """The headroom alerts of this run and what to do (XCom ``triaged``)."""
        import time

        from airflow_wecube.hooks.plugin import WeCubePluginHook
        from airflow_wecube.remediation import scale
        from airflow_wecube.remediation.airflow import holder_name, kill_switch, run_alerts, run_is_active
        from airflow_wecube.remediation.runs import policy, triaged_branch

        alerts, ignored = run_alerts(triggering_asset_events)
        mode, mode_problem = kill_switch()
        entries = scale.triage(
            alerts,
            hook=WeCubePluginHook(),
            now=time.time(),
            mode=mode,
            mode_problem=mode_problem,
            policy=policy(params),
            me=holder_name(ti.dag_id, ti.run_id),
            running=run_is_active(ti),
            model=MODEL,
            app=APP,
            job=job_name(APP),
            max_instances=int((params or {})["max_instances"]),
            dry_run=bool((params or {}).get("dry_run")),
        )
        for e in entries:
            print(f"  {e['alertname']} {e['status']} ({e['model']}): {e['decision']}: {e['reason']}")
        plan = "\n".join(f"- **{e.get('action', e['decision'])}** ({e['reason']})" for e in entries)
        return triaged_branch(ti, entries, mode=mode, ignored=ignored, plan=plan)

    triaged = triage()

    approve = approve_step(f"Runbook {HEADROOM_ALERT}: scale {APP} out?")
    claimed = claim_step(describe)
    triaged >> [approve, claimed]
    approve >> claimed

    @task.branch
    def scale_out(entries: list[dict[str, Any]], dag_run=None, ti=None) -> list[str]:
        """A new host with the running version, its Prometheus target, the instance in the app's CI."""
        import time

        from airflow_wecube.hooks.plugin import WeCubePluginHook
        from airflow_wecube.hooks.prometheus import PrometheusHook
        from airflow_wecube.operators.plugin import stable_request_id
        from airflow_wecube.remediation import instance, scale

        def register(job: str, targets: list[str], labels: dict[str, str]) -> None:
            PrometheusHook().register_targets(job, targets, labels, confirm=False)

        out = scale.add_instance(
            entries,
            hook=WeCubePluginHook(),
            register=register,
            request_id=stable_request_id(ti.dag_id, dag_run.run_id, ti.task_id, -1),
            clock=time.time,
        )
        for e in out:
            if e["decision"] == "act":
                print(f"  {e['action']}: " + (e.get("error") or f"running on {e['instance']}"))
        promql, count = instance.gate_promql(out)
        ti.xcom_push(key="gate_promql", value=promql)
        ti.xcom_push(key="gate_count", value=count)
        ti.xcom_push(key="entries", value=out)
        return ["gate_up", "finish"] if count else ["finish"]

    scaled = scale_out(claimed)

    gate_up = gate_step("scale_out", GATE_TIMEOUT)
    scaled >> gate_up

    @task.branch(trigger_rule="all_done")
    def finish(ti=None) -> list[str]:
        """Give the lock back, judge the new instance, record; ``escalate`` when a person must act."""
        from airflow_wecube.remediation.runs import finish_run

        return finish_run(ti, act_task="scale_out", steps=("triage", "claim", "scale_out", "gate_up"))

    finished = finish()
    [triaged, claimed, scaled, gate_up] >> finished

    escalate = escalate_step(f"Runbook {HEADROOM_ALERT} needs a person: ")
    finished >> escalate

    [finished, escalate] >> report_step()
