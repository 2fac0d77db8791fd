"""The steps of ``wecube_scale_out``: the capacity headroom alert (``CapacityHeadroomLow``, see
:func:`airflow_wecube.capacity.rules.headroom_rule`) adds one instance of the app before the
capacity model's limit is reached.

The target is the app's capacity (``<app>:scale-out``): its history and lock are the CMDB record of
that name, with the same guard rails as the instance runbook (kill switch, cooldown, flapping, one run
at a time), plus ``max_instances``: a scale-out past it is asked of a person (``at_limit``). An entry
(see :mod:`.instance`) also holds ``model``, ``instances`` (how many run), ``subnet`` and, once acted,
``host`` (the new one), ``instance`` (its ``host:port``) and ``target_registered``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from airflow_wecube.remediation import cmdb
from airflow_wecube.remediation.alerts import FIRING, Alert
from airflow_wecube.remediation.guard import ACT, AT_LIMIT, DRY_RUN, Decision, Policy, decide
from airflow_wecube.remediation.instance import HISTORY_SHOWN, _entry, _set, rollouts_of

if TYPE_CHECKING:
    from airflow_wecube.hooks.plugin import WeCubePluginHook


def scale_target(app: str) -> str:
    """The CMDB record (history and lock) of an app's scale-outs."""
    return f"{app}:scale-out"


def next_host(app: str, hosts: Sequence[str]) -> str:
    """``<app>-<n>``, one above the highest ``<app>-<i>`` among ``hosts`` (the rollout's names)."""
    taken = [int(h.rsplit("-", 1)[1]) for h in hosts if h.startswith(f"{app}-") and h.rsplit("-", 1)[1].isdigit()]
    return f"{app}-{max(taken, default=0) + 1}"


def triage(
    alerts: Sequence[Alert],
    *,
    hook: WeCubePluginHook,
    now: float,
    mode: str,
    policy: Policy,
    me: str,
    running: Callable[[str], bool | None],
    model: str,
    app: str,
    job: str,
    max_instances: int,
    mode_problem: str | None = None,
    dry_run: bool = False,
    rollout: Callable[[str], str | None] | None = None,
) -> list[dict[str, Any]]:
    """Decide, for each headroom alert of ``model``, whether to add an instance of ``app`` (not while
    a rollout of ``app`` is in progress: ``rollout``, see :func:`~.instance.rollouts_of`)."""
    entries = []
    rolling = rollouts_of(rollout)
    for alert in alerts:
        entry = _entry(alert, now)
        entry.update(app=app, job=job, model=alert.labels.get("model", ""), instance="")
        if entry["model"] != model:
            entries.append(_set(entry, Decision("ignored", f"model {entry['model']!r} is not {model!r}")))
            continue
        items = cmdb.query(hook, "app", app)
        attempts: list[dict[str, Any]] = []
        busy_with = None
        if items:
            attrs = items[0]["attributes"]
            instances = list(attrs.get("instances") or [])
            hosts = [i["host"] for i in instances]
            subnet = None
            if hosts:
                found = cmdb.query(hook, "host", hosts[0])
                subnet = found[0]["attributes"].get("subnet_guid") if found else None
            entry.update(
                target=scale_target(app),
                version=attrs.get("version"),
                instances=len(instances),
                host=next_host(app, hosts),
                subnet=subnet,
            )
            ci = cmdb.record(hook, entry["target"], app=app, model=model)
            attempts, busy_with = cmdb.history(entry, ci, me, running, HISTORY_SHOWN)
        decision = decide(
            alert,
            attempts,
            now=now,
            mode=mode,
            policy=policy,
            known=bool(items and entry.get("subnet")) or alert.status != FIRING,
            busy_with=busy_with,
            mode_problem=mode_problem,
            rollout=rolling(app) if items else None,
        )
        if decision.kind == ACT and entry["instances"] >= max_instances:
            most = f"the most this runbook adds up to ({max_instances})"
            decision = Decision(AT_LIMIT, f"{app} runs {entry['instances']} instance(s), {most}")
        if dry_run and decision.kind not in ("resolved", "duplicate", "ignored"):
            would = f"dry run, nothing done; would {decision.kind}: {decision.reason}"
            decision = Decision(DRY_RUN, would, decision.kind)
        if decision.kind in (ACT, DRY_RUN) and entry.get("host"):
            entry["action"] = describe(entry)
        entries.append(_set(entry, decision))
    return entries


def describe(entry: Mapping[str, Any]) -> str:
    return f"add host {entry['host']} and deploy {entry['app']} {entry['version']} on it"


def add_instance(
    entries: Sequence[Mapping[str, Any]],
    *,
    hook: WeCubePluginHook,
    register: Callable[[str, list[str], dict[str, str]], Any],
    request_id: str,
    clock: Callable[[], float],
) -> list[dict[str, Any]]:
    """For each entry that acts: a host in the app's subnet, the running version on it, its target in
    Prometheus, and the instance in the app's CI (so the instance runbook knows it). Each entry says
    how far it went (``deployed``) and, if not, why (``error``)."""
    out = [dict(e) for e in entries]
    for e in out:
        if e.get("decision") != ACT:
            continue
        step = "create host"
        try:
            host = hook.call(
                "host/host/create",
                {"callbackParameter": e["host"], "name": e["host"], "subnet": e["subnet"]},
                request_id=f"{request_id}-host",
            ).outputs[0]
            step = "deploy"
            deployed = hook.call(
                "deploy/app/deploy",
                {"callbackParameter": e["host"], "host": host["guid"], "app": e["app"], "version": e["version"]},
                request_id=f"{request_id}-deploy",
            ).outputs[0]
            e.update(instance=deployed["target"], deployed=True, deployed_at=clock(), pid=deployed.get("pid"))
            step = "register the target"
            register(e["job"], [deployed["target"]], {"app": e["app"]})
            e["target_registered"] = True
            step = "record the instance in the app's CI"
            [app_ci] = cmdb.query(hook, "app", e["app"])
            instances = list(app_ci["attributes"].get("instances") or [])
            instances.append({k: deployed[k] for k in ("host", "guid", "target", "url")})
            hook.call(
                "cmdb/ci/update",
                {"callbackParameter": e["app"], "guid": app_ci["guid"], "attributes": {"instances": instances}},
            )
        except Exception as ex:
            e["error"] = f"scale-out failed at '{step}': {ex}"
            e.setdefault("deployed", False)
    return out


__all__ = ["add_instance", "describe", "next_host", "scale_target", "triage"]
