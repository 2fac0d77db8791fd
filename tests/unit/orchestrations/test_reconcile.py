"""The instance counts the strategies set: a number, or the capacity model's count, which only adds."""

from __future__ import annotations

from airflow_wecube.orchestrations.reconcile import desired_counts
from airflow_wecube.reconcile.strategies import parse_strategies


def app(name: str, instances: int) -> dict:
    return {"name": name, "attributes": {"instances": [{"host": f"{name}-{i}"} for i in range(1, instances + 1)]}}


def test_desired_counts():
    strategies = parse_strategies(
        {
            "apps": {
                "fixed": {"desired": 4},
                "model": {"desired": "capacity", "model": "m", "floor": 1, "ceiling": 5},
                "kept": {"desired": "capacity", "model": "m", "floor": 1, "ceiling": 5},
            }
        }
    )
    apps = [app("fixed", 2), app("model", 2), app("kept", 4), app("recorded", 3)]
    counts, why = desired_counts(strategies, apps, lambda model: (55.0, 20.0))
    assert counts == {"fixed": 4, "model": 3, "kept": 4}
    assert why["kept"].endswith("4 recorded are kept (the model only adds)")
    counts, why = desired_counts(strategies, apps, lambda model: (None, 20.0))
    assert counts == {"fixed": 4, "model": 2, "kept": 4} and why["model"].startswith("no prediction")


def test_schedule(monkeypatch):
    from datetime import timedelta

    from airflow_wecube.orchestrations.reconcile import schedule

    monkeypatch.delenv("AIRFLOW__WECUBE__RECONCILE_SCHEDULE", raising=False)
    assert schedule() == timedelta(minutes=10)
    monkeypatch.setenv("AIRFLOW__WECUBE__RECONCILE_SCHEDULE", "none")
    assert schedule() is None
    monkeypatch.setenv("AIRFLOW__WECUBE__RECONCILE_SCHEDULE", "*/5 * * * *")
    assert schedule() == "*/5 * * * *"
