"""The WeCube section of the Airflow UI under a real ``airflow standalone``, after the two orchestrations.

Part one checks the access rules over HTTP (401 without a login, 403 without a permission, escaping,
no secret). Part two is a real browser: headless Chromium logs in through Airflow's login page,
opens each WeCube page from Airflow's nav and checks what it shows. The same run writes the
screenshots used in docs/ui.md (``docs/img/ui-*.png``).
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

import pytest
import requests

from tests.fixtures.standalone import NO_ROLE_USER

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(900)]

REPO = Path(__file__).resolve().parents[3]
DOC_IMAGES = REPO / "docs" / "img"
EVIL = "<script>document.title='pwned'</script>"
EVIL_MANIFEST = f"""
package: evil-docs
version: 1.0.0
plugins:
  - name: probe
    interfaces:
      - action: echo
        path: /faults/v1/fault/echo
        description: "{EVIL} shown as text"
        inputs:
          - {{name: secret_token, datatype: string, required: true, sensitive: true, description: "a secret input"}}
        outputs:
          - {{name: message}}
"""
JSON_ENDPOINTS = ("/wecube/api/plugins", "/wecube/api/inbox", "/wecube/api/capacity", "/wecube/api/cmdb",
                  "/wecube/api/designs", "/wecube/api/actions")
PAGES = ("/wecube/", "/wecube/inbox", "/wecube/capacity", "/wecube/cmdb", "/wecube/designs", "/wecube/actions")


@pytest.fixture(scope="module")
def world(orchestrations, tmp_path_factory):
    """After the orchestrations: a network built, a rollout waiting for approval, two capacity fits."""
    from airflow_wecube.capacity import pipeline
    from airflow_wecube.capacity.spec import load_spec
    from airflow_wecube.capacity.store import ModelStore
    from airflow_wecube.registry import Registry, load_manifest
    from tests.unit.capacity.synth import SPEC, make_frame

    sa = orchestrations.sa
    registry = Registry(sa.env.get("WECUBE_REGISTRY_PATH") or sa.dags_folder / "wecube_plugins")
    manifest = tmp_path_factory.mktemp("evil") / "evil.yaml"
    manifest.write_text(EVIL_MANIFEST)
    registry.register(load_manifest(manifest), replace=True)

    store = ModelStore(sa.env["AIRFLOW__WECUBE__CAPACITY_STORE"])
    spec = load_spec(SPEC)
    first = pipeline.run(spec, make_frame(), store)
    drifted = pipeline.run(spec, make_frame(1440, seed=7, closed_coef=0.35), store)

    net = sa.trigger("wecube_network_build")["dag_run_id"]
    orchestrations.wait_run("wecube_network_build", net, "success", timeout=240)
    rollout = sa.trigger("wecube_app_rollout", conf={"host_count": 1})["dag_run_id"]
    approval = orchestrations.wait_open("wecube_app_rollout", rollout)
    yield {"sa": sa, "network_run": net, "rollout_run": rollout, "approval": approval,
           "baseline": first["version"], "drifted": drifted["version"], "secret": orchestrations.sandbox.token}
    try:  # leave nothing parked for other tests: reject the rollout
        sa.client("alice").respond("wecube_app_rollout", rollout, "approve", "Reject")
    except Exception:
        pass


def _get(sa, path: str, user: str | None = None, **params) -> requests.Response:
    headers = {}
    if user:
        r = requests.post(f"{sa.url}/auth/token", json={"username": user, "password": sa.password(user)}, timeout=30)
        r.raise_for_status()
        headers["Authorization"] = f"Bearer {r.json()['access_token']}"
    return requests.get(sa.url + path, headers=headers, params=params, timeout=60)


def test_every_page_and_json_twin_needs_a_login_and_a_permission(world):
    sa = world["sa"]
    for path in (*JSON_ENDPOINTS, *PAGES):
        assert _get(sa, path).status_code == 401, path
        assert _get(sa, path, NO_ROLE_USER).status_code == 403, path
        assert _get(sa, path, "admin").status_code == 200, path


def test_json_twins_show_the_runs_data_and_no_secret(world):
    sa = world["sa"]
    plugins = _get(sa, "/wecube/api/plugins", "admin", limit=500).json()
    names = {r["service"] for r in plugins["items"]}
    assert {"cmdb/ci/query", "network/vpc/create", "deploy/app/deploy"} <= names
    assert plugins["total"] == len(plugins["items"])
    detail = _get(sa, "/wecube/api/plugins/service", "admin", name="network/subnet/create").json()
    assert detail["last_calls"] and detail["last_calls"][0]["dag_id"] == "wecube_network_build"
    assert detail["last_calls"][0]["state"] == "success"

    inbox = _get(sa, "/wecube/api/inbox", "admin").json()
    assert ("wecube_app_rollout", world["rollout_run"], "approve") in {
        (r["dag_id"], r["run_id"], r["task_id"]) for r in inbox["items"]}

    capacity = _get(sa, "/wecube/api/capacity", "admin").json()
    [model] = capacity["items"]
    assert model["baseline_version"] == world["baseline"]
    assert model["baseline"]["formula"].startswith("cpu% = 0.145*accounts_opened + 0.267*accounts_closed")
    assert model["drift"][0]["version"] == world["drifted"] and model["drift"][0]["found"] is True

    subnets = _get(sa, "/wecube/api/cmdb", "admin", type="subnet").json()
    assert {s["name"] for s in subnets["items"]} >= {"vpc-sz-prod-web-sz-a", "vpc-sz-prod-db-sz-b"}
    designs = _get(sa, "/wecube/api/designs", "admin").json()
    assert designs["errors"] == [] and designs["summary"]["missing"] == 0, designs
    assert designs["summary"]["ok"] == len(designs["network"])

    actions = _get(sa, "/wecube/api/actions", "admin").json()
    assert actions["items"] == [] and actions["total"] == 0

    everything = json.dumps([plugins, detail, inbox, capacity, subnets, designs])
    assert world["secret"] not in everything


def test_text_from_manifests_is_escaped(world):
    page = _get(world["sa"], "/wecube/", "admin", q="evil-docs").text
    assert "&lt;script&gt;document.title" in page and EVIL not in page
