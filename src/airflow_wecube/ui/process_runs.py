"""What the process pages read from Airflow's database: a process DAG's last runs, the state of each
node's task in a run, and what a node recorded (its bound entities, its calls, its inbox item).

The records are the XComs the process runtime pushes (docs/processes.md, "The process view"): the
``wecube_bind`` task's return value (the entities bound at start) and each node task's
``wecube_node`` XCom (entities and calls, masked before they are pushed; masked again here).
"""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

from airflow_wecube.ui import links
from airflow_wecube.ui.cmdb import masked

BIND_TASK = "wecube_bind"
NODE_KEY = "wecube_node"
#: when several task instances stand for one node (mapped over entities), the node shows the state
#: that most needs a look, in this order
STATE_ORDER = (
    "failed",
    "upstream_failed",
    "up_for_retry",
    "awaiting_input",
    "deferred",
    "running",
    "restarting",
    "up_for_reschedule",
    "queued",
    "scheduled",
    "success",
    "skipped",
    "removed",
    None,
)
FINISHED = {"success", "failed"}


def _value(state: Any) -> str | None:
    return state.value if hasattr(state, "value") else state


def _iso(dt: Any) -> str | None:
    return dt.isoformat() if dt else None


def last_runs(dag_ids: list[str], per_dag: int = 5, readable: set[str] | None = None) -> dict[str, list[dict]]:
    """``dag_id -> its newest runs`` (at most ``per_dag``), each with its state and links."""
    from airflow.models.dagrun import DagRun
    from airflow.utils.session import create_session
    from sqlalchemy import func, select

    wanted = [d for d in dag_ids if readable is None or d in readable]
    out: dict[str, list[dict]] = {d: [] for d in dag_ids}
    if not wanted:
        return out
    newest = (
        select(
            DagRun.dag_id,
            DagRun.run_id,
            DagRun.state,
            DagRun.start_date,
            DagRun.end_date,
            DagRun.run_after,
            func.row_number().over(partition_by=DagRun.dag_id, order_by=DagRun.run_after.desc()).label("n"),
        )
        .where(DagRun.dag_id.in_(wanted))
        .subquery()
    )
    with create_session() as session:
        for r in session.execute(select(newest).where(newest.c.n <= per_dag).order_by(newest.c.run_after.desc())):
            out[r.dag_id].append(
                {
                    "run_id": r.run_id,
                    "state": _value(r.state),
                    "started": _iso(r.start_date),
                    "ended": _iso(r.end_date),
                    "run_url": links.run_url(r.dag_id, r.run_id),
                }
            )
    return out


def run_state(dag_id: str, run_id: str) -> dict[str, Any] | None:
    """The run's state and dates, ``None`` when there is no such run."""
    from airflow.models.dagrun import DagRun
    from airflow.utils.session import create_session
    from sqlalchemy import select

    with create_session() as session:
        r = session.execute(
            select(DagRun.state, DagRun.start_date, DagRun.end_date).where(
                DagRun.dag_id == dag_id, DagRun.run_id == run_id
            )
        ).first()
    if r is None:
        return None
    return {
        "run_id": run_id,
        "state": _value(r.state),
        "started": _iso(r.start_date),
        "ended": _iso(r.end_date),
        "run_url": links.run_url(dag_id, run_id),
        "finished": _value(r.state) in FINISHED,
    }


def task_states(dag_id: str, run_id: str) -> dict[str, list[dict[str, Any]]]:
    """``task_id -> its task instances`` (one, or one per map index) in the run."""
    from airflow.models.taskinstance import TaskInstance as TI
    from airflow.utils.session import create_session
    from sqlalchemy import select

    stmt = select(TI.task_id, TI.map_index, TI.state, TI.try_number, TI.start_date, TI.end_date).where(
        TI.dag_id == dag_id, TI.run_id == run_id
    )
    out: dict[str, list[dict[str, Any]]] = {}
    with create_session() as session:
        for r in session.execute(stmt):
            out.setdefault(r.task_id, []).append(
                {
                    "map_index": r.map_index,
                    "state": _value(r.state),
                    "try_number": r.try_number,
                    "started": _iso(r.start_date),
                    "ended": _iso(r.end_date),
                }
            )
    return out


def node_state(instances: list[dict[str, Any]]) -> str | None:
    """One state for a node's task instances: the one that most needs a look (``STATE_ORDER``)."""
    states = {i["state"] for i in instances}
    return next((s for s in STATE_ORDER if s in states), sorted(states, key=str)[0] if states else None)


def _xcoms(dag_id: str, run_id: str, task_id: str, key: str) -> list[tuple[int, Any]]:
    from airflow.models.xcom import XComModel
    from airflow.utils.session import create_session
    from sqlalchemy import select

    stmt = (
        select(XComModel.map_index, XComModel.value)
        .where(
            XComModel.dag_id == dag_id,
            XComModel.run_id == run_id,
            XComModel.task_id == task_id,
            XComModel.key == key,
        )
        .order_by(XComModel.map_index)
    )
    with create_session() as session:
        return [(m, XComModel.deserialize_value(SimpleNamespace(value=v))) for m, v in session.execute(stmt)]


def bound_entities(dag_id: str, run_id: str, node_id: str) -> list[dict[str, Any]] | None:
    """The entities bound to ``node_id`` at start (``wecube_bind``'s return value); ``None`` if not recorded."""
    for _, value in _xcoms(dag_id, run_id, BIND_TASK, "return_value"):
        nodes = value.get("nodes") if isinstance(value, dict) else None
        if isinstance(nodes, dict) and isinstance(nodes.get(node_id), list):
            return [masked(e) for e in nodes[node_id]]
    return None


def node_record(dag_id: str, run_id: str, task_id: str) -> dict[str, Any] | None:
    """What the node's task recorded (``wecube_node``: entities, calls), masked; ``None`` if not recorded.
    A node mapped over entities records once per map index: the lists are joined."""
    values = [v for _, v in _xcoms(dag_id, run_id, task_id, NODE_KEY) if isinstance(v, dict)]
    if not values:
        return None
    out: dict[str, Any] = {"service": values[0].get("service", ""), "entities": [], "calls": []}
    for v in values:
        out["entities"] += [masked(e) for e in v.get("entities") or [] if isinstance(e, dict)]
        out["calls"] += [masked(c) for c in v.get("calls") or [] if isinstance(c, dict)]
    return out


def inbox_items(dag_id: str, run_id: str, task_id: str) -> list[dict[str, Any]]:
    """The human-in-the-loop requests of the node's task (answered or not)."""
    from airflow.models.hitl import HITLDetail
    from airflow.models.taskinstance import TaskInstance as TI
    from airflow.utils.session import create_session
    from sqlalchemy import select

    stmt = (
        select(
            HITLDetail.subject,
            HITLDetail.body,
            HITLDetail.options,
            HITLDetail.created_at,
            HITLDetail.responded_at,
            HITLDetail.chosen_options,
            TI.map_index,
            TI.state,
        )
        .join(TI, TI.id == HITLDetail.ti_id)
        .where(TI.dag_id == dag_id, TI.run_id == run_id, TI.task_id == task_id)
    )
    out = []
    with create_session() as session:
        for r in session.execute(stmt):
            out.append(
                {
                    "subject": r.subject,
                    "body": r.body,
                    "options": list(r.options or []),
                    "created_at": _iso(r.created_at),
                    "answered": r.responded_at is not None,
                    "chosen": list(r.chosen_options or []),
                    "task_url": links.task_url(dag_id, run_id, task_id, r.map_index),
                    "required_actions_url": links.required_actions_url(),
                }
            )
    return out
