"""The cluster the tests run on: scripts/cluster.sh (what `make cluster` runs), once per session.

It lives in ``.cluster-test/`` with every port 100 above `make cluster`'s, so a developer's own
cluster (and `make demo`) can run beside it; it starts from nothing each session (new PostgreSQL,
new secrets) and is stopped by scripts/cluster-stop.sh at the end. Its DAGs folder holds the
examples of ``dags/`` and the test DAGs of ``tests/e2e/cluster/dags/``.
"""

from __future__ import annotations

import importlib.util
import os
import shutil
import signal
import subprocess
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import requests

from airflow_wecube.exceptions import WeCubeError
from airflow_wecube.util.airflow_api import AirflowAPIError, AirflowClient

REPO = Path(__file__).resolve().parents[3]
DIR = REPO / ".cluster-test"
PARTS = ("apiserver", "scheduler", "dag-processor", "triggerer", "worker1", "worker2", "sandbox", "prometheus")
WORKERS = {"cluster-worker1", "cluster-worker2"}
UNPAUSE = ("wecube_hello", "wecube_network_build", "wecube_app_rollout", "wecube_cluster_fit", "wecube_cluster_calls")


def _ports(offset: int) -> dict[str, str]:
    """`make cluster`'s ports moved up by ``offset`` (the sandbox's apps by ten times that)."""
    spec = importlib.util.spec_from_file_location("cluster_env", REPO / "scripts" / "cluster_env.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return {k: str(v + (offset if k != "CLUSTER_APP_PORT_BASE" else 10 * offset)) for k, v in module.PORTS.items()}


class Cluster:
    """The running cluster: its env file, an Airflow client, part control and polling helpers."""

    def __init__(self, env: dict[str, str], directory: Path = DIR):
        self.env = env
        self.dir = directory
        lines = (directory / "env").read_text().splitlines()
        self.values = dict(line.removeprefix("export ").split("=", 1) for line in lines if "=" in line)
        self.url = self.values["AIRFLOW_URL"]
        self.sandbox_url = self.values["SANDBOX_URL"]
        self.prometheus_url = self.values["PROMETHEUS_URL"]

    def client(self) -> AirflowClient:
        return AirflowClient(self.url, "admin", self.values["AIRFLOW_PASSWORD"], timeout=60)

    def script(self, name: str, timeout: float = 600, **env: str) -> str:
        """Run scripts/<name> against this cluster; its output (fails the test on a non-zero exit)."""
        return run_script(name, {**self.env, **env}, timeout)

    def start(self, *parts: str) -> str:
        """Bring parts back (what running `make cluster` again does for a part that is down)."""
        return self.script("cluster.sh", CLUSTER_PARTS=" ".join(parts))

    def pids(self, part: str) -> list[int]:
        """Every process of a part: the session cluster.sh started it in (``<part>.pgid``), processes
        carrying its WECUBE_DEMO_PART marker, and all their descendants (a process that renames itself,
        as Redis and Celery do, may overwrite the environment /proc shows, never its parent)."""
        marker = f"WECUBE_DEMO_PART={self.dir}/{part}".encode()
        try:
            session = int((self.dir / f"{part}.pgid").read_text().strip())
        except (OSError, ValueError):
            session = None
        parents, found = {}, set()
        for entry in os.listdir("/proc"):
            if not entry.isdigit():
                continue
            pid = int(entry)
            try:
                with open(f"/proc/{pid}/stat") as fh:
                    state, ppid, pgrp, sid = fh.read().rsplit(")", 1)[1].split()[:4]
                if state in ("Z", "X"):
                    continue
                parents[pid] = int(ppid)
                if session is not None and session in (int(pgrp), int(sid)):
                    found.add(pid)
                    continue
                with open(f"/proc/{pid}/environ", "rb") as fh:
                    if marker in fh.read().split(b"\0"):
                        found.add(pid)
            except (OSError, ValueError):
                continue
        grew = True
        while grew:  # descendants of what was found
            new = {pid for pid, ppid in parents.items() if ppid in found and pid not in found}
            found |= new
            grew = bool(new)
        return sorted(found)

    def kill(self, part: str, sig: int = signal.SIGKILL) -> int:
        """Send ``sig`` to every process of a part at once (SIGKILL: the machine under it is gone)."""
        pids = self.pids(part)
        assert pids, f"no process of {part} runs"
        for pid in pids:
            try:
                os.kill(pid, sig)
            except ProcessLookupError:
                pass
        wait_for(lambda: not self.pids(part) or None, 30, f"{part} gone")
        return len(pids)

    def sandbox(self, method: str, path: str, **kwargs: Any) -> Any:
        headers = {"Authorization": f"Bearer {self.values['SANDBOX_TOKEN']}"}
        r = requests.request(method, self.sandbox_url + path, headers=headers, timeout=30, **kwargs)
        r.raise_for_status()
        return r.json()

    def plugin(self, path: str, inputs: list[dict]) -> list[dict]:
        body = self.sandbox("POST", path, json={"requestId": f"test-{time.time_ns()}", "inputs": inputs})
        assert body["resultCode"] == "0", body
        return body["results"]["outputs"]

    def trigger(self, dag_id: str, conf: dict | None = None) -> str:
        with self.client() as c:
            return c.trigger(dag_id, conf or {})["dag_run_id"]

    def tis(self, dag_id: str, run_id: str) -> dict[str, dict]:
        with self.client() as c:
            return c.task_instances(dag_id, run_id)

    def ti(self, dag_id: str, run_id: str, task_id: str, map_index: int = -1) -> dict | None:
        try:
            with self.client() as c:
                return c.get_task_instance(dag_id, run_id, task_id, map_index)
        except AirflowAPIError as e:
            if e.status == 404:
                return None
            raise

    def wait_run(self, dag_id: str, run_id: str, state: str = "success", timeout: float = 300) -> dict:
        def check():
            try:
                with self.client() as c:
                    run = c.get_run(dag_id, run_id)
            except WeCubeError as e:  # slow answer on a busy machine, or the api-server restarting
                if isinstance(e, AirflowAPIError) and e.status != 503:
                    raise
                return None
            if run["state"] == state:
                return run
            if run["state"] in ("success", "failed"):
                raise AssertionError(
                    f"{dag_id} {run_id} ended {run['state']}, not {state}: {self.states(dag_id, run_id)}"
                )
            return None

        return wait_for(check, timeout, f"{dag_id} {run_id} {state}")

    def states(self, dag_id: str, run_id: str) -> dict[str, str]:
        return {k: v["state"] for k, v in self.tis(dag_id, run_id).items()}


def run_script(name: str, env: dict[str, str], timeout: float, check: bool = True) -> str:
    """scripts/<name> with its output in a file (a pipe would also wait for the parts it started)."""
    with tempfile.TemporaryFile("w+") as out:
        done = subprocess.run(
            ["bash", str(REPO / "scripts" / name)], env=env, stdout=out, stderr=subprocess.STDOUT, timeout=timeout
        )
        out.seek(0)
        text = out.read()
    assert done.returncode == 0 or not check, f"{name} failed (exit {done.returncode}):\n{text[-6000:]}"
    return text


def wait_for(check: Callable[[], Any], timeout: float, what: str, every: float = 1.0) -> Any:
    """Poll ``check`` until it returns something other than ``None``; fail after ``timeout`` s."""
    deadline = time.monotonic() + timeout
    while True:
        result = check()
        if result is not None:
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:g}s waiting for {what}")
        time.sleep(every)


