"""triage_run: the triage both runbook DAGs share, with a fake task instance and the runbook's decision
passed in (no airflow standalone: the kill switch is read from its Variable's environment setting)."""

from __future__ import annotations

from datetime import datetime, timezone
from types import SimpleNamespace

import pytest

from airflow_wecube.orchestrations.runbook_tasks import triage_run

PARAMS = {"cooldown": 300, "flap_limit": 3, "flap_window": 3600, "dry_run": True}


class FakeTI:
    """What triage reads and writes of a task instance: its run, XComs, other runs' states."""

    dag_id, run_id = "wecube_remediate_instance", "manual__1"

    def __init__(self, states: dict[str, str] | None = None):
        self.xcoms: dict[str, object] = {}
        self.states = states or {}

    def xcom_push(self, key, value):
        self.xcoms[key] = value

    def get_dagrun_state(self, dag_id, run_id):
        return self.states[f"{dag_id}/{run_id}"]


def decide_act(seen):
    def decide(alerts, **kw):
        seen.update(kw, alerts=alerts)
        return [{"alertname": "Down", "instance": "h1:1", "decision": "act", "reason": "down for 2m"}]

    return decide


def not_an_alert():
    """An event on an alert Asset whose extra is not an alert: ignored, and said so."""
    asset = SimpleNamespace(uri="wecube-alert://Down")
    return {asset.uri: [SimpleNamespace(asset=asset, extra=None, timestamp=datetime(2026, 1, 1, tzinfo=timezone.utc))]}


def test_the_decision_gets_the_guard_rails_and_the_branch_follows_the_kill_switch(monkeypatch, capsys):
    monkeypatch.delenv("AIRFLOW_VAR_WECUBE_AUTO_REMEDIATION", raising=False)
    seen: dict = {}
    ti = FakeTI(states={"wecube_remediate_instance/other": "running"})
    branch = triage_run(
        ti,
        PARAMS,
        not_an_alert(),
        decide_act(seen),
        describe=lambda e: f"{e['alertname']} on {e['instance']}: {e['decision']}",
        plan_line=lambda e: f"**{e['decision']}** {e['instance']}",
        app="accounts",
    )
    assert branch == ["claim", "finish"]
    assert seen["alerts"] == [] and seen["app"] == "accounts" and seen["dry_run"] is True
    assert (seen["mode"], seen["mode_problem"]) == ("on", None)
    assert (seen["policy"].cooldown, seen["policy"].flap_limit) == (300, 3)
    assert seen["me"] == "wecube_remediate_instance/manual__1"
    assert seen["running"]("wecube_remediate_instance/other") is True  # lock holders are asked about
    assert ti.xcoms["plan"] == "- **act** h1:1"
    assert ti.xcoms["triaged"]["mode"] == "on" and len(ti.xcoms["triaged"]["ignored"]) == 1
    out = capsys.readouterr().out
    assert "ignored: event 1" in out and "0 alert(s); wecube_auto_remediation = on" in out
    assert "  Down on h1:1: act" in out


@pytest.mark.parametrize(
    ("switch", "branch"),
    [("approve", ["approve", "claim", "finish"]), ("off", ["claim", "finish"]), ("maybe", ["claim", "finish"])],
)
def test_the_kill_switch_reaches_the_decision(monkeypatch, switch, branch):
    """approve: through a person; off or a bad value: the decision gets the mode (and the problem) to refuse."""
    monkeypatch.setenv("AIRFLOW_VAR_WECUBE_AUTO_REMEDIATION", switch)
    seen: dict = {}
    ti = FakeTI()
    got = triage_run(ti, PARAMS, {}, decide_act(seen), describe=str, plan_line=str)
    assert got == branch
    assert seen["mode"] == ("approve" if switch == "approve" else "off")
    assert (seen["mode_problem"] is None) == (switch != "maybe")


def test_nothing_to_act_on_goes_straight_to_finish(monkeypatch):
    monkeypatch.delenv("AIRFLOW_VAR_WECUBE_AUTO_REMEDIATION", raising=False)
    ti = FakeTI()
    got = triage_run(ti, PARAMS, {}, lambda alerts, **kw: [], describe=str, plan_line=str)
    assert got == ["finish"] and ti.xcoms["plan"] == "no alert"
