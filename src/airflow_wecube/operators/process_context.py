"""What every node task of an imported process shares: the XCom names of the contract with the
process view (docs/processes.md), the run's parameters, the bindings ``wecube_bind`` recorded."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from airflow.sdk.exceptions import AirflowFailException

if TYPE_CHECKING:
    from airflow.sdk import Context

BIND_TASK = "wecube_bind"
NODE_XCOM = "wecube_node"
#: the option a human node's person chose (a decision after it branches on it)
CHOICE_XCOM = "wecube_choice"
#: XCom key prefix of a sub-process node's runs (one per bound entity)
SUBPROC_XCOM = "wecube_subproc."


def load_process(key: str, version: str):
    from airflow_wecube.processes.store import default_process_store

    return default_process_store().get(key, version)


def run_params(context: Context) -> dict[str, Any]:
    params = context.get("params") or {}
    return {
        "root": str(params.get("root") or "").strip(),
        "exclude": params.get("exclude") or {},
        "dry_run": bool(params.get("dry_run")),
    }


def bound(context: Context) -> dict[str, Any]:
    """What ``wecube_bind`` recorded for this run."""
    value = context["ti"].xcom_pull(task_ids=BIND_TASK)
    if not value:
        raise AirflowFailException(f"{BIND_TASK} recorded no bindings for this run")
    return value
