"""One DAG per imported WeCube process (``wecube processes import``), which runs it.

Reads the highest version of every process in the process store (``wecube_processes/`` in the DAGs
folder, ``[wecube] processes_path`` or ``$WECUBE_PROCESSES_PATH``) and builds DAG
``wecube_proc_<key>`` named after the process: task ``wecube_bind`` first (the entities each node
acts on, recorded once), then one task per node and one dependency per flow. Params: ``root`` (the
root entity's id), ``exclude`` (``{node id: [entity ids]}`` never acted on) and ``dry_run``.
Light at parse time: no network, the stored JSON only; what each node runs lives in
``airflow_wecube.operators.process*`` (docs/processes.md).
"""

from __future__ import annotations

import logging

import pendulum
from airflow.providers.standard.operators.empty import EmptyOperator
from airflow.sdk import DAG, Param

from airflow_wecube.exceptions import WeCubeError
from airflow_wecube.processes.dag_shape import ROUTING, dag_shape
from airflow_wecube.processes.store import default_process_store

log = logging.getLogger(__name__)


def _node_task(process, node, t, bind, common):
    from airflow_wecube.operators.process import ProcessNodeOperator, node_timeout
    from airflow_wecube.operators.process_flow import (
        CONTINUE,
        DONE,
        ProcessDecisionOperator,
        ProcessHumanOperator,
        human_options,
    )

    ref = {"process_key": process.key, "process_version": process.version}
    if node.type == "decision":
        return ProcessDecisionOperator(process_node=node.id, **ref, **common)
    if node.type == "human" and not node.service_name:
        return ProcessHumanOperator(
            process_node=node.id,
            subject=f"{process.name or process.key}: {t.display_name}",
            body=node.note or f"Node `{node.id}` of process `{process.key}`.",
            options=human_options(process, node),
            **common,
        )
    if node.type == "timeInterval" and node.allow_continue and node.time_config and node.time_config.seconds:
        return ProcessHumanOperator(
            process_node=node.id,
            subject=f"{process.name or process.key}: {t.display_name}",
            body=f"Waiting {node.time_config.seconds:g} s; continue now if you wish.",
            options=[CONTINUE],
            response_timeout=node.time_config.seconds,
            on_timeout="approve",
            **common,
        )
    if node.type == "subProc":
        from airflow.providers.standard.operators.trigger_dagrun import TriggerDagRunOperator

        from airflow_wecube.compat.settle import settle_seconds
        from airflow_wecube.operators.process import ProcessSubRunsOperator

        sub = node.sub_process
        runs = ProcessSubRunsOperator(
            task_id=f"{t.task_id}__runs",
            task_display_name=f"{t.display_name}: runs",
            process_node=node.id,
            trigger_rule=common["trigger_rule"],
        )
        return TriggerDagRunOperator.partial(
            trigger_dag_id=f"wecube_proc_{sub.key or sub.name}",
            wait_for_completion=True,
            deferrable=True,
            # its trigger looks at once (the sub-run just started), then every poke_interval: never a
            # resume sooner than Airflow 3.3.2 has seen the worker's exit (compat/settle.py)
            poke_interval=max(3.0, settle_seconds()),
            allowed_states=["success"],
            failed_states=["failed"],
            map_index_template="{{ task.trigger_run_id }}",
            **common,
        ).expand_kwargs(runs.output), runs
    options = human_options(process, node) if node.type == "human" else None
    return ProcessNodeOperator(
        allowed_options=options if options != [DONE] else None,
        process_node=node.id,
        process_node_type=node.type,
        service=node.service_name,
        execution_timeout=node_timeout(node),
        **ref,
        **common,
    )


def _build(process) -> DAG:
    from airflow_wecube.operators.process import BIND_TASK, ProcessBindOperator
    from airflow_wecube.operators.process_flow import ProcessHumanOperator

    shape = dag_shape(process)
    nodes = {n.id: n for n in process.nodes}
    with DAG(
        dag_id=shape.dag_id,
        dag_display_name=shape.display_name,
        start_date=pendulum.datetime(2026, 1, 1, tz="UTC"),
        schedule=None,
        catchup=False,
        tags=list(shape.tags),
        doc_md=shape.doc_md,
        params={
            "root": Param(
                "",
                type="string",
                title="Root entity id",
                description=f"the id of the {process.root_entity} the run starts from "
                "(`wecube processes preview` lists candidates)",
            ),
            "exclude": Param(
                {},
                type="object",
                title="Entities deselected per node",
                description='{"<node id>": ["<entity id>", ...]}: never acted on',
            ),
            "dry_run": Param(False, type="boolean", title="Dry run", description="bind and record, call nothing"),
        },
    ) as dag:
        bind = ProcessBindOperator(
            task_id=BIND_TASK,
            task_display_name="bind entities",
            **{"process_key": process.key, "process_version": process.version},
        )
        heads, tails = {}, {}
        for t in shape.tasks:
            node = nodes[t.node_id]
            rule = "none_failed_min_one_success" if t.node_type in ("decisionMerge", "end") else t.trigger_rule
            common = {"task_id": t.task_id, "task_display_name": t.display_name, "trigger_rule": rule}
            task = EmptyOperator(**common) if t.node_type in ROUTING else _node_task(process, node, t, bind, common)
            task, head = task if isinstance(task, tuple) else (task, task)
            heads[t.task_id], tails[t.task_id] = head, task
            if node.risk_check:
                risk = ProcessHumanOperator(
                    process_node=node.id,
                    task_id=f"{t.task_id}__risk_check",
                    task_display_name=f"{t.display_name}: risk check",
                    subject=f"{process.name or process.key}: confirm {t.display_name}",
                    body=f"Node `{node.id}` calls `{node.service_name}`: confirm before it runs.",
                    options=["Confirm", "Stop"],
                    approve_options=["Confirm"],
                )
                risk >> head
                heads[t.task_id] = risk
            if t.node_type == "start":
                bind >> heads[t.task_id]
        for up, down in shape.dependencies:
            tails[up] >> heads[down]
    return dag


_store = default_process_store()
for _key in _store.processes():
    try:
        _dag = _build(_store.get(_key))
    except (WeCubeError, ValueError) as _e:  # one broken file must not hide the other processes' DAGs
        log.error("WeCube process %s not loaded: %s", _key, _e)
        continue
    globals()[_dag.dag_id] = _dag
