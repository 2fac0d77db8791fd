"""The work of automatic, data and service-bound human nodes: one call over the bound entities.

The entities come from ``wecube_bind`` (dynamicBind 0/1) or are evaluated now (2); their attributes
are read again (one query), so inputs mapped to the data model are current, while the set of
entities is the one bound at start. Constant and context bindings join them
(:mod:`airflow_wecube.processes.inputs`); outputs are written back to the CMDB. A dry run records the
inputs and calls nothing.
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import Any

from airflow.sdk.exceptions import AirflowFailException

from airflow_wecube.operators.process_context import BIND_TASK, NODE_XCOM, bound
from airflow_wecube.processes.inputs import MASK

CALLBACK = "callbackParameter"


def timer_moment(node) -> datetime:
    """When a timer node's wait ends: now + duration (timeInterval), or its date."""
    tc = node.time_config
    if node.type == "date":
        if not tc or not tc.date:
            raise AirflowFailException(f"date node {node.id} names no date")
        moment = datetime.fromisoformat(tc.date.replace("Z", "+00:00"))
        return moment if moment.tzinfo else moment.replace(tzinfo=timezone.utc)
    seconds = tc.seconds if tc else None
    if seconds is None:
        raise AirflowFailException(f"timeInterval node {node.id} names no duration")
    return datetime.now(timezone.utc) + timedelta(seconds=seconds)


def _masked(svc, values: dict[str, Any]) -> dict[str, Any]:
    secret = svc.interface.sensitive_inputs
    return {k: (MASK if k in secret and v not in (None, "") else v) for k, v in values.items()}


def _rows(evaluator, expr, entities: list[dict]) -> list:
    """The bound entities as evaluator rows: fresh attributes, the recorded paths."""
    from airflow_wecube.datamodel.evaluate import Row
    from airflow_wecube.datamodel.expression import Hop

    if not entities:
        return []
    last = expr.last
    found = evaluator._query(Hop(last.package, last.entity), "id", [e["id"] for e in entities])
    data = {str(d.get("id")): d for d in found}
    gone = [e["id"] for e in entities if e["id"] not in data]
    if gone:
        raise AirflowFailException(f"bound entities no longer exist in {last.name}: {', '.join(gone)}")
    return [Row(data[e["id"]], tuple(e["path"].split("::"))) for e in entities]


def _entity_inputs(evaluator, svc, expr, rows) -> list[dict[str, Any]]:
    from airflow_wecube.datamodel.binding import BindingError, _value, entity_mapped, values_by_entity

    mapped = entity_mapped(svc, svc.interface.inputs, expr)
    values = values_by_entity(evaluator, mapped, rows)
    params = {p.name: p for p in svc.interface.inputs}
    problems: list[str] = []
    out = []
    for r in rows:
        entity: dict[str, Any] = {CALLBACK: r.id}
        for name in mapped:
            v = _value(params[name], values[name].get(r.id, []), r.id, problems)
            if v not in (None, []):
                entity[name] = v
        out.append(entity)
    if problems:
        raise BindingError(f"{svc.name}: " + "; ".join(problems))
    return out


def _records(context, process, node) -> dict[str, list]:
    """The calls recorded by the nodes this node's context bindings name."""
    from airflow_wecube.processes.dag_shape import task_ids

    ids = task_ids(process)
    out = {}
    for p in node.params:
        if p.bind_type == "context" and p.bind_node_id in ids and p.bind_node_id not in out:
            rec = context["ti"].xcom_pull(task_ids=ids[p.bind_node_id], key=NODE_XCOM) or {}
            out[p.bind_node_id] = rec.get("calls") or []
    return out


def _entities(context, process, node, evaluator, binding: dict) -> list[dict]:
    from airflow_wecube.processes.preview import evaluate_node

    if node.dynamic_bind == 2:
        gone = set(map(str, (binding.get("exclude") or {}).get(node.id, ())))
        return [e for e in evaluate_node(evaluator, node, binding["root"]["id"]) if e["id"] not in gone]
    if node.id not in binding["nodes"]:
        raise AirflowFailException(f"{BIND_TASK} recorded no entities for node {node.id}")
    return binding["nodes"][node.id]


