from __future__ import annotations

import json

import pytest

from airflow_wecube.capacity import pipeline
from airflow_wecube.capacity.errors import DatasetError
from airflow_wecube.capacity.spec import load_spec
from airflow_wecube.capacity.store import ModelStore

from .synth import SPEC, make_frame


@pytest.fixture
def store(tmp_path):
    return ModelStore(tmp_path / "store")


def test_first_fit_becomes_the_baseline_with_a_readable_report(store):
    spec = load_spec(SPEC)
    report = pipeline.run(spec, make_frame(), store)
    assert report["accepted"] and pipeline.exit_code(report) == 0
    assert report["baseline_version"] == report["version"] and report["drift"] is None
    for key in ("coefficients", "intercept", "r2", "adj_r2", "n", "formula", "gates", "drift", "accepted"):
        assert key in report
    assert set(report["coefficients"]["accounts_closed"]) >= {"value", "ci_low", "ci_high", "p_value"}
    json.dumps(report)  # JSON-able as the CLI prints it
    with open(report["plot"], "rb") as fh:
        assert fh.read(8) == b"\x89PNG\r\n\x1a\n"
    text = pipeline.format_report(report)
    assert "cpu% = 0.145*accounts_opened + 0.267*accounts_closed" in text and "accepted: yes" in text
    assert report["inference"]["cov_type"] == "HAC" and "standard errors: HAC (Newey-West, Bartlett kernel)" in text


def test_drift_keeps_the_baseline(store):
    spec = load_spec(SPEC)
    first = pipeline.run(spec, make_frame(), store)
    report = pipeline.run(spec, make_frame(1440, seed=7, closed_coef=0.35), store)
    assert pipeline.exit_code(report) == pipeline.EXIT_DRIFT
    assert not report["accepted"] and report["baseline_version"] == first["version"]
    assert report["drift"]["found"] and "accounts_closed" in report["drift"]["messages"][0]
    assert len(store.versions("ledger_cpu")) == 2  # the drifted fit is kept as history


def test_gate_failure_never_replaces_the_baseline(store):
    spec = load_spec(SPEC)
    first = pipeline.run(spec, make_frame(), store)
    report = pipeline.run(spec, make_frame(60, seed=8), store)  # 60 < min_samples 500
    assert pipeline.exit_code(report) == pipeline.EXIT_GATE_FAILED
    failed = [c for c in report["gates"]["checks"] if not c["passed"]]
    assert [c["name"] for c in failed] == ["min_samples"] and "fewer than the 500 required" in failed[0]["message"]
    assert not report["accepted"] and store.baseline_version("ledger_cpu") == first["version"]
    # noise only: R² and p-value gates fail
    noisy = pipeline.run(spec, make_frame(2000, seed=9, noise=400), store)
    names = {c["name"] for c in noisy["gates"]["checks"] if not c["passed"]}
    assert "min_r2" in names and store.baseline_version("ledger_cpu") == first["version"]


def test_unfittable_data_stores_nothing(store):
    spec = load_spec(SPEC)
    with pytest.raises(DatasetError):
        pipeline.run(spec, make_frame(2), store)
    assert store.versions("ledger_cpu") == []


def test_no_accept_reports_only(store):
    spec = load_spec(SPEC)
    report = pipeline.run(spec, make_frame(), store, accept=False, plot=False)
    assert pipeline.exit_code(report) == 0 and not report["accepted"] and report["plot"] is None
    assert store.baseline_version("ledger_cpu") is None
