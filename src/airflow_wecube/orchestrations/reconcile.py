"""The reconcile's reads and calls through the plugins: the CMDB's records and each owning plugin's
query, the comparison the *Design vs reality* page and ``wecube_reconcile`` share, the capacity
model's instance counts, and what a person chose to leave as it is. The decisions are in
:mod:`airflow_wecube.reconcile` (pure). Airflow is imported inside the functions only.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

from airflow_wecube.orchestrations.rollout_lock import LOCK_CI, held_by
from airflow_wecube.reconcile.capacity import capacity_count
from airflow_wecube.reconcile.differences import (
    INSTANCE_QUERY,
    QUERY_SERVICES,
    compare_apps,
    compare_network,
    expected_network,
)
from airflow_wecube.reconcile.execute import Call
from airflow_wecube.reconcile.strategies import Strategies, load_strategies

if TYPE_CHECKING:
    from airflow_wecube.hooks.plugin import WeCubePluginHook

#: the CMDB record of what people chose to leave as it is (``attributes.accepted``: key -> who, when)
STATE_TYPE, STATE_NAME = "reconcile_state", "wecube_reconcile"
RECORD_KINDS = ("data_center", "vpc", "subnet", "route_table", "security_group", "host", "app", STATE_TYPE, LOCK_CI)
#: ``(model) -> (predicted target at the current volume, the spec's limit)``, either may be None
Predict = Callable[[str], "tuple[float | None, float | None]"]


#: how often ``wecube_reconcile`` runs unless ``[wecube] reconcile_schedule`` says otherwise
DEFAULT_SCHEDULE = timedelta(minutes=10)


def schedule() -> timedelta | str | None:
    """``[wecube] reconcile_schedule``: ``none`` (only when triggered), a cron expression or preset
    (``*/5 * * * *``, ``@hourly``), else every 10 minutes. Read when the DAG file is parsed."""
    from airflow_wecube.config import airflow_option

    value = (airflow_option("reconcile_schedule") or "").strip()
    if not value:
        return DEFAULT_SCHEDULE
    return None if value.lower() == "none" else value


def design_file() -> Path:
    """``[wecube] network_design``, else ``designs/network.yml`` in the DAGs folder."""
    from airflow_wecube.config import airflow_option, dags_folder

    explicit = airflow_option("network_design")
    return Path(explicit).expanduser() if explicit else dags_folder() / "designs" / "network.yml"


def strategies_file() -> Path:
    """``[wecube] reconcile_strategies``, else ``designs/strategies.yml`` in the DAGs folder."""
    from airflow_wecube.config import airflow_option, dags_folder

    explicit = airflow_option("reconcile_strategies")
    return Path(explicit).expanduser() if explicit else dags_folder() / "designs" / "strategies.yml"


def hook_caller(hook: WeCubePluginHook) -> Call:
    """``call(service, inputs, request_id) -> (outputs, errors)`` by ``callbackParameter``, for
    :func:`airflow_wecube.reconcile.execute.apply`: a failed entity is an error, the others are kept."""
    from airflow_wecube.exceptions import WeCubePluginError
    from airflow_wecube.protocol import output_failed

    def call(service: str, inputs: list[dict[str, Any]], request_id: str):
        try:
            result = hook.call(service, inputs, request_id=request_id)
        except WeCubePluginError as e:
            if e.result is None:  # no answer at all: every item failed
                return {}, {i["callbackParameter"]: str(e) for i in inputs}
            result = e.result
        outputs, errors = {}, {}
        for o in result.outputs:
            cb = str(o.get("callbackParameter"))
            if output_failed(o):
                errors[cb] = o.get("errorMessage") or f"errorCode {o.get('errorCode')}"
            else:
                outputs[cb] = o
        return outputs, errors

    return call


def _fresh() -> str:
    import uuid

    return f"reconcile-read-{uuid.uuid4()}"


def read_reality(hook: WeCubePluginHook) -> tuple[dict[str, list], dict[str, list | None], list | None, list[str]]:
    """``(records, real, instances, errors)``: the CMDB's CIs per type (one call), each network kind
    as its plugin reports it (one query per kind), the deploy plugin's instances (one query).
    A query that fails leaves that kind ``None`` (compared with its record) and says why.

    Each read has a new request id: a task's retry must see reality now, not the answer a plugin
    kept for the first try's id."""
    errors: list[str] = []
    try:
        result = hook.call(
            "cmdb/ci/query", [{"callbackParameter": k, "type": k} for k in RECORD_KINDS], request_id=_fresh()
        )
        records = {o["callbackParameter"]: o.get("items") or [] for o in result.outputs}
    except Exception as e:  # shown on the page and in the run's log
        errors.append(f"the CMDB could not be read: {e}")
        records = {}
    real: dict[str, list | None] = {}
    for kind, service in QUERY_SERVICES.items():
        try:
            found = hook.call(service, {"callbackParameter": kind}, request_id=_fresh())
            real[kind] = found.outputs[0].get("items") or []
        except Exception as e:
            errors.append(f"{service}: {e} (compared with the CMDB record instead)")
            real[kind] = None
    try:
        found = hook.call(INSTANCE_QUERY, {"callbackParameter": "instances"}, request_id=_fresh())
        instances = found.outputs[0].get("items") or []
    except Exception as e:
        errors.append(f"{INSTANCE_QUERY}: {e} (app instances not compared)")
        instances = None
    return records, real, instances, errors


