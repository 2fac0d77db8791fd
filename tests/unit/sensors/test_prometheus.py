"""PrometheusQuerySensor arguments (no server needed; behaviour against Prometheus is in tests/integration)."""

from __future__ import annotations

import pytest

from airflow_wecube.sensors.prometheus import PrometheusQuerySensor


def sensor(**kw) -> PrometheusQuerySensor:
    return PrometheusQuerySensor(task_id="gate", promql="up", condition="== 1", **kw)


@pytest.mark.parametrize(("setting", "expected"), [(None, False), ("True", True), ("false", False)])
def test_deferrable_defaults_to_airflow_default_deferrable(monkeypatch, setting, expected):
    if setting is None:
        monkeypatch.delenv("AIRFLOW__OPERATORS__DEFAULT_DEFERRABLE", raising=False)
    else:
        monkeypatch.setenv("AIRFLOW__OPERATORS__DEFAULT_DEFERRABLE", setting)
    assert sensor().deferrable is expected


@pytest.mark.parametrize("setting", ["True", "False"])
def test_explicit_deferrable_wins_over_the_config(monkeypatch, setting):
    monkeypatch.setenv("AIRFLOW__OPERATORS__DEFAULT_DEFERRABLE", setting)
    assert sensor(deferrable=True).deferrable is True
    assert sensor(deferrable=False).deferrable is False
