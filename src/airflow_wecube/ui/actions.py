"""Loop actions: runs of the DAGs tagged ``runbook`` (remediations started by alerts), their outcomes
and what each did (the XCom ``message`` of its ``report`` task: one line per alert, and why a person
was asked)."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

from fastapi import APIRouter, Depends, Request

from airflow_wecube.ui import links
from airflow_wecube.ui.auth import READ_RUNS, readable_dag_ids
from airflow_wecube.ui.render import Page, render

router = APIRouter(dependencies=READ_RUNS)

RUNBOOK_TAG = "runbook"
#: where a runbook run says what it did (``airflow_wecube.orchestrations.runbook_tasks.report_run``)
MESSAGE_TASK, MESSAGE_KEY = "report", "message"


def messages(session, dag_ids: set[str]) -> dict[tuple[str, str], str]:
    """``(dag_id, run_id) -> message`` of the runbook runs that have one."""
    from airflow.models.xcom import XComModel
    from sqlalchemy import select

    if not dag_ids:
        return {}
    stmt = select(XComModel.dag_id, XComModel.run_id, XComModel.value).where(
        XComModel.dag_id.in_(dag_ids), XComModel.task_id == MESSAGE_TASK, XComModel.key == MESSAGE_KEY
    )
    out = {}
    for dag_id, run_id, value in session.execute(stmt):
        text = XComModel.deserialize_value(SimpleNamespace(value=value))
        out[(dag_id, run_id)] = text if isinstance(text, str) else str(text)
    return out


def runs(dag_ids: set[str] | None = None, limit: int = 5000) -> list[dict[str, Any]]:
    """Newest first: runs of every DAG tagged ``runbook`` that the user may read."""
    from airflow.models.dag import DagTag
    from airflow.models.dagrun import DagRun
    from airflow.utils.session import create_session
    from sqlalchemy import select

    out = []
    with create_session() as session:
        tagged = select(DagTag.dag_id).where(DagTag.name == RUNBOOK_TAG)
        stmt = (
            select(
                DagRun.dag_id,
                DagRun.run_id,
                DagRun.state,
                DagRun.run_type,
                DagRun.start_date,
                DagRun.end_date,
                DagRun.logical_date,
                DagRun.run_after,
            )
            .where(DagRun.dag_id.in_(tagged))
            .order_by(DagRun.run_after.desc())
            .limit(limit)
        )
        rows = [r for r in session.execute(stmt) if dag_ids is None or r.dag_id in dag_ids]
        said = messages(session, {r.dag_id for r in rows})
        for r in rows:
            state = r.state.value if hasattr(r.state, "value") else r.state
            out.append(
                {
                    "dag_id": r.dag_id,
                    "run_id": r.run_id,
                    "state": state,
                    "run_type": r.run_type.value if hasattr(r.run_type, "value") else r.run_type,
                    "started": r.start_date.isoformat() if r.start_date else None,
                    "ended": r.end_date.isoformat() if r.end_date else None,
                    "run_url": links.run_url(r.dag_id, r.run_id),
                    "message": said.get((r.dag_id, r.run_id)),
                }
            )
    return out


@router.get("/api/actions")
def api_actions(page: Page = Depends(), dag_ids: set[str] = Depends(readable_dag_ids)) -> dict[str, Any]:
    """Remediation runs (DAGs tagged ``runbook``), newest first, paginated."""
    return {**page.slice(runs(dag_ids)), "tag": RUNBOOK_TAG}


@router.get("/actions")
def page_actions(request: Request, page: Page = Depends(), dag_ids: set[str] = Depends(readable_dag_ids)):
    return render(request, "actions.html", active="actions", listing=page.slice(runs(dag_ids)), tag=RUNBOOK_TAG)
