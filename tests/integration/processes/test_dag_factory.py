"""dags/wecube_processes.py: one DAG per stored process, its graph the process's, parsed as
Airflow's DAG processor parses it (a DagBag in a fresh interpreter), with no heavy import."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from airflow_wecube.processes import ProcessStore, read_process_file, validate
from tests.fixtures.paths import PROCESS_DATA

REPO = Path(__file__).resolve().parents[3]
HEAVY = ("pandas", "sklearn", "statsmodels", "matplotlib", "requests")

PARSE = f"""
import json, sys, time
t = time.perf_counter()
from airflow.dag_processing.dagbag import DagBag
bag = DagBag({str(REPO / "dags" / "wecube_processes.py")!r})
seconds = time.perf_counter() - t
out = {{"errors": {{k: str(v) for k, v in bag.import_errors.items()}}, "seconds": seconds, "dags": {{}},
       "heavy": [m for m in {HEAVY!r} if m in sys.modules]}}
for dag_id, dag in bag.dags.items():
    out["dags"][dag_id] = {{
        "display": dag.dag_display_name, "tags": sorted(dag.tags), "doc": dag.doc_md,
        "tasks": {{t.task_id: [sorted(t.upstream_task_ids), t.trigger_rule, t.task_display_name, type(t).__name__,
                               (getattr(t, "partial_kwargs", None) or {{}}).get("poke_interval")]
                  for t in dag.tasks}},
    }}
print(json.dumps(out))
"""


def parse(store: Path, **env_vars: str) -> dict:
    env = {**os.environ, "WECUBE_PROCESSES_PATH": str(store), **env_vars}
    r = subprocess.run([sys.executable, "-c", PARSE], capture_output=True, text=True, env=env, timeout=300)
    assert r.returncode == 0, r.stderr[-2000:]
    return json.loads(r.stdout.strip().splitlines()[-1])


def test_one_dag_per_process_with_its_graph(procdef_corpus, procdef_registry, tmp_path):  # noqa: F811
    store = ProcessStore(tmp_path / "wecube_processes")
    processes = [
        validate(p, procdef_registry) for f in sorted(procdef_corpus.glob("*.pds")) for p in read_process_file(f)
    ]
    processes += [validate(p, None) for p in read_process_file(PROCESS_DATA / "v4_app_release.json")]
    store.save(processes)
    older = processes[-1].model_copy(update={"version": "v0", "name": "older"})
    store.save([older])  # the highest version is the one built
    (tmp_path / "wecube_processes" / "broken").mkdir()
    (tmp_path / "wecube_processes" / "broken" / "1.json").write_text("{}")

    out = parse(tmp_path / "wecube_processes")
    assert out["errors"] == {}
    assert out["heavy"] == []
    assert sorted(out["dags"]) == sorted(p.dag_id for p in processes)  # the broken file is left out
    for p in processes:
        dag = out["dags"][p.dag_id]
        assert dag["display"] == p.name and "wecube-process" in dag["tags"]
        assert f"version `{p.version}`" in dag["doc"]
        upstream = {n.id: sorted(e.source for e in p.edges if e.target == n.id) for n in p.nodes}
        for n in p.nodes:  # the bindings first; a risk check or a sub-process's runs stand before their node
            if n.type == "start":
                upstream[n.id] = ["wecube_bind"]
            for helper in ("risk_check", "runs"):
                if f"{n.id}__{helper}" in dag["tasks"]:
                    upstream[f"{n.id}__{helper}"], upstream[n.id] = upstream[n.id], [f"{n.id}__{helper}"]
        upstream["wecube_bind"] = []
        assert {k: v[0] for k, v in dag["tasks"].items()} == upstream
    alarm = out["dags"]["wecube_proc_wecube1584968536974"]["tasks"]
    assert alarm["Task_0l3n67y"][2:4] == ["发送告警邮件", "ProcessNodeOperator"]
    assert alarm["ExclusiveGateway_0k920xw"][3] == "EmptyOperator"
    assert out["dags"]["wecube_proc_app_release"]["tasks"]["n_dmerge"][1] == "none_failed_min_one_success"
    # a task without a service is a manual step: a person confirms it in Required Actions
    assert out["dags"]["wecube_proc_wecube1582621485719"]["tasks"]["Task_0wimm0s"][3] == "ProcessHumanOperator"
    assert out["dags"]["wecube_proc_app_release"]["tasks"]["wecube_bind"][3] == "ProcessBindOperator"


def test_no_store_no_dags(tmp_path):
    out = parse(tmp_path / "absent")
    assert out == {**out, "errors": {}, "dags": {}}


def test_a_sub_process_node_looks_at_its_runs_no_sooner_than_the_settle_time(tmp_path):
    """Airflow 3.3.2 fails a task resumed before it saw the worker's exit (compat/settle.py): a sub-run
    that ends at once must not resume its node sooner than that."""
    ProcessStore(tmp_path).save([validate(p, None) for p in read_process_file(PROCESS_DATA / "v4_app_release.json")])
    tasks = parse(tmp_path)["dags"]["wecube_proc_app_release"]["tasks"]
    assert [v[3:] for v in tasks.values() if v[4]] == [["MappedOperator", 10.0]]
    [node] = [t for t, v in tasks.items() if v[4]]
    tasks = parse(tmp_path, AIRFLOW__WECUBE__RESUME_SETTLE_SECONDS="25")["dags"]["wecube_proc_app_release"]["tasks"]
    assert tasks[node][4] == 25.0
