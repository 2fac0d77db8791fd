"""Rule group rendering and promtool checks (pure; runs the real promtool binary)."""

from __future__ import annotations

from datetime import timedelta

import pytest
import yaml

from airflow_wecube.prometheus import rules
from airflow_wecube.prometheus.errors import PrometheusConfigError, PrometheusRuleError

ALERT = {
    "alert": "Down",
    "expr": "up == 0",
    "for": "5m",
    "labels": {"severity": "page"},
    "annotations": {"summary": "{{ $labels.instance }} down"},
}


def test_render_group_is_a_prometheus_rule_file_promtool_accepts():
    text = rules.render_group("g1", [ALERT, {"record": "job:up:sum", "expr": "sum by (job) (up)"}], interval=30)
    data = yaml.safe_load(text)
    assert data == {
        "groups": [
            {
                "name": "g1",
                "interval": "30s",
                "rules": [ALERT, {"record": "job:up:sum", "expr": "sum by (job) (up)"}],
            }
        ]
    }
    rules.check_rules_text(text)  # no exception


def test_durations_and_values_are_normalised():
    out = rules.normalise_rules([{"alert": "A", "expr": 1, "for": timedelta(minutes=2), "labels": {"n": 3}}])
    assert out == [{"alert": "A", "expr": "1", "for": "120s", "labels": {"n": "3"}}]


def test_durations_any_parser_reads_become_text_promtool_accepts():
    """A capacity spec's ``for: 1.5h`` (decimals are fine there) used to reach promtool as written and fail."""
    out = rules.normalise_rules([{"alert": "A", "expr": "up == 0", "for": "1.5h", "keep_firing_for": 0}])
    assert out[0]["for"] == "5400s" and out[0]["keep_firing_for"] == "0s"
    text = rules.render_group("g1", [{"alert": "A", "expr": "up == 0", "for": "1.5h"}], interval="30")
    assert yaml.safe_load(text)["groups"][0]["interval"] == "30s"
    rules.check_rules_text(text)  # no exception


def test_promtool_message_is_carried():
    text = rules.render_group("g1", [{"alert": "Down", "expr": "up =="}])
    with pytest.raises(PrometheusRuleError, match="could not parse expression") as info:
        rules.check_rules_text(text, display_name="g1.yml")
    assert "g1.yml" in info.value.output and "/tmp" not in info.value.output


@pytest.mark.parametrize(
    ("bad", "message"),
    [
        ([], "at least one rule"),
        ({"alert": "A", "expr": "up"}, "list of rule dicts"),
        (["up == 0"], "must be a dict"),
        ([{"expr": "up"}], "exactly one of 'alert' or 'record'"),
        ([{"alert": "A", "record": "b", "expr": "up"}], "exactly one of"),
        ([{"alert": "A"}], "non-empty 'expr'"),
        ([{"alert": "A", "expr": "up", "severity": "x"}], "unknown keys"),
        ([{"alert": "A", "expr": "up", "labels": ["x"]}], "mapping"),
        ([{"alert": "A", "expr": "up", "for": -1}], "alert 'A': 'for': duration must be zero or positive: -1"),
        ([{"alert": "A", "expr": "up", "for": "soon"}], "alert 'A': 'for': not a duration: 'soon'"),
        ([{"alert": "A", "expr": "up", "keep_firing_for": "5 min"}], "'keep_firing_for': not a duration"),
    ],
)
def test_bad_rules_are_refused_before_promtool(bad, message):
    with pytest.raises(PrometheusConfigError, match=message):
        rules.render_group("g1", bad)


@pytest.mark.parametrize("name", ["", "../x", "a/b", "a b", None, "g\n", "g\r"])
def test_bad_group_names(name, tmp_path):
    with pytest.raises(PrometheusConfigError, match="invalid rule group name"):
        rules.rule_file(tmp_path, name)


def test_restore_puts_back_previous_or_removes(tmp_path):
    path = tmp_path / "g.yml"
    path.write_text("old")
    rules.restore(path, "old2")
    assert path.read_text() == "old2"
    rules.restore(path, None)
    assert not path.exists()
