"""The nightly refit DAG, run with ``dag.test()`` against the backfilled Prometheus."""

from __future__ import annotations

import importlib.util
import json
import re
from pathlib import Path
from urllib.parse import quote

import pytest

from airflow_wecube.capacity.store import ModelStore

from .conftest import iso

pytestmark = pytest.mark.integration

DAG_FILE = Path(__file__).resolve().parents[3] / "dags" / "wecube_capacity_refit.py"


def _load_dag():
    spec = importlib.util.spec_from_file_location("wecube_capacity_refit_under_test", DAG_FILE)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.dag


def test_dag_file_parses_light_and_without_errors():
    from airflow.dag_processing.dagbag import DagBag

    bag = DagBag(dag_folder=str(DAG_FILE))
    assert bag.import_errors == {}
    dag = bag.dags.get("wecube_capacity_refit")
    assert dag is not None
    assert [t.task_id for t in dag.tasks] == [
        "refit.fetch",
        "refit.fit",
        "refit.gate",
        "refit.compare",
        "refit.publish",
    ]
    code = (
        f"import sys, runpy; runpy.run_path({str(DAG_FILE)!r}); "
        "heavy=[m for m in ('pandas','sklearn','statsmodels','matplotlib') if m in sys.modules]; "
        "assert not heavy, heavy"
    )
    import subprocess
    import sys

    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr[-2000:]


def test_nightly_run_accepts_then_drift_fails_keeps_the_baseline_and_mails_the_owners(
    capacity_history, capacity_conn, smtp_conn, airflow_db, monkeypatch, tmp_path
):
    owner = "ledger-dag-owner@example.com"
    specs = tmp_path / "specs"
    specs.mkdir()
    spec = capacity_history.spec_file(**{"limit: 80": f"limit: 80\nowners: [{owner}]"})
    specs.joinpath("ledger_cpu.yml").write_text(spec.read_text())
    store = tmp_path / "store"
    monkeypatch.setenv("WECUBE_CAPACITY_SPECS", str(specs))
    monkeypatch.setenv("AIRFLOW__WECUBE__CAPACITY_STORE", str(store))
    dag = _load_dag()
    s = ModelStore(store)
    from tests.unit.capacity.synth import make_frame

    s.write_frame("ledger_cpu", "manual__killed_worker-0", make_frame(10))  # left by an earlier run

    run = dag.test(run_conf={"start": iso(capacity_history.a_start), "end": iso(capacity_history.a_end)})
    assert run.state == "success"
    assert s.staged_keys("ledger_cpu") == []  # the fetch cleared the leftover, the fit its own data
    baseline = s.baseline_version("ledger_cpu")
    assert baseline is not None and s.load_version("ledger_cpu", baseline)["accepted"]
    groups = capacity_history.server.api("rules")["data"]["groups"]
    assert any(g["name"] == "capacity_ledger_cpu" for g in groups)

    from airflow.models.asset import AssetEvent, AssetModel
    from airflow.utils.session import create_session

    with create_session() as session:
        events = (
            session.query(AssetEvent)
            .join(AssetModel, AssetEvent.asset_id == AssetModel.id)
            .filter(AssetModel.uri.like("wecube-capacity://ledger_cpu%"))
            .all()
        )
        assert [e.extra.get("version") for e in events] == [baseline]
    assert smtp_conn.to(owner) == []  # no drift, no mail

    run = dag.test(run_conf={"start": iso(capacity_history.b_start), "end": iso(capacity_history.b_end)})
    assert run.state == "failed"
    states = {ti.task_id: ti.state for ti in run.get_task_instances()}
    assert states["refit.compare"] == "failed" and states["refit.publish"] == "upstream_failed"
    assert s.baseline_version("ledger_cpu") == baseline and s.staged_keys("ledger_cpu") == []
    drifted = s.load_version("ledger_cpu", s.versions("ledger_cpu")[-1])
    assert drifted["drift"]["found"] and not drifted["accepted"]
    assert json.dumps(drifted["drift"]["messages"]).count("accounts_closed") >= 1

    mails = smtp_conn.to(owner)  # told once, by Airflow's SmtpNotifier through smtp_default
    assert len(mails) == 1 and mails[0].rcpt_tos == [owner]
    # the drifted fit is about 0.35 (DRIFT_CLOSED) with noise in its last digit
    assert re.match(
        r"\[capacity\] ledger_cpu drifted: accounts_closed 0\.267 → 0\.3[45]\d* \(\+3\d%\)", mails[0].subject
    )
    body = mails[0].html
    assert re.search(r"<td>accounts_closed</td><td>0\.267</td><td>0\.3[45]\d*</td>", body)
    assert re.search(r"accounts_closed: 0\.267 → 0\.3[45]", body)
    assert f"wecube capacity accept ledger_cpu {drifted['version']}" in body
    assert f"/dags/wecube_capacity_refit/runs/{quote(run.run_id)}/tasks/refit.compare/mapped/0" in body, (
        body
    )  # ti.log_url


def test_a_fresh_demo_skips_with_the_reason_instead_of_failing(
    capacity_history, capacity_conn, airflow_db, monkeypatch, tmp_path
):
    """Issue 10: no history yet is not a failed run. A spec whose series does not exist (the docs'
    ledger example) and one with fewer samples than min_samples both end skipped; nothing is stored."""
    specs = tmp_path / "specs"
    specs.mkdir()
    example = Path(__file__).resolve().parents[3] / "docs" / "examples" / "ledger_cpu.yml"
    specs.joinpath("ledger_cpu.yml").write_text(example.read_text())
    specs.joinpath("short_history.yml").write_text(capacity_history.spec_file("short_history").read_text())
    store = tmp_path / "store"
    monkeypatch.setenv("WECUBE_CAPACITY_SPECS", str(specs))
    monkeypatch.setenv("AIRFLOW__WECUBE__CAPACITY_STORE", str(store))
    dag = _load_dag()
    end = capacity_history.a_end
    run = dag.test(run_conf={"start": iso(end - 600), "end": iso(end)})  # 10 minutes at 60 s: 11 samples
    assert run.state == "success"
    states = {(ti.task_id, ti.map_index): ti.state for ti in run.get_task_instances()}
    assert len(states) == 10 and set(states.values()) == {"skipped"}, states
    assert ModelStore(store).versions("ledger_cpu") == [] and ModelStore(store).versions("short_history") == []
