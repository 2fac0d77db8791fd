"""A probe's fit becomes the capacity baseline only if the canary ran the probed version throughout
the probe (issue 25 item 3): checked with what a real Prometheus scraped from a real account service
in the sandbox, before and after another version replaced it under the probe."""

from __future__ import annotations

import time
from datetime import datetime, timezone

import pytest

from airflow_wecube.hooks.prometheus import PrometheusHook
from airflow_wecube.orchestrations.rollout import VERSION_METRIC, job_name
from airflow_wecube.orchestrations.rollout_steps import canary_problem, promote_baseline
from tests.fixtures.task_instance import FakeTI
from tests.integration.sandbox.helpers import one, outputs, uniq

pytestmark = pytest.mark.integration


def poll(check, timeout: float, what: str):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(0.2)
    raise AssertionError(f"timed out after {timeout}s waiting for {what}")


@pytest.fixture
def host(sandbox):
    vpc = one(sandbox, "/network/v1/vpc/create", name=uniq("vpc"), cidr="10.92.0.0/16", data_center="dc-baseline")
    subnet = one(sandbox, "/network/v1/subnet/create", name=uniq("sn"), vpc=vpc["guid"], zone="a", prefix_length=24)
    made = one(sandbox, "/host/v1/host/create", name=uniq("bl-host"), subnet=subnet["guid"])
    yield made
    outputs(sandbox.post("/host/v1/host/destroy", [{"callbackParameter": made["name"], "host": made["guid"]}]))


def scraped_until(prom: PrometheusHook, job: str, target: str, version: str, samples: int) -> datetime:
    """Wait until Prometheus holds ``samples`` scrapes of ``version`` from ``target``; that instant."""
    expr = f'count_over_time({VERSION_METRIC}{{job="{job}", instance="{target}", version="{version}"}}[1h])'
    poll(lambda: any(s["value"] >= samples for s in prom.query(expr)), 60, f"{samples} scrapes of {version}")
    return datetime.now(timezone.utc)


def test_a_canary_that_changed_version_under_the_probe_is_not_promoted(
    wecube_conn, plugin_registry, sandbox, host, prometheus, prometheus_conn
):
    app = uniq("bl-app")
    job = job_name(app)
    deployed = one(sandbox, "/deploy/v1/app/deploy", host=host["guid"], app=app, version="1.0.0", rate=5)
    prom = PrometheusHook()
    prom.register_targets(job, [deployed["target"]], confirm=True)
    start = scraped_until(prom, job, deployed["target"], "1.0.0", 1)
    end = scraped_until(prom, job, deployed["target"], "1.0.0", 4)
    probed = {
        "app_version": "1.0.0",
        "instances": [deployed["target"]],
        "start": start.isoformat(),
        "end": end.isoformat(),
    }
    assert canary_problem(prom, job, probed) is None

    # another run puts 2.0.0 on the canary while the probe still runs
    one(sandbox, "/deploy/v1/app/deploy", host=host["guid"], app=app, version="2.0.0", rate=5)
    end = scraped_until(prom, job, deployed["target"], "2.0.0", 2)
    changed = {**probed, "end": end.isoformat()}
    assert canary_problem(prom, job, changed) == (
        f"{deployed['target']} reported 1.0.0, 2.0.0 during the probe, not only 1.0.0"
    )

    def no_store():
        raise AssertionError("a fit the canary did not run throughout must not reach the store")

    ti = FakeTI(xcoms={"probe": {**changed, "version": "v0001", "model": "m"}})
    done = promote_baseline(ti, {"app": app}, store=no_store, prometheus=PrometheusHook)
    assert done == {"accepted": False, "reason": canary_problem(prom, job, changed)}
    assert canary_problem(prom, job, {**probed, "app_version": None}).startswith("the probe result does not say")
    one(sandbox, "/deploy/v1/app/stop", host=host["guid"], app=app)
