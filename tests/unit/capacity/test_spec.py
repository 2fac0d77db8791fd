from __future__ import annotations

import re
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from airflow_wecube.capacity.errors import SpecError
from airflow_wecube.capacity.spec import load_spec, parse_time, resolve_window

from .synth import SPEC

ROOT = Path(__file__).resolve().parents[3]
DAG_SPECS = ROOT / "dags" / "capacity"


def test_example_specs_beside_the_dags_and_in_the_docs_load():
    files = sorted(DAG_SPECS.glob("*.yml"))
    assert [f.name for f in files] == ["account_service.yml"], "the nightly DAG fits every spec in dags/capacity/"
    for path in [*files, ROOT / "docs" / "examples" / "ledger_cpu.yml"]:
        spec = load_spec(path)
        assert spec.name == path.stem
        assert spec.queries()["__target__"] == spec.target


def test_account_service_spec_is_on_the_demo_apps_own_series():
    """The spec the demo deploys: the rollout's job, the operation counters, transfers as a candidate."""
    from airflow_wecube.orchestrations.rollout import job_name

    spec = load_spec(DAG_SPECS / "account_service.yml")
    job = f'job="{job_name("account-service")}"'
    assert "process_cpu_seconds_total" in spec.target and job in spec.target and spec.target.endswith("* 100")
    assert list(spec.features) == ["accounts_opened", "accounts_closed"]
    assert all(job in q for q in spec.features.values())
    assert list(spec.candidates) == ["accounts_transferred"]
    assert "accounts_transferred_total" in spec.candidates["accounts_transferred"]
    assert spec.candidate_queries() == {**spec.queries(), **spec.candidates}
    assert spec.step_td == timedelta(seconds=5)  # the demo's scrape interval
    assert spec.limit is not None and spec.drift.max_relative_change > 0
    assert spec.hac_lags_for(100)["range_lags"] == 2  # [10s] at 5 s


def test_candidates_are_checked_like_features():
    base = {"name": "m", "target": "sum(cpu)", "features": {"a": "sum(x)"}}
    spec = load_spec({**base, "candidates": {"b": "  sum(rate(y_total[1m]))  ", "c": "sum(z)"}})
    assert spec.candidates == {"b": "sum(rate(y_total[1m]))", "c": "sum(z)"}
    assert load_spec(base).candidates == {} and load_spec({**base, "candidates": None}).candidates == {}
    for candidates, message in [
        ({"a": "sum(y)"}, "candidate(s) a are already features"),
        ({"b": "  "}, "candidate 'b' has an empty PromQL"),
        ({"b": 3}, "candidate 'b' must be a PromQL string, got int"),
        ({"bad name": "sum(y)"}, "candidate name 'bad name' must match"),
        ({"intercept": "sum(y)"}, "'intercept' is reserved"),
        (["sum(y)"], "candidates: Input should be a valid dictionary"),
    ]:
        with pytest.raises(SpecError, match=re.escape(message)):
            load_spec({**base, "candidates": candidates})


def test_a_candidates_longer_range_counts_for_the_hac_lags():
    spec = load_spec(
        {"name": "m", "target": "sum(cpu)", "features": {"a": "sum(rate(x[1m]))"}, "step": "15s"}
        | {"candidates": {"b": "sum(rate(y[5m]))"}}
    )
    assert spec.hac_lags_for(1000)["range_lags"] == 20


def test_issue_minimal_spec_and_defaults():
    spec = load_spec(
        """
name: ledger_cpu
target: sum(rate(app_cpu_seconds_total[1m])) * 100
features: {opened: "sum(rate(accounts_opened_total[1m]))", closed: "sum(rate(accounts_closed_total[1m]))"}
window: 7d
step: 60s
gates: {min_samples: 500, min_r2: 0.7, max_p_value: 0.01}
drift: {max_relative_change: 0.2}
limit: 80
"""
    )
    assert spec.window_td == timedelta(days=7) and spec.step_td == timedelta(seconds=60)
    assert list(spec.features) == ["opened", "closed"]
    assert spec.gates.min_samples == 500 and spec.drift.max_relative_change == 0.2
    assert spec.limit == 80 and spec.robust == "none" and spec.alert.k == 3


def test_unquoted_promql_in_a_flow_mapping_gets_a_hint():
    # the issue's example writes features as an unquoted flow mapping: YAML cannot parse that
    with pytest.raises(SpecError, match="must be quoted"):
        load_spec("name: m\ntarget: up\nfeatures: {opened: sum(rate(accounts_opened_total[1m]))}\n")


@pytest.mark.parametrize(
    ("change", "needle"),
    [
        ({"name": "ledger-cpu"}, "name"),
        ({"name": "m\n"}, "model name"),
        ({"features": {"a\n": "up"}}, "feature name"),
        ({"features": {}}, "at least one feature"),
        ({"features": {"intercept": "x"}}, "reserved"),
        ({"features": {"a": " "}}, "empty PromQL"),
        ({"target": ""}, "target"),
        ({"window": "7 days"}, "not a duration"),
        ({"step": "8d"}, "shorter than window"),
        ({"robust": "lasso"}, "robust"),
        ({"gates": {"min_r2": 1.5}}, "gates.min_r2"),
        ({"colour": "red"}, "colour"),
        ({"alert": {"for": "soon"}}, "not a duration"),
    ],
)
def test_bad_specs_say_what_is_wrong(change, needle):
    with pytest.raises(SpecError) as err:
        load_spec({**SPEC, **change})
    assert needle in str(err.value)


