"""The refit DAG's ``fit`` task keeps its staged data until the version is saved, so a retry works.

The task function is called as a worker would call it, on a real local store; the first attempt
fails for a real reason (the store cannot save: its ``versions`` folder is blocked by a file).
"""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import pytest

from airflow_wecube.capacity.store import ModelStore

from .synth import SPEC, make_frame

DAG_FILE = Path(__file__).resolve().parents[3] / "dags" / "wecube_capacity_refit.py"


@pytest.fixture(scope="module")
def fit_task():
    spec = importlib.util.spec_from_file_location("wecube_capacity_refit_fit_retry", DAG_FILE)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.dag.get_task("refit.fit").python_callable


def test_a_retried_fit_reads_the_same_staged_data(fit_task, tmp_path, monkeypatch):
    from airflow.sdk.exceptions import AirflowFailException

    spec_file = tmp_path / "ledger_cpu.yml"
    spec_file.write_text(json.dumps(SPEC))  # JSON is YAML
    monkeypatch.setenv("AIRFLOW__WECUBE__CAPACITY_STORE", str(tmp_path / "store"))
    store = ModelStore(tmp_path / "store")
    frame = make_frame(2880)
    key = "scheduled__2025-01-02T02_00_00_00_00-0"
    store.write_frame("ledger_cpu", key, frame)
    fetched = {"spec_path": str(spec_file), "model": "ledger_cpu", "key": key,
               "window": {"start": "2025-01-01T00:00:00+00:00", "end": "2025-01-03T00:00:00+00:00"}}

    blocker = tmp_path / "store" / "ledger_cpu" / "versions"
    blocker.write_text("not a folder")
    with pytest.raises(OSError):
        fit_task(fetched)
    assert store.staged_keys("ledger_cpu") == [key]  # kept for the retry
    assert blocker.read_text() == "not a folder"

    blocker.unlink()
    fitted = fit_task(fetched)
    assert fitted["key"] == key and store.versions("ledger_cpu") == [fitted["version"]]
    record = store.load_version("ledger_cpu", fitted["version"])
    assert record["rows"]["fetched"] == len(frame) and record["window"]["start"] == fetched["window"]["start"]
    assert store.staged_keys("ledger_cpu") == []  # deleted once saved

    # fitted already: a further attempt fails for good, saying what to do, and stores nothing
    with pytest.raises(AirflowFailException, match="clear this run's fetch task"):
        fit_task(fetched)
    assert store.versions("ledger_cpu") == [fitted["version"]]


def test_a_model_of_nothing_fails_the_gate_task_with_the_reason(fit_task, tmp_path, monkeypatch, capsys):
    """Issue 16 item 5 in the DAG: the fit task printed R² of null (TypeError) and the gate task crashed."""
    from airflow.sdk.exceptions import AirflowFailException

    mod_spec = importlib.util.spec_from_file_location("wecube_capacity_refit_nothing", DAG_FILE)
    module = importlib.util.module_from_spec(mod_spec)
    mod_spec.loader.exec_module(module)
    gate_task = module.dag.get_task("refit.gate").python_callable
    spec_file = tmp_path / "ledger_cpu.yml"
    spec_file.write_text(json.dumps(SPEC))
    monkeypatch.setenv("AIRFLOW__WECUBE__CAPACITY_STORE", str(tmp_path / "store"))
    store = ModelStore(tmp_path / "store")
    store.write_frame("ledger_cpu", "run-0", make_frame(2880).assign(__target__=0.0))
    fitted = fit_task({"spec_path": str(spec_file), "model": "ledger_cpu", "key": "run-0",
                       "window": {"start": "2025-01-01T00:00:00+00:00", "end": "2025-01-03T00:00:00+00:00"}})
    assert "(R² undefined, n=2880)" in capsys.readouterr().out
    with pytest.raises(AirflowFailException, match="failed its gates, baseline kept: target has no variance"):
        gate_task(fitted)
    assert store.load_version("ledger_cpu", fitted["version"])["gates"]["passed"] is False
    assert store.baseline_version("ledger_cpu") is None
