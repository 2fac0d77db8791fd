"""What the nodes of an imported process run (docs/processes.md, "The node table").

``wecube_bind`` (the run's first task) records which entities each node acts on; every node then
reads them back, so a node cleared and run again acts on the same entities with the same
``requestId`` (WeCube issue 1596). Each node records XCom ``wecube_node``
``{node_id, service, entities, calls}`` with sensitive values masked. The process is read from the
process store at run time (its key and version are the operator's arguments): the DAG file stays light.
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import TYPE_CHECKING, Any

from airflow.sdk import BaseOperator
from airflow.sdk.exceptions import AirflowFailException

from airflow_wecube.operators.process_context import (  # noqa: F401 (the contract's names, kept here too)
    BIND_TASK,
    CHOICE_XCOM,
    NODE_XCOM,
    SUBPROC_XCOM,
    bound,
    load_process,
    run_params,
)

if TYPE_CHECKING:
    from airflow.sdk import Context


class ProcessBindOperator(BaseOperator):
    """The run's first task: the root entity, each node's entities (dynamicBind 0/1, exclusions
    applied), the start node's system values, and one conf per sub-process run."""

    ui_color = "#dbeafe"

    def __init__(self, *, process_key: str, process_version: str, **kwargs: Any):
        super().__init__(**kwargs)
        self.process_key, self.process_version = process_key, process_version

    def execute(self, context: Context) -> dict[str, Any]:
        from airflow_wecube.datamodel.evaluate import Evaluator
        from airflow_wecube.exceptions import WeCubeError
        from airflow_wecube.hooks.entities import entity_api
        from airflow_wecube.hooks.plugin import WeCubePluginHook
        from airflow_wecube.processes.inputs import system_values
        from airflow_wecube.processes.preview import bindings

        process = load_process(self.process_key, self.process_version)
        p = run_params(context)
        if not isinstance(p["exclude"], dict):
            raise AirflowFailException('param exclude must be {"<node id>": ["<entity id>", ...]}')
        try:
            out = bindings(process, Evaluator(entity_api(WeCubePluginHook)), p["root"], p["exclude"])
        except WeCubeError as e:
            raise AirflowFailException(str(e)) from None
        run = context["dag_run"]
        start = getattr(run, "start_date", None) or datetime.now(timezone.utc)
        out["system"] = system_values(
            process,
            out["root"],
            dag_id=self.dag_id,
            run_id=run.run_id,
            start=start.isoformat(),
            executor=getattr(run, "triggering_user_name", None),
        )
        out["dry_run"] = p["dry_run"]
        for node in process.nodes:
            if node.type == "subProc":
                confs = [
                    {
                        "trigger_run_id": f"{run.run_id}__{node.id}__{e['id']}"[:250],
                        "conf": {"root": e["id"], "dry_run": p["dry_run"]},
                    }
                    for e in out["nodes"].get(node.id, [])
                ]
                context["ti"].xcom_push(key=SUBPROC_XCOM + node.id, value=confs)
        for node_id, rows in out["nodes"].items():
            self.log.info(
                "node %s: %d entit%s: %s",
                node_id,
                len(rows),
                "y" if len(rows) == 1 else "ies",
                ", ".join(r["displayName"] for r in rows[:20]),
            )
        return out


class ProcessSubRunsOperator(BaseOperator):
    """The runs a sub-process node starts, one per bound entity (what ``wecube_bind`` recorded for
    it): its return value feeds the mapped trigger of the sub-process DAG."""

    ui_color = "#dbeafe"

    def __init__(self, *, process_node: str, **kwargs: Any):
        super().__init__(**kwargs)
        self.process_node = process_node

    def execute(self, context: Context) -> list[dict[str, Any]]:
        bound(context)
        runs = context["ti"].xcom_pull(task_ids=BIND_TASK, key=SUBPROC_XCOM + self.process_node) or []
        self.log.info(
            "node %s starts %d run(s): %s", self.process_node, len(runs), ", ".join(r["trigger_run_id"] for r in runs)
        )
        return runs


