"""``deploy/app/load`` and ``deploy/app/crash`` over real HTTP, on real account-service processes:
the load a flow sets is the volume the app's counters show; a crash leaves nothing that claims the
app runs, and deploying the same version again brings it back."""

from __future__ import annotations

import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
import requests

from airflow_wecube.capacity.spec import TARGET, load_spec
from airflow_wecube.exceptions import WeCubePluginError
from airflow_wecube.hooks.plugin import WeCubePluginHook
from airflow_wecube.hooks.prometheus import PrometheusHook
from airflow_wecube.orchestrations.rollout import job_name
from airflow_wecube.prometheus.errors import PrometheusNoSeriesError
from tests.integration.sandbox.helpers import metric_values, one, outputs, query_ci, services_on, uniq

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def host(sandbox):
    """One host; destroyed at the end, with no account service left on it."""
    vpc = one(sandbox, "/network/v1/vpc/create", name=uniq("vpc"), cidr="10.91.0.0/16", data_center="dc-control")
    subnet = one(sandbox, "/network/v1/subnet/create", name=uniq("sn"), vpc=vpc["guid"], zone="a", prefix_length=24)
    made = one(sandbox, "/host/v1/host/create", name=uniq("ctl-host"), subnet=subnet["guid"])
    yield made
    sandbox.post("/host/v1/host/destroy", [{"callbackParameter": "x", "host": made["guid"]}])
    assert services_on(made["port_base"]) == [] and services_on(made["port_base"] + 1) == []


def _volume(url: str, seconds: float) -> dict[str, float]:
    """Operations per second over ``seconds`` of wall time, from the app's own counters."""
    names = ("accounts_opened_total", "accounts_closed_total", "accounts_transferred_total")
    before, t0 = metric_values(url), time.monotonic()
    time.sleep(seconds)  # the span the rates are measured over
    after, t1 = metric_values(url), time.monotonic()
    return {name: (after[name] - before[name]) / (t1 - t0) for name in names}


def test_load_sets_each_rate_and_the_counters_follow(sandbox, host):
    app = uniq("load")
    out = one(sandbox, "/deploy/v1/app/deploy", host=host["name"], app=app, version="1.0.0+transfers", open_cost=0.5)
    try:
        assert metric_values(out["metrics_url"])["account_operation_cost_seconds:open"] == 0.0005
        got = one(
            sandbox, "/deploy/v1/app/load", host=host["guid"], app=app, open_rate=4, close_rate=16, transfer_rate="8"
        )
        assert (got["open_rate"], got["close_rate"], got["transfer_rate"], got["wave"]) == (4, 16, 8, 0)
        assert (got["transfers"], got["changed"], got["pid"], got["status"]) == ("Y", "Y", out["pid"], "running")
        volume = _volume(out["metrics_url"], 2.0)
        assert 2.5 <= volume["accounts_opened_total"] <= 5.5, volume
        assert 13 <= volume["accounts_closed_total"] <= 19, volume  # closes no longer follow opens
        assert 6 <= volume["accounts_transferred_total"] <= 10, volume
        # only some rates: the others are kept; the settings are the instance's, for its restarts
        again = one(sandbox, "/deploy/v1/app/load", host=host["name"], app=app, close_rate=1)
        assert (again["open_rate"], again["close_rate"], again["transfer_rate"]) == (4, 1, 8)
        same = one(sandbox, "/deploy/v1/app/load", host=host["name"], app=app, close_rate=1)
        assert same["changed"] == "N"
        values = metric_values(out["metrics_url"])
        assert (values["account_load_rate:open"], values["account_load_rate:close"]) == (4, 1)
    finally:
        one(sandbox, "/deploy/v1/app/stop", host=host["name"], app=app)


def test_load_of_a_build_without_transfers_performs_none(sandbox, host):
    app = uniq("plain")
    out = one(sandbox, "/deploy/v1/app/deploy", host=host["name"], app=app, version="1.0.0", rate=0)
    try:
        got = one(sandbox, "/deploy/v1/app/load", host=host["name"], app=app, transfer_rate=50)
        assert (got["transfer_rate"], got["transfers"]) == (0, "N")
        assert _volume(out["metrics_url"], 0.5)["accounts_transferred_total"] == 0
    finally:
        one(sandbox, "/deploy/v1/app/stop", host=host["name"], app=app)


