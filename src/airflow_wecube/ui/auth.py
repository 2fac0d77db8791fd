"""Who may read which page: Airflow's own permission checks, so plugin pages are never open to all.

Registry, capacity, CMDB and design pages need the ``PLUGINS`` view permission; manual work needs read
access to DAGs' human-in-the-loop details, loop actions read access to DAG runs. Without a login the
answer is 401, without the permission 403 (Airflow's dependencies decide both).
"""

from __future__ import annotations

from airflow.api_fastapi.auth.managers.models.resource_details import AccessView, DagAccessEntity
from airflow.api_fastapi.core_api.security import GetUserDep, requires_access_dag, requires_access_view
from fastapi import Depends

READ_PLUGINS = [Depends(requires_access_view(AccessView.PLUGINS))]
READ_APPROVALS = [Depends(requires_access_dag("GET", DagAccessEntity.HITL_DETAIL))]
READ_RUNS = [Depends(requires_access_dag("GET", DagAccessEntity.RUN))]


def readable_dag_ids(user: GetUserDep) -> set[str]:
    """The DAG ids the logged-in user may read (rows of other DAGs are left out)."""
    from airflow.api_fastapi.app import get_auth_manager

    return get_auth_manager().get_authorized_dag_ids(user=user, method="GET")
