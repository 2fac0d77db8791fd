"""The shape of the DAG a stored process becomes: DAG id, names, one task per node, one dependency
per flow, and the trigger rule each join needs. Pure (no Airflow import): ``dags/wecube_processes.py``
builds the DAGs from it at parse time, and tests check it without a scheduler.

Only the shape: what each node runs (plugin calls over entities, waits, approvals, sub-process runs)
is chosen by the DAG factory from ``airflow_wecube.operators.process*`` (docs/processes.md).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from airflow_wecube.processes.model import Process

#: node types that only route the run (no work of their own)
ROUTING = frozenset({"start", "end", "fork", "merge", "decisionMerge"})
_UNSAFE = re.compile(r"[^A-Za-z0-9_.\-]")
MAX_TASK_ID = 200


@dataclass(frozen=True)
class TaskShape:
    task_id: str
    node_id: str
    node_type: str
    display_name: str
    #: a decision-merge joins the branch that ran and tolerates the skipped ones
    trigger_rule: str = "all_success"


@dataclass(frozen=True)
class DagShape:
    dag_id: str
    display_name: str
    tags: tuple[str, ...]
    doc_md: str
    tasks: tuple[TaskShape, ...]
    #: (upstream task id, downstream task id), one per flow
    dependencies: tuple[tuple[str, str], ...]


def task_ids(process: Process) -> dict[str, str]:
    """Node id -> an Airflow task id: the node id with anything outside ``[A-Za-z0-9_.-]`` turned
    into ``_``, made unique with a suffix when two ids collapse to one."""
    out: dict[str, str] = {}
    taken: set[str] = set()
    for node in process.nodes:
        base = _UNSAFE.sub("_", node.id)[:MAX_TASK_ID] or "node"
        candidate, n = base, 1
        while candidate in taken:
            n += 1
            candidate = f"{base}_{n}"
        taken.add(candidate)
        out[node.id] = candidate
    return out


def _doc(process: Process) -> str:
    lines = [
        f"**{process.name or process.key}** — WeCube process `{process.key}` version `{process.version}`"
        f" ({process.source_format}, imported from `{process.source_file.rsplit('/', 1)[-1]}`).",
        "",
        f"Root entity: `{process.root_entity}`. {len(process.nodes)} nodes, {len(process.edges)} flows.",
    ]
    if process.warnings:
        lines += ["", "Import warnings:", *(f"- {w}" for w in process.warnings)]
    return "\n".join(lines)


def dag_shape(process: Process) -> DagShape:
    """The DAG of one (validated) process."""
    ids = task_ids(process)
    tasks = tuple(
        TaskShape(
            task_id=ids[n.id],
            node_id=n.id,
            node_type=n.type,
            display_name=n.name or n.id,
            trigger_rule="none_failed_min_one_success" if n.type == "decisionMerge" else "all_success",
        )
        for n in process.nodes
    )
    deps = tuple((ids[e.source], ids[e.target]) for e in process.edges if e.source in ids and e.target in ids)
    tags = tuple(dict.fromkeys(("wecube", "wecube-process", *process.tags)))
    return DagShape(
        dag_id=process.dag_id,
        display_name=process.name or process.key,
        tags=tags,
        doc_md=_doc(process),
        tasks=tasks,
        dependencies=deps,
    )
