"""The rollout's rollback: put back what was *released*, never a build a rollout rejected.

What was released is the app's CMDB record, the ``app`` CI a rollout writes once every gate passed
(version, instances, deploy settings). What each host served is read when the run plans, before
anything changes (:func:`read_before`). For each host the run changed:

- the app has a release, and the host is one of its instances or served the app before the run:
  the released version is deployed again with the released settings (``deploy/app/deploy``), so a
  host that served before the run serves again after it;
- the app has no release, but the host served a version before the run (deployed by hand): that
  version is deployed again;
- otherwise (the app's first deploy on that host): the app is stopped there (``deploy/app/stop``)
  and its target leaves Prometheus; when nothing was released and no host served the app before,
  the app's alert rule group is removed too.

The deploy plugin's own ``previous_version`` is not used: it is whatever ran last on that host,
which may be a build a rollout stopped (see docs/rollout.md, "Rollback"). Restoring is a deploy
of a named version, so running the rollback twice changes nothing the second time.

No Airflow import: the hooks are passed in.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from airflow_wecube.orchestrations.rollout import job_name

if TYPE_CHECKING:
    from airflow_wecube.hooks.plugin import WeCubePluginHook
    from airflow_wecube.hooks.prometheus import PrometheusHook

#: the app CI's attribute holding the settings its release was deployed with
SETTINGS = "deploy_settings"
#: deploy inputs that are settings of a release (kept in the app CI, given again on a restore)
SETTING_KEYS = ("rate", "error_rate")


class RollbackError(RuntimeError):
    """What was deployed could not be read, so nothing could be rolled back."""


def touched_hosts(result: Mapping[str, Any] | None, planned: Sequence[Mapping[str, Any]]) -> list[str]:
    """The hosts a deploy changed: the outputs that changed something and every failed entity;
    every planned host when the call itself failed (``result`` is ``None``)."""
    from airflow_wecube.protocol.wire import output_failed

    if result:
        return [o["callbackParameter"] for o in result["outputs"] if output_failed(o) or o.get("changed") == "Y"]
    return [d["callbackParameter"] for d in planned]


def _query(hook: WeCubePluginHook, ci_type: str, names: Sequence[str]) -> list[list[dict[str, Any]]]:
    if not names:
        return []
    queries = [{"callbackParameter": n, "type": ci_type, "name": n} for n in names]
    return [o.get("items") or [] for o in hook.call("cmdb/ci/query", queries).outputs]


def released(app_items: Sequence[Mapping[str, Any]]) -> dict[str, Any] | None:
    """The release in an app's CMDB record: ``{"version", "hosts", "settings"}``, ``None`` when none."""
    attrs = app_items[0].get("attributes") or {} if app_items else {}
    if not attrs.get("version"):
        return None
    return {
        "version": attrs["version"],
        "hosts": sorted(i["host"] for i in attrs.get("instances") or [] if i.get("host")),
        "settings": {k: v for k, v in (attrs.get(SETTINGS) or {}).items() if k in SETTING_KEYS},
    }


def read_before(hook: WeCubePluginHook, app: str, hosts: Sequence[str]) -> dict[str, Any]:
    """What the rollback may put back, read before the run changes anything: the app's release and
    what each of ``hosts`` serves now (``{host: {"version", "status"}}``, hosts without the app left out).

    :raises RollbackError: the CMDB cannot be read (the run must not deploy what it could not undo)
    """
    try:
        [app_items] = _query(hook, "app", [app])
        instances = _query(hook, "app_instance", [f"{app}@{h}" for h in hosts])
    except Exception as e:
        raise RollbackError(f"could not read what {app} runs now from the CMDB: {e}") from None
    serving = {}
    for host, items in zip(hosts, instances, strict=True):
        if items:
            attrs = items[0]["attributes"]
            serving[host] = {"version": attrs.get("version") or "", "status": attrs.get("status") or ""}
    return {"released": released(app_items), "instances": serving}


def served(before: Mapping[str, Any], host: str) -> str | None:
    """The version ``host`` served when the run planned, ``None`` when it served none."""
    inst = (before.get("instances") or {}).get(host) or {}
    return inst.get("version") or None if inst.get("status") == "running" else None


