"""airflow_wecube.capacity.candidates: the added-variable test finds a business operation the
model misses (the demo's +transfers build) and does not cry wolf over one that costs nothing."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from airflow_wecube.capacity.candidates import candidate_test, candidate_tests, new_factors
from airflow_wecube.capacity.ols import ols_fast
from airflow_wecube.capacity.spec import TARGET, load_spec

SPEC = {
    "name": "account_service",
    "target": "cpu",
    "features": {"accounts_opened": "o", "accounts_closed": "c"},
    "candidates": {"accounts_transferred": "t", "logins": "l"},
    "step": "5s",
    "window": "1h",
}


def frame(n: int = 300, transfer_cost: float = 0.15, seed: int = 3) -> pd.DataFrame:
    """Probe-like data: each operation's rate varies on its own; CPU % = 0.1 o + 0.2 c + cost t + noise."""
    rng = np.random.default_rng(seed)
    steps = n // 30 + 1
    o, c, t, logins = (np.repeat(rng.uniform(0, 30, steps), 30)[:n] + rng.normal(0, 0.5, n) for _ in range(4))
    cpu = 0.1 * o + 0.2 * c + transfer_cost * t + 0.5 + rng.normal(0, 0.2, n)
    return pd.DataFrame(
        {TARGET: cpu, "accounts_opened": o, "accounts_closed": c, "accounts_transferred": t, "logins": logins}
    )


def test_a_costly_operation_left_out_is_a_new_factor_and_an_unrelated_one_is_not():
    spec = load_spec(SPEC)
    data = frame()
    transferred, logins = candidate_tests(spec, data)
    assert transferred["status"] == "tested" and transferred["new_factor"] and transferred["significant"]
    assert transferred["ci"][0] < 0.15 < transferred["ci"][1]
    assert transferred["p_value"] < 1e-6 and transferred["r2_gain"] > 0.05
    assert transferred["r2_with"] > 0.99 and transferred["cov_type"] == "HAC" and transferred["maxlags"] >= 3
    assert "explains" in transferred["reason"]
    # an unrelated series picks up a little of the missing factor by chance, never enough to count
    assert logins["status"] == "tested" and not logins["new_factor"] and not logins["significant"]
    assert logins["r2_gain"] < transferred["r2_gain"] / 3 and transferred["partial_r2"] > 0.9
    assert new_factors([transferred, logins]) == ["accounts_transferred"]
    assert transferred["others"] == ["logins"] and logins["others"] == ["accounts_transferred"]
    # the same numbers as the OLS with the candidates added (the one tested last), on the spec's HAC lags
    X = data[["accounts_opened", "accounts_closed", "logins", "accounts_transferred"]].to_numpy()
    full = ols_fast(X, data[TARGET].to_numpy(), spec.hac_lags_for(len(data))["maxlags"])
    assert transferred["coefficient"] == pytest.approx(full["params"][-1])
    assert transferred["p_value"] == pytest.approx(full["pvalues"][-1])


def test_tested_alone_a_chance_correlation_can_look_significant_tested_together_it_does_not():
    """Why candidates are tested together: alone, an unrelated series soaks up the missed factor."""
    spec = load_spec(SPEC)
    alone = candidate_test(spec, frame(), "logins")
    assert alone["others"] == [] and alone["r2_gain"] > 0.01  # what it picked up by chance
    together = candidate_test(spec, frame(), "logins", others=["accounts_transferred"])
    assert not together["significant"] and abs(together["r2_gain"]) < 0.001


def test_an_operation_that_costs_nothing_is_not_a_new_factor():
    (transferred, _) = candidate_tests(load_spec(SPEC), frame(transfer_cost=0.0))
    assert transferred["status"] == "tested" and not transferred["new_factor"]
    assert transferred["r2_gain"] < 0.01


def test_candidates_that_cannot_be_tested_say_why():
    spec = load_spec(SPEC)
    data = frame()
    never = data.assign(accounts_transferred=0.0)  # a build without transfers: the counter stays 0
    assert candidate_test(spec, never, "accounts_transferred") | {"reason": ""} == {
        "name": "accounts_transferred",
        "query": "t",
        "new_factor": False,
        "status": "constant",
        "n": 300,
        "reason": "",
    }
    # the untestable one is reported, the other tested alone
    results = candidate_tests(spec, never)
    assert [r["status"] for r in results] == ["constant", "tested"] and results[1]["others"] == []
    assert "is constant (0)" in candidate_test(spec, never, "accounts_transferred")["reason"]
    copy = data.assign(accounts_transferred=data["accounts_opened"] + data["accounts_closed"])
    assert candidate_test(spec, copy, "accounts_transferred")["status"] == "collinear"
    assert candidate_test(spec, data.drop(columns="logins"), "logins")["status"] == "missing"
    gaps = data.assign(logins=np.nan)
    gaps.loc[:3, "logins"] = 1.0
    few = candidate_test(spec, gaps, "logins")
    assert few["status"] == "too_few" and few["n"] == 4 and not few["new_factor"]


def test_nonrobust_spec_and_own_thresholds():
    spec = load_spec({**SPEC, "cov_type": "nonrobust"})
    result = candidate_test(spec, frame(), "accounts_transferred", alpha=0.05, min_r2_gain=0.9)
    assert result["cov_type"] == "nonrobust" and result["maxlags"] is None
    assert result["significant"] and not result["new_factor"] and "adds only" in result["reason"]