def test_spec_file_errors_name_the_file(tmp_path):
    bad = tmp_path / "bad.yml"
    bad.write_text("name: [unclosed\n")
    with pytest.raises(SpecError, match="bad.yml: not valid YAML"):
        load_spec(bad)
    bad.write_text("- a list\n")
    with pytest.raises(SpecError, match="bad.yml: a spec must be a YAML mapping"):
        load_spec(bad)
    with pytest.raises(SpecError, match="cannot read spec"):
        load_spec(tmp_path / "missing.yml")


def test_window_times_are_spec_errors():
    """Parsing is util.durations's (tests/unit/util/test_durations.py); a bad time is a SpecError here."""
    assert parse_time("2025-01-31T04:00:00+02:00") == datetime(2025, 1, 31, 2, tzinfo=timezone.utc)
    with pytest.raises(SpecError, match="not a time: 'yesterday'"):
        parse_time("yesterday")
    with pytest.raises(SpecError, match="time out of range"):
        resolve_window(load_spec(SPEC), end=1e20)


def test_window_resolution():
    spec = load_spec(SPEC)
    now = datetime(2025, 2, 1, tzinfo=timezone.utc)
    assert resolve_window(spec, now=now) == (now - timedelta(days=7), now)
    assert resolve_window(spec, "2025-01-01T00:00:00Z", "2025-01-02T00:00:00Z")[1] == datetime(
        2025, 1, 2, tzinfo=timezone.utc
    )
    with pytest.raises(SpecError, match="not before"):
        resolve_window(spec, "2025-01-02", "2025-01-01")


def test_the_documented_spec_loads():
    """docs/capacity.md lists every key: its example must stay a valid spec, and the flow-mapping form too."""
    import re

    doc = (DAG_SPECS.parents[1] / "docs" / "capacity.md").read_text()
    blocks = re.findall(r"```yaml\n(.*?)```", doc, flags=re.S)
    spec = load_spec(blocks[0])
    assert spec.name == "ledger_cpu" and spec.cov_type == "HAC" and spec.hac_lags == "auto"
    documented = set(re.findall(r"^([a-z_]+):", blocks[0], flags=re.M))
    assert documented == set(type(spec).model_fields), "the doc example must show every top-level key"
    from airflow_wecube.capacity.spec import AlertSpec, DriftThresholds, Gates

    for prefix, model in (("gates", Gates), ("drift", DriftThresholds), ("alert", AlertSpec)):
        for name, field in model.model_fields.items():
            assert f"`{prefix}.{field.alias or name}`" in doc, f"{prefix}.{name} is not in the key table"
    flow = load_spec("name: m\ntarget: up\n" + blocks[1])
    assert flow.features["opened"] == "sum(rate(accounts_opened_total[1m]))"


_BASE = "name: m\ntarget: cpu\nfeatures:\n  a: a\n"


@pytest.mark.parametrize(
    ("extra", "needle"),
    [
        ("limit: 80\nlimit: 90\n", "duplicate key 'limit' (line 5 and line 6)"),
        ("gates:\n  min_r2: 0.5\n  min_r2: 0.9\n", "duplicate key 'gates.min_r2'"),
        ("features:\n  b: b\n", "duplicate key 'features' (line 3 and line 5)"),
        ("limit: -5\n", "limit: Value error, limit must be a finite number > 0"),
        ("limit: 0\n", "limit: Value error, limit must be a finite number > 0"),
        ("limit: .nan\n", "limit: Value error, limit must be a finite number > 0"),
        ("limit: .inf\n", "limit: Value error, limit must be a finite number > 0"),
        ("gates: {min_r2: .nan}\n", "gates.min_r2: Input should be a finite number"),
        ("drift: {max_relative_change: .nan}\n", "drift.max_relative_change: Input should be a finite number"),
        ("alert: {k: .inf}\n", "alert.k: Input should be a finite number"),
        ("window: 99999999999d\n", "window: Value error, duration too long: '99999999999d'"),
        ("step: 99999999999d\n", "step: Value error, duration too long"),
        (
            "window: 3650d\nstep: 1s\n",
            "window 3650d at step 1s asks for 315,360,001 points per series, more than the 1,000,000",
        ),
    ],
)
def test_nonsense_is_refused_with_the_key_named(extra, needle):
    """Issue 16 item 7: duplicate keys (the last silently won), a negative or NaN limit (a baseline
    with headroom −0.38 or null), a window past timedelta (a raw OverflowError), too many points."""
    with pytest.raises(SpecError) as err:
        load_spec(_BASE + extra)
    assert needle in str(err.value)


def test_a_duplicate_key_in_a_file_names_the_file(tmp_path):
    path = tmp_path / "m.yml"
    path.write_text(_BASE + "window: 7d\nwindow: 1d\n")
    with pytest.raises(SpecError, match=r"m\.yml: duplicate key 'window'"):
        load_spec(path)


def test_limits_that_still_load():
    assert load_spec(_BASE + "limit: 80.5\n").limit == 80.5
    assert load_spec(_BASE + "limit: null\n").limit is None
    assert load_spec(_BASE + "window: 694d\nstep: 60s\n").window == "694d"  # 999,361 points: under the cap


def test_an_explicit_window_is_capped_too():
    """--start/--end override the spec's window: the same cap on points applies."""
    spec = load_spec(SPEC)  # step 60s
    with pytest.raises(SpecError, match="asks for 1,052,641 points per series, more than the 1,000,000"):
        resolve_window(spec, "2024-01-01T00:00:00Z", "2026-01-01T00:00:00Z")
    assert resolve_window(spec, "2024-01-01T00:00:00Z", "2025-01-01T00:00:00Z")[0].year == 2024
    with pytest.raises(SpecError, match="reaches before the year 1"):
        resolve_window(load_spec({**SPEC, "window": "999999999d", "step": "99999999d"}), end="2025-01-01T00:00:00Z")
