"""The deploy plugin's run options: inputs checked with the reason, the old single ``rate`` still
meaning what it meant, and the account service's command line built from them."""

from __future__ import annotations

import pytest

from airflow_wecube.sandbox.account_service.__main__ import parse_args, rates
from airflow_wecube.sandbox.plugin import EntityError
from airflow_wecube.sandbox.plugins.app_options import RUN_DEFAULTS, deploy_options, run_options, service_args


def test_inputs_per_operation_and_the_old_rate():
    assert deploy_options({"open_rate": "4", "close_rate": 9, "transfer_cost": "0.5", "wave": 0}) == {
        "open_rate": 4.0,
        "close_rate": 9.0,
        "transfer_cost": 0.5,
        "wave": 0.0,
    }
    assert deploy_options({"rate": 10}) == {"open_rate": 10.0, "close_rate": 6.0}  # closes 0.6 of opens, as before
    assert deploy_options({}) == {}


@pytest.mark.parametrize(
    ("entity", "message"),
    [
        ({"rate": 5, "open_rate": 1}, "give rate (the old single rate) or open_rate, not both"),
        ({"close_rate": 501}, "input close_rate must be between 0 and 500 per second, got 501"),
        ({"open_cost": 51}, "input open_cost must be between 0 and 50 CPU milliseconds, got 51"),
        ({"wave": 0.95}, "input wave must be between 0 and 0.9"),
        ({"transfer_rate": "fast"}, "input transfer_rate must be a number (per second), got 'fast'"),
        ({"transfer_rate": "nan"}, "input transfer_rate must be between 0 and 500"),
        ({"open_rate": True}, "input open_rate must be a number"),
    ],
)
def test_bad_inputs_fail_the_entity_with_the_reason(entity, message):
    with pytest.raises(EntityError, match=message.replace("(", r"\(").replace(")", r"\)")):
        deploy_options(entity)


def test_the_command_line_round_trips_through_the_services_own_parser():
    stored = {"rate": 10, "transfer_rate": 4, "close_cost": 3, "health_timeout": 30}  # an old row's "rate"
    assert run_options(stored) == {
        **RUN_DEFAULTS,
        "open_rate": 10,
        "close_rate": 6,
        "transfer_rate": 4,
        "close_cost": 3,
    }
    args = parse_args(["--port", "1", "--version", "1", *service_args(stored)])
    assert rates(args) == {"open_rate": 10, "close_rate": 6, "transfer_rate": 4}
    assert (args.wave, args.close_cost_ms, args.open_cost_ms) == (RUN_DEFAULTS["wave"], 3, 1)
