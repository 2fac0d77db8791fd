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


@pytest.mark.parametrize("value", [0.0, 5.0])
def test_a_model_of_nothing_is_a_gate_failure_with_the_reason(store, value):
    """Issue 16 item 5: a target that is always 0 (or constant) crashed in the gate with a TypeError
    after a version was stored, which `wecube capacity list` then showed as not-gated."""
    spec = load_spec(SPEC)
    first = pipeline.run(spec, make_frame(), store, plot=False)
    report = pipeline.run(spec, make_frame().assign(__target__=value), store)
    assert pipeline.exit_code(report) == pipeline.EXIT_GATE_FAILED and not report["accepted"]
    failed = {c["name"]: c["message"] for c in report["gates"]["checks"] if not c["passed"]}
    assert failed["target_variance"].startswith(f"target has no variance: it is {value:g} at every sample")
    assert "R² undefined" in failed["min_r2"] and "p-value undefined" in failed["max_p_value:accounts_opened"]
    assert report["r2"] is None  # stored as null, as JSON has no NaN
    text = pipeline.format_report(report)
    assert "R² undefined" in text and "gates: FAILED" in text and "drift vs" in text and "not compared" in text
    # the stored version carries its gates; the DAG's gate task re-judges the stored record the same way
    assert (
        pipeline.version_status(store.load_version("ledger_cpu", report["version"]), first["version"]) == "gate-failed"
    )
    assert not pipeline.gate_version(spec, store, report["version"])["passed"]
    assert store.baseline_version("ledger_cpu") == first["version"]


def test_fit_and_save_stores_the_version_with_its_gates(store):
    spec = load_spec(SPEC)
    version = pipeline.fit_and_save(spec, make_frame().assign(__target__=0.0), store, plot=False)
    gates = store.load_version("ledger_cpu", version)["gates"]
    assert gates is not None and not gates["passed"]
    assert pipeline.list_versions(store, "ledger_cpu")["versions"][0]["status"] == "gate-failed"


def test_values_too_large_for_float64_say_so_and_store_nothing(store):
    """×1e200 was called "perfectly collinear" (the squares overflowed); ×1e-200 "constant"."""
    spec = load_spec(SPEC)
    with pytest.raises(
        DatasetError,
        match=r"the target reaches 5\.\d+e\+201 in magnitude.*scale it in its PromQL, "
        r"e\.g\. \(cpu_percent\) / 1e202",
    ):
        pipeline.run(spec, make_frame() * 1e200, store)
    with pytest.raises(DatasetError, match=r"feature 'accounts_closed' reaches .* \* 1e"):
        pipeline.run(spec, make_frame().assign(accounts_closed=lambda f: f["accounts_closed"] * 1e-200), store)
    assert store.versions("ledger_cpu") == []


def test_small_values_are_not_called_constant(store):
    """Features of 1e-13 moving by 1e-14 were "constant" (the spread was compared with 1, not with the values)."""
    spec = load_spec(SPEC)
    report = pipeline.run(spec, make_frame() * 1e-15, store, plot=False)
    assert pipeline.exit_code(report) == 0
    assert report["coefficients"]["accounts_closed"]["value"] == pytest.approx(0.267, abs=0.005)


def test_a_counter_as_target_gets_a_rate_hint(store):
    # by the PromQL: a *_total outside a range selector
    spec = load_spec({**SPEC, "target": "sum(app_cpu_seconds_total)"})
    report = pipeline.run(spec, make_frame(), store, plot=False)
    assert (
        "the target's app_cpu_seconds_total is a counter (it only grows): did you mean rate(app_cpu_seconds_total[5m])?"
    ) in report["warnings"]
    # by the data: a target that only ever rises, whatever its name; the failed gate says it too
    frame = make_frame()
    counter = pipeline.run(
        load_spec(SPEC), frame.assign(__target__=frame["__target__"].cumsum() * 60), store, plot=False
    )
    assert pipeline.exit_code(counter) == pipeline.EXIT_GATE_FAILED
    failed = {c["name"]: c["message"] for c in counter["gates"]["checks"] if not c["passed"]}
    assert failed["min_r2"].endswith(
        "hint: the target only ever rises over the window, like a counter: did you mean rate(cpu_percent[5m])?"
    )
    # rates of counters get no hint
    rated = pipeline.run(
        load_spec({**SPEC, "target": "sum(rate(app_cpu_seconds_total[1m]))"}), make_frame(), store, plot=False
    )
    assert not any("counter" in w for w in rated["warnings"])
