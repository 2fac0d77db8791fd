"""The reconcile against the real sandbox: drifts injected through the plugins' own interfaces, then
one run fixes what it may, asks about the extra one, survives a plugin failing mid-run (the failed
item is retried by the next run, with the same request ids on a task retry), and the next run finds
nothing to do. A dry run changes nothing."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
import requests

from airflow_wecube.hooks.plugin import WeCubePluginHook
from airflow_wecube.orchestrations import rollout_lock
from airflow_wecube.orchestrations.reconcile import accept, compare_now, hook_caller
from airflow_wecube.orchestrations.rollout import app_attributes
from airflow_wecube.reconcile.execute import FAILED, FIXED, apply
from airflow_wecube.reconcile.plan import plan
from airflow_wecube.reconcile.report import message, with_after
from airflow_wecube.reconcile.strategies import parse_strategies
from tests.integration.sandbox.helpers import one, query_ci, uniq

pytestmark = pytest.mark.integration
REPO = Path(__file__).resolve().parents[3]


def design(vpc: str) -> dict:
    return {
        "data_center": f"dc-{vpc}",
        "vpc": {"name": vpc, "cidr": "10.61.0.0/16"},
        "zones": ["a", "b"],
        "subnets": [{"tier": "web", "prefix_length": 24}, {"tier": "db", "prefix_length": 26}],
        "route_tables": [{"name": f"rt-{vpc}", "routes": [{"destination": "0.0.0.0/0", "target": "nat"}]}],
        "security_groups": [
            {
                "name": f"sg-{vpc}-web",
                "rules": [{"direction": "ingress", "protocol": "tcp", "port_range": "443", "cidr": "0.0.0.0/0"}],
            },
            {"name": f"sg-{vpc}-db", "rules": []},
        ],
    }


class World:
    """One design, one app on two hosts, and the reconcile's steps on them."""

    def __init__(self, sandbox, vpc: str, app: str):
        self.sandbox, self.vpc, self.app = sandbox, vpc, app
        self.design = design(vpc)
        self.hook = WeCubePluginHook(retry_limit=0)
        self.strategies = parse_strategies({"apps": {app: {"desired": "record"}}})

    def rows(self, predict=None) -> list[dict]:
        """Only this test's resources (the session's sandbox holds other tests' apps)."""
        now = compare_now(self.hook, self.design, self.strategies, predict=predict, running=lambda holder: True)
        self.accepted, self.state, self.rollouts = now["accepted"], now["state"], now["rollouts"]
        return [r for r in now["rows"] if r["kind"] != "app_instance" or r["app"] == self.app]

    def differences(self, predict=None) -> dict[str, str]:
        return {r["key"]: r["status"] for r in self.rows(predict) if r["status"] != "ok"}

    def run(self, request_id: str | None = None, *, predict=None, **guard) -> tuple[list[dict], list[dict]]:
        """One reconcile: compare, plan, apply, read again; ``(entries, calls)``."""
        rows = self.rows(predict)
        planned = plan(rows, self.strategies, accepted=self.accepted, rollouts=self.rollouts, **{"mode": "on", **guard})
        done, calls = apply(planned["entries"], hook_caller(self.hook), request_id=request_id or uniq("rc"))
        return with_after(done, self.rows(predict)), calls


@pytest.fixture
def world(sandbox, wecube_conn, plugin_registry):
    vpc = uniq("vpc-rc")
    app = uniq("rcapp")
    w = World(sandbox, vpc, app)
    # the first run builds the designed network from nothing: one call per kind and action
    entries, calls = w.run()
    assert {e["outcome"] for e in entries} == {FIXED}, message(entries)
    assert [c["service"] for c in calls] == [
        "cmdb/ci/create",
        "network/vpc/create",
        "network/subnet/create",
        "network/route-table/create",
        "network/security-group/create",
    ]
    assert [c["items"] for c in calls] == [1, 1, 4, 1, 2]
    # an app on two hosts, recorded as the rollout records it
    subnet = f"{vpc}-web-a"
    deployed = []
    for n in (1, 2):
        host = one(sandbox, "/host/v1/host/create", name=f"{app}-{n}", subnet=subnet)
        deployed.append(one(sandbox, "/deploy/v1/app/deploy", host=host["guid"], app=app, version="1.0.0"))
    ci = one(sandbox, "/cmdb/v1/ci/create", type="app", name=app)
    attrs = app_attributes({"app": app, "version": "1.0.0"}, deployed, [], {}, "manual__rollout")
    one(sandbox, "/cmdb/v1/ci/update", guid=ci["guid"], attributes=attrs)
    assert w.differences() == {}, [r for r in w.rows() if r["status"] != "ok"]
    yield w
    for n in range(1, 5):
        sandbox.post("/host/v1/host/destroy", [{"callbackParameter": "h", "host": f"{app}-{n}"}])


