"""Keep reality equal to the design: act on every difference the *Design vs reality* page shows.

Every 10 minutes (``[wecube] reconcile_schedule`` changes it; ``none``: only when triggered) and when
triggered, this DAG compares the network design (``designs/network.yml``)
and each app's instances with the CMDB's records and with what the owning plugins report
(``network/*/query``, ``deploy/app/query``), classifies each difference (``missing``, ``changed``,
``extra``, ``stale_record``) and applies the strategies of ``designs/strategies.yml``:

1. ``plan``: the differences and, per difference, the action and the decision under the guard rails
   the runbooks share: the kill switch Variable ``wecube_auto_remediation`` (``off``: recorded and
   asked only; ``approve``: a person approves first), at most ``max_changes`` changes per run (more:
   a person decides), ``dry_run``, one reconcile at a time.
2. ``approve`` (Variable ``approve`` only).
3. ``apply``: one batched plugin call per kind and action (the build's and the rollout's services,
   request ids stable across retries), then reality read again: per difference its outcome and
   before/after.
4. ``ask``: the differences a person decides (Required Actions, evidence attached): *Apply* carries
   out the proposal (e.g. delete a stray security group), *Leave it* accepts it as it is.
5. ``resolve`` and ``report``: the run's message, shown on the *Loop actions* page; the run fails
   when a fix failed (the next run tries it again).

Docs: docs/reconcile.md.
"""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pendulum
from airflow.sdk import DAG, Param, task

from airflow_wecube.orchestrations.failures import record_failure
from airflow_wecube.orchestrations.reconcile import schedule
from airflow_wecube.sensors.approval import ApprovalSensor

HERE = Path(__file__).parent

with DAG(
    dag_id="wecube_reconcile",
    description="Design vs reality: create what is missing, update what changed, ask about what is extra",
    start_date=pendulum.datetime(2026, 1, 1, tz="UTC"),
    schedule=schedule(),  # every 10 minutes; [wecube] reconcile_schedule: none, or a cron expression
    catchup=False,
    max_active_runs=1,  # one reconcile at a time
    tags=["wecube", "runbook", "reconcile"],
    default_args={"on_failure_callback": record_failure, "retries": 0},
    params={
        "dry_run": Param(False, type="boolean", description="Compare and report what would be done; change nothing"),
        "max_changes": Param(
            None,
            type=["null", "integer"],
            minimum=0,
            description="At most this many changes in one run (more: a person decides); default from strategies.yml",
        ),
    },
    doc_md=__doc__,
) as dag:

    @task.branch
    def plan(params: dict | None = None, ti=None) -> list[str]:
        """The differences and what to do with each (XCom ``plan``)."""
        from airflow_wecube.orchestrations.reconcile_run import plan_task

        return plan_task(ti, params, HERE)

    approve = ApprovalSensor(
        task_id="approve",
        subject="Reconcile: apply these changes?",
        body="{{ ti.xcom_pull(task_ids='plan', key='plan_text') }}",
        priority="high",
        response_timeout=timedelta(minutes=30),
        on_timeout="reject",
        on_reject="skip",
    )

    # retried with the same request ids: a plugin answers a repeated call with its first answer
    @task.branch(trigger_rule="none_failed_min_one_success", retries=2, retry_delay=timedelta(seconds=5))
    def apply(ti=None) -> list[str]:
        """Apply the plan, read reality again (XCom ``entries``)."""
        from airflow_wecube.orchestrations.reconcile_run import apply_task

        return apply_task(ti, HERE)

    ask = ApprovalSensor(
        task_id="ask",
        subject="Reconcile: reality differs from the design, decide",
        body="{{ ti.xcom_pull(task_ids='apply', key='evidence') }}",
        options=["Apply", "Leave it"],
        approve_options=["Apply"],
        priority="high",
        response_timeout=timedelta(days=1),
        on_timeout="reject",
        on_reject="skip",
    )

    @task(trigger_rule="all_done", retries=2, retry_delay=timedelta(seconds=5))
    def resolve(ti=None) -> list:
        """Carry out the person's answer."""
        from airflow_wecube.orchestrations.reconcile_run import resolve_task

        return resolve_task(ti, HERE)

    @task(trigger_rule="all_done")
    def report(ti=None) -> str:
        """The run's message (XCom ``message``)."""
        from airflow_wecube.orchestrations.reconcile_run import report_task

        return report_task(ti)

    planned = plan()
    applied = apply()
    resolved = resolve()
    planned >> [approve, applied]
    approve >> applied
    applied >> [ask, resolved]
    ask >> resolved
    resolved >> report()
