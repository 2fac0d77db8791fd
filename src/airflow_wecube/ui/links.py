"""Links into Airflow's own UI, prefixed with ``[api] base_url``'s path (Airflow behind a path prefix)."""

from __future__ import annotations

from urllib.parse import quote, urlsplit


def airflow_root() -> str:
    """``[api] base_url``'s path without the trailing slash (``""`` at the server root)."""
    try:
        from airflow.configuration import conf

        base_url = conf.get("api", "base_url", fallback="") or ""
    except Exception:  # Airflow not configured: links at the root
        base_url = ""
    return urlsplit(base_url).path.rstrip("/")


def _q(value: object) -> str:
    return quote(str(value), safe="")


def run_url(dag_id: str, run_id: str) -> str:
    return f"{airflow_root()}/dags/{_q(dag_id)}/runs/{_q(run_id)}"


def task_url(dag_id: str, run_id: str, task_id: str, map_index: int | None = -1) -> str:
    """The task instance page (its Logs tab is where Airflow shows the log)."""
    url = f"{run_url(dag_id, run_id)}/tasks/{_q(task_id)}"
    if map_index not in (None, -1):
        url += f"/mapped/{int(map_index)}"
    return url


def log_url(dag_id: str, run_id: str, task_id: str, map_index: int | None = -1) -> str:
    """Airflow opens a task instance on its log."""
    return task_url(dag_id, run_id, task_id, map_index)


def required_actions_url() -> str:
    return f"{airflow_root()}/required_actions"


def dag_url(dag_id: str) -> str:
    return f"{airflow_root()}/dags/{_q(dag_id)}"
