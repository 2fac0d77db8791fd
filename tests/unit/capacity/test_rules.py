from __future__ import annotations

import shutil
import subprocess

import pytest
import yaml

from airflow_wecube.capacity.rules import (
    HEADROOM_ALERT,
    build_rules,
    headroom_rule,
    prediction_expr,
    recording_rule_name,
)
from airflow_wecube.capacity.spec import load_spec

from .synth import SPEC

FIT = {
    "coefficients": {"accounts_opened": {"value": 0.145}, "accounts_closed": {"value": -0.267}},
    "intercept": {"value": 0.005},
    "resid_std": 0.5,
    "formula": "cpu% = 0.145*accounts_opened - 0.267*accounts_closed + 0.005",
}


def test_prediction_expr_from_the_coefficients():
    spec = load_spec(SPEC)
    assert prediction_expr(spec, FIT) == "0.145 * sum(accounts_opened) + (-0.267) * sum(accounts_closed) + 0.005"
    assert recording_rule_name("ledger_cpu") == "capacity:ledger_cpu:predicted"


def test_rules_pass_promtool(tmp_path):
    promtool = shutil.which("promtool")
    if promtool is None:
        pytest.skip("promtool not installed")
    spec = load_spec({**SPEC, "alert": {"k": 2.5, "for": "5m"}})
    rules = build_rules(spec, FIT, version="v1")
    assert rules[1]["expr"] == "sum(cpu_percent) - sum(capacity:ledger_cpu:predicted) > 1.25"
    path = tmp_path / "r.yml"
    path.write_text(yaml.safe_dump({"groups": [{"name": "capacity_ledger_cpu", "rules": rules}]}))
    proc = subprocess.run([promtool, "check", "rules", str(path)], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "3 rules found" in proc.stdout


def test_fit_with_unknown_feature_is_refused():
    spec = load_spec(SPEC)
    fit = {**FIT, "coefficients": {**FIT["coefficients"], "transfers": {"value": 1.0}}}
    with pytest.raises(ValueError, match="transfers"):
        prediction_expr(spec, fit)
    spec_no_alert = load_spec({**SPEC, "alert": {"enabled": False}, "limit": None})
    assert [r.get("record") for r in build_rules(spec_no_alert, FIT)] == ["capacity:ledger_cpu:predicted"]


def test_headroom_alert_fires_within_the_margin_of_the_limit():
    """The capacity model's own prediction says when to add an instance, before the limit is reached."""
    spec = load_spec({**SPEC, "limit": 80, "alert": {"for": "2m"}})
    rule = headroom_rule(spec)
    assert rule["alert"] == HEADROOM_ALERT == "CapacityHeadroomLow"
    assert rule["expr"] == "sum(capacity:ledger_cpu:predicted) > 64"
    assert rule["for"] == "2m" and rule["labels"] == {"model": "ledger_cpu", "severity": "warning"}
    assert "within 20% of its limit 80" in rule["annotations"]["summary"]
    assert headroom_rule(spec, margin=0.5)["expr"].endswith("> 40")
    assert build_rules(spec, FIT)[-1] == rule
    assert headroom_rule(load_spec({**SPEC, "limit": None})) is None
    with pytest.raises(ValueError, match="between 0 and 1"):
        headroom_rule(spec, margin=1.5)