def test_load_and_crash_fail_per_entity_with_the_reason(sandbox, host):
    app = uniq("bad")
    one(sandbox, "/deploy/v1/app/deploy", host=host["name"], app=app, version="1.0.0", rate=0)
    one(sandbox, "/deploy/v1/app/stop", host=host["name"], app=app)
    entities = [
        {"callbackParameter": "nohost", "host": "no-such-host", "app": app, "open_rate": 1},
        {"callbackParameter": "noapp", "host": host["name"], "app": "never-deployed", "open_rate": 1},
        {"callbackParameter": "stopped", "host": host["name"], "app": app, "open_rate": 1},
        {"callbackParameter": "range", "host": host["name"], "app": app, "open_rate": 501},
        {"callbackParameter": "nan", "host": host["name"], "app": app, "close_rate": "lots"},
        {"callbackParameter": "none", "host": host["name"], "app": app},
    ]
    out = {o["callbackParameter"]: o for o in outputs(sandbox.post("/deploy/v1/app/load", entities), code="1")}
    assert all(o["errorCode"] == "1" for o in out.values())
    assert "unknown host 'no-such-host'" in out["nohost"]["errorMessage"]
    assert out["noapp"]["errorMessage"] == f"app never-deployed was never deployed on host {host['name']}"
    assert f"app {app} on host {host['name']} is not running (status stopped" in out["stopped"]["errorMessage"]
    assert out["range"]["errorMessage"] == "input open_rate must be between 0 and 500 per second, got 501"
    assert "input close_rate must be a number" in out["nan"]["errorMessage"]
    assert "give at least one of open_rate, close_rate, transfer_rate or wave" in out["none"]["errorMessage"]
    crash = one(sandbox, "/deploy/v1/app/crash", code="1", host=host["name"], app=app)
    assert "is not running (status stopped" in crash["errorMessage"]


def _wait_status(sandbox, name: str, status: str, timeout: float = 10.0) -> dict:
    deadline = time.monotonic() + timeout
    while (attrs := query_ci(sandbox, "app_instance", name)[0]["attributes"])["status"] != status:
        assert time.monotonic() < deadline, f"{name} is still {attrs['status']}: {attrs}"
        time.sleep(0.1)
    return attrs


def test_crash_then_redeploy_of_the_same_version_brings_it_back(sandbox, host):
    """The remediation's path: crash → the CMDB says failed (no pid) → deploy the same version → healthy."""
    app = uniq("crash")
    name = f"{app}@{host['name']}"
    out = one(sandbox, "/deploy/v1/app/deploy", host=host["name"], app=app, version="1.0.0", rate=2)
    try:
        crashed = one(sandbox, "/deploy/v1/app/crash", host=host["guid"], app=app)
        assert (crashed["status"], crashed["pid"], crashed["changed"], crashed["exit_code"]) == ("failed", "", "Y", 70)
        assert services_on(out["port"]) == []
        attrs = query_ci(sandbox, "app_instance", name)[0]["attributes"]
        assert attrs["status"] == "failed" and "pid" not in attrs and "crashed on purpose" in attrs["message"]
        with pytest.raises(requests.ConnectionError):
            requests.get(out["health_url"], timeout=2)

        back = one(sandbox, "/deploy/v1/app/deploy", host=host["name"], app=app, version="1.0.0", rate=2)
        assert (back["status"], back["version"], back["changed"]) == ("running", "1.0.0", "Y")
        assert back["pid"] != out["pid"] and services_on(out["port"]) == [back["pid"]]
        assert back["previous_version"] == out["previous_version"]  # a redeploy is not an upgrade
        assert requests.get(back["health_url"], timeout=5).json()["pid"] == back["pid"]
        assert _wait_status(sandbox, name, "running")["pid"] == back["pid"]

        # a crash nobody asked the sandbox for (the app's own endpoint): noticed, recorded, no pid left
        assert requests.post(back["url"] + "/crash", timeout=5).status_code == 202
        attrs = _wait_status(sandbox, name, "failed")
        assert "pid" not in attrs and "exited with code 70" in attrs["message"], attrs
        assert services_on(out["port"]) == []
        again = one(sandbox, "/deploy/v1/app/deploy", host=host["name"], app=app, version="1.0.0", rate=2)
        assert again["status"] == "running" and again["changed"] == "Y"
    finally:
        one(sandbox, "/deploy/v1/app/stop", host=host["name"], app=app)
    assert services_on(out["port"]) == []


