"""Planning under the guard rails the runbooks share: kill switch, max changes, dry run, accepted."""

from __future__ import annotations

from airflow_wecube.reconcile.capacity import capacity_count
from airflow_wecube.reconcile.plan import next_action, plan
from airflow_wecube.reconcile.strategies import parse_strategies

ROWS = [
    {"key": "subnet/a", "kind": "subnet", "name": "a", "status": "missing"},
    {
        "key": "route_table/r",
        "kind": "route_table",
        "name": "r",
        "status": "changed",
        "diff": [{"attribute": "routes"}],
    },
    {"key": "security_group/x", "kind": "security_group", "name": "x", "status": "extra"},
    {"key": "vpc/v", "kind": "vpc", "name": "v", "status": "ok"},
]
S = parse_strategies(None)


def decisions(p):
    return {e["key"]: (e["action"], e["decision"]) for e in p["entries"]}


def test_on_acts_and_asks_about_the_extra_one():
    p = plan(ROWS, S, mode="on")
    assert decisions(p) == {
        "subnet/a": ("create", "act"),
        "route_table/r": ("update", "act"),
        "security_group/x": ("ask", "ask"),
    }
    x = p["entries"][2]
    assert x["proposal"] == "delete" and next_action(x) == "ask a person (delete on yes)"
    assert p["totals"] == {"act": 2, "ask": 1, "ignore": 0, "dry_run": 0} and not p["needs_approval"]


def test_the_instances_of_an_app_that_rolls_out_are_left_to_the_rollout():
    shop = {"kind": "app_instance", "app": "shop", "status": "changed", "diff": [{"attribute": "version"}]}
    rows = [
        *ROWS,
        {**shop, "key": "app_instance/shop@shop-1", "name": "shop@shop-1"},
        {**shop, "key": "app_instance/ledger@ledger-1", "name": "ledger@ledger-1", "app": "ledger"},
    ]
    held = "wecube_app_rollout/manual__r of version 1.1.0, since 2026-12-07 09:00:00 UTC"
    p = plan(rows, S, mode="on", rollouts={"shop": held})
    shop_1, ledger_1 = p["entries"][3:]
    assert shop_1["decision"] == "ignore" and next_action(shop_1) == "ignore"
    assert shop_1["reason"] == f"a rollout of shop is in progress ({held}): left to it until it ends"
    assert ledger_1["decision"] == "act" and decisions(p)["subnet/a"] == ("create", "act")
    assert plan(rows, S, mode="on")["entries"][3]["decision"] == "act"  # once it ended


def test_the_kill_switch_off_records_and_asks_only():
    p = plan(ROWS, S, mode="off")
    assert {d for _, d in decisions(p).values()} == {"ask"}
    assert "Variable wecube_auto_remediation" in p["entries"][0]["reason"]
    assert plan(ROWS, S, mode="approve")["needs_approval"]


def test_more_changes_than_allowed_asks_a_person_about_all():
    p = plan(ROWS, S, mode="on", max_changes=1)
    assert [e["decision"] for e in p["entries"]] == ["ask", "ask", "ask"]
    assert "2 changes in one run, more than max_changes 1" in p["entries"][0]["reason"]


def test_dry_run_and_accepted():
    p = plan(ROWS, S, mode="on", dry_run=True, accepted=["security_group/x"])
    assert decisions(p) == {
        "subnet/a": ("create", "dry_run"),
        "route_table/r": ("update", "dry_run"),
        "security_group/x": ("ask", "ignore"),
    }
    assert p["entries"][0]["reason"].startswith("dry run, nothing done; would create")


def test_capacity_count():
    assert capacity_count(45.0, 20.0, 2, 6, 2) == (
        3,
        "predicted 45 at the current volume, limit 20 per instance: 3 needed",
    )
    assert capacity_count(5.0, 20.0, 2, 6, 2)[0] == 2  # the floor
    assert capacity_count(500.0, 20.0, 2, 6, 2)[0] == 6  # the ceiling
    count, why = capacity_count(None, 20.0, 2, 6, 4)
    assert count == 4 and why.startswith("no prediction")
