"""Manual work: pending approvals across all DAGs by priority and deadline, the same rows as
``wecube approvals list`` (:func:`airflow_wecube.approvals.inbox.inbox_rows`), read from Airflow's
database since this app runs inside the API server."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Request

from airflow_wecube.approvals.inbox import human_age, inbox_rows
from airflow_wecube.ui import links
from airflow_wecube.ui.auth import READ_APPROVALS, readable_dag_ids
from airflow_wecube.ui.render import Page, render

router = APIRouter(dependencies=READ_APPROVALS)


def pending_details(dag_ids: set[str] | None = None) -> list[dict[str, Any]]:
    """Unanswered HITL requests as the REST API's ``hitlDetails`` JSON (the shape ``inbox_rows`` reads)."""
    from airflow.models.hitl import HITLDetail
    from airflow.models.taskinstance import TaskInstance as TI
    from airflow.utils.session import create_session
    from sqlalchemy import select

    out = []
    with create_session() as session:
        stmt = (
            select(
                HITLDetail.subject,
                HITLDetail.body,
                HITLDetail.created_at,
                HITLDetail.assignees,
                TI.dag_id,
                TI.run_id,
                TI.task_id,
                TI.map_index,
                TI.state,
            )
            .join(TI, TI.id == HITLDetail.ti_id)
            .where(HITLDetail.responded_at.is_(None))
        )
        for r in session.execute(stmt):
            if dag_ids is not None and r.dag_id not in dag_ids:
                continue
            out.append(
                {
                    "subject": r.subject,
                    "body": r.body,
                    "created_at": r.created_at,
                    "assigned_users": r.assignees or [],
                    "response_received": False,
                    "task_instance": {
                        "dag_id": r.dag_id,
                        "dag_run_id": r.run_id,
                        "task_id": r.task_id,
                        "map_index": r.map_index,
                        "state": r.state.value if hasattr(r.state, "value") else r.state,
                    },
                }
            )
    return out


def rows(dag_ids: set[str] | None = None) -> list[dict[str, Any]]:
    result = inbox_rows(pending_details(dag_ids))
    for r in result:
        r["task_url"] = links.task_url(r["dag_id"], r["run_id"], r["task_id"], r["map_index"])
        r["age"] = human_age(r["age_seconds"])
    return result


@router.get("/api/inbox")
def api_inbox(page: Page = Depends(), dag_ids: set[str] = Depends(readable_dag_ids)) -> dict[str, Any]:
    """Pending approvals, highest priority then oldest first (``wecube approvals list --json``), paginated."""
    return {**page.slice(rows(dag_ids)), "required_actions_url": links.required_actions_url()}


@router.get("/inbox")
def page_inbox(request: Request, page: Page = Depends(), dag_ids: set[str] = Depends(readable_dag_ids)):
    return render(
        request,
        "inbox.html",
        active="inbox",
        listing=page.slice(rows(dag_ids)),
        required_actions_url=links.required_actions_url(),
    )