def test_the_capacity_specs_own_promql_sees_the_load_a_flow_sets(sandbox, host, prometheus, prometheus_conn):
    """deploy → load → Prometheus: dags/capacity/account_service.yml's target and features, on the
    app's own job, show the rates deploy/app/load set and a CPU that follows them."""
    app = uniq("spec")
    text = (Path(__file__).resolve().parents[3] / "dags" / "capacity" / "account_service.yml").read_text()
    spec = load_spec(text.replace(job_name("account-service"), job_name(app)))
    out = one(sandbox, "/deploy/v1/app/deploy", host=host["name"], app=app, version="1.0.0+transfers", rate=0)
    hook = PrometheusHook()
    try:
        hook.register_targets(job_name(app), [out["target"]])
        one(sandbox, "/deploy/v1/app/load", host=host["name"], app=app, open_rate=5, close_rate=20, transfer_rate=10)
        deadline, frame = time.monotonic() + 60, None
        while True:  # until Prometheus has 10 s of the new load in every series
            end = datetime.now(timezone.utc)
            try:
                frame = hook.query_range_frame(spec.candidate_queries(), end - timedelta(seconds=5), end, spec.step)
                last = frame.dropna().iloc[-1]
                if abs(last["accounts_closed"] - 20) <= 4:
                    break
            except (PrometheusNoSeriesError, IndexError):
                pass  # not scraped yet
            assert time.monotonic() < deadline, f"Prometheus never showed the load: {frame}"
            time.sleep(1)
        assert abs(last["accounts_opened"] - 5) <= 2 and abs(last["accounts_transferred"] - 10) <= 3, last
        # 1 ms per account opened, 2 ms per close, 1.5 ms per transfer: at 5, 20 and 10 a second 6 % of a
        # core, plus the process's own work. The same rate window as the counts, which may still be
        # filling with the new load: the CPU is held to the counts Prometheus shows, not to the set rates.
        cost = (last["accounts_opened"] * 1 + last["accounts_closed"] * 2 + last["accounts_transferred"] * 1.5) / 10
        assert 4 <= cost and 0.9 * cost <= last[TARGET] <= cost + 14, last
    finally:
        hook.deregister_targets(job_name(app), [out["target"]], confirm=False)
        one(sandbox, "/deploy/v1/app/stop", host=host["name"], app=app)


def test_a_flow_calls_load_and_crash_through_the_hook_like_any_plugin(wecube_conn, plugin_registry, sandbox, host):
    """The registered manifest declares both interfaces: WeCubePluginHook (what WeCubePluginOperator
    uses) calls them by service name, and a failed entity fails the call with its reason."""
    app = uniq("hook")
    one(sandbox, "/deploy/v1/app/deploy", host=host["name"], app=app, version="1.0.0", rate=0)
    hook, target = WeCubePluginHook(), {"callbackParameter": "c", "host": host["name"], "app": app}
    try:
        loaded = hook.call("deploy/app/load", {**target, "open_rate": 3})
        assert loaded.ok and loaded.outputs[0]["open_rate"] == 3 and loaded.outputs[0]["transfers"] == "N"
        crashed = hook.call("deploy/app/crash", target)
        assert crashed.ok and crashed.outputs[0]["status"] == "failed"
        with pytest.raises(WeCubePluginError, match=f"app {app} on host {host['name']} is not running"):
            hook.call("deploy/app/load", {**target, "open_rate": 3})
    finally:
        one(sandbox, "/deploy/v1/app/stop", host=host["name"], app=app)
