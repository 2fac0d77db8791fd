"""The rollout's rollback against the real sandbox (real account-service processes) and a real
Prometheus: what is put back is what was RELEASED (the app's CMDB record), never the sandbox's
``previous_version``. The three faults of issue 25 item 2, as a user met them, come first:

- a "Stop" at a canary that had crashed before the run stopped the serving canary and removed its
  Prometheus target as if it were a first deploy;
- a "Stop" at ``+transfers``, on a canary an earlier rollback had left on the rejected ``+slowclose``,
  put ``+slowclose`` back;
- a failed re-rollout of the released 1.0.0 rolled back to the rejected build.
"""

from __future__ import annotations

import json
import urllib.request

import pytest

from airflow_wecube.hooks.plugin import WeCubePluginHook
from airflow_wecube.hooks.prometheus import PrometheusHook
from airflow_wecube.orchestrations.rollback import RollbackError, read_before, roll_back
from airflow_wecube.orchestrations.rollout import job_name
from airflow_wecube.orchestrations.rollout_steps import record_app
from tests.integration.sandbox.helpers import one, outputs, query_ci, uniq

pytestmark = pytest.mark.integration


@pytest.fixture
def subnet(sandbox):
    vpc = one(sandbox, "/network/v1/vpc/create", name=uniq("vpc"), cidr="10.91.0.0/16", data_center="dc-rollback")
    return one(sandbox, "/network/v1/subnet/create", name=uniq("sn"), vpc=vpc["guid"], zone="a", prefix_length=24)


@pytest.fixture
def make_host(sandbox, subnet):
    made = []

    def make() -> dict:
        made.append(one(sandbox, "/host/v1/host/create", name=uniq("rb-host"), subnet=subnet["guid"]))
        return made[-1]

    yield make
    for h in made:
        outputs(sandbox.post("/host/v1/host/destroy", [{"callbackParameter": h["name"], "host": h["guid"]}]))


def deploy(sandbox, host: dict, app: str, version: str, **settings) -> dict:
    return one(sandbox, "/deploy/v1/app/deploy", host=host["guid"], app=app, version=version, rate=5, **settings)


def release(sandbox, app: str, version: str, hosts: list[dict], error_rate: float = 0.0) -> list[dict]:
    """What a rollout that went through leaves: the version on ``hosts``, scraped, and the app's CMDB record."""
    deployed = [deploy(sandbox, h, app, version, error_rate=error_rate) for h in hosts]
    targets = [d["target"] for d in deployed]
    PrometheusHook().register_targets(job_name(app), targets, confirm=False)
    params = {"app": app, "version": version, "rate": 5, "error_rate": error_rate}
    record_app(params, deployed, targets, {"group": job_name(app), "rules": []}, "manual__it", hook=WeCubePluginHook())
    return deployed


def health(target: str) -> dict | None:
    try:
        with urllib.request.urlopen(f"http://{target}/health", timeout=3) as r:
            return json.loads(r.read())
    except OSError:
        return None


def scraped(prometheus, app: str) -> set[str]:
    sd = prometheus.file_sd_dir / f"{job_name(app)}.json"
    return {t for group in json.loads(sd.read_text()) for t in group["targets"]} if sd.exists() else set()


def instance(sandbox, app: str, host: dict) -> dict:
    (ci,) = query_ci(sandbox, "app_instance", f"{app}@{host['name']}")
    return ci["attributes"]


def rollback(app: str, touched: list[dict], before: dict) -> tuple[list[str], list[str]]:
    return roll_back(
        WeCubePluginHook(), app=app, touched=[h["name"] for h in touched], before=before, prometheus=PrometheusHook
    )


def test_stop_at_a_canary_that_had_crashed_restores_the_release_and_keeps_its_target(
    wecube_conn, plugin_registry, sandbox, prometheus, prometheus_conn, make_host
):
    app = uniq("rb-crashed")
    h1, h2 = make_host(), make_host()
    released = release(sandbox, app, "1.0.0", [h1, h2])
    one(sandbox, "/deploy/v1/app/crash", host=h1["guid"], app=app)  # down when the run starts
    before = read_before(WeCubePluginHook(), app, [h1["name"], h2["name"]])
    assert before["released"] == {
        "version": "1.0.0",
        "hosts": sorted([h1["name"], h2["name"]]),
        "settings": {"rate": 5, "error_rate": 0.0},
    }
    deploy(sandbox, h1, app, "1.1.0+slowclose")  # the canary; then "Stop"

    actions, problems = rollback(app, [h1], before)
    assert problems == []
    assert actions == [f"{h1['name']}: rolled back from 1.1.0+slowclose to 1.0.0"]
    assert health(released[0]["target"])["version"] == "1.0.0"
    assert instance(sandbox, app, h1)["status"] == "running"
    assert scraped(prometheus, app) == {d["target"] for d in released}  # still monitored

    # a second rollback (a retried task) changes nothing: the released version runs already
    again, problems = rollback(app, [h1], before)
    assert problems == [] and again == [f"{h1['name']}: runs 1.0.0 (nothing to roll back)"]
    assert health(released[0]["target"])["version"] == "1.0.0"
    assert scraped(prometheus, app) == {d["target"] for d in released}