def run_node(op, context, process, node) -> Any:
    """Call the node's service over its entities (or update them, for a data node); record the calls."""
    from airflow_wecube.datamodel.binding import Binding
    from airflow_wecube.datamodel.evaluate import Evaluator
    from airflow_wecube.datamodel.writeback import write_back
    from airflow_wecube.exceptions import WeCubeError, WeCubePluginError
    from airflow_wecube.hooks.entities import entity_api
    from airflow_wecube.hooks.plugin import WeCubePluginHook
    from airflow_wecube.operators import plugin_async
    from airflow_wecube.processes.inputs import node_inputs
    from airflow_wecube.processes.routines import routine
    from airflow_wecube.protocol.platform_inputs import RunContext, fill_platform_inputs
    from airflow_wecube.protocol.request_ids import stable_request_id

    binding = bound(context)
    evaluator = Evaluator(entity_api(WeCubePluginHook))
    record: dict[str, Any] = {"node_id": node.id, "service": node.service_name, "entities": [], "calls": []}
    ti = context["ti"]
    try:
        expr = evaluator.check(routine(node.routine_expression))
        entities = _entities(context, process, node, evaluator, binding)
        record["entities"] = entities
        rows = _rows(evaluator, expr, entities)
        own = node_inputs(process, node, entities, binding.get("system") or {}, _records(context, process, node))
        if node.type == "data":
            return _data_node(op, ti, evaluator, expr, rows, own, record, binding.get("dry_run"))
        if not rows:
            op.log.info("node %s acts on no entity: %s not called", node.id, node.service_name)
            ti.xcom_push(key=NODE_XCOM, value=record)
            return []
        svc = op._registry().service(node.service_name, node.service_version or None)
        mapped = _entity_inputs(evaluator, svc, expr, rows)
        inputs = [{**m, **o} for m, o in zip(mapped, own, strict=True)]
    except WeCubeError as e:
        ti.xcom_push(key=NODE_XCOM, value=record)
        raise AirflowFailException(f"node {node.id} ({node.name}): {e}") from None
    map_index = ti.map_index if ti.map_index is not None else -1
    run = RunContext(
        ti.dag_id, ti.run_id, ti.task_id, map_index, getattr(context.get("dag_run"), "triggering_user_name", None)
    )
    request_id = stable_request_id(ti.dag_id, ti.run_id, ti.task_id, map_index)
    if binding.get("dry_run"):
        record["calls"] = [
            {
                CALLBACK: i[CALLBACK],
                "inputs": _masked(svc, i),
                "output": {},
                "errorCode": "",
                "errorMessage": "dry run: not called",
            }
            for i in inputs
        ]
        ti.xcom_push(key=NODE_XCOM, value=record)
        op.log.info("dry run: %s not called for %d entities", svc.name, len(inputs))
        return []
    from airflow_wecube.hooks.entities import conn_id_for_package
    from airflow_wecube.hooks.plugin import WeCubePluginHook

    op.wecube_conn_id = op.wecube_conn_id or conn_id_for_package(svc.package)
    hook = WeCubePluginHook(op.wecube_conn_id, registry=op._registry())
    if svc.interface.is_async:  # a human node's taskman: defer until the callback
        record["calls"] = [
            {
                CALLBACK: i[CALLBACK],
                "inputs": _masked(svc, i),
                "output": {},
                "errorCode": "",
                "errorMessage": "waiting for the callback",
            }
            for i in inputs
        ]
        ti.xcom_push(key=NODE_XCOM, value=record)
        return plugin_async.send_and_defer(op, context, hook, svc, inputs, request_id, run)
    inputs = fill_platform_inputs(
        svc, inputs, run, sysvar=plugin_async.sysvar_lookup, package_defaults=op._package_defaults(svc)
    )
    try:
        result = hook.call(svc, inputs, request_id=request_id)
        outputs, error = result.outputs, None
    except WeCubePluginError as e:
        if e.result is None:
            raise
        result, outputs, error = e.result, e.result.outputs, e
    by_entity = {str(o.get(CALLBACK)): o for o in outputs}
    record["calls"] = [
        {
            CALLBACK: i[CALLBACK],
            "inputs": _masked(svc, i),
            "output": by_entity.get(str(i[CALLBACK]), {}),
            "errorCode": str(by_entity.get(str(i[CALLBACK]), {}).get("errorCode", "")),
            "errorMessage": by_entity.get(str(i[CALLBACK]), {}).get("errorMessage", ""),
        }
        for i in inputs
    ]
    record["requestId"] = request_id
    ti.xcom_push(key=NODE_XCOM, value=record)
    done = write_back(evaluator, Binding(svc, expr, rows, inputs), result.succeeded if error else outputs)
    op.log.info("%s: %s", svc.name, done.summary())
    if error is not None:
        op._raise_failed(ti, error)
        raise error
    return outputs


def _data_node(op, ti, evaluator, expr, rows, own, record, dry_run) -> list:
    """A data node: the node's bindings are attribute values written to each bound entity."""
    last = expr.last
    items = [{"id": o[CALLBACK], **{k: v for k, v in o.items() if k != CALLBACK}} for o in own]
    items = [i for i in items if len(i) > 1]
    record["calls"] = [
        {
            CALLBACK: i["id"],
            "inputs": {k: v for k, v in i.items() if k != "id"},
            "output": {},
            "errorCode": "0",
            "errorMessage": "dry run: not written" if dry_run else "",
        }
        for i in items
    ]
    ti.xcom_push(key=NODE_XCOM, value=record)
    if items and not dry_run:
        evaluator.api.update(last.package, last.entity, items)
    op.log.info("data node %s: %d %s updated", record["node_id"], 0 if dry_run else len(items), last.name)
    return items


def record_async(op, context, outputs) -> None:
    """After a human node's callback: the outputs join the recorded calls."""
    ti = context["ti"]
    rec = ti.xcom_pull(task_ids=ti.task_id, key=NODE_XCOM, map_indexes=ti.map_index) or {}
    by_entity = {str(o.get(CALLBACK)): o for o in outputs or []}
    for c in rec.get("calls", []):
        out = by_entity.get(str(c.get(CALLBACK)), {})
        c.update(output=out, errorCode=str(out.get("errorCode", "0")), errorMessage=out.get("errorMessage", ""))
    ti.xcom_push(key=NODE_XCOM, value=rec)
    from airflow_wecube.callbacks.entities import CHOSEN_OPTION

    chosen = next((o.get(CHOSEN_OPTION) for o in outputs or [] if isinstance(o, dict) and o.get(CHOSEN_OPTION)), None)
    if chosen:
        from airflow_wecube.operators.process_context import CHOICE_XCOM

        ti.xcom_push(key=CHOICE_XCOM, value=chosen)