def drift(w: World) -> None:
    """Through the plugins' own interfaces: a subnet deleted, a route changed, a security group added,
    a host destroyed under a running instance, a CMDB record removed."""
    s, vpc = w.sandbox, w.vpc
    assert one(s, "/network/v1/subnet/delete", name=f"{vpc}-db-b")["deleted"] == "Y"
    one(
        s,
        "/network/v1/route-table/create",
        name=f"rt-{vpc}",
        vpc=vpc,
        routes=[{"destination": "0.0.0.0/0", "target": "internet"}],
    )
    one(s, "/network/v1/security-group/create", name=f"sg-{vpc}-stray", vpc=vpc, rules=[])
    assert one(s, "/host/v1/host/destroy", host=f"{w.app}-2")["destroyed"] == "Y"
    [record] = query_ci(s, "security_group", f"sg-{vpc}-db")
    assert one(s, "/cmdb/v1/ci/delete", guid=record["guid"])["deleted"] == "Y"


def test_one_run_fixes_the_fixable_asks_about_the_extra_and_the_next_is_a_no_op(world):
    w, vpc = world, world.vpc
    drift(w)
    expected = {
        f"subnet/{vpc}-db-b": "missing",
        f"route_table/rt-{vpc}": "changed",
        f"security_group/sg-{vpc}-stray": "extra",
        f"security_group/sg-{vpc}-db": "stale_record",
        f"app_instance/{w.app}@{w.app}-2": "missing",
    }
    assert w.differences() == expected

    # a dry run changes nothing and calls no plugin
    entries, calls = w.run(dry_run=True)
    assert calls == [] and {e["decision"] for e in entries} == {"dry_run"}
    assert {e["would"] for e in entries} == {"create", "update", "ask"}  # nobody is asked in a dry run
    assert w.differences() == expected

    entries, calls = w.run()
    by = {e["key"]: e for e in entries}
    assert by[f"security_group/sg-{vpc}-stray"]["decision"] == "ask"
    assert by[f"security_group/sg-{vpc}-stray"]["proposal"] == "delete"
    fixed = {k for k, e in by.items() if e.get("outcome") == FIXED}
    assert fixed == set(expected) - {f"security_group/sg-{vpc}-stray"}, message(entries)
    assert all(e["after"]["status"] == "ok" for k, e in by.items() if k in fixed)
    # one batched call per kind and action
    services = [c["service"] for c in calls]
    assert len(services) == len(set(services)), services
    # the instance runs again on a new host of the same name, and the app's record lists it
    [app_ci] = query_ci(w.sandbox, "app", w.app)
    [again] = [i for i in app_ci["attributes"]["instances"] if i["host"] == f"{w.app}-2"]
    assert requests.get(f"http://{again['target']}/health", timeout=5).status_code == 200
    # the record of the security group is the plugin's guid again
    [record] = query_ci(w.sandbox, "security_group", f"sg-{vpc}-db")
    [real] = one(w.sandbox, "/network/v1/security-group/query", name=f"sg-{vpc}-db")["items"]
    assert record["guid"] == real["guid"]

    assert w.differences() == {f"security_group/sg-{vpc}-stray": "extra"}
    # the person answers "Leave it": accepted, no longer asked about
    accept(w.hook, w.state, [f"security_group/sg-{vpc}-stray"], {"by": "pytest"})
    entries, calls = w.run()
    assert calls == [] and [e["decision"] for e in entries] == ["ignore"]


