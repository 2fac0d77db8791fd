"""One DAG per imported WeCube process (``wecube processes import``): its SHAPE only, for now.

Reads the highest version of every process in the process store (``wecube_processes/`` in the DAGs
folder, ``[wecube] processes_path`` or ``$WECUBE_PROCESSES_PATH``) and builds DAG
``wecube_proc_<key>`` named after the process, with one task per node and one dependency per flow,
so the Airflow UI shows the process's graph. Light at parse time: no network, the stored JSON only.

What each node runs (plugin calls over the node's entities, timers, approvals, sub-process runs)
comes with the data model: until then a task that does work fails, naming its node, instead of
pretending to have run; only start, end, fork and merge nodes succeed. See docs/processes.md.
"""

from __future__ import annotations

import logging

import pendulum
from airflow.providers.standard.operators.empty import EmptyOperator
from airflow.sdk import DAG, BaseOperator
from airflow.sdk.exceptions import AirflowFailException

from airflow_wecube.config import default_process_store
from airflow_wecube.exceptions import WeCubeError
from airflow_wecube.processes.dag_shape import ROUTING, dag_shape

log = logging.getLogger(__name__)


class ProcessNodeOperator(BaseOperator):
    """A node whose work is not run yet: it fails with the node's id, type and service."""

    ui_color = "#f5e6c8"

    def __init__(self, *, process_node: str, process_node_type: str, service: str = "", **kwargs):
        super().__init__(**kwargs)
        # not "node_id": BaseOperator has a read-only property of that name
        self.process_node, self.process_node_type, self.service = process_node, process_node_type, service

    def execute(self, context):
        what = self.process_node_type + (f", {self.service}" if self.service else "")
        raise AirflowFailException(
            f"node {self.process_node} ({what}) cannot run yet:"
            " this DAG is the process's shape; node semantics come with the data model (docs/processes.md)"
        )


def _build(process) -> DAG:
    shape = dag_shape(process)
    services = {n.id: n.service_name for n in process.nodes}
    with DAG(
        dag_id=shape.dag_id,
        dag_display_name=shape.display_name,
        start_date=pendulum.datetime(2026, 1, 1, tz="UTC"),
        schedule=None,
        catchup=False,
        tags=list(shape.tags),
        doc_md=shape.doc_md,
    ) as dag:
        tasks = {}
        for t in shape.tasks:
            common = {"task_id": t.task_id, "task_display_name": t.display_name, "trigger_rule": t.trigger_rule}
            if t.node_type in ROUTING:
                tasks[t.task_id] = EmptyOperator(**common)
            else:
                tasks[t.task_id] = ProcessNodeOperator(
                    process_node=t.node_id,
                    process_node_type=t.node_type,
                    service=services.get(t.node_id, ""),
                    **common,
                )
        for up, down in shape.dependencies:
            tasks[up] >> tasks[down]
    return dag


_store = default_process_store()
for _key in _store.processes():
    try:
        _dag = _build(_store.get(_key))
    except WeCubeError as _e:  # one broken file must not hide the other processes' DAGs
        log.error("WeCube process %s not loaded: %s", _key, _e)
        continue
    globals()[_dag.dag_id] = _dag
