"""Strategies: the built-in defaults, the shipped file, and every mistake named at once."""

from __future__ import annotations

from pathlib import Path

import pytest

from airflow_wecube.reconcile.strategies import AppStrategy, StrategyError, load_strategies, parse_strategies

REPO = Path(__file__).resolve().parents[3]


def test_defaults_create_update_ask_and_fix_the_record():
    s = parse_strategies(None)
    assert s.actions["route_table"] == {
        "missing": "create",
        "changed": "update",
        "extra": "ask",
        "stale_record": "update",
    }
    # a subnet cannot be updated in place, a VPC cannot change: the default asks
    assert s.action("subnet", "changed") == "ask" and s.action("vpc", "changed") == "ask"
    assert s.action("app_instance", "missing") == "create" and s.max_changes == 20
    assert not any(a in ("delete", "recreate") for per in s.actions.values() for a in per.values())


def test_the_shipped_file_is_valid_and_deletes_nothing():
    s = load_strategies(REPO / "dags" / "designs" / "strategies.yml")
    assert s.action("security_group", "extra") == "ask"
    assert s.apps["account-service"] == AppStrategy(desired="capacity", model="account_service", floor=2, ceiling=6)
    assert not any(a in ("delete", "recreate") for per in s.actions.values() for a in per.values())


def test_a_kind_may_say_delete_explicitly():
    s = parse_strategies({"kinds": {"security_group": {"extra": "delete"}, "subnet": {"changed": "recreate"}}})
    assert s.action("security_group", "extra") == "delete" and s.action("subnet", "changed") == "recreate"
    assert s.action("route_table", "extra") == "ask"


def test_every_mistake_is_named_with_where_it_is():
    bad = {
        "default": {"extra": "delete", "broken": "create"},
        "kinds": {"subnet": {"changed": "update", "extra": "destroy"}, "router": {"missing": "create"}},
        "apps": {"shop": {"desired": "capacity", "floor": 5, "ceiling": 2}, "web": {"desired": -1}},
        "max_changes": "many",
        "colour": "blue",
    }
    with pytest.raises(StrategyError) as e:
        parse_strategies(bad, "strategies.yml")
    text = str(e.value)
    for part in (
        "unknown key(s) colour",
        "default.extra: delete removes real things and is never a default",
        "default: unknown class 'broken'",
        "kinds.subnet.changed: update is not possible for subnet (a subnet's block cannot change in place",
        "kinds.subnet.extra: unknown action 'destroy'",
        "kinds: unknown kind 'router'",
        "apps.shop: desired: capacity needs model:",
        "apps.shop: floor 5 is above ceiling 2",
        "apps.web.desired must be record, capacity or an instance count, got -1",
        "max_changes must be an integer of at least 0, got 'many'",
    ):
        assert part in text, (part, text)


def test_a_file_that_is_not_yaml_or_absent(tmp_path):
    (tmp_path / "s.yml").write_text("kinds: [unclosed")
    with pytest.raises(StrategyError, match="is not YAML"):
        load_strategies(tmp_path / "s.yml")
    assert load_strategies(tmp_path / "absent.yml").action("subnet", "missing") == "create"
