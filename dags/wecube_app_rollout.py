"""Roll out an application: hosts → approval → canary → capacity probe → deploy → monitoring → gate → CMDB.

``host_requests`` checks the run (unknown conf keys, a capacity spec that does not load, a scrape
interval the probe cannot use) and takes the app's rollout lock: one rollout per app at a time, a
second run of the same app is refused at once, naming the run in progress. ``create_hosts`` makes one
host per ``host_count``; ``plan`` is the approver's evidence (and reads what is released and what each
host runs); ``approve`` asks on Airflow's *Required Actions* page. ``deploy_canary`` deploys to ONE
host, ``probe`` (a :class:`~airflow_wecube.operators.capacity.CapacityProbeOperator`) compares its
capacity fit with the released version's; a regression or a new factor asks "Continue anyway" or
"Stop" (``probe_decision``). Then ``deploy`` (one batched call for every host), Prometheus targets
and alert rules (``<App>Down``, e.g. ``AccountServiceDown``, and ``<App>ErrorRateHigh``), the gates
(every target up, the error rate below ``max_error_rate``), ``record_cmdb`` (the release) and
``promote_baseline`` (only if the canary ran the probed version throughout the probe).

On a failure ``rollback`` puts back what was RELEASED (the app's CMDB record) on the hosts this run
changed, so a host that served before serves again; a first deploy is removed. ``release_hosts``
destroys the hosts a failed run created, ``end_run`` gives the lock back, ``report_failure`` fails
the run with one message: the first real cause, what the rollback did, which hosts were released.
The steps are :mod:`airflow_wecube.orchestrations.rollout_steps` and
:mod:`airflow_wecube.orchestrations.rollout_failure`; docs/rollout.md tells the whole story.

Needs the sandbox plugins registered, ``wecube_default`` and ``prometheus_default`` connections and
a subnet (run ``wecube_network_build`` first: the default subnet is the first one of its design).
"""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

import pendulum
from airflow.providers.standard.operators.empty import EmptyOperator
from airflow.sdk import DAG, Param, task

from airflow_wecube.designs.network import default_subnet
from airflow_wecube.operators.capacity import CapacityProbeOperator
from airflow_wecube.operators.plugin import WeCubePluginOperator
from airflow_wecube.operators.prometheus import PrometheusAlertRuleOperator, PrometheusRegisterTargetsOperator
from airflow_wecube.orchestrations import rollout_failure as failure
from airflow_wecube.orchestrations import rollout_steps as steps
from airflow_wecube.orchestrations.failures import record_failure
from airflow_wecube.orchestrations.rollout import down_alert, error_rate_alert, error_rate_promql
from airflow_wecube.orchestrations.rollout_params import dag_params
from airflow_wecube.sensors.approval import ApprovalSensor
from airflow_wecube.sensors.prometheus import PrometheusQuerySensor

DESIGN_FILE = Path(__file__).parent / "designs" / "network.yml"
#: how long a gate waits for Prometheus to show healthy targets (also the DAG's upper bound)
GATE_TIMEOUT = 180
JOB = steps.JOB
# instances of this run, as a PromQL regex: the targets the deploy answered
INSTANCES = "{{ ti.xcom_pull(task_ids='deploy') | map(attribute='target') | join('|') }}"
COUNT = "{{ ti.xcom_pull(task_ids='deploy') | length }}"
SELECTOR = f'job="{JOB}", instance=~"{INSTANCES}"'


_hook, _prometheus = steps.plugin_hook, steps.prometheus_hook

