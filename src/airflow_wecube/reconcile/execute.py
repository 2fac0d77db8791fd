"""Apply a plan: one batched plugin call per kind and action, through the same plugin services the
network build and the rollout use, each with a request id derived from the run (the same on a retry,
so a plugin drops a duplicate).

Every item is fixed or not on its own (each plugin entity is one transaction): an item whose step
fails is reported ``failed`` with the plugin's reason and its later steps are skipped; the others go
on. What failed is still a difference on the next run, which tries it again.

Pure: the caller passes ``call(service, inputs, request_id) -> (outputs, errors)`` keyed by
``callbackParameter`` (:func:`airflow_wecube.orchestrations.reconcile.hook_caller` wraps the hook).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

from airflow_wecube.reconcile.differences import APP_INSTANCE, STALE_RECORD
from airflow_wecube.reconcile.plan import ACT
from airflow_wecube.reconcile.strategies import CREATE, DELETE, RECREATE, UPDATE

Call = Callable[[str, list[dict[str, Any]], str], tuple[dict[str, dict[str, Any]], dict[str, str]]]
Register = Callable[[str, list[str], dict[str, str]], Any]

FIXED, FAILED, NOT_DONE = "fixed", "failed", "not done"
#: the network plugin of each network kind
PLUGIN = {"vpc": "vpc", "subnet": "subnet", "route_table": "route-table", "security_group": "security-group"}
#: step order: kinds in dependency order, a kind's deletes before its creates (a recreate frees the name)
_NETWORK_ORDER = ("subnet", "route_table", "security_group")


def _network_steps(e: Mapping[str, Any]) -> list[tuple[int, str, dict[str, Any]]]:
    kind, action, row = e["kind"], e["action"], e["row"]
    cb = e["key"]
    if kind == "data_center":
        return [(10, "cmdb/ci/create", {"callbackParameter": cb, "type": "data_center", "name": e["name"]})]
    if kind == "vpc":
        return [(20, "network/vpc/create", {**row["inputs"], "callbackParameter": cb})]
    base = 30 + 10 * _NETWORK_ORDER.index(kind)
    plugin = PLUGIN[kind]
    steps = []
    if action in (DELETE, RECREATE):
        steps.append((base, f"network/{plugin}/delete", {"callbackParameter": cb, "name": e["name"]}))
    if action in (CREATE, UPDATE, RECREATE):
        steps.append((base + 1, f"network/{plugin}/create", {**row["inputs"], "callbackParameter": cb}))
    return steps


def _record_steps(e: Mapping[str, Any]) -> list[tuple[int, str, dict[str, Any]]]:
    """A stale record written again from what the plugin reports (its guid kept), or removed."""
    row, cb = e["row"], e["key"]
    record, real = row.get("record"), row.get("real")
    steps = []
    if record is not None and (real is None or record.get("guid") != real.get("guid")):
        steps.append((60, "cmdb/ci/delete", {"callbackParameter": cb, "guid": record["guid"]}))
    if real is not None:
        attributes = {k: v for k, v in real.items() if k not in ("guid", "name", "prefix_length")}
        if record is None or record.get("guid") != real.get("guid"):
            create = {"callbackParameter": cb, "type": e["kind"], "name": e["name"], "guid": real["guid"]}
            steps.append((61, "cmdb/ci/create", {**create, "attributes": attributes}))
        else:
            steps.append(
                (62, "cmdb/ci/update", {"callbackParameter": cb, "guid": real["guid"], "attributes": attributes})
            )
    return steps


def _app_steps(e: Mapping[str, Any]) -> list[tuple[int, str, dict[str, Any]]]:
    row, cb, action = e["row"], e["key"], e["action"]
    if e["class"] == STALE_RECORD:
        return []  # the app's record is written again below, with the others of its app
    target = {"callbackParameter": cb, "host": row["host"], "app": row["app"]}
    if action == DELETE:
        return [(72, "deploy/app/stop", target)]
    steps = []
    real = row.get("real") or {}
    if action == CREATE and real.get("host_alive") != "Y":
        subnet = (row.get("design") or {}).get("subnet")
        steps.append((70, "host/host/create", {"callbackParameter": cb, "name": row["host"], "subnet": subnet or ""}))
    steps.append((71, "deploy/app/deploy", {**target, "version": (row.get("design") or {}).get("version") or ""}))
    return steps


def steps_of(e: Mapping[str, Any]) -> list[tuple[int, str, dict[str, Any]]]:
    """The plugin calls one entry needs, as ``(order, service, input)``."""
    if e["class"] == STALE_RECORD and e["kind"] != APP_INSTANCE:
        return _record_steps(e)
    if e["kind"] == APP_INSTANCE:
        return _app_steps(e)
    return _network_steps(e)


def _instance(out: Mapping[str, Any]) -> dict[str, Any]:
    return {k: out.get(k) for k in ("host", "guid", "target", "url")}


def apply(
    entries: Sequence[Mapping[str, Any]],
    call: Call,
    *,
    request_id: str,
    register: Register | None = None,
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Apply the entries that act; ``(entries with outcome and error, the plugin calls made)``.

    :param register: ``(job, targets, labels)``: the Prometheus targets of instances that now run
    """
    out = [dict(e) for e in entries]
    acting = [e for e in out if e.get("decision") == ACT]
    batches: dict[tuple[int, str], list[tuple[dict[str, Any], dict[str, Any]]]] = {}
    for e in acting:
        e["outcome"] = FIXED
        for order, service, item in steps_of(e):
            batches.setdefault((order, service), []).append((e, item))
    calls: list[dict[str, Any]] = []
    results: dict[str, dict[str, Any]] = {}

    def run(service: str, items: list[tuple[dict[str, Any], dict[str, Any]]]) -> None:
        live = [(e, item) for e, item in items if e["outcome"] != FAILED]
        if not live:
            return
        rid = f"{request_id}-{len(calls) + 1}"
        inputs = [item for _, item in live]
        calls.append({"service": service, "items": len(inputs), "request_id": rid})
        outputs, errors = call(service, inputs, rid)
        for e, item in live:
            cb = item["callbackParameter"]
            if cb in errors or cb not in outputs:
                e.update(outcome=FAILED, error=f"{service}: {errors.get(cb) or 'no answer for this item'}")
            else:
                results.setdefault(e["key"], {})[service] = outputs[cb]

    for order, service in sorted(batches):
        run(service, batches[(order, service)])

    # each app's record: the instances that run now, in the recorded order, new ones after
    apps: dict[str, list[dict[str, Any]]] = {}
    for e in acting:
        if e["kind"] == APP_INSTANCE and e["outcome"] != FAILED:
            apps.setdefault(e["row"]["app"], []).append(e)
    updates = []
    for app, fixed in sorted(apps.items()):
        row = fixed[0]["row"]
        instances = [dict(i) for i in row.get("recorded") or []]
        for e in fixed:
            deployed = results.get(e["key"], {}).get("deploy/app/deploy")
            now = _instance(deployed) if deployed else _instance(e["row"].get("real") or {})
            if e["action"] == DELETE:
                instances = [i for i in instances if i.get("host") != e["row"]["host"]]
                continue
            at = next((n for n, i in enumerate(instances) if i.get("host") == now["host"]), None)
            if at is None:
                instances.append(now)
            else:
                instances[at] = now
        updates.append(
            (
                fixed,
                {
                    "callbackParameter": app,
                    "guid": row["app_guid"],
                    "attributes": {"instances": instances},
                },
            )
        )
        if register and row.get("job"):
            targets = [i["target"] for i in instances if i.get("target")]
            try:
                register(row["job"], targets, {"app": app})
            except Exception as ex:  # the instances run; say that Prometheus was not told
                for e in fixed:
                    e["warning"] = f"Prometheus target not registered: {ex}"
    if updates:
        rid = f"{request_id}-{len(calls) + 1}"
        calls.append({"service": "cmdb/ci/update", "items": len(updates), "request_id": rid})
        outputs, errors = call("cmdb/ci/update", [u for _, u in updates], rid)
        for fixed, u in updates:
            if u["callbackParameter"] in errors:
                for e in fixed:
                    e.update(
                        outcome=FAILED,
                        error=f"cmdb/ci/update of app {u['callbackParameter']}: {errors[u['callbackParameter']]}",
                    )
    for e in out:
        e.setdefault("outcome", NOT_DONE)
    return out, calls


__all__ = ["FAILED", "FIXED", "NOT_DONE", "Call", "apply", "steps_of"]
