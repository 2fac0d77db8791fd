"""The rollout's canary capacity probe end to end (real DAG under ``airflow standalone``, the sandbox,
a real Prometheus scraping every 1 s): 1.0.0 passes and its fit becomes the baseline; 1.1.0+slowclose
(closing costs twice as much) is stopped at the canary, the evidence names the close coefficient,
and "Stop" rolls the canary back while the other host keeps running 1.0.0 untouched."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from airflow_wecube.capacity.store import ModelStore
from tests.e2e.orchestrations.conftest import ROLLOUT

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(600)]

REPO = Path(__file__).resolve().parents[3]
APP, SPEC = "e2e-canary", "e2e_canary"
CONF = {
    "app": APP,
    "host_count": 2,
    "subnet": "e2e-canary-subnet",
    "rate_window": "5s",
    "capacity_spec": SPEC,
    "scrape_interval": 1,  # the test Prometheus scrapes every second: a probe of 8 steps × 4 s
}


@pytest.fixture(scope="module")
def canary_world(orchestrations):
    """A subnet, and the demo's capacity spec on this app's Prometheus job beside the standalone's DAGs."""
    o = orchestrations
    o.plugin(
        "/network/v1/vpc/create",
        [{"callbackParameter": "v", "name": "e2e-canary-vpc", "cidr": "10.98.0.0/16", "data_center": "e2e-dc"}],
    )
    o.plugin(
        "/network/v1/subnet/create",
        [
            {
                "callbackParameter": "s",
                "name": CONF["subnet"],
                "vpc": "e2e-canary-vpc",
                "zone": "z1",
                "prefix_length": 24,
            }
        ],
    )
    text = (REPO / "dags" / "capacity" / "account_service.yml").read_text()
    text = text.replace("name: account_service", f"name: {SPEC}").replace(
        "wecube_app_account-service", f"wecube_app_{APP}"
    )
    folder = o.sa.dags_folder / "capacity"
    folder.mkdir(exist_ok=True)
    (folder / f"{SPEC}.yml").write_text(text)
    return ModelStore(o.sa.env["AIRFLOW__WECUBE__CAPACITY_STORE"])


def rollout(o, version: str) -> str:
    run_id = o.sa.trigger(ROLLOUT, {**CONF, "version": version})["dag_run_id"]
    o.wait_open(ROLLOUT, run_id)
    o.sa.client("alice").respond(ROLLOUT, run_id, "approve", "Approve", {"comment": "go"})
    return run_id


def health(target: str) -> dict:
    import urllib.request

    with urllib.request.urlopen(f"http://{target}/health", timeout=5) as r:
        return json.loads(r.read())


def test_canary_probe_passes_then_stops_a_slower_close(orchestrations, canary_world):
    o, store = orchestrations, canary_world
    model = f"{SPEC}_canary"

    # 1.0.0: the first release, probed on the canary alone, passes; its fit becomes the baseline
    first = rollout(o, "1.0.0")
    o.wait_run(ROLLOUT, first, "success", timeout=240)
    states = o.states(ROLLOUT, first)
    assert states["probe"] == "success" and states["probe_ok"] == "success"
    assert states["probe_decision"] == "skipped" and states["promote_baseline"] == "success"
    probe = o.sa.client().xcom(ROLLOUT, first, "probe")
    assert probe["verdict"] == "pass" and probe["app_version"] == "1.0.0"
    assert store.baseline_version(model) == probe["version"]
    canary_calls = [
        c
        for c in o.sandbox.calls()
        if c["serviceName"] == "deploy/app/deploy" and any(i.get("app") == APP for i in c["inputs"])
    ]
    assert [len(c["inputs"]) for c in canary_calls] == [1, 2]  # the canary alone, then every host
    before = {d["host"]: d for d in o.sa.client().xcom(ROLLOUT, first, "deploy")}

    # 1.1.0+slowclose: a regression of the close cost, shown in the Required Actions inbox
    second = rollout(o, "1.1.0+slowclose")
    detail = o.wait_open(ROLLOUT, second, "probe_decision", timeout=240)
    assert "Capacity regression of e2e-canary 1.1.0+slowclose" in detail["subject"]
    assert "**REGRESSION**" in detail["body"] and "coefficient accounts_closed rose" in detail["body"]
    assert detail["options"] == ["Continue anyway", "Stop"]
    o.sa.client("bob").respond(ROLLOUT, second, "probe_decision", "Stop", {"comment": "closing must not get dearer"})
    o.wait_run(ROLLOUT, second, "failed", timeout=120)

    states = o.states(ROLLOUT, second)
    assert states["probe_decision"] == "failed" and states["deploy"] == "upstream_failed"
    assert states["rollback"] == "success" and states["report_failure"] == "failed"
    message = o.sa.client().xcom(ROLLOUT, second, "report_failure", key="message")
    head = message.splitlines()[0]
    assert head.startswith(
        "rollout of e2e-canary 1.1.0+slowclose failed at probe_decision: capacity probe of the canary "
    ), message
    assert "regression (accounts_closed): coefficient accounts_closed rose" in head
    assert "stopped: Rejected by bob: closing must not get dearer" in head
    assert "Rollback: e2e-canary-1: rolled back from 1.1.0+slowclose to 1.0.0." in message
    # the canary runs 1.0.0 again; the other host was never touched (same process)
    assert health(before["e2e-canary-1"]["target"])["version"] == "1.0.0"
    assert health(before["e2e-canary-2"]["target"]) == {
        "status": "ok",
        "version": "1.0.0",
        "pid": before["e2e-canary-2"]["pid"],
    }
    # the baseline is still 1.0.0's fit; the regressed fit is kept as evidence, with its report
    assert store.baseline_version(model) == probe["version"]
    slow = o.sa.client().xcom(ROLLOUT, second, "probe")
    assert slow["verdict"] == "regression" and slow["coefficients"] == ["accounts_closed"]
    assert Path(slow["report"]).read_text().startswith("## Capacity probe: e2e_canary_canary 1.1.0+slowclose")


