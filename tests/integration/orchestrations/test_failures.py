"""airflow_wecube.orchestrations.failures.release_hosts against the real sandbox: hosts destroyed, addresses freed."""

from __future__ import annotations

import pytest

from airflow_wecube.hooks.plugin import WeCubePluginHook
from airflow_wecube.orchestrations.failures import release_hosts

pytestmark = pytest.mark.integration


def _outputs(r) -> list[dict]:
    body = r.json()
    assert body["resultCode"] == "0", body
    return body["results"]["outputs"]


@pytest.fixture
def subnet(sandbox) -> str:
    _outputs(
        sandbox.post(
            "/network/v1/vpc/create",
            [{"callbackParameter": "v", "name": "it-rel-vpc", "cidr": "10.77.0.0/16", "data_center": "it-rel-dc"}],
        )
    )
    _outputs(
        sandbox.post(
            "/network/v1/subnet/create",
            [
                {
                    "callbackParameter": "s",
                    "name": "it-rel-subnet",
                    "vpc": "it-rel-vpc",
                    "zone": "z1",
                    "prefix_length": 24,
                }
            ],
        )
    )
    return "it-rel-subnet"


def test_release_destroys_the_hosts_and_frees_their_addresses(wecube_conn, plugin_registry, sandbox, subnet):
    hosts = _outputs(
        sandbox.post(
            "/host/v1/host/create",
            [{"callbackParameter": n, "name": n, "subnet": subnet} for n in ("it-rel-1", "it-rel-2")],
        )
    )
    summary = release_hosts(WeCubePluginHook(), hosts)
    assert summary["problems"] == [] and summary["not_released"] == []
    assert [(r["name"], r["ip"]) for r in summary["released"]] == [(h["name"], h["ip"]) for h in hosts]
    q = sandbox.post("/cmdb/v1/ci/query", [{"callbackParameter": "q", "type": "host", "name": "it-rel-1"}])
    assert _outputs(q)[0]["items"][0]["attributes"]["status"] == "destroyed"
    # the addresses are free again: a new host gets the first one back
    again = _outputs(
        sandbox.post("/host/v1/host/create", [{"callbackParameter": "x", "name": "it-rel-3", "subnet": subnet}])
    )
    assert again[0]["ip"] == hosts[0]["ip"]
    assert release_hosts(WeCubePluginHook(), again)["released"][0]["name"] == "it-rel-3"
    assert release_hosts(WeCubePluginHook(), []) == {"released": [], "problems": [], "not_released": []}


def test_release_reports_what_it_could_not_release(unreachable_wecube_conn, plugin_registry, sandbox):
    # nothing listens there: the plugin is unreachable, release says so and does not raise
    summary = release_hosts(WeCubePluginHook(), [{"name": "it-rel-gone", "guid": "ci-none", "ip": "10.77.0.9"}])
    assert summary["released"] == [] and summary["not_released"] == ["it-rel-gone"]
    assert "host/host/destroy" in summary["problems"][0]
