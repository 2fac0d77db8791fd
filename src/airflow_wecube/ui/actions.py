"""Loop actions: runs of the DAGs tagged ``runbook`` (remediations started by alerts) and their outcomes."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Request

from airflow_wecube.ui import links
from airflow_wecube.ui.auth import READ_RUNS, readable_dag_ids
from airflow_wecube.ui.render import Page, render

router = APIRouter(dependencies=READ_RUNS)

RUNBOOK_TAG = "runbook"


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
        for r in session.execute(stmt):
            if dag_ids is not None and r.dag_id not in dag_ids:
                continue
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
