"""Fixtures for the orchestration end-to-end tests: the shared ``standalone`` wired to the session's
sandbox and Prometheus, with ``wecube_network_build`` and ``wecube_app_rollout`` deployed in it.

The standalone is shared with other e2e tests and may already be running, so nothing here relies on
its environment: the connections are created through Airflow's REST API (``POST /api/v2/connections``)
and the sandbox manifests are registered in the registry the standalone reads (its
``WECUBE_REGISTRY_PATH``, else ``wecube_plugins/`` in its DAGs folder).
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from airflow_wecube.exceptions import WeCubeError
from airflow_wecube.util.airflow_api import AirflowAPIError

REPO = Path(__file__).resolve().parents[3]
DAG_FILES = [REPO / "dags" / "wecube_network_build.py", REPO / "dags" / "wecube_app_rollout.py"]
NETWORK, ROLLOUT = "wecube_network_build", "wecube_app_rollout"


def put_connection(client, conn_id: str, body: dict) -> None:
    """Create or replace an Airflow connection through the REST API."""
    payload = {"connection_id": conn_id, **body}
    try:
        client.request("POST", "/api/v2/connections", json=payload, expect=(201,))
    except AirflowAPIError as e:
        if e.status != 409:
            raise
        client.request("PATCH", f"/api/v2/connections/{conn_id}", json=payload)


class Orchestrations:
    """The standalone with both DAGs, plus helpers the tests share."""

    def __init__(self, standalone, sandbox, prometheus):
        self.sa = standalone
        self.sandbox = sandbox
        self.prometheus = prometheus

    def wait_open(self, dag_id: str, run_id: str, task_id: str = "approve", timeout: float = 120) -> dict:
        """Wait until the approval is parked with no response yet; the tests answer it at once (an answer
        right after the park must resume the run; see docs/approvals.md)."""
        sa = self.sa

        def check():
            try:
                ti = sa.client().get_task_instance(dag_id, run_id, task_id)
            except WeCubeError as e:  # a busy machine: the API server answered too slowly; poll again
                if isinstance(e, AirflowAPIError) and e.status != 404:
                    raise
                return None
            if ti["state"] in ("success", "failed", "skipped", "upstream_failed"):
                raise AssertionError(
                    f"{task_id} finished as {ti['state']} before it was answered; "
                    f"run states {self.states(dag_id, run_id)}\n" + sa.task_log(dag_id, run_id, task_id)
                )
            if ti["state"] != "awaiting_input":
                return None
            detail = sa.client().get_hitl_detail(dag_id, run_id, task_id)
            return detail if not detail["response_received"] else None

        return sa.wait_for(check, timeout, f"{dag_id}/{run_id}/{task_id} waiting for an answer")

    def wait_run(self, dag_id: str, run_id: str, state: str, timeout: float = 180) -> dict:
        """Wait for the run to end; fail at once, with its task states, if it ends otherwise."""

        def check():
            try:
                run = self.sa.client().get_run(dag_id, run_id)
            except WeCubeError as e:  # the API server answered too slowly on a busy machine
                if isinstance(e, AirflowAPIError):
                    raise
                return None
            if run["state"] == state:
                return run
            if run["state"] in ("success", "failed"):
                raise AssertionError(
                    f"run {dag_id}/{run_id} ended {run['state']}, expected {state}: {self.states(dag_id, run_id)}"
                )
            return None

        return self.sa.wait_for(check, timeout, f"run {dag_id}/{run_id} to end {state}")

    def states(self, dag_id: str, run_id: str) -> dict[str, str]:
        return {k: v["state"] for k, v in self.sa.client().task_instances(dag_id, run_id).items()}

    def cmdb(self, ci_type: str, **filters) -> list[dict]:
        """CIs straight from the sandbox (not through Airflow)."""
        r = self.sandbox.post("/cmdb/v1/ci/query", [{"callbackParameter": "q", "type": ci_type, **filters}])
        body = r.json()
        assert body["resultCode"] == "0", body
        return body["results"]["outputs"][0]["items"]

    def plugin(self, path: str, inputs: list[dict]) -> list[dict]:
        body = self.sandbox.post(path, inputs).json()
        assert body["resultCode"] == "0", body
        return body["results"]["outputs"]

    def promql(self, expr: str) -> list[dict]:
        import urllib.parse

        return self.prometheus.api("query?" + urllib.parse.urlencode({"query": expr}))["data"]["result"]


@pytest.fixture(scope="session")
def orchestrations(standalone, sandbox, prometheus) -> Orchestrations:
    from airflow_wecube.registry import Registry, load_manifest
    from airflow_wecube.sandbox import manifest_paths

    registry = Registry(standalone.env.get("WECUBE_REGISTRY_PATH") or standalone.dags_folder / "wecube_plugins")
    for path in manifest_paths():
        registry.register(load_manifest(path), replace=True)

    client = standalone.client()
    put_connection(client, "wecube_default", {"conn_type": "wecube", "host": sandbox.url, "password": sandbox.token})
    put_connection(
        client,
        "prometheus_default",
        {
            "conn_type": "prometheus",
            "host": prometheus.url,
            "extra": json.dumps({"file_sd_dir": str(prometheus.file_sd_dir), "rules_dir": str(prometheus.rules_dir)}),
        },
    )
    # the network DAG reads its default design beside it at parse time; the rollout's first task
    # checks that its capacity spec loads from capacity/ beside it
    shutil.copytree(REPO / "dags" / "designs", standalone.dags_folder / "designs", dirs_exist_ok=True)
    shutil.copytree(REPO / "dags" / "capacity", standalone.dags_folder / "capacity", dirs_exist_ok=True)
    standalone.add_dags(DAG_FILES)
    for dag_id in (NETWORK, ROLLOUT):
        standalone.wait_for_dag(dag_id)
    return Orchestrations(standalone, sandbox, prometheus)
