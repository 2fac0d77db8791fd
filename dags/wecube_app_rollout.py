"""Roll out an application: hosts → approval → canary → capacity probe → deploy → monitoring → gate → CMDB.

1. ``create_hosts``: one mapped task per host (``<app>-<n>``, idempotent on the name) in ``params.subnet``.
2. ``plan``: the hosts, their addresses and the version, rendered as the approval's evidence.
3. ``approve``: an :class:`~airflow_wecube.sensors.approval.ApprovalSensor`; the request shows on
   Airflow's *Required Actions* page. A rejection fails the run and nothing is deployed.
4. ``deploy_canary``: the version on ONE host first (the plan's first), ``register_canary`` has
   Prometheus scrape it, and ``probe`` (a
   :class:`~airflow_wecube.operators.capacity.CapacityProbeOperator`) drives a designed load on it
   through ``deploy/app/load``, fits the capacity spec ``params.capacity_spec`` (a spec file in
   ``capacity/`` beside the DAGs) and compares it with the released version's fit. On ``pass`` the
   rollout goes on (``probe_ok``). On ``regression`` or ``new_factor``, ``probe_decision`` (an
   ``ApprovalSensor``, the probe's report as its evidence) asks: "Continue anyway" (with a reason,
   recorded with who gave it) or "Stop": the canary is rolled back, the other hosts are untouched and
   the run fails naming the coefficient. The spec's owners are told of every non-pass verdict.
   ``params.probe: false`` skips the probe (the canary is still deployed first).
5. ``deploy``: ONE batched ``deploy/app/deploy`` call for all hosts (the canary, already on the version,
   is unchanged; the sandbox starts the account service on each host's port and checks its health; a
   version containing "broken" fails it).
6. ``register_targets`` (Prometheus file_sd, job ``wecube_app_<app>``) and ``alert_rules``:
   ``<App>Down`` (``AccountServiceDown`` for ``account-service``: a target down for ``params.down_for``;
   the runbook ``wecube_remediate_instance`` answers it) and ``<App>ErrorRateHigh`` (error rate above
   the threshold), labelled ``app``, ``job``, ``instance`` and ``severity``.
7. ``gate_up``: a PromQL gate, every target up (bounded wait). ``wait_error_rate`` waits (bounded)
   until Prometheus has an error rate for every instance, and ``gate_error_rate`` fails at once if
   one is above ``params.max_error_rate``.
8. ``record_cmdb``: the app's CI (version, instances, targets, rules) in the CMDB; then
   ``promote_baseline`` makes the canary's fit the capacity baseline the next release is judged by.

If a deploy, the probe, a "Stop" or a gate fails, ``rollback`` (trigger rule ``one_failed``) puts back the version
that ran before on the hosts this run changed (``deploy/app/rollback``) or stops the app where it
was a first deploy (``deploy/app/stop``, and its targets and rules are removed); it fails itself
when it could not undo everything. Whenever the run failed (a host, the plan, a rejection, the
deploy, a gate or the rollback), ``release_hosts`` destroys the hosts this run created
(``host/host/destroy``; hosts that existed before are kept), and ``report_failure`` fails the run
with one message (also XCom ``message``): the first real cause (each task records its own error),
what the rollback did or could not do, and which hosts were released.

Parameters are checked when the run is triggered (Airflow refuses a bad value, e.g. an empty
``subnet`` or ``rate_window: "0s"``); unknown conf keys fail the first task, before anything is created.

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

from airflow_wecube.operators.capacity import CapacityProbeOperator
from airflow_wecube.operators.plugin import WeCubePluginOperator
from airflow_wecube.operators.prometheus import PrometheusAlertRuleOperator, PrometheusRegisterTargetsOperator
from airflow_wecube.orchestrations.failures import record_failure
from airflow_wecube.orchestrations.network_design import default_subnet
from airflow_wecube.orchestrations.rollout import (
    APP_PATTERN,
    SUBNET_PATTERN,
    VERSION_PATTERN,
    WINDOW_PATTERN,
    down_alert,
    error_rate_alert,
    error_rate_promql,
)
from airflow_wecube.sensors.approval import ApprovalSensor
from airflow_wecube.sensors.prometheus import PrometheusQuerySensor

DESIGN_FILE = Path(__file__).parent / "designs" / "network.yml"
#: how long a gate waits for Prometheus to show healthy targets (also the DAG's upper bound)
GATE_TIMEOUT = 180

JOB = "wecube_app_{{ params.app }}"
# instances of this run, as a PromQL regex: the targets the deploy answered
INSTANCES = "{{ ti.xcom_pull(task_ids='deploy') | map(attribute='target') | join('|') }}"
COUNT = "{{ ti.xcom_pull(task_ids='deploy') | length }}"
SELECTOR = f'job="{JOB}", instance=~"{INSTANCES}"'


with DAG(
    dag_id="wecube_app_rollout",
    description="Hosts → approval → deploy → Prometheus targets and rules → PromQL gate → CMDB; rollback on failure",
    start_date=pendulum.datetime(2026, 1, 1, tz="UTC"),
    schedule=None,
    catchup=False,
    tags=["wecube", "deploy", "prometheus", "example"],
    default_args={"on_failure_callback": record_failure},  # each task keeps why it failed, for the final message
    params={
        "app": Param("account-service", type="string", pattern=APP_PATTERN, description="Application name"),
        "version": Param(
            "1.0.0",
            type="string",
            pattern=VERSION_PATTERN,
            description='Version to deploy ("broken" in it fails the health check)',
        ),
        "host_count": Param(2, type="integer", minimum=1, maximum=50, description="Hosts to run it on"),
        "subnet": Param(
            default_subnet(DESIGN_FILE),
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
            pattern=r"^[A-Za-z_][A-Za-z0-9_]*$",
            description="Capacity spec the probe fits (capacity/<name>.yml beside the DAGs)",
        ),
        "scrape_interval": Param(
            5, type="number", exclusiveMinimum=0, maximum=300, description="Prometheus's scrape interval (seconds)"
        ),
    },
    user_defined_filters={"down_alert": down_alert, "error_rate_alert": error_rate_alert},
    doc_md=__doc__,
) as dag:

    @task
    def host_requests(params: dict | None = None, dag_run=None) -> list[dict[str, Any]]:
        """One host-create request per host: ``<app>-<n>`` in the subnet; unknown conf keys fail here."""
        from airflow.sdk.exceptions import AirflowFailException

        from airflow_wecube.orchestrations.failures import ConfError, refuse_unknown_conf
        from airflow_wecube.orchestrations.rollout import host_requests

        try:
            refuse_unknown_conf(dag_run.conf if dag_run else None, dag.params.keys())
        except ConfError as e:
            raise AirflowFailException(str(e)) from None
        return host_requests(params or {})

    # fan-out: one mapped task per host, each retryable and visible on its own
    hosts = WeCubePluginOperator.partial(
        task_id="create_hosts", service="host/host/create", map_index_template="{{ task.inputs['name'] }}"
    ).expand(inputs=host_requests())

    @task(multiple_outputs=True)
    def plan(host_outputs: Any, params: dict | None = None) -> dict[str, Any]:
        """The rollout plan (the approver's evidence) and the deploy requests."""
        from airflow_wecube.orchestrations.rollout import rollout_plan

        return rollout_plan(host_outputs, params or {})

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

    rules = PrometheusAlertRuleOperator(
        task_id="alert_rules",
        group=JOB,
        rules=[
            {
                # AccountServiceDown for account-service: the runbook wecube_remediate_instance listens to it
                "alert": "{{ params.app | down_alert }}",
                "expr": f'up{{job="{JOB}"}} == 0',
                "for": "{{ params.down_for }}",
                "labels": {
                    "severity": "critical",
                    "app": "{{ params.app }}",
                    "job": JOB,
                    "instance": "{{ '{{' }} $labels.instance {{ '}}' }}",
                },
                "annotations": {"summary": "{{ '{{' }} $labels.instance {{ '}}' }} of {{ params.app }} is down"},
            },
            {
                "alert": "{{ params.app | error_rate_alert }}",
                "expr": error_rate_promql(f'job="{JOB}"', "{{ params.rate_window }}")
                + " > {{ params.max_error_rate }}",
                "for": "2m",
                "labels": {"severity": "warning", "app": "{{ params.app }}", "job": JOB},
                "annotations": {
                    "summary": "{{ '{{' }} $labels.instance {{ '}}' }} of {{ params.app }} fails more than "
                    "{{ params.max_error_rate }} of its operations"
                },
            },
        ],
    )

    gate_up = PrometheusQuerySensor(
        task_id="gate_up",
        promql=f"up{{{SELECTOR}}}",
        condition=f"all == 1 and count >= {COUNT}",
        poke_interval=1,
        timeout=GATE_TIMEOUT,
        mode="poke",
    )

    # the error-rate gate decides as soon as Prometheus has a rate for every instance: waiting for a
    # bad rate to improve would only delay the rollback
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
        from airflow.sdk.exceptions import AirflowFailException

        from airflow_wecube.orchestrations.rollout import error_rate_failure, error_rates

        limit = float((params or {})["max_error_rate"])
        rates = error_rates(series)
        for instance, value in sorted(rates.items()):
            print(f"  {instance}: error rate {value}")
        failure = error_rate_failure(rates, limit)
        if failure:
            raise AirflowFailException(failure)
        return series

    gate_errors = gate_error_rate(wait_errors.output)

    @task
    def record_cmdb(deployed: list, targets_added: list, rule_group: dict, params: dict | None = None, run_id=None):
        """The app's CI: version, instances, targets and rule group (created once, then updated)."""
        from airflow_wecube.hooks.plugin import WeCubePluginHook
        from airflow_wecube.orchestrations.rollout import app_attributes

        p = params or {}
        attributes = app_attributes(p, deployed, targets_added, rule_group, run_id)
        hook = WeCubePluginHook()
        ci = hook.call("cmdb/ci/create", {"callbackParameter": p["app"], "type": "app", "name": p["app"]}).outputs[0]
        hook.call("cmdb/ci/update", {"callbackParameter": p["app"], "guid": ci["guid"], "attributes": attributes})
        return {"guid": ci["guid"], "name": p["app"], **attributes}

    @task
    def promote_baseline(ti=None) -> dict[str, Any]:
        """The released version's canary fit becomes the capacity baseline the next release is judged by."""
        from airflow.sdk.exceptions import AirflowSkipException

        from airflow_wecube.capacity.airflow import open_store
        from airflow_wecube.capacity.errors import StoreError
        from airflow_wecube.capacity.pipeline import accept_version
        from airflow_wecube.orchestrations.rollout import baseline_reason

        result = ti.xcom_pull(task_ids="probe")
        if not result or not result.get("version"):
            raise AirflowSkipException("no capacity probe ran: the baseline stays")
        reason = baseline_reason(result, ti.xcom_pull(task_ids="probe_decision"))
        try:
            done = accept_version(open_store(), result["model"], result["version"], reason=reason)
        except StoreError as e:  # the release went through; a fit that cannot be the baseline is said, not fatal
            print(f"the canary's fit did not become the baseline: {e}")
            return {"accepted": False, "reason": str(e)}
        print(f"capacity baseline of {result['model']}: {done['previous']} -> {done['version']} ({reason})")
        return {"accepted": True, **done}

    # the tasks whose failure triggers the rollback (its upstream), and their ids for the rollback itself
    watched = [
        deploy_canary,
        register_canary,
        probe,
        probe_decision,
        deploy,
        register,
        rules,
        gate_up,
        wait_errors,
        gate_errors.operator,
    ]
    WATCHED = tuple(t.task_id for t in watched)

    @task(trigger_rule="one_failed")
    def rollback(params: dict | None = None, ti=None) -> dict[str, Any]:
        """Put back what ran before on the hosts this run changed; fail when that could not be done."""
        from airflow.sdk.exceptions import AirflowFailException, AirflowSkipException

        from airflow_wecube.hooks.plugin import WeCubePluginHook
        from airflow_wecube.hooks.prometheus import PrometheusHook
        from airflow_wecube.operators.plugin import RESULT_XCOM_KEY
        from airflow_wecube.orchestrations.failures import SUMMARY_XCOM_KEY
        from airflow_wecube.orchestrations.rollout import RollbackError, roll_back, touched_hosts

        p = params or {}
        app, version = p["app"], p["version"]
        decision = ti.xcom_pull(task_ids="approve")
        if not decision or decision.get("decision") != "approved":
            raise AirflowSkipException("nothing was deployed: the rollout was not approved")

        states = ti.get_task_states(dag_id=ti.dag_id, run_ids=[ti.run_id], task_ids=list(WATCHED)).get(ti.run_id, {})
        failed = [t for t in WATCHED if states.get(t) == "failed"]
        planned = ti.xcom_pull(task_ids="plan", key="deploy_inputs") or []
        touched: list[str] = []
        # the hosts each deploy that ran changed (a "Stop" at the canary leaves the others untouched)
        canary = ti.xcom_pull(task_ids="plan", key="canary_inputs")
        for task_id, inputs in (("deploy_canary", canary), ("deploy", planned)):
            if states.get(task_id) in ("success", "failed"):
                hosts = touched_hosts(ti.xcom_pull(task_ids=task_id, key=RESULT_XCOM_KEY), inputs or [])
                touched += [h for h in hosts if h not in touched]
        summary: dict[str, Any] = {"failed_tasks": failed, "actions": [], "problems": []}
        try:
            summary["actions"], summary["problems"] = roll_back(
                WeCubePluginHook(),
                app=app,
                version=version,
                touched=touched,
                planned_count=len(planned),
                prometheus=PrometheusHook,
            )
        except RollbackError as e:
            ti.xcom_push(key=SUMMARY_XCOM_KEY, value=summary)
            raise AirflowFailException(str(e)) from None
        print(f"Rollback of {app} {version} (failed: {', '.join(failed) or 'none'}):")
        for a in summary["actions"] + summary["problems"]:
            print(f"  - {a}")
        ti.xcom_push(key=SUMMARY_XCOM_KEY, value=summary)
        if summary["problems"]:
            raise AirflowFailException("rollback incomplete: " + "; ".join(summary["problems"]))
        return summary

    # every task that may fail the rollout before the report, in DAG order: the first one that
    # failed with an error of its own is the cause
    ORDER = ("host_requests", "create_hosts", "plan", "approve", *WATCHED[:3], "judge", *WATCHED[3:])
    ORDER += ("rollback", "release_hosts")

    @task(trigger_rule="all_done")
    def release_hosts(ti=None, run_id=None) -> dict[str, Any]:
        """When the rollout failed, destroy the hosts this run created (the hosts that existed are kept)."""
        from airflow.sdk.exceptions import AirflowFailException, AirflowSkipException

        from airflow_wecube.hooks.plugin import WeCubePluginHook
        from airflow_wecube.operators.plugin import stable_request_id
        from airflow_wecube.orchestrations.failures import (
            SUMMARY_XCOM_KEY,
            created_hosts,
            failed_in_order,
            release_hosts,
        )

        states = ti.get_task_states(dag_id=ti.dag_id, run_ids=[ti.run_id]).get(ti.run_id, {})
        if not failed_in_order(states, ORDER[: ORDER.index("rollback")]):
            raise AirflowSkipException("the rollout went through: its hosts stay")
        outputs = [o for o in ti.xcom_pull(task_ids=["create_hosts"]) or [] if o]
        created = created_hosts(outputs)
        kept = sorted(o["name"] for o in outputs if o.get("created") != "Y")
        print(
            f"The rollout failed: releasing the {len(created)} host(s) it created"
            + (f", keeping {', '.join(kept)} (they existed before)" if kept else "")
        )
        summary = release_hosts(
            WeCubePluginHook(), created, request_id=stable_request_id(ti.dag_id, run_id, ti.task_id, -1)
        )
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

    @task(trigger_rule="all_done")
    def report_failure(params: dict | None = None, ti=None) -> None:
        """Fail the run with one message: the first real cause, what the rollback did, what was released."""
        from airflow.sdk.exceptions import AirflowFailException, AirflowSkipException

        from airflow_wecube.operators.plugin import RESULT_XCOM_KEY
        from airflow_wecube.orchestrations.failures import (
            FAILURE_XCOM_KEY,
            MESSAGE_XCOM_KEY,
            SUMMARY_XCOM_KEY,
            deploy_reason,
            describe_release,
            describe_rollback,
            failed_in_order,
            failure_message,
            first_cause,
        )

        p = params or {}
        states = ti.get_task_states(dag_id=ti.dag_id, run_ids=[ti.run_id]).get(ti.run_id, {})
        failed = failed_in_order(states, ORDER)
        rollout_failed = [t for t in failed if t not in ("rollback", "release_hosts")]
        if not rollout_failed:
            raise AirflowSkipException("the rollout went through")
        records = {r["task"]: r["error"] for r in ti.xcom_pull(task_ids=list(ORDER), key=FAILURE_XCOM_KEY) or [] if r}
        for task_id in ("deploy_canary", "deploy"):
            reason = deploy_reason(p["app"], p["version"], ti.xcom_pull(task_ids=task_id, key=RESULT_XCOM_KEY))
            if reason:
                records[task_id] = reason
        if "probe_decision" in records:  # a "Stop": name the verdict and its coefficient
            from airflow_wecube.orchestrations.rollout import probe_stop_reason

            records["probe_decision"] = probe_stop_reason(ti.xcom_pull(task_ids="probe"), records["probe_decision"])
        cause = first_cause(rollout_failed, records)
        subject = f"rollout of {p['app']} {p['version']}"
        rollback_state = states.get("rollback")
        rollback_text = describe_rollback(
            rollback_state, ti.xcom_pull(task_ids="rollback", key=SUMMARY_XCOM_KEY), records.get("rollback")
        )
        release = ti.xcom_pull(task_ids="release_hosts", key=SUMMARY_XCOM_KEY)
        if release is not None and states.get("release_hosts") == "failed" and not release.get("problems"):
            release = {**release, "problems": [records.get("release_hosts", "")]}
        created = [o for o in ti.xcom_pull(task_ids=["create_hosts"]) or [] if o and o.get("created") == "Y"]
        hosts_text = describe_release(release, created)
        message = failure_message(subject, cause, rollback=rollback_text, hosts=hosts_text)
        ti.xcom_push(key=MESSAGE_XCOM_KEY, value=message)
        raise AirflowFailException(message)

    the_plan >> approve >> deploy_canary >> register_canary >> canary_check() >> [probe, no_probe]
    [probe, no_probe] >> judge() >> [probe_ok, probe_decision]
    [probe_ok, probe_decision] >> deploy >> register >> rules >> gate_up >> wait_errors
    record_cmdb(deploy.output, register.output, rules.output) << gate_errors >> promote_baseline()
    undo = rollback()
    watched >> undo
    released = release_hosts()
    [hosts, undo] >> released
    released >> report_failure()
