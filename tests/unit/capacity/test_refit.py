"""airflow_wecube.capacity.refit, the refit DAG's steps around the store's staging: the fit keeps
its staged data until the version is saved, so a retry works; a fetch clears what earlier runs left.

Run on a real local store; the first fit attempt fails for a real reason (the store cannot save:
its ``versions`` folder is blocked by a file).
"""

from __future__ import annotations

import json
from datetime import datetime, timezone

import pytest

from airflow_wecube.capacity.refit import (
    NotEnoughData,
    StagedDataMissing,
    fetch_for_fit,
    fit_staged,
    gate_failure,
    stage_frame,
    staging_key,
    usable_samples,
)
from airflow_wecube.capacity.spec import load_spec
from airflow_wecube.capacity.store import ModelStore
from airflow_wecube.prometheus.errors import PrometheusNoSeriesError, PrometheusQueryError

from .synth import SPEC, make_frame

WINDOW = {"start": "2025-01-01T00:00:00+00:00", "end": "2025-01-03T00:00:00+00:00"}


def test_a_retried_fit_reads_the_same_staged_data(tmp_path):
    spec_file = tmp_path / "ledger_cpu.yml"
    spec_file.write_text(json.dumps(SPEC))  # JSON is YAML
    store = ModelStore(tmp_path / "store")
    frame = make_frame(2880)
    key = "scheduled__2025-01-02T02_00_00_00_00-0"
    store.write_frame("ledger_cpu", key, frame)
    fetched = {"spec_path": str(spec_file), "model": "ledger_cpu", "key": key, "window": WINDOW}

    blocker = tmp_path / "store" / "ledger_cpu" / "versions"
    blocker.write_text("not a folder")
    with pytest.raises(OSError):
        fit_staged(fetched, store)
    assert store.staged_keys("ledger_cpu") == [key]  # kept for the retry
    assert blocker.read_text() == "not a folder"

    blocker.unlink()
    fitted, line = fit_staged(fetched, store)
    assert fitted["key"] == key and store.versions("ledger_cpu") == [fitted["version"]]
    assert line.startswith(f"ledger_cpu: version {fitted['version']}: ") and line.endswith(", n=2880)")
    record = store.load_version("ledger_cpu", fitted["version"])
    assert record["rows"]["fetched"] == len(frame) and record["window"]["start"] == fetched["window"]["start"]
    assert store.staged_keys("ledger_cpu") == []  # deleted once saved
    assert gate_failure(fitted, store) is None

    # fitted already: a further attempt fails for good, saying what to do, and stores nothing
    with pytest.raises(StagedDataMissing, match="clear this run's fetch task"):
        fit_staged(fetched, store)
    assert store.versions("ledger_cpu") == [fitted["version"]]


def test_a_model_of_nothing_fails_the_gate_with_the_reason(tmp_path):
    """Issue 16 item 5: the fit printed R² of null (TypeError) and the gate crashed."""
    spec_file = tmp_path / "ledger_cpu.yml"
    spec_file.write_text(json.dumps(SPEC))
    store = ModelStore(tmp_path / "store")
    store.write_frame("ledger_cpu", "run-0", make_frame(2880).assign(__target__=0.0))
    fitted, line = fit_staged(
        {"spec_path": str(spec_file), "model": "ledger_cpu", "key": "run-0", "window": WINDOW}, store
    )
    assert line.endswith("(R² undefined, n=2880)")
    failure = gate_failure(fitted, store)
    assert failure is not None and "failed its gates, baseline kept: target has no variance" in failure
    assert failure.startswith(f"ledger_cpu version {fitted['version']} failed its gates")
    assert store.load_version("ledger_cpu", fitted["version"])["gates"]["passed"] is False
    assert store.baseline_version("ledger_cpu") is None


def test_a_fetch_clears_what_earlier_runs_left_staged(tmp_path):
    store = ModelStore(tmp_path / "store")
    frame = make_frame(10)
    assert staging_key("manual__2025-01-02T02:00:00+00:00", 3) == "manual__2025-01-02T02_00_00_00_00-3"
    store.write_frame("ledger_cpu", "manual__killed-0", frame)  # left by an earlier run
    store.write_frame("ledger_cpu", staging_key("run/a", 1), frame)  # another spec of this run
    key, stale = stage_frame(store, "ledger_cpu", frame, "run/a", 0)
    assert key == "run_a-0" and stale == ["manual__killed-0"]
    assert store.staged_keys("ledger_cpu") == ["run_a-0", "run_a-1"]
    # a retried fetch overwrites its own frame and clears nothing of its run
    assert stage_frame(store, "ledger_cpu", make_frame(5), "run/a", 0) == ("run_a-0", [])
    assert len(store.read_frame("ledger_cpu", "run_a-0")) == 5


START, END = datetime(2025, 1, 1, tzinfo=timezone.utc), datetime(2025, 1, 1, 1, tzinfo=timezone.utc)


def test_too_few_samples_is_not_enough_data_with_the_count():
    """A fresh demo: a few minutes of history is a skip with the reason, not a failed fit."""
    spec = load_spec({**SPEC, "gates": {"min_samples": 30}})
    frame = make_frame(40)
    frame.iloc[:15, 1] = float("nan")  # scrape gaps: those rows are not samples
    assert usable_samples(spec, frame) == 25
    with pytest.raises(NotEnoughData, match=r"^ledger_cpu: 25 samples < min_samples \(30\) between 2025-01-01T00"):
        fetch_for_fit(spec, START, END, lambda *_: frame)
    assert fetch_for_fit(load_spec({**SPEC, "gates": {"min_samples": 25}}), START, END, lambda *_: frame) is frame


def test_a_series_with_no_data_yet_is_not_enough_data_but_a_bad_query_still_fails():
    spec = load_spec(SPEC)

    def nothing(*_):
        raise PrometheusNoSeriesError("query '__target__' (cpu_percent) returned 0 series: nothing recorded")

    with pytest.raises(NotEnoughData, match="ledger_cpu: no data between .* returned 0 series.*baseline is unchanged"):
        fetch_for_fit(spec, START, END, nothing)

    def bad(*_):
        raise PrometheusQueryError("parse error")

    with pytest.raises(PrometheusQueryError, match="parse error"):
        fetch_for_fit(spec, START, END, bad)
