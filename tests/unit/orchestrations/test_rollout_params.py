"""The rollout's parameters: the schema Airflow checks when the run is triggered, and what the first
task checks before anything is created (a capacity spec that does not load, a scrape interval the
probe cannot use: issue 25 item 10)."""

from __future__ import annotations

from pathlib import Path

import pytest

from airflow_wecube.orchestrations.rollout_params import MIN_SCRAPE_INTERVAL, RunRefused, check_params, dag_params

SPECS = Path(__file__).resolve().parents[3] / "dags" / "capacity"
GOOD = {"probe": True, "capacity_spec": "account_service", "scrape_interval": 5}


@pytest.fixture(autouse=True)
def specs(monkeypatch):
    monkeypatch.setenv("WECUBE_CAPACITY_SPECS", str(SPECS))


def test_good_parameters_pass():
    check_params(GOOD, steps=8, hold_intervals=4)
    check_params({**GOOD, "probe": False, "capacity_spec": "nope"}, steps=8, hold_intervals=4)  # no probe: no spec


def test_a_spec_that_does_not_exist_is_refused_naming_the_folder():
    with pytest.raises(RunRefused) as e:
        check_params({**GOOD, "capacity_spec": "nope"}, steps=8, hold_intervals=4)
    assert str(e.value) == f"capacity_spec 'nope': no spec file for model 'nope' in {SPECS} (nothing was created)"


@pytest.mark.parametrize("value", [1e-09, 0, -1, 0.5, float("nan"), "x", None])
def test_a_scrape_interval_the_probe_cannot_use_is_refused(value):
    with pytest.raises(RunRefused, match=r"^scrape_interval .*\(nothing was created\)$"):
        check_params({**GOOD, "scrape_interval": value}, steps=8, hold_intervals=4)


def test_every_problem_is_named_at_once():
    with pytest.raises(RunRefused, match=r"scrape_interval 1e-09: .*; capacity_spec 'nope': no spec file"):
        check_params({**GOOD, "scrape_interval": 1e-09, "capacity_spec": "nope"}, steps=8, hold_intervals=4)


def test_the_schema_refuses_a_scrape_interval_below_the_minimum_at_trigger():
    from airflow.sdk.definitions.param import ParamsDict, ParamValidationError

    params = ParamsDict(dag_params("sn-a"))
    assert params["scrape_interval"] == 5 and MIN_SCRAPE_INTERVAL == 1
    params["scrape_interval"] = 1
    with pytest.raises(ParamValidationError, match="scrape_interval"):
        params["scrape_interval"] = 1e-09
