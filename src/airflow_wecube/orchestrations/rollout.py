"""The application rollout of ``wecube_app_rollout``: its parameter rules, the host requests, the
plan the approver sees, the canary and its capacity verdict, the error-rate gate, the app's CMDB
record and the rollback.

No Airflow import: the DAG's tasks turn the errors raised here into task failures. Failure
reporting and host release, which other orchestrations share, are in
:mod:`airflow_wecube.orchestrations.failures`.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from airflow_wecube.orchestrations.network_design import NAME_RE

if TYPE_CHECKING:
    from airflow_wecube.hooks.plugin import WeCubePluginHook
    from airflow_wecube.hooks.prometheus import PrometheusHook

# -- parameters ---------------------------------------------------------------------------------

#: an application name (it also names the hosts ``<app>-<n>`` and the Prometheus job)
APP_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._-]{0,40}$"
#: a version as the deploy plugin accepts it
VERSION_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._+-]{0,63}$"
#: a subnet's name or guid, as the network plugins accept them
SUBNET_PATTERN = NAME_RE.pattern
#: a PromQL duration above zero (``rate()`` over ``0s`` is refused by Prometheus, after the deploy)
WINDOW_PATTERN = r"^[1-9][0-9]{0,5}[smh]$"


def job_name(app: str) -> str:
    """The Prometheus job (and alert rule group) of an app."""
    return f"wecube_app_{app}"


def alert_prefix(app: str) -> str:
    """The app's name in its alert names: ``account-service`` -> ``AccountService``."""
    parts = [p for p in re.split(r"[^A-Za-z0-9]+", app) if p]
    if not parts:
        raise ValueError(f"app {app!r} has no letters or digits to name its alerts after")
    return "".join(p[:1].upper() + p[1:] for p in parts)


def down_alert(app: str) -> str:
    """The name of the app's "target down" alert rule: ``account-service`` -> ``AccountServiceDown``.

    The runbook DAG ``wecube_remediate_instance`` is scheduled on this alert's Asset."""
    return f"{alert_prefix(app)}Down"


def error_rate_alert(app: str) -> str:
    """The name of the app's error-rate alert rule: ``AccountServiceErrorRateHigh``."""
    return f"{alert_prefix(app)}ErrorRateHigh"


def host_requests(params: Mapping[str, Any]) -> list[dict[str, Any]]:
    """One ``host/host/create`` request per host: ``<app>-<n>`` in the subnet."""
    return [
        {"callbackParameter": f"{params['app']}-{i}", "name": f"{params['app']}-{i}", "subnet": params["subnet"]}
        for i in range(1, int(params["host_count"]) + 1)
    ]


def error_rate_promql(selector: str, window: str) -> str:
    """Failed operations per operation, per instance, over ``window``."""
    return (
        f"sum by (instance) (rate(account_errors_total{{{selector}}}[{window}]))"
        f" / clamp_min(sum by (instance) (rate(accounts_opened_total{{{selector}}}[{window}])"
        f" + rate(accounts_closed_total{{{selector}}}[{window}])), 0.001)"
    )


# -- the plan (the approver's evidence) -----------------------------------------------------------


def rollout_plan(host_outputs: Iterable[Mapping[str, Any]], params: Mapping[str, Any]) -> dict[str, Any]:
    """The hosts (sorted by name), one deploy request per host, and the plan as Markdown."""
    p = params
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
    canary = hosts[0]["name"] if hosts else "?"
    probe = (
        f"then a capacity probe (spec `{p.get('capacity_spec', 'account_service')}`) drives a designed load on "
        "it and compares the fit with the released version's; a regression or a new factor asks you again"
        if p.get("probe", True)
        else "the capacity probe is off for this run"
    )
    markdown = (
        f"Deploy **{p['app']} {p['version']}** to {len(hosts)} host(s):\n\n"
        "| host | IP | subnet | ports | new |\n|---|---|---|---|---|\n"
        f"{rows}\n\n"
        f"First to the canary **{canary}** alone; {probe}. Then the other host(s), "
        f"register the targets with Prometheus (job `{job_name(p['app'])}`), load its alert rules and "
        f"gate on `up == 1` and an error rate below {p['max_error_rate']}; a failure rolls back."
    )
    return {"hosts": hosts, "deploy_inputs": deploy_inputs, "canary_inputs": deploy_inputs[:1], "markdown": markdown}


# -- the canary's capacity verdict ----------------------------------------------------------------


def probe_branch(result: Mapping[str, Any] | None) -> str:
    """The task after the probe: ``probe_ok`` on a pass (or no probe), else ``probe_decision``."""
    return "probe_ok" if not result or result.get("verdict") == "pass" else "probe_decision"


def baseline_reason(result: Mapping[str, Any], decision: Mapping[str, Any] | None) -> str:
    """Why the canary's fit became the baseline: the release, its verdict, and who continued anyway (and why)."""
    text = f"released {result.get('app_version')} (probe verdict {result.get('verdict')}"
    if decision:
        who = "; ".join(
            f"{a['by']}: {(a.get('form') or {}).get('reason') or a.get('comment') or 'no reason given'}"
            for a in decision.get("approvers") or []
        )
        text += f", continued anyway by {who}"
    return text + ")"


def probe_stop_reason(result: Mapping[str, Any] | None, decision_error: str) -> str:
    """Why the rollout stopped at the canary: the verdict with the coefficient it names, and who stopped it."""
    if not result:
        return decision_error
    reasons = result.get("reasons") or []
    named = ", ".join(result.get("coefficients") or result.get("new_factors") or [])
    head = f"capacity probe of the canary ({', '.join(result.get('instances') or [])}): {result.get('verdict')}"
    head += f" ({named})" if named else ""
    return f"{head}: {reasons[0] if reasons else ''}; stopped: {decision_error}"