def scraped(o) -> set[str]:
    sd = o.prometheus.file_sd_dir / f"wecube_app_{APP}.json"
    return {t for group in json.loads(sd.read_text()) for t in group["targets"]} if sd.exists() else set()


def test_rollbacks_restore_the_release_and_one_rollout_of_an_app_runs_at_a_time(orchestrations, canary_world):
    """After the test above (1.0.0 released, +slowclose stopped at the canary): issue 25 items 2 and 3."""
    o = orchestrations
    [app_ci] = o.cmdb("app", name=APP)
    assert app_ci["attributes"]["version"] == "1.0.0"
    targets = {i["host"]: i["target"] for i in app_ci["attributes"]["instances"]}
    canary, other = f"{APP}-1", f"{APP}-2"
    pid = health(targets[other])["pid"]

    # the canary crashed before the next run; the sandbox remembers the rejected +slowclose as its
    # previous version: a failed canary deploy must put back the release, and keep it monitored
    o.plugin("/deploy/v1/app/crash", [{"callbackParameter": "c", "host": canary, "app": APP}])
    broken = rollout(o, "1.2.0-broken")
    o.wait_run(ROLLOUT, broken, "failed", timeout=180)
    states = o.states(ROLLOUT, broken)
    assert states["deploy_canary"] == "failed" and states["rollback"] == "success"
    summary = o.sa.client().xcom(ROLLOUT, broken, "rollback")
    assert summary["actions"] == [f"{canary}: rolled back from 1.2.0-broken to 1.0.0"]
    assert health(targets[canary])["version"] == "1.0.0"
    assert health(targets[other]) == {"status": "ok", "version": "1.0.0", "pid": pid}
    assert scraped(o) == set(targets.values())

    # a re-rollout of the released 1.0.0 whose error-rate gate fails; a second run of the app meanwhile
    # is refused at its first task, naming the run in progress
    again = o.sa.trigger(ROLLOUT, {**CONF, "version": "1.0.0", "probe": False, "error_rate": 0.5})["dag_run_id"]
    o.wait_open(ROLLOUT, again)
    second = o.sa.trigger(ROLLOUT, {**CONF, "version": "1.3.0"})["dag_run_id"]
    o.wait_run(ROLLOUT, second, "failed", timeout=120)
    assert o.states(ROLLOUT, second)["create_hosts"] == "upstream_failed"
    message = o.sa.client().xcom(ROLLOUT, second, "report_failure", key="message")
    assert message.startswith(
        f"rollout of {APP} 1.3.0 failed at host_requests: another rollout of {APP} is in progress: "
        f"wecube_app_rollout/{again} of version 1.0.0, since "
    ), message
    o.sa.client("alice").respond(ROLLOUT, again, "approve", "Approve", {"comment": "again"})
    o.wait_run(ROLLOUT, again, "failed", timeout=240)
    states = o.states(ROLLOUT, again)
    assert states["gate_error_rate"] == "failed" and states["rollback"] == "success"
    summary = o.sa.client().xcom(ROLLOUT, again, "rollback")
    assert summary["actions"] == [f"{h}: 1.0.0 started again with its released settings" for h in (canary, other)]
    for target in targets.values():
        assert health(target)["version"] == "1.0.0"
    assert scraped(o) == set(targets.values())
    # the run gave the app's rollout lock back
    [lock] = o.cmdb("rollout_lock", name=APP)
    assert "holder" not in lock["attributes"], lock