def prometheus_predict(spec_dir: Path | None = None) -> Predict:
    """The capacity model's prediction now (``sum(capacity:<model>:predicted)`` in Prometheus) and the
    limit of its spec (``capacity/<model>.yml`` in the DAGs folder)."""

    def predict(model: str) -> tuple[float | None, float | None]:
        from airflow_wecube.capacity.rules import recording_rule_name
        from airflow_wecube.capacity.spec import load_spec
        from airflow_wecube.config import dags_folder
        from airflow_wecube.hooks.prometheus import PrometheusHook

        limit = None
        try:
            limit = load_spec((spec_dir or dags_folder() / "capacity") / f"{model}.yml").limit
        except Exception:  # no spec: no limit, the count stays as recorded
            pass
        try:
            found = PrometheusHook().query(f"sum({recording_rule_name(model)})")
            return (float(found[0]["value"]) if found else None), limit
        except Exception:
            return None, limit

    return predict


def desired_counts(
    strategies: Strategies, apps: list[Mapping[str, Any]], predict: Predict | None
) -> tuple[dict[str, int], dict[str, str]]:
    """Instance counts for the apps whose strategy sets one (a number, or ``capacity``), and why."""
    counts, why = {}, {}
    for app in apps:
        spec = strategies.apps.get(app["name"])
        if spec is None or spec.desired == "record":
            continue
        recorded = len((app.get("attributes") or {}).get("instances") or [])
        if isinstance(spec.desired, int):
            counts[app["name"]], why[app["name"]] = spec.desired, f"strategy: {spec.desired} instance(s)"
            continue
        predicted, limit = predict(spec.model or "") if predict else (None, None)
        count, reason = capacity_count(predicted, limit, spec.floor, spec.ceiling, recorded)
        if count < recorded:  # the model adds instances; fewer is a person's call (the runbooks add some too)
            count, reason = recorded, f"{reason}; {recorded} recorded are kept (the model only adds)"
        counts[app["name"]], why[app["name"]] = count, reason
    return counts, why


def compare_now(
    hook: WeCubePluginHook,
    design: Mapping[str, Any],
    strategies: Strategies,
    *,
    predict: Predict | None = None,
    running: Callable[[str], bool | None] | None = None,
) -> dict[str, Any]:
    """The three-way comparison now: ``rows`` (network, then app instances), ``accepted`` (keys a
    person chose to leave), ``desired`` (why each app's count), ``state`` (the record of answers),
    ``rollouts`` (app -> the rollout in progress, whose instances the reconcile leaves alone) and
    ``errors``.

    :param running: whether a rollout's run is still active (``None``: unknown, a lock holds until its TTL)
    """
    import time

    records, real, instances, errors = read_reality(hook)
    rows = compare_network(expected_network(design), records, real)
    apps = records.get("app") or []
    counts, why = desired_counts(strategies, apps, predict)
    if instances is not None:
        rows += compare_apps(apps, instances, records.get("host") or [], counts)
    state = next(iter(records.get(STATE_TYPE) or []), None)
    accepted = sorted(((state or {}).get("attributes") or {}).get("accepted") or {})
    for row in rows:
        row["accepted"] = row["key"] in accepted and row["status"] != "ok"
    now = time.time()
    rollouts = {
        ci["name"]: held
        for ci in records.get(LOCK_CI) or []
        if (held := held_by(ci.get("attributes") or {}, now=now, running=running))
    }
    return {
        "rows": rows,
        "accepted": accepted,
        "desired": why,
        "state": state,
        "rollouts": rollouts,
        "errors": errors,
    }


def load_inputs(design_path: Path | str, strategies_path: Path | str) -> tuple[dict[str, Any], Strategies]:
    """The design and the strategies (each raises with a clear message when unusable)."""
    from airflow_wecube.designs.network import load_design

    return load_design(design_path), load_strategies(strategies_path)


def accept(hook: WeCubePluginHook, state: Mapping[str, Any] | None, keys: list[str], note: dict[str, Any]) -> None:
    """Remember that a person chose to leave ``keys`` as they are (the reconcile stops asking)."""
    if not keys:
        return
    if state is None:
        created = hook.call(
            "cmdb/ci/create",
            {"callbackParameter": STATE_NAME, "type": STATE_TYPE, "name": STATE_NAME, "attributes": {}},
        )
        state = created.outputs[0]
    accepted = dict(((state.get("attributes") or {}).get("accepted")) or {})
    accepted.update({k: note for k in keys})
    hook.call(  # a merge: safe to repeat, so a new id on each try (its inputs carry the time)
        "cmdb/ci/update",
        {"callbackParameter": STATE_NAME, "guid": state["guid"], "attributes": {"accepted": accepted}},
        request_id=_fresh(),
    )


__all__ = [
    "STATE_NAME",
    "STATE_TYPE",
    "accept",
    "compare_now",
    "design_file",
    "desired_counts",
    "hook_caller",
    "load_inputs",
    "prometheus_predict",
    "read_reality",
    "schedule",
    "strategies_file",
]