class ProcessNodeOperator(BaseOperator):
    """One node that does work: automatic and data nodes, a human node's asynchronous service,
    timers, and the abnormal end. It shares the plugin call's paths with ``WeCubePluginOperator``
    (imported when a node runs, so the DAG file stays light at parse time)."""

    ui_color = "#e8f1fb"
    #: what the asynchronous path of the plugin operator reads (docs/async-plugins.md)
    _single = False
    timeout_seconds = None
    on_timeout = "fail"
    allowed_options = None
    reject_options = None
    fail_on_reject = True
    registry_path = None

    def __init__(
        self,
        *,
        process_key: str,
        process_version: str,
        process_node: str,
        process_node_type: str,
        service: str = "",
        wecube_conn_id: str | None = None,
        allowed_options: list[str] | None = None,
        **kwargs: Any,
    ):
        # not "node_id": BaseOperator has a read-only property of that name
        super().__init__(**kwargs)
        self.process_key, self.process_version = process_key, process_version
        self.process_node, self.process_node_type, self.service = process_node, process_node_type, service
        self.wecube_conn_id = wecube_conn_id
        if allowed_options:  # a human node's APPROVAL service: the decision links after it, none rejects
            self.allowed_options, self.reject_options, self.fail_on_reject = list(allowed_options), [], False

    def _registry(self):
        from airflow_wecube.registry import default_registry

        return default_registry(self.registry_path)

    def _package_defaults(self, svc):
        from airflow_wecube.operators.plugin import WeCubePluginOperator

        return WeCubePluginOperator._package_defaults(self, svc)

    def _raise_failed(self, ti, e) -> None:
        from airflow_wecube.operators.plugin import WeCubePluginOperator

        WeCubePluginOperator._raise_failed(self, ti, e)

    def execute(self, context: Context) -> Any:
        process = load_process(self.process_key, self.process_version)
        node = process.node(self.process_node)
        kind = node.type
        if kind == "abnormal":
            if bound(context).get("dry_run"):  # a dry run follows every branch: it only says so
                self.log.info("dry run: a real run ending here fails at abnormal end %s", node.id)
                return None
            raise AirflowFailException(f"the process ended at its abnormal end {node.id} ({node.name or 'abnormal'})")
        if kind in ("timeInterval", "date"):
            return self._wait(context, node)
        from airflow_wecube.operators.process_call import run_node

        return run_node(self, context, process, node)

    def _wait(self, context: Context, node) -> None:
        from airflow.providers.standard.triggers.temporal import DateTimeTrigger

        from airflow_wecube.operators.process_call import timer_moment

        moment = timer_moment(node)
        if bound(context).get("dry_run") or moment <= datetime.now(timezone.utc):
            self.log.info("node %s: no wait (%s)", node.id, "dry run" if bound(context).get("dry_run") else "past")
            return None
        self.log.info("node %s waits until %s", node.id, moment.isoformat())
        # The triggerer ends the task: a timer shorter than the worker's exit would otherwise resume
        # it before the scheduler saw that exit, and Airflow 3.3.2 fails it (compat/settle.py).
        self.defer(trigger=DateTimeTrigger(moment=moment, end_from_trigger=True), method_name="resume")

    def resume(self, context: Context, event: Any = None) -> None:
        """Only for a timer deferred before its trigger ended the task itself."""
        self.log.info("node %s: the wait is over", self.process_node)

    def execute_complete(self, context: Context, event: dict[str, Any], wecube_async: dict[str, Any]) -> Any:
        """Resumed by the plugin callback trigger (a human node's asynchronous service)."""
        from airflow_wecube.operators import plugin_async
        from airflow_wecube.operators.process_call import record_async

        outputs = plugin_async.complete(self, context, event, wecube_async)

        record_async(self, context, outputs)
        return outputs


def node_timeout(node) -> timedelta | None:
    return timedelta(minutes=node.timeout_minutes) if node.timeout_minutes else None


__all__ = [
    "BIND_TASK",
    "CHOICE_XCOM",
    "NODE_XCOM",
    "ProcessBindOperator",
    "ProcessNodeOperator",
    "ProcessSubRunsOperator",
    "bound",
]
