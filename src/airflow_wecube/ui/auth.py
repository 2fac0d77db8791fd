"""Who may read which page: Airflow's own permission checks, so plugin pages are never open to all.

Registry, capacity, CMDB and design pages need the ``PLUGINS`` view permission; manual work needs read
access to DAGs' human-in-the-loop details, loop actions read access to DAG runs. Without a valid login
the answer is 401 (no token, an expired one, or one that is not a token Airflow issued: Airflow's own
API says 403 for the last, :func:`login`), without the permission 403 (Airflow's dependencies decide).
"""

from __future__ import annotations

from airflow.api_fastapi.auth.managers.models.resource_details import AccessView, DagAccessEntity
from airflow.api_fastapi.core_api.security import (
    GetUserDep,
    bearer_scheme,
    get_user,
    requires_access_dag,
    requires_access_view,
)
from fastapi import Depends, HTTPException, Request, status
from fastapi.security import HTTPAuthorizationCredentials


async def login(request: Request, bearer: HTTPAuthorizationCredentials | None = Depends(bearer_scheme)) -> object:
    """Airflow's logged-in user (:func:`get_user`), with 401 for a token that is not valid: no valid
    login is "not authenticated" (401, as docs/ui.md says), not "forbidden"."""
    try:
        return await get_user(request, None, bearer)
    except HTTPException as e:
        if e.status_code != status.HTTP_403_FORBIDDEN:
            raise
        raise HTTPException(
            status.HTTP_401_UNAUTHORIZED,
            detail="Invalid token: log in to Airflow again (or get a new one from POST /auth/token)",
            headers={"WWW-Authenticate": "Bearer"},
        ) from None


LOGIN = [Depends(login)]
READ_PLUGINS = [Depends(requires_access_view(AccessView.PLUGINS))]
READ_APPROVALS = [Depends(requires_access_dag("GET", DagAccessEntity.HITL_DETAIL))]
READ_RUNS = [Depends(requires_access_dag("GET", DagAccessEntity.RUN))]


def readable_dag_ids(user: GetUserDep) -> set[str]:
    """The DAG ids the logged-in user may read (rows of other DAGs are left out)."""
    from airflow.api_fastapi.app import get_auth_manager

    return get_auth_manager().get_authorized_dag_ids(user=user, method="GET")
