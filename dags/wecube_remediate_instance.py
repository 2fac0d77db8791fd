"""Runbook: bring back an app instance that is down. Started by the ``AccountServiceDown`` alert.

Alertmanager's webhook (``POST /wecube/alerts``) records each alert state change as an Asset event
on ``wecube-alert://AccountServiceDown``; this DAG is scheduled on that Asset and reads the alerts
from ``triggering_asset_events``.

1. ``triage``: per alert, find the instance in the CMDB (the app CI the rollout recorded: version and
   instances) and decide under the guard rails (``airflow_wecube.remediation.guard``): a
   ``resolved`` alert is only recorded; a duplicate, a target another run is fixing (``busy``), one
   acted on within the cooldown, one that needed fixing 3 times within an hour (``flapping``), an
   unknown instance, or the kill switch ``off`` (Variable ``wecube_auto_remediation``) does not act.
2. ``approve`` (only when the Variable is ``approve``): a person approves first.
3. ``claim``: takes the target's lock in the CMDB (compare-and-set: at most one remediation per target
   at a time, across runs and workers) and decides again on the fresh history.
4. ``silence``: silences the alert in Alertmanager while the redeploy runs (expired as soon as it
   returned, and again in ``finish``).
5. ``redeploy``: the same version on the same host (``deploy/app/deploy``, one batched call).
6. ``gate_up``: PromQL gate, ``up == 1`` for the redeployed instances (bounded).
7. ``finish`` (always): expires the silences, gives the locks back, judges each fix from Prometheus,
   appends each alert's record (alert, decision, action, outcome, timings) to its target's history in
   the CMDB (CI type ``remediation``) and to XCom ``remediation``.
8. ``escalate`` (when a fix failed or a guard rail left a firing alert alone): a request in the
   Required Actions inbox, priority high, with the alert and every attempt as evidence.
9. ``report``: the run's message (XCom ``message``); the run fails, saying why, when it escalated.

Param ``dry_run``: decide and record what would be done, change nothing, ask nobody.
"""

from __future__ import annotations

from typing import Any

import pendulum
from airflow.sdk import DAG, task

from airflow_wecube.alertmanager.assets import alert_asset
from airflow_wecube.orchestrations.runbooks import (
    DEFAULT_ARGS,
    approve_step,
    claim_step,
    escalate_step,
    gate_step,
    guard_params,
    report_step,
)

#: the alert this runbook answers: the rollout's "target down" rule of account-service
ALERT = "AccountServiceDown"
#: how long the gate waits for the redeployed instance to be up in Prometheus
GATE_TIMEOUT = 60

