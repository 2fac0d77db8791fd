from __future__ import annotations

from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from airflow_wecube.capacity.errors import SpecError
from airflow_wecube.capacity.spec import load_spec, parse_duration, parse_time, resolve_window

from .synth import SPEC

DAG_SPECS = Path(__file__).resolve().parents[3] / "dags" / "capacity"


def test_example_specs_beside_the_dags_load():
    files = sorted(DAG_SPECS.glob("*.yml"))
    assert files, "dags/capacity/ holds no example spec"
    for path in files:
        spec = load_spec(path)
        assert spec.name == path.stem
        assert spec.queries()["__target__"] == spec.target


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


def test_durations_and_times():
    assert parse_duration("1h30m") == timedelta(minutes=90)
    assert parse_duration(15) == timedelta(seconds=15)
    with pytest.raises(ValueError):
        parse_duration("0s")
    assert parse_time("1700000000") == datetime(2023, 11, 14, 22, 13, 20, tzinfo=timezone.utc)
    assert parse_time("2025-01-31T02:00:00Z") == datetime(2025, 1, 31, 2, tzinfo=timezone.utc)
    assert parse_time("2025-01-31T04:00:00+02:00") == datetime(2025, 1, 31, 2, tzinfo=timezone.utc)
    with pytest.raises(SpecError, match="not a time"):
        parse_time("yesterday")


def test_window_resolution():
    spec = load_spec(SPEC)
    now = datetime(2025, 2, 1, tzinfo=timezone.utc)
    assert resolve_window(spec, now=now) == (now - timedelta(days=7), now)
    assert resolve_window(spec, "2025-01-01T00:00:00Z", "2025-01-02T00:00:00Z")[1] == datetime(2025, 1, 2, tzinfo=timezone.utc)
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