@dataclass
class RollbackPlan:
    """What the rollback does on each host it looks at."""

    #: ``(entity, from_version)``: deploy ``entity["version"]`` again
    restore: list[tuple[dict[str, Any], str]] = field(default_factory=list)
    #: ``(entity, target)``: stop the app there and remove its Prometheus target
    stop: list[tuple[dict[str, Any], str]] = field(default_factory=list)
    #: the app never ran anywhere before this run: its alert rule group goes too
    remove_rules: bool = False


def plan_rollback(
    app: str, touched: Sequence[str], now: Mapping[str, Mapping[str, Any] | None], before: Mapping[str, Any]
) -> RollbackPlan:
    """Decide, host by host, what to put back (see the module's text).

    :param now: each touched host's ``app_instance`` attributes now (``None``: never deployed there)
    :param before: :func:`read_before`'s answer from when the run planned
    """
    release = before.get("released")
    plan = RollbackPlan()
    for host in touched:
        attrs = now.get(host)
        if not attrs:
            continue  # the app never ran there: nothing to undo
        entity = {"callbackParameter": host, "host": attrs["host_guid"], "app": app}
        was = served(before, host)
        if release and (host in release["hosts"] or was):
            plan.restore.append(({**entity, "version": release["version"], **release["settings"]}, attrs["version"]))
        elif was:
            plan.restore.append(({**entity, "version": was}, attrs["version"]))
        else:
            plan.stop.append((entity, attrs.get("target") or ""))
    never_served = not any(served(before, h) for h in before.get("instances") or {})
    plan.remove_rules = not release and never_served and not plan.restore
    return plan


def roll_back(
    hook: WeCubePluginHook,
    *,
    app: str,
    touched: Sequence[str],
    before: Mapping[str, Any],
    prometheus: Callable[[], PrometheusHook],
) -> tuple[list[str], list[str]]:
    """Put back what was released on the ``touched`` hosts (:func:`plan_rollback`).

    Returns ``(actions, problems)``: what was done, and what could not be (a plugin or Prometheus
    failure does not stop the rest).

    :raises RollbackError: when the app instances cannot be read from the CMDB
    """
    from airflow_wecube.exceptions import WeCubePluginError

    try:
        items = _query(hook, "app_instance", [f"{app}@{h}" for h in touched])
    except Exception as e:  # the plugin is unreachable: nothing can be rolled back from here
        raise RollbackError(f"could not read what was deployed on {', '.join(touched)}: {e}") from None
    now = {h: (i[0]["attributes"] if i else None) for h, i in zip(touched, items, strict=True)}
    plan = plan_rollback(app, touched, now, before)
    actions: list[str] = []
    problems: list[str] = []

    for service, batch in (("deploy/app/deploy", plan.restore), ("deploy/app/stop", plan.stop)):
        if not batch:
            continue
        try:
            outs = hook.call(service, [entity for entity, _ in batch]).outputs
        except WeCubePluginError as e:
            problems.append(f"{service} failed: {e}")
            outs = e.result.succeeded if e.result else []
        done = {o["callbackParameter"]: o for o in outs}
        for entity, extra in batch:
            o = done.get(entity["callbackParameter"])
            if o is None:
                continue
            if service == "deploy/app/deploy" and extra != o["version"]:
                actions.append(f"{o['host']}: rolled back from {extra} to {o['version']}")
            elif service == "deploy/app/deploy" and o.get("changed") == "Y":
                actions.append(f"{o['host']}: {o['version']} started again with its released settings")
            elif service == "deploy/app/deploy":  # a second rollback: it runs that version already
                actions.append(f"{o['host']}: runs {o['version']} (nothing to roll back)")
            else:
                actions.append(f"{o['host']}: stopped (first deploy, nothing to roll back to)")

    targets = [t for _, t in plan.stop if t]
    if targets or plan.remove_rules:
        job = job_name(app)
        try:
            prom = prometheus()
            if targets:
                prom.deregister_targets(job, targets, confirm=False)
                actions.append(f"targets {', '.join(targets)} removed from Prometheus job {job}")
            if plan.remove_rules and prom.delete_rule_group(job):
                actions.append(f"alert rule group {job} removed")
        except Exception as e:  # the rollback of the app matters more than the monitoring cleanup
            problems.append(f"Prometheus cleanup failed: {e}")
    return actions, problems


__all__ = [
    "RollbackError",
    "RollbackPlan",
    "plan_rollback",
    "read_before",
    "released",
    "roll_back",
    "served",
    "touched_hosts",
]