with DAG(
    dag_id="wecube_remediate_instance",
    description=f"Runbook for {ALERT}: redeploy the instance that is down, gate on up == 1; a person if that fails",
    start_date=pendulum.datetime(2026, 1, 1, tz="UTC"),
    schedule=[alert_asset(ALERT)],
    catchup=False,
    max_active_runs=16,
    tags=["wecube", "runbook", "prometheus"],
    default_args=DEFAULT_ARGS,
    params=guard_params(
        cooldown=300,
        cooldown_help="Seconds after a fix in which a target is not acted on again",
        flap_help="Fixes of one target within flap_window that escalate instead",
    ),
    doc_md=__doc__,
) as dag:

    @task.branch
    def triage(params: dict | None = None, triggering_asset_events=None, dag_run=None, ti=None) -> list[str]:
        """The alerts of this run and what to do for each (see the guard rails); straight to ``finish`` when
        nothing acts, through ``approve`` when the kill switch says so (XCom ``triaged``: mode and entries)."""
        import time

        from airflow_wecube.hooks.plugin import WeCubePluginHook
        from airflow_wecube.remediation import instance
        from airflow_wecube.remediation.airflow import holder_name, kill_switch, run_alerts, run_is_active
        from airflow_wecube.remediation.runs import policy, triaged_branch

        alerts, problems = run_alerts(triggering_asset_events)
        for p in problems:
            print(f"  ignored: {p}")
        mode, mode_problem = kill_switch()
        print(
            f"{len(alerts)} alert(s); wecube_auto_remediation = {mode}" + (f" ({mode_problem})" if mode_problem else "")
        )
        entries = instance.triage(
            alerts,
            hook=WeCubePluginHook(),
            now=time.time(),
            mode=mode,
            mode_problem=mode_problem,
            policy=policy(params),
            me=holder_name(ti.dag_id, ti.run_id),
            running=run_is_active(ti),
            dry_run=bool((params or {}).get("dry_run")),
        )
        for e in entries:
            where = f"{e['instance'] or '?'} ({e.get('target')})"
            print(f"  {e['alertname']} {e['status']} on {where}: {e['decision']}: {e['reason']}")
        plan = "\n".join(
            f"- {e['alertname']} on `{e['instance']}`: **{e.get('action', e['decision'])}** ({e['reason']})"
            for e in entries
        )
        return triaged_branch(ti, entries, mode=mode, ignored=problems, plan=plan)

    triaged = triage()

    approve = approve_step(f"Runbook {ALERT}: remediate?")
    claimed = claim_step()
    triaged >> [approve, claimed]
    approve >> claimed

    @task
    def silence(entries: list[dict[str, Any]], dag_run=None) -> dict[str, str]:
        """Silence each alert acted on, for as long as the remediation may take (expired in ``finish``)."""
        from airflow_wecube.remediation.airflow import silence_alerts

        acting = [e for e in entries if e["decision"] == "act"]
        if not acting:
            return {}
        ids, problems = silence_alerts(acting, created_by=dag_run.dag_id, comment=f"remediating ({dag_run.run_id})")
        for p in problems:
            print(f"  {p}")
        return ids

    silenced = silence(claimed)

    @task.branch
    def redeploy(entries: list[dict[str, Any]], dag_run=None, ti=None) -> list[str]:
        """The same version again on each target's host (one batched ``deploy/app/deploy``); the gate
        when something was redeployed (XCom ``entries``)."""
        import time

        from airflow_wecube.hooks.plugin import WeCubePluginHook
        from airflow_wecube.operators.plugin import stable_request_id
        from airflow_wecube.remediation import instance

        out = instance.redeploy(
            entries,
            hook=WeCubePluginHook(),
            request_id=stable_request_id(ti.dag_id, dag_run.run_id, ti.task_id, -1),
            clock=time.time,
        )
        # the silence ends with the redeploy, before Prometheus sees the instance up: a resolve that
        # Alertmanager hides behind a silence leaves the alert "notified as firing" in its log, so the
        # next crash of the same instance would be held back until repeat_interval
        from airflow_wecube.remediation.airflow import expire_silences

        for problem in expire_silences(ti.xcom_pull(task_ids="silence") or {}):
            print(f"  {problem}")
        promql, count = instance.gate_promql(out)
        ti.xcom_push(key="gate_promql", value=promql)
        ti.xcom_push(key="gate_count", value=count)
        for e in out:
            if e["decision"] == "act":
                print(f"  {e['action']}: " + ("deployed" if e.get("deployed") else e.get("error", "")))
        ti.xcom_push(key="entries", value=out)
        return ["gate_up", "finish"] if count else ["finish"]

    redeployed = redeploy(claimed)
    silenced >> redeployed

    gate_up = gate_step("redeploy", GATE_TIMEOUT)
    redeployed >> gate_up

    @task.branch(trigger_rule="all_done")
    def finish(ti=None) -> list[str]:
        """Expire the silences, give the locks back, judge each fix, record everything; ``escalate`` when a
        person must act (XCom ``remediation``: the entries; ``summary``: who must act and why)."""
        from airflow_wecube.remediation.runs import finish_run

        return finish_run(
            ti, act_task="redeploy", steps=("triage", "claim", "silence", "redeploy", "gate_up"), silence_task="silence"
        )

    finished = finish()
    [triaged, claimed, silenced, redeployed, gate_up] >> finished

    escalate = escalate_step(f"Runbook {ALERT} needs a person: ")
    finished >> escalate

    [finished, escalate] >> report_step()
