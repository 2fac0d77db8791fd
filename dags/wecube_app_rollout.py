"""Roll out an application: hosts → approval of the plan → deploy → monitoring → gate → CMDB.

1. ``create_hosts``: one mapped task per host (``<app>-<n>``, idempotent on the name) in ``params.subnet``.
2. ``plan``: the hosts, their addresses and the version, rendered as the approval's evidence.
3. ``approve``: an :class:`~airflow_wecube.sensors.approval.ApprovalSensor`; the request shows on
   Airflow's *Required Actions* page. A rejection fails the run and nothing is deployed.
4. ``deploy``: ONE batched ``deploy/app/deploy`` call for all hosts (the sandbox starts the account
   service on each host's port and checks its health; a version containing "broken" fails it).
5. ``register_targets`` (Prometheus file_sd, job ``wecube_app_<app>``) and ``alert_rules``
   (target down, error rate above the threshold).
6. ``gate_up``: a PromQL gate, every target up (bounded wait). ``wait_error_rate`` waits (bounded)
   until Prometheus has an error rate for every instance, and ``gate_error_rate`` fails at once if
   one is above ``params.max_error_rate``.
7. ``record_cmdb``: the app's CI (version, instances, targets, rules) in the CMDB.

If the deploy or a gate fails, ``rollback`` (trigger rule ``one_failed``) puts back the version
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

from airflow.sdk import DAG, Param, task
from airflow_wecube.operators.plugin import WeCubePluginOperator
from airflow_wecube.orchestration import record_failure
from airflow_wecube.operators.prometheus import PrometheusAlertRuleOperator, PrometheusRegisterTargetsOperator
from airflow_wecube.sensors.approval import ApprovalSensor
from airflow_wecube.sensors.prometheus import PrometheusQuerySensor

DESIGN_FILE = Path(__file__).parent / "designs" / "network.yml"
NAME = r"^[A-Za-z0-9][A-Za-z0-9._-]{0,40}$"
#: a subnet's name or guid, as the network plugins accept them
SUBNET = r"^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$"
#: a PromQL duration above zero (``rate()`` over ``0s`` is refused by Prometheus, after the deploy)
WINDOW = r"^[1-9][0-9]{0,5}[smh]$"
#: how long a gate waits for Prometheus to show healthy targets (also the DAG's upper bound)
GATE_TIMEOUT = 180


def default_subnet() -> str:
    """The first subnet of the network design (``<vpc>-<first tier>-<first zone>``), read at parse time."""
    import yaml

    try:
        design = yaml.safe_load(DESIGN_FILE.read_text(encoding="utf-8"))
        return f"{design['vpc']['name']}-{design['subnets'][0]['tier']}-{design['zones'][0]}"
    except (OSError, KeyError, IndexError, TypeError, yaml.YAMLError):
        return "vpc-sz-prod-web-sz-a"


JOB = "wecube_app_{{ params.app }}"
# instances of this run, as a PromQL regex: the targets the deploy answered
INSTANCES = "{{ ti.xcom_pull(task_ids='deploy') | map(attribute='target') | join('|') }}"
COUNT = "{{ ti.xcom_pull(task_ids='deploy') | length }}"
SELECTOR = f'job="{JOB}", instance=~"{INSTANCES}"'


def error_rate_promql(selector: str, window: str) -> str:
    """Failed operations per operation, per instance, over ``window``."""
    return (
        f"sum by (instance) (rate(account_errors_total{{{selector}}}[{window}]))"
        f" / clamp_min(sum by (instance) (rate(accounts_opened_total{{{selector}}}[{window}])"
        f" + rate(accounts_closed_total{{{selector}}}[{window}])), 0.001)"
    )


with DAG(
    dag_id="wecube_app_rollout",
    description="Hosts → approval → deploy → Prometheus targets and rules → PromQL gate → CMDB; rollback on failure",
    start_date=pendulum.datetime(2026, 1, 1, tz="UTC"),
    schedule=None,
    catchup=False,
    tags=["wecube", "deploy", "prometheus", "example"],
    default_args={"on_failure_callback": record_failure},  # each task keeps why it failed, for the final message
    params={
        "app": Param("account-service", type="string", pattern=NAME, description="Application name"),
        "version": Param("1.0.0", type="string", pattern=r"^[A-Za-z0-9][A-Za-z0-9._+-]{0,63}$",
                         description='Version to deploy ("broken" in it fails the health check)'),
        "host_count": Param(2, type="integer", minimum=1, maximum=50, description="Hosts to run it on"),
        "subnet": Param(default_subnet(), type="string", minLength=1, pattern=SUBNET,
                        description="Subnet (name or guid) for the hosts"),
        "rate": Param(5.0, type="number", minimum=0, maximum=500, description="Generated load (opens per second)"),
        "error_rate": Param(0.0, type="number", minimum=0, maximum=1,
                            description="Fraction of operations the app fails (to try the gate)"),
        "max_error_rate": Param(0.05, type="number", minimum=0, maximum=1,
                                description="The gate: highest error rate accepted per instance"),
        "rate_window": Param("30s", type="string", pattern=WINDOW,
                             description="PromQL rate() window, above zero (e.g. 30s, 2m)"),
    },
    doc_md=__doc__,
) as dag:

    @task
    def host_requests(params: dict | None = None, dag_run=None) -> list[dict[str, Any]]:
        """One host-create request per host: ``<app>-<n>`` in the subnet; unknown conf keys fail here."""
        from airflow.sdk.exceptions import AirflowFailException

        from airflow_wecube.orchestration import ConfError, refuse_unknown_conf

        try:
            refuse_unknown_conf(dag_run.conf if dag_run else None, dag.params.keys())
        except ConfError as e:
            raise AirflowFailException(str(e)) from None
        p = params or {}
        return [
            {"callbackParameter": f"{p['app']}-{i}", "name": f"{p['app']}-{i}", "subnet": p["subnet"]}
            for i in range(1, int(p["host_count"]) + 1)
        ]

    # fan-out: one mapped task per host, each retryable and visible on its own
    hosts = WeCubePluginOperator.partial(
        task_id="create_hosts", service="host/host/create", map_index_template="{{ task.inputs['name'] }}"
    ).expand(inputs=host_requests())

    @task(multiple_outputs=True)
    def plan(host_outputs: Any, params: dict | None = None) -> dict[str, Any]:
        """The rollout plan (the approver's evidence) and the deploy requests."""
        p = params or {}
        hosts = sorted((dict(h) for h in host_outputs), key=lambda h: h["name"])
        deploy_inputs = [
            {
                "callbackParameter": h["name"],
                "host": h["guid"],
                "app": p["app"],
                "version": p["version"],
                "rate": p["rate"],
                "error_rate": p["error_rate"],
            }
            for h in hosts
        ]
        rows = "\n".join(f"| {h['name']} | {h['ip']} | {h['subnet']} | {h['ports']} | {h['created']} |" for h in hosts)
        markdown = (
            f"Deploy **{p['app']} {p['version']}** to {len(hosts)} host(s):\n\n"
            "| host | IP | subnet | ports | new |\n|---|---|---|---|---|\n"
            f"{rows}\n\n"
            f"Then register the targets with Prometheus (job `wecube_app_{p['app']}`), load its alert rules and "
            f"gate on `up == 1` and an error rate below {p['max_error_rate']}; a failure rolls back."
        )
        return {"hosts": hosts, "deploy_inputs": deploy_inputs, "markdown": markdown}

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

    deploy = WeCubePluginOperator(task_id="deploy", service="deploy/app/deploy", inputs=the_plan["deploy_inputs"])

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
                "alert": "WeCubeAppDown",
                "expr": f'up{{job="{JOB}"}} == 0',
                "for": "1m",
                "labels": {"severity": "critical", "app": "{{ params.app }}"},
                "annotations": {"summary": "{{ '{{' }} $labels.instance {{ '}}' }} of {{ params.app }} is down"},
            },
            {
                "alert": "WeCubeAppErrorRateHigh",
                "expr": error_rate_promql(f'job="{JOB}"', "{{ params.rate_window }}")
                + " > {{ params.max_error_rate }}",
                "for": "2m",
                "labels": {"severity": "warning", "app": "{{ params.app }}"},
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

        limit = float((params or {})["max_error_rate"])
        rates = {s["labels"].get("instance", "?"): s["value"] for s in series}
        bad = {i: v for i, v in rates.items() if not (isinstance(v, (int, float)) and v <= limit)}
        for instance, value in sorted(rates.items()):
            print(f"  {instance}: error rate {value}")
        if bad:
            shown = ", ".join(f"{i} = {v:.3f}" if isinstance(v, float) else f"{i} = {v}" for i, v in sorted(bad.items()))
            raise AirflowFailException(f"error rate above {limit}: {shown}")
        return series

    gate_errors = gate_error_rate(wait_errors.output)

    @task
    def record_cmdb(deployed: list, targets_added: list, rule_group: dict, params: dict | None = None, run_id=None):
        """The app's CI: version, instances, targets and rule group (created once, then updated)."""
        from airflow_wecube.hooks.plugin import WeCubePluginHook

        p = params or {}
        attributes = {
            "version": p["version"],
            "instances": [{"host": d["host"], "guid": d["guid"], "target": d["target"], "url": d["url"]} for d in deployed],
            "prometheus_job": f"wecube_app_{p['app']}",
            "targets_added_by_this_run": list(targets_added or []),
            "alert_rule_group": rule_group.get("group"),
            "alert_rules": rule_group.get("rules"),
            "rolled_out_by": run_id,
        }
        hook = WeCubePluginHook()
        ci = hook.call("cmdb/ci/create", {"callbackParameter": p["app"], "type": "app", "name": p["app"]}).outputs[0]
        hook.call("cmdb/ci/update", {"callbackParameter": p["app"], "guid": ci["guid"], "attributes": attributes})
        return {"guid": ci["guid"], "name": p["app"], **attributes}

    # the tasks whose failure triggers the rollback (its upstream), and their ids for the rollback itself
    watched = [deploy, register, rules, gate_up, wait_errors, gate_errors.operator]
    WATCHED = tuple(t.task_id for t in watched)

    @task(trigger_rule="one_failed")
    def rollback(params: dict | None = None, ti=None) -> dict[str, Any]:
        """Put back what ran before on the hosts this run changed; fail when that could not be done."""
        from airflow.sdk.exceptions import AirflowFailException, AirflowSkipException

        from airflow_wecube.exceptions import WeCubePluginError
        from airflow_wecube.hooks.plugin import WeCubePluginHook
        from airflow_wecube.operators.plugin import RESULT_XCOM_KEY
        from airflow_wecube.orchestration import SUMMARY_XCOM_KEY
        from airflow_wecube.protocol import output_failed

        p = params or {}
        app, version, job = p["app"], p["version"], f"wecube_app_{p['app']}"
        decision = ti.xcom_pull(task_ids="approve")
        if not decision or decision.get("decision") != "approved":
            raise AirflowSkipException("nothing was deployed: the rollout was not approved")

        states = ti.get_task_states(dag_id=ti.dag_id, run_ids=[ti.run_id], task_ids=list(WATCHED)).get(ti.run_id, {})
        failed = [t for t in WATCHED if states.get(t) == "failed"]
        result = ti.xcom_pull(task_ids="deploy", key=RESULT_XCOM_KEY)

        # which hosts this run changed: the outputs that changed something, and every failed entity
        planned = ti.xcom_pull(task_ids="plan", key="deploy_inputs") or []
        if result:
            touched = [o["callbackParameter"] for o in result["outputs"]
                       if output_failed(o) or o.get("changed") == "Y"]
        else:  # the call itself failed: any planned host may have been changed
            touched = [d["callbackParameter"] for d in planned]

        actions: list[str] = []
        problems: list[str] = []
        summary = {"failed_tasks": failed, "actions": actions, "problems": problems}
        hook = WeCubePluginHook()
        try:
            cis = hook.call("cmdb/ci/query", [
                {"callbackParameter": h, "type": "app_instance", "name": f"{app}@{h}"} for h in touched
            ]).outputs if touched else []
        except Exception as e:  # the plugin is unreachable: nothing can be rolled back from here
            ti.xcom_push(key=SUMMARY_XCOM_KEY, value=summary)
            raise AirflowFailException(f"could not read what was deployed on {', '.join(touched)}: {e}") from None
        to_rollback, to_stop, stopped_targets = [], [], []
        for host, out in zip(touched, cis):
            items = out.get("items") or []
            if not items:
                continue  # never deployed there
            attrs = items[0]["attributes"]
            entity = {"callbackParameter": host, "host": attrs["host_guid"], "app": app}
            if attrs.get("previous_version") and attrs.get("version") == version:
                to_rollback.append((entity, attrs["previous_version"]))
            else:
                to_stop.append(entity)
                if attrs.get("target"):
                    stopped_targets.append(attrs["target"])

        for service, batch in (("deploy/app/rollback", [e for e, _ in to_rollback]), ("deploy/app/stop", to_stop)):
            if not batch:
                continue
            try:
                outs = hook.call(service, batch).outputs
            except WeCubePluginError as e:
                problems.append(f"{service} failed: {e}")
                outs = e.result.succeeded if e.result else []
            for o in outs:
                if service.endswith("rollback"):
                    actions.append(f"{o['host']}: rolled back from {o.get('rolled_back_from') or version} to {o['version']}")
                else:
                    actions.append(f"{o['host']}: stopped (first deploy, nothing to roll back to)")

        if stopped_targets or to_stop:
            from airflow_wecube.hooks.prometheus import PrometheusHook

            try:
                prom = PrometheusHook()
                if stopped_targets:
                    prom.deregister_targets(job, stopped_targets, confirm=False)
                    actions.append(f"targets {', '.join(stopped_targets)} removed from Prometheus job {job}")
                if not to_rollback and len(to_stop) == len(planned):
                    if prom.delete_rule_group(job):
                        actions.append(f"alert rule group {job} removed")
            except Exception as e:  # the rollback of the app matters more than the monitoring cleanup
                problems.append(f"Prometheus cleanup failed: {e}")
        print(f"Rollback of {app} {version} (failed: {', '.join(failed) or 'none'}):")
        for a in actions + problems:
            print(f"  - {a}")
        ti.xcom_push(key=SUMMARY_XCOM_KEY, value=summary)
        if problems:
            raise AirflowFailException("rollback incomplete: " + "; ".join(problems))
        return summary

    # every task that may fail the rollout before the report, in DAG order: the first one that
    # failed with an error of its own is the cause
    ORDER = ("host_requests", "create_hosts", "plan", "approve", *WATCHED, "rollback", "release_hosts")

    @task(trigger_rule="all_done")
    def release_hosts(ti=None, run_id=None) -> dict[str, Any]:
        """When the rollout failed, destroy the hosts this run created (the hosts that existed are kept)."""
        from airflow.sdk.exceptions import AirflowFailException, AirflowSkipException

        from airflow_wecube.hooks.plugin import WeCubePluginHook
        from airflow_wecube.operators.plugin import stable_request_id
        from airflow_wecube.orchestration import SUMMARY_XCOM_KEY, created_hosts, failed_in_order, release_hosts

        states = ti.get_task_states(dag_id=ti.dag_id, run_ids=[ti.run_id]).get(ti.run_id, {})
        if not failed_in_order(states, ORDER[: ORDER.index("rollback")]):
            raise AirflowSkipException("the rollout went through: its hosts stay")
        outputs = [o for o in ti.xcom_pull(task_ids=["create_hosts"]) or [] if o]
        created = created_hosts(outputs)
        kept = sorted(o["name"] for o in outputs if o.get("created") != "Y")
        print(f"The rollout failed: releasing the {len(created)} host(s) it created"
              + (f", keeping {', '.join(kept)} (they existed before)" if kept else ""))
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
        from airflow_wecube.orchestration import (
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
        reason = deploy_reason(p["app"], p["version"], ti.xcom_pull(task_ids="deploy", key=RESULT_XCOM_KEY))
        if reason:
            records["deploy"] = reason
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

    the_plan >> approve >> deploy >> register >> rules >> gate_up >> wait_errors
    record_cmdb(deploy.output, register.output, rules.output) << gate_errors
    undo = rollback()
    watched >> undo
    released = release_hosts()
    [hosts, undo] >> released
    released >> report_failure()
