"""Every example DAG imports cleanly, light at parse time; wecube_hello runs against the sandbox."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
HEAVY = ("pandas", "sklearn", "statsmodels", "matplotlib", "prometheus_api_client")


def test_every_dag_file_imports_without_errors_or_heavy_modules(plugin_registry):
    code = f"""
import json, sys
from airflow.dag_processing.dagbag import DagBag
bag = DagBag({str(REPO / "dags")!r})
print(json.dumps({{"errors": {{k: str(v) for k, v in bag.import_errors.items()}},
                  "dags": sorted(bag.dags),
                  "heavy": [m for m in {HEAVY!r} if m in sys.modules]}}))
"""
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=os.environ.copy(), timeout=300)
    assert r.returncode == 0, r.stderr[-2000:]
    out = json.loads(r.stdout.strip().splitlines()[-1])
    assert out["errors"] == {}
    assert "wecube_hello" in out["dags"]
    assert {"wecube_remediate_instance", "wecube_scale_out", "wecube_reconcile"} <= set(out["dags"])  # the loop
    assert out["heavy"] == [], f"DAG files import heavy modules at parse time: {out['heavy']}"


def test_missing_plugin_is_a_clear_import_error(tmp_path):
    env = {**os.environ, "WECUBE_REGISTRY_PATH": str(tmp_path / "empty")}
    code = f"""
from airflow.dag_processing.dagbag import DagBag
bag = DagBag({str(REPO / "dags" / "wecube_hello.py")!r})
print(list(bag.import_errors.values()))
"""
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=300)
    assert "package 'cmdb' is not registered" in r.stdout


@pytest.mark.integration
def test_wecube_hello_runs(airflow_db, wecube_conn, plugin_registry):
    from airflow.dag_processing.dagbag import DagBag

    bag = DagBag(os.path.join(os.environ["AIRFLOW__CORE__DAGS_FOLDER"], "wecube_hello.py"))
    dr = bag.dags["wecube_hello"].test()
    assert dr.state == "success"