def cluster_env(directory: Path = DIR, offset: int = 100) -> dict[str, str]:
    """The environment of scripts/cluster.sh for a cluster in ``directory``, ports ``offset`` above the defaults."""
    return {
        **os.environ,
        **_ports(offset),
        "CLUSTER_DIR": str(directory),
        "CLUSTER_DAGS_FOLDER": str(directory / "dags"),
        "PATH": f"{REPO / '.venv' / 'bin'}:{os.environ.get('PATH', '')}",
        "CLUSTER_STOP_GRACE": "10",
    }


def start_cluster(directory: Path = DIR, offset: int = 100) -> Cluster:
    """A new cluster in ``directory`` (anything left there is stopped and removed first) with the
    example DAGs and the test DAGs."""
    env = cluster_env(directory, offset)
    run_script("cluster-stop.sh", env, 120, check=False)  # what an interrupted session left running
    shutil.rmtree(directory, ignore_errors=True)
    dags = directory / "dags"
    # not the nightly refit: unpaused at creation (as in docker-compose.yaml) it would run at once, on
    # no history, and take worker slots from the runs under test
    skip = shutil.ignore_patterns("__pycache__", "wecube_plugins", "wecube_capacity_refit.py")
    shutil.copytree(REPO / "dags", dags, ignore=skip)
    for dag in (Path(__file__).parent / "dags").glob("*.py"):
        shutil.copy(dag, dags / dag.name)
    try:
        run_script("cluster.sh", {**env, "CLUSTER_UNPAUSE_DAGS": " ".join(UNPAUSE)}, 900)
    except BaseException:
        run_script("cluster-stop.sh", env, 120, check=False)
        raise
    return Cluster(env, directory)


def stop_cluster(cluster: Cluster) -> str:
    return run_script("cluster-stop.sh", cluster.env, 120, check=False)


@pytest.fixture(scope="session")
def cluster():
    """`make cluster` (scripts/cluster.sh) in .cluster-test, started afresh, stopped at the end."""
    if os.geteuid() != 0:
        pytest.skip("scripts/cluster.sh starts PostgreSQL as its own user (runuser): run as root, as CI does")
    running = start_cluster()
    try:
        yield running
    finally:
        stop_cluster(running)