def test_a_plugin_failing_mid_run_leaves_nothing_half_done_and_the_next_run_retries(world, sandbox):
    w, vpc = world, world.vpc
    drift(w)
    # the subnet plugin is down for this run: its batch fails, the others go on
    r = requests.post(
        f"{sandbox.url}/sandbox/outages",
        json={"service": "network/subnet/create", "calls": 1},
        headers=sandbox.headers,
        timeout=10,
    )
    assert r.status_code == 200, r.text
    rid = uniq("rc-retry")
    planned = plan(w.rows(), w.strategies, mode="on")
    done, calls = apply(planned["entries"], hook_caller(w.hook), request_id=rid)
    entries = with_after(done, w.rows())
    by = {e["key"]: e for e in entries}
    failed = by[f"subnet/{vpc}-db-b"]
    assert failed["outcome"] == FAILED and "503" in failed["error"], failed
    assert by[f"route_table/rt-{vpc}"]["outcome"] == FIXED and by[f"route_table/rt-{vpc}"]["after"]["status"] == "ok"
    # nothing half done: no subnet, no record of one
    assert one(sandbox, "/network/v1/subnet/query", name=f"{vpc}-db-b")["items"] == []
    assert query_ci(sandbox, "subnet", f"{vpc}-db-b") == []
    assert "1 failed" in message(entries)

    # the task's retry applies the same plan with the same request ids: what succeeded is answered
    # from the plugins' first answers, the failed call runs again
    done, again = apply(planned["entries"], hook_caller(w.hook), request_id=rid)
    assert [c["request_id"] for c in again] == [c["request_id"] for c in calls]
    assert {e["key"]: e["outcome"] for e in done if e["decision"] == "act"} == {
        k: FIXED for k, e in by.items() if e["decision"] == "act"
    }
    answers = requests.get(
        f"{sandbox.url}/sandbox/answers", params={"request_id": f"{rid}-2"}, headers=sandbox.headers, timeout=10
    ).json()
    assert answers and answers[0]["replays"] >= 1, answers

    entries, calls = w.run()
    assert [e["key"] for e in entries] == [f"security_group/sg-{vpc}-stray"] and calls == []


def test_the_guard_rails_hold(world):
    w = world
    drift(w)
    entries, calls = w.run(mode="off")
    assert calls == [] and {e["decision"] for e in entries} == {"ask"}
    entries, calls = w.run(max_changes=2)
    assert calls == [] and "more than max_changes 2" in entries[0]["reason"]
    assert len(w.differences()) == 5


def test_an_app_that_rolls_out_is_left_to_the_rollout(world):
    w = world
    assert one(w.sandbox, "/host/v1/host/destroy", host=f"{w.app}-2")["destroyed"] == "Y"
    one(w.sandbox, "/network/v1/subnet/delete", name=f"{w.vpc}-db-b")
    run = "wecube_app_rollout/manual__rc"
    rollout_lock.claim(w.hook, w.app, run, version="1.1.0", now=time.time(), running=lambda holder: True)
    entries, calls = w.run()
    by_key = {e["key"]: e for e in entries}
    held = by_key[f"app_instance/{w.app}@{w.app}-2"]
    assert (
        held["decision"] == "ignore"
        and f"a rollout of {w.app} is in progress ({run} of version 1.1.0" in held["reason"]
    )
    assert by_key[f"subnet/{w.vpc}-db-b"]["outcome"] == FIXED  # the network is not the rollout's
    assert [c["service"] for c in calls] == ["network/subnet/create"]
    rollout_lock.release(w.hook, w.app, run)
    entries, calls = w.run()
    assert [(e["key"], e["outcome"]) for e in entries] == [(f"app_instance/{w.app}@{w.app}-2", FIXED)]


def test_a_higher_predicted_load_adds_an_instance(world):
    w = world
    w.strategies = parse_strategies({"apps": {w.app: {"desired": "capacity", "model": "m", "floor": 2, "ceiling": 4}}})
    low = lambda model: (30.0, 20.0)  # noqa: E731 - two instances carry 15 each
    assert w.differences(low) == {}
    high = lambda model: (55.0, 20.0)  # noqa: E731 - three are needed
    assert w.differences(high) == {f"app_instance/{w.app}@{w.app}-3": "missing"}
    entries, calls = w.run(predict=high)
    assert [e["outcome"] for e in entries] == [FIXED], message(entries)
    assert [c["service"] for c in calls] == ["host/host/create", "deploy/app/deploy", "cmdb/ci/update"]
    [app_ci] = query_ci(w.sandbox, "app", w.app)
    assert [i["host"] for i in app_ci["attributes"]["instances"]] == [f"{w.app}-{n}" for n in (1, 2, 3)]