# -- the gate and the record ----------------------------------------------------------------------


def error_rates(series: Iterable[Mapping[str, Any]]) -> dict[str, Any]:
    """Instance -> error rate, from a Prometheus vector (``labels``/``value`` per series)."""
    return {s["labels"].get("instance", "?"): s["value"] for s in series}


def error_rate_failure(rates: Mapping[str, Any], limit: float) -> str | None:
    """Why the gate fails (every instance above ``limit`` or without a number), else ``None``."""
    bad = {i: v for i, v in rates.items() if not (isinstance(v, (int, float)) and v <= limit)}
    if not bad:
        return None
    shown = ", ".join(f"{i} = {v:.3f}" if isinstance(v, float) else f"{i} = {v}" for i, v in sorted(bad.items()))
    return f"error rate above {limit}: {shown}"


def app_attributes(
    params: Mapping[str, Any],
    deployed: Iterable[Mapping[str, Any]],
    targets_added: Iterable[str] | None,
    rule_group: Mapping[str, Any],
    run_id: str | None,
) -> dict[str, Any]:
    """The app CI's attributes: version, instances, targets and rule group, and the run that did it."""
    return {
        "version": params["version"],
        "instances": [{"host": d["host"], "guid": d["guid"], "target": d["target"], "url": d["url"]} for d in deployed],
        "prometheus_job": job_name(params["app"]),
        "targets_added_by_this_run": list(targets_added or []),
        "alert_rule_group": rule_group.get("group"),
        "alert_rules": rule_group.get("rules"),
        "rolled_out_by": run_id,
    }


# -- the rollback ---------------------------------------------------------------------------------


class RollbackError(RuntimeError):
    """What was deployed could not be read, so nothing could be rolled back."""


def touched_hosts(result: Mapping[str, Any] | None, planned: Sequence[Mapping[str, Any]]) -> list[str]:
    """The hosts the deploy changed: the outputs that changed something and every failed entity;
    every planned host when the call itself failed (``result`` is ``None``)."""
    from airflow_wecube.protocol.wire import output_failed

    if result:
        return [o["callbackParameter"] for o in result["outputs"] if output_failed(o) or o.get("changed") == "Y"]
    return [d["callbackParameter"] for d in planned]


def roll_back(
    hook: WeCubePluginHook,
    *,
    app: str,
    version: str,
    touched: Sequence[str],
    planned_count: int,
    prometheus: Callable[[], PrometheusHook],
) -> tuple[list[str], list[str]]:
    """Put back the version that ran before on the ``touched`` hosts (``deploy/app/rollback``), or
    stop the app where it was a first deploy (``deploy/app/stop``, its targets deregistered, and its
    rule group removed when the whole rollout was a first deploy).

    Returns ``(actions, problems)``: what was done, and what could not be (a plugin or Prometheus
    failure does not stop the rest).

    :raises RollbackError: when the app instances cannot be read from the CMDB
    """
    from airflow_wecube.exceptions import WeCubePluginError

    job = job_name(app)
    actions: list[str] = []
    problems: list[str] = []
    try:
        queries = [{"callbackParameter": h, "type": "app_instance", "name": f"{app}@{h}"} for h in touched]
        cis = hook.call("cmdb/ci/query", queries).outputs if touched else []
    except Exception as e:  # the plugin is unreachable: nothing can be rolled back from here
        raise RollbackError(f"could not read what was deployed on {', '.join(touched)}: {e}") from None
    to_rollback, to_stop, stopped_targets = [], [], []
    for host, out in zip(touched, cis, strict=False):
        items = out.get("items") or []
        if not items:
            continue  # never deployed there
        attrs = items[0]["attributes"]
        entity = {"callbackParameter": host, "host": attrs["host_guid"], "app": app}
        if attrs.get("previous_version") and attrs.get("version") == version:
            to_rollback.append(entity)
        else:
            to_stop.append(entity)
            if attrs.get("target"):
                stopped_targets.append(attrs["target"])

    for service, batch in (("deploy/app/rollback", to_rollback), ("deploy/app/stop", to_stop)):
        if not batch:
            continue
        try:
            outs = hook.call(service, batch).outputs
        except WeCubePluginError as e:
            problems.append(f"{service} failed: {e}")
            outs = e.result.succeeded if e.result else []
        for o in outs:
            if service.endswith("rollback"):
                was = o.get("rolled_back_from") or version
                actions.append(f"{o['host']}: rolled back from {was} to {o['version']}")
            else:
                actions.append(f"{o['host']}: stopped (first deploy, nothing to roll back to)")

    if stopped_targets or to_stop:
        try:
            prom = prometheus()
            if stopped_targets:
                prom.deregister_targets(job, stopped_targets, confirm=False)
                actions.append(f"targets {', '.join(stopped_targets)} removed from Prometheus job {job}")
            if not to_rollback and len(to_stop) == planned_count:
                if prom.delete_rule_group(job):
                    actions.append(f"alert rule group {job} removed")
        except Exception as e:  # the rollback of the app matters more than the monitoring cleanup
            problems.append(f"Prometheus cleanup failed: {e}")
    return actions, problems


__all__ = [
    "APP_PATTERN",
    "RollbackError",
    "SUBNET_PATTERN",
    "VERSION_PATTERN",
    "WINDOW_PATTERN",
    "alert_prefix",
    "down_alert",
    "error_rate_alert",
    "app_attributes",
    "baseline_reason",
    "error_rate_failure",
    "error_rate_promql",
    "error_rates",
    "probe_branch",
    "probe_stop_reason",
    "host_requests",
    "job_name",
    "roll_back",
    "rollout_plan",
    "touched_hosts",
]