def test_stop_at_transfers_never_puts_back_the_rejected_slowclose(
    wecube_conn, plugin_registry, sandbox, prometheus, prometheus_conn, make_host
):
    app = uniq("rb-rejected")
    h1 = make_host()
    released = release(sandbox, app, "1.0.0", [h1])
    # an earlier run's canary on the rejected +slowclose, left stopped there (what the old rollback did)
    deploy(sandbox, h1, app, "1.1.0+slowclose")
    one(sandbox, "/deploy/v1/app/stop", host=h1["guid"], app=app)
    before = read_before(WeCubePluginHook(), app, [h1["name"]])
    canary = deploy(sandbox, h1, app, "1.1.0+transfers")
    assert canary["previous_version"] == "1.1.0+slowclose"  # what the sandbox would roll back to

    actions, problems = rollback(app, [h1], before)
    assert problems == [] and actions == [f"{h1['name']}: rolled back from 1.1.0+transfers to 1.0.0"]
    assert health(released[0]["target"])["version"] == "1.0.0"
    assert scraped(prometheus, app) == {released[0]["target"]}


def test_a_failed_rerollout_of_the_release_restores_it_with_its_settings(
    wecube_conn, plugin_registry, sandbox, prometheus, prometheus_conn, make_host
):
    app = uniq("rb-again")
    h1 = make_host()
    released = release(sandbox, app, "1.0.0", [h1])
    deploy(sandbox, h1, app, "1.1.0+slowclose")  # a rejected build ran there once
    one(sandbox, "/deploy/v1/app/stop", host=h1["guid"], app=app)
    deploy(sandbox, h1, app, "1.0.0")  # served the release again
    before = read_before(WeCubePluginHook(), app, [h1["name"]])
    rerun = deploy(sandbox, h1, app, "1.0.0", error_rate=0.5)  # the re-rollout; its error-rate gate fails
    assert rerun["previous_version"] == "1.1.0+slowclose" and rerun["changed"] == "Y"

    actions, problems = rollback(app, [h1], before)
    assert problems == [] and actions == [f"{h1['name']}: 1.0.0 started again with its released settings"]
    assert health(released[0]["target"])["version"] == "1.0.0"
    # the released settings are back: a deploy of the release with them changes nothing
    assert deploy(sandbox, h1, app, "1.0.0", error_rate=0.0)["changed"] == "N"


def test_a_first_deploy_is_removed_with_its_monitoring(
    wecube_conn, plugin_registry, sandbox, prometheus, prometheus_conn, make_host
):
    app = uniq("rb-first")
    h1 = make_host()
    before = read_before(WeCubePluginHook(), app, [h1["name"]])
    assert before == {"released": None, "instances": {}}
    deployed = deploy(sandbox, h1, app, "1.0.0")
    prom = PrometheusHook()
    prom.register_targets(job_name(app), [deployed["target"]], confirm=False)
    prom.apply_rule_group(job_name(app), [{"alert": "Down", "expr": f'up{{job="{job_name(app)}"}} == 0'}])

    actions, problems = rollback(app, [h1], before)
    assert problems == []
    assert actions == [
        f"{h1['name']}: stopped (first deploy, nothing to roll back to)",
        f"targets {deployed['target']} removed from Prometheus job {job_name(app)}",
        f"alert rule group {job_name(app)} removed",
    ]
    assert instance(sandbox, app, h1)["status"] == "stopped" and health(deployed["target"]) is None
    assert deployed["target"] not in scraped(prometheus, app)
    assert job_name(app) not in [g["name"] for g in prom.rule_groups()]


def test_a_new_host_of_a_released_app_is_removed_the_others_restored(
    wecube_conn, plugin_registry, sandbox, prometheus, prometheus_conn, make_host
):
    app = uniq("rb-grow")
    h1, h2 = make_host(), make_host()
    released = release(sandbox, app, "1.0.0", [h1])
    before = read_before(WeCubePluginHook(), app, [h1["name"], h2["name"]])
    new = [deploy(sandbox, h, app, "2.0.0") for h in (h1, h2)]
    PrometheusHook().register_targets(job_name(app), [new[1]["target"]], confirm=False)

    actions, problems = rollback(app, [h1, h2], before)
    assert problems == []
    assert actions == [
        f"{h1['name']}: rolled back from 2.0.0 to 1.0.0",
        f"{h2['name']}: stopped (first deploy, nothing to roll back to)",
        f"targets {new[1]['target']} removed from Prometheus job {job_name(app)}",
    ]  # the rule group stays: the release still runs
    assert health(released[0]["target"])["version"] == "1.0.0" and health(new[1]["target"]) is None
    assert scraped(prometheus, app) == {released[0]["target"]}


def test_a_host_that_served_without_a_release_serves_that_version_again(
    wecube_conn, plugin_registry, sandbox, make_host
):
    app = uniq("rb-byhand")
    h1 = make_host()
    deploy(sandbox, h1, app, "0.9.0")  # deployed by hand, never released by a rollout
    before = read_before(WeCubePluginHook(), app, [h1["name"]])
    deployed = deploy(sandbox, h1, app, "1.0.0")
    actions, problems = rollback(app, [h1], before)
    assert problems == [] and actions == [f"{h1['name']}: rolled back from 1.0.0 to 0.9.0"]
    assert health(deployed["target"])["version"] == "0.9.0"


def test_an_unreachable_cmdb_is_a_rollback_error(unreachable_wecube_conn, plugin_registry):
    with pytest.raises(RollbackError, match="could not read what was deployed on h1, h2: "):
        roll_back(WeCubePluginHook(), app="a", touched=["h1", "h2"], before={}, prometheus=PrometheusHook)
    with pytest.raises(RollbackError, match="could not read what a runs now from the CMDB: "):
        read_before(WeCubePluginHook(), "a", ["h1"])