with DAG(
    dag_id="wecube_app_rollout",
    description="Hosts → approval → deploy → Prometheus targets and rules → PromQL gate → CMDB; rollback on failure",
    start_date=pendulum.datetime(2026, 1, 1, tz="UTC"),
    schedule=None,
    catchup=False,
    tags=["wecube", "deploy", "prometheus", "example"],
    default_args={"on_failure_callback": record_failure},  # each task keeps why it failed, for the final message
    params=dag_params(default_subnet(DESIGN_FILE)),
    user_defined_filters={"down_alert": down_alert, "error_rate_alert": error_rate_alert},
    doc_md=__doc__,
) as dag:

    @task
    def host_requests(params: dict | None = None, dag_run=None, ti=None) -> list[dict[str, Any]]:
        """Check the run, take the app's rollout lock, and ask for one host per ``host_count``."""
        import time

        from airflow.sdk.exceptions import AirflowFailException

        try:
            return steps.start_run(
                ti,
                params or {},
                dag_run.conf if dag_run else None,
                dag.params.keys(),
                hook=_hook(),
                steps=probe.steps_count,
                hold_intervals=probe.hold_intervals,
                now=time.time(),
            )
        except steps.RunRefused as e:
            raise AirflowFailException(str(e)) from None

    # fan-out: one mapped task per host, each retryable and visible on its own
    hosts = WeCubePluginOperator.partial(
        task_id="create_hosts", service="host/host/create", map_index_template="{{ task.inputs['name'] }}"
    ).expand(inputs=host_requests())

    @task(multiple_outputs=True)
    def plan(host_outputs: Any, params: dict | None = None) -> dict[str, Any]:
        """The rollout plan (the approver's evidence), the deploy requests and what runs now."""
        return steps.plan(host_outputs, params or {}, hook=_hook())

    the_plan = plan(hosts.output)

    approve = ApprovalSensor(
        task_id="approve",
        subject="Roll out {{ params.app }} {{ params.version }} to {{ params.host_count }} host(s)",
        body="{{ ti.xcom_pull(task_ids='plan', key='markdown') }}",
        evidence="{{ ti.xcom_pull(task_ids='plan', key='deploy_inputs') | tojson }}",
        response_timeout=timedelta(hours=8),
        on_timeout="reject",
        priority="high",
    )
    deploy_canary = WeCubePluginOperator(
        task_id="deploy_canary", service="deploy/app/deploy", inputs=the_plan["canary_inputs"]
    )
    register_canary = PrometheusRegisterTargetsOperator(
        task_id="register_canary",
        job=JOB,
        targets="{{ ti.xcom_pull(task_ids='deploy_canary') | map(attribute='target') | join(',') }}",
        labels={"app": "{{ params.app }}"},
        confirm_timeout=60,
    )

    @task.branch
    def canary_check(params: dict | None = None) -> str:
        """Probe the canary, unless ``params.probe`` is off."""
        return "probe" if (params or {}).get("probe", True) else "no_probe"

    probe = CapacityProbeOperator(
        task_id="probe",
        spec="{{ params.capacity_spec }}",
        canary=deploy_canary.output,
        app_version="{{ params.version }}",
        scrape_interval="{{ params.scrape_interval }}",
        accept_on_pass=False,  # promote_baseline does it once the whole rollout went through
    )
    no_probe = EmptyOperator(task_id="no_probe")

    @task.branch(trigger_rule="none_failed_min_one_success")
    def judge(ti=None) -> str:
        """Go on after a pass (or no probe); ask a human after a regression or a new factor."""
        from airflow_wecube.orchestrations.rollout import probe_branch

        return probe_branch(ti.xcom_pull(task_ids="probe"))

    probe_ok = EmptyOperator(task_id="probe_ok")
    probe_decision = ApprovalSensor(
        task_id="probe_decision",
        subject="Capacity {{ ti.xcom_pull(task_ids='probe')['verdict'] }} of {{ params.app }} {{ params.version }} "
        "on the canary: continue the rollout?",
        body="{{ ti.xcom_pull(task_ids='probe')['report_markdown'] }}",
        options=["Continue anyway", "Stop"],
        approve_options=["Continue anyway"],
        form={"reason": Param(type="string", minLength=1, title="Why continue anyway (required to continue)")},
        evidence="{{ ti.xcom_pull(task_ids='probe')['version'] }}",
        response_timeout=timedelta(hours=8),
        on_timeout="reject",
        priority="high",
    )
    deploy = WeCubePluginOperator(
        task_id="deploy",
        service="deploy/app/deploy",
        inputs=the_plan["deploy_inputs"],
        trigger_rule="none_failed_min_one_success",
    )
    register = PrometheusRegisterTargetsOperator(
        task_id="register_targets",
        job=JOB,
        targets="{{ ti.xcom_pull(task_ids='deploy') | map(attribute='target') | join(',') }}",
        labels={"app": "{{ params.app }}"},
        confirm_timeout=60,
    )
    rules = PrometheusAlertRuleOperator(task_id="alert_rules", group=JOB, rules=steps.alert_rules(JOB))
    gate_up = PrometheusQuerySensor(
        task_id="gate_up",
        promql=f"up{{{SELECTOR}}}",
        condition=f"all == 1 and count >= {COUNT}",
        poke_interval=1,
        timeout=GATE_TIMEOUT,
        mode="poke",
    )
    # decide as soon as Prometheus has a rate for every instance: waiting for a bad rate to improve
    # would only delay the rollback
    wait_errors = PrometheusQuerySensor(
        task_id="wait_error_rate",
        promql=error_rate_promql(SELECTOR, "{{ params.rate_window }}"),
        condition=f"count >= {COUNT}",
        poke_interval=1,
        timeout=GATE_TIMEOUT,
        mode="poke",
    )

    @task
    def gate_error_rate(series: list, params: dict | None = None) -> list:
        """Fail when an instance fails more than ``max_error_rate`` of its operations."""
        return steps.gate_error_rate(series, params or {})

    @task
    def record_cmdb(deployed: list, targets_added: list, rule_group: dict, params: dict | None = None, run_id=None):
        """The app's CI: the release a later rollback puts back."""
        return steps.record_app(params or {}, deployed, targets_added, rule_group, run_id, hook=_hook())

    @task
    def promote_baseline(params: dict | None = None, ti=None) -> dict[str, Any]:
        """The canary's fit becomes the capacity baseline, if the canary ran the probed version throughout."""
        from airflow_wecube.capacity.airflow import open_store

        return steps.promote_baseline(ti, params or {}, store=open_store, prometheus=_prometheus)

    @task(trigger_rule="one_failed")
    def rollback(params: dict | None = None, ti=None) -> dict[str, Any]:
        """Put back what was released on the hosts this run changed; fail when that could not be done."""
        return failure.rollback(ti, params or {}, hook=_hook(), prometheus=_prometheus)

    @task(trigger_rule="all_done")
    def release_hosts(ti=None, run_id=None) -> dict[str, Any]:
        """When the rollout failed, destroy the hosts this run created (the hosts that existed are kept)."""
        from airflow_wecube.protocol.request_ids import stable_request_id

        request_id = stable_request_id(ti.dag_id, run_id, ti.task_id, -1)
        return failure.release_hosts(ti, hook=_hook(), request_id=request_id)

    @task(trigger_rule="all_done")
    def end_run(params: dict | None = None, ti=None) -> bool:
        """Give the app's rollout lock back, however the run went."""
        return steps.end_run(ti, params or {}, hook=_hook())

    @task(trigger_rule="all_done")
    def report_failure(params: dict | None = None, ti=None) -> None:
        """Fail the run with one message: the first real cause, what the rollback did, what was released."""
        failure.report_failure(ti, params or {})

    the_plan >> approve >> deploy_canary >> register_canary >> canary_check() >> [probe, no_probe]
    [probe, no_probe] >> judge() >> [probe_ok, probe_decision]
    [probe_ok, probe_decision] >> deploy >> register >> rules >> gate_up >> wait_errors
    recorded = record_cmdb(deploy.output, register.output, rules.output)
    gate_error_rate(wait_errors.output) >> recorded >> (promoted := promote_baseline())
    undo = rollback()
    [dag.get_task(t) for t in steps.WATCHED] >> undo
    released = release_hosts()
    [hosts, undo] >> released
    [released, promoted] >> end_run() >> report_failure()
