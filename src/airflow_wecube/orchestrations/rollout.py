"""The application rollout of ``wecube_app_rollout``: its parameter rules, the host requests, the
plan the approver sees, the canary and its capacity verdict, the error-rate gate and the app's CMDB
record.

No Airflow import: the DAG's tasks turn the errors raised here into task failures. The rollout's
steps are in :mod:`airflow_wecube.orchestrations.rollout_steps`, the rollback in
:mod:`airflow_wecube.orchestrations.rollback`; failure reporting and host release, which other
orchestrations share, in :mod:`airflow_wecube.orchestrations.failures`.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import Any

from airflow_wecube.designs.network import NAME_RE

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


#: the account service's info metric: one series per process, labelled with the version it runs
VERSION_METRIC = "account_service_info"


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
        # what a rollback deploys again with the released version (docs/rollout.md, "Rollback")
        "deploy_settings": {"rate": params.get("rate"), "error_rate": params.get("error_rate")},
    }


__all__ = [
    "APP_PATTERN",
    "SUBNET_PATTERN",
    "VERSION_METRIC",
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
    "rollout_plan",
]