def test_the_design_page_shows_the_same_differences_and_the_next_action(world, tmp_path, monkeypatch):
    import yaml

    from airflow_wecube.ui import designs

    w, vpc = world, world.vpc
    (tmp_path / "network.yml").write_text(yaml.safe_dump(w.design))
    # the page plans every difference of the session's sandbox (other tests' apps too): no limit on changes
    strategies = {"max_changes": 10000, "kinds": {"security_group": {"extra": "ask"}}}
    (tmp_path / "strategies.yml").write_text(yaml.safe_dump(strategies))
    monkeypatch.setenv("AIRFLOW__WECUBE__NETWORK_DESIGN", str(tmp_path / "network.yml"))
    monkeypatch.setenv("AIRFLOW__WECUBE__RECONCILE_STRATEGIES", str(tmp_path / "strategies.yml"))
    monkeypatch.setenv("AIRFLOW_VAR_WECUBE_AUTO_REMEDIATION", "on")  # the kill switch the page reads
    drift(w)
    r = designs.report()
    assert r["errors"] == [], r["errors"]
    rows = {n["key"]: n for n in r["network"] + r["instances"] if n["status"] != "ok"}
    page = {k: (n["status"], n["next"]) for k, n in rows.items() if not k.startswith("app_instance/") or w.app in k}
    assert page == {
        f"subnet/{vpc}-db-b": ("missing", "create"),
        f"route_table/rt-{vpc}": ("changed", "update"),
        f"security_group/sg-{vpc}-stray": ("extra", "ask a person (delete on yes)"),
        f"security_group/sg-{vpc}-db": ("stale_record", "update"),
        f"app_instance/{w.app}@{w.app}-2": ("missing", "create"),
    }
    assert r["summary"]["missing"] == 1 and r["summary"]["stale_record"] == 1
    # the page itself: each class and the next action, as text
    from airflow_wecube.ui.render import PAGES, env

    html = env.get_template("designs.html").render(
        root="/wecube", airflow="/", pages=PAGES, active="designs", pager=lambda listing: {}, r=r
    )
    assert f'data-key="security_group/sg-{vpc}-stray"' in html and "ask a person (delete on yes)" in html
    assert f'data-key="app_instance/{w.app}@{w.app}-2"' in html and "stale_record" in html

    # while a rollout of the app holds its lock, the page says the reconcile leaves its instances alone
    rollout_lock.claim(w.hook, w.app, "a-rollout", version="1.1.0", now=time.time(), running=lambda holder: True)
    r = designs.report()
    [row] = [n for n in r["instances"] if n["key"] == f"app_instance/{w.app}@{w.app}-2"]
    assert (row["status"], row["next"]) == ("missing", "ignore")
    rollout_lock.release(w.hook, w.app, "a-rollout")


def test_a_higher_real_load_makes_the_capacity_model_add_an_instance(world, prometheus, prometheus_conn, tmp_path):
    """The load the app really serves, scraped by a real Prometheus, through a recording rule standing in
    for the fitted model (``capacity:<model>:predicted`` = accounts opened per second), against the
    spec's limit: more load, one more instance."""
    import time

    import yaml

    from airflow_wecube.hooks.prometheus import PrometheusHook
    from airflow_wecube.orchestrations.reconcile import prometheus_predict
    from airflow_wecube.orchestrations.rollout import job_name

    w = world
    model = w.app.replace("-", "_")
    spec = yaml.safe_load((REPO / "dags" / "capacity" / "account_service.yml").read_text())
    (tmp_path / f"{model}.yml").write_text(yaml.safe_dump({**spec, "name": model, "limit": 25}))
    [app_ci] = query_ci(w.sandbox, "app", w.app)
    targets = [i["target"] for i in app_ci["attributes"]["instances"]]
    hook = PrometheusHook()
    job = job_name(w.app)
    hook.register_targets(job, targets, {"app": w.app}, confirm=True)
    expr = f'sum(rate(accounts_opened_total{{job="{job}"}}[5s]))'
    hook.apply_rule_group(f"capacity_{model}", [{"record": f"capacity:{model}:predicted", "expr": expr}])
    w.strategies = parse_strategies(
        {"apps": {w.app: {"desired": "capacity", "model": model, "floor": 2, "ceiling": 3}}}
    )
    predict = prometheus_predict(tmp_path)

    def load(rate: float) -> None:
        for n in (1, 2):
            one(w.sandbox, "/deploy/v1/app/load", host=f"{w.app}-{n}", app=w.app, open_rate=rate, close_rate=0)

    def settled(low: float, high: float) -> float:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            value = predict(model)[0]
            if value is not None and low <= value <= high:
                return value
            time.sleep(1)
        seen = {q: hook.query(q) for q in (f'up{{job="{job}"}}', expr, f"capacity:{model}:predicted")}
        raise AssertionError(f"the prediction did not reach {low}-{high}: {predict(model)}; {seen}")

    try:
        load(5)  # 10 a second: one instance would do, the floor keeps two
        settled(5, 20)
        assert w.differences(predict) == {}
        load(30)  # 60 a second against 25 per instance: three
        settled(51, 200)
        assert w.differences(predict) == {f"app_instance/{w.app}@{w.app}-3": "missing"}
        entries, calls = w.run(predict=predict)
        assert [e["outcome"] for e in entries] == [FIXED], message(entries)
        [app_ci] = query_ci(w.sandbox, "app", w.app)
        assert len(app_ci["attributes"]["instances"]) == 3
    finally:
        hook.delete_rule_group(f"capacity_{model}")
        hook.deregister_targets(job, targets)
