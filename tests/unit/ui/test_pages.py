"""The pages' content and safety, with Airflow's permission checks stubbed (tests/e2e run the real ones)."""

from __future__ import annotations

import pytest

from airflow_wecube.registry import load_manifest

EVIL = "<script>alert(1)</script>"


@pytest.fixture
def evil_registry(plugin_registry, tmp_path):
    path = tmp_path / "evil.yaml"
    path.write_text(
        "package: evil\nversion: 1.0.0\nplugins:\n  - name: p\n    interfaces:\n      - action: a\n"
        "        path: /evil/a\n"
        f'        description: "{EVIL}"\n'
        "        inputs:\n          - {name: pw, sensitive: true, required: true, description: '<b>x</b>'}\n"
    )
    plugin_registry.register(load_manifest(path), replace=True)
    yield plugin_registry
    plugin_registry.remove("evil")


def test_plugins_page_escapes_manifest_text(ui_client, evil_registry):
    page = ui_client.get("/", params={"q": "evil"}).text
    assert EVIL not in page and "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    detail = ui_client.get("/service", params={"name": "evil/p/a"})
    assert detail.status_code == 200
    assert "<b>x</b>" not in detail.text and "&lt;b&gt;x&lt;/b&gt;" in detail.text
    assert "sensitive · masked" in detail.text


def test_plugins_json_is_paginated_with_typed_parameters(ui_client, plugin_registry):
    first = ui_client.get("/api/plugins", params={"limit": 2}).json()
    assert first["offset"] == 0 and first["limit"] == 2 and len(first["items"]) == 2
    assert first["total"] == len(plugin_registry.services())
    rest = ui_client.get("/api/plugins", params={"limit": 500, "offset": 2}).json()
    assert len(rest["items"]) == first["total"] - 2
    cred = next(r for r in ui_client.get("/api/plugins", params={"q": "credential"}).json()["items"])
    password = next(p for p in cred["inputs"] if p["name"] == "password")
    assert password == {**password, "datatype": "string", "required": True, "sensitive": True}
    assert {p["package"] for p in first["packages"]} >= {"cmdb", "network"}


def test_bad_paging_and_unknown_service_are_clear_errors(ui_client):
    assert ui_client.get("/api/plugins", params={"limit": 0}).status_code == 422
    assert ui_client.get("/api/plugins", params={"offset": -1}).status_code == 422
    r = ui_client.get("/api/plugins/service", params={"name": "nope/x/y"})
    assert r.status_code == 404 and "nope/x/y" in r.json()["detail"]


def test_capacity_without_a_store_says_how_to_configure_it(ui_client, monkeypatch):
    monkeypatch.delenv("AIRFLOW__WECUBE__CAPACITY_STORE", raising=False)
    body = ui_client.get("/api/capacity").json()
    assert body["items"] == [] and "capacity_store" in body["error"]
    assert "capacity_store" in ui_client.get("/capacity").text


def test_capacity_shows_formula_intervals_and_drift(ui_client, monkeypatch, tmp_path):
    from airflow_wecube.capacity import pipeline
    from airflow_wecube.capacity.spec import load_spec
    from airflow_wecube.capacity.store import ModelStore
    from tests.unit.capacity.synth import SPEC, make_frame

    store = ModelStore(tmp_path / "store")
    spec = load_spec(SPEC)
    first = pipeline.run(spec, make_frame(), store)
    drifted = pipeline.run(spec, make_frame(1440, seed=7, closed_coef=0.35), store)
    monkeypatch.setenv("AIRFLOW__WECUBE__CAPACITY_STORE", str(tmp_path / "store"))
    [model] = ui_client.get("/api/capacity").json()["items"]
    assert model["baseline_version"] == first["version"]
    assert model["baseline"]["formula"] == first["formula"]
    ci = model["baseline"]["coefficients"]["accounts_closed"]
    assert ci["ci_low"] < 0.267 < ci["ci_high"]
    assert [d["version"] for d in model["drift"]] == [drifted["version"]] and model["drift"][0]["found"]
    assert [v["status"] for v in model["versions"]] == ["drift", "baseline"]
    page = ui_client.get("/capacity").text
    assert first["formula"] in page and "95 % interval" in page and "drift" in page
    plot = ui_client.get("/capacity/plot", params={"model": "ledger_cpu", "version": first["version"]})
    assert plot.status_code == 200 and plot.content[:8] == b"\x89PNG\r\n\x1a\n"
    assert ui_client.get("/capacity/plot", params={"model": "ledger_cpu", "version": "../x"}).status_code == 404
    one = ui_client.get("/api/capacity", params={"model": "ledger_cpu", "limit": 1}).json()
    assert one["total"] == 2 and [v["version"] for v in one["items"]] == [drifted["version"]]
    assert ui_client.get("/api/capacity", params={"model": "nope"}).status_code == 404


def test_cmdb_masks_secret_looking_attributes():
    from airflow_wecube.ui.cmdb import masked

    ci = {"name": "db", "attributes": {"password": "hunter2", "nested": [{"api_key": "k"}], "port": 5432, "token": ""}}
    assert masked(ci) == {
        "name": "db",
        "attributes": {"password": "***", "nested": [{"api_key": "***"}], "port": 5432, "token": ""},
    }


def test_network_comparison_names_missing_extra_and_changed():
    from airflow_wecube.ui.designs import compare_network

    expected = [
        {"kind": "data_center", "name": "dc", "attrs": {}},
        {"kind": "vpc", "name": "v", "attrs": {"cidr": "10.0.0.0/16", "data_center": "dc"}},
        {"kind": "subnet", "name": "v-web-a", "parent": "v", "attrs": {"zone": "a", "prefix_length": 24}},
        {"kind": "subnet", "name": "v-web-b", "parent": "v", "attrs": {"zone": "b", "prefix_length": 24}},
    ]
    actual = {
        "data_center": [{"guid": "g0", "name": "dc", "attributes": {}}],
        "vpc": [{"guid": "g1", "name": "v", "attributes": {"cidr": "10.0.0.0/16", "data_center": "dc"}}],
        "subnet": [
            {"guid": "g2", "name": "v-web-a", "attributes": {"vpc": "v", "zone": "a", "cidr": "10.0.0.0/25"}},
            {"guid": "g3", "name": "v-old-a", "attributes": {"vpc": "v", "zone": "a", "cidr": "10.0.9.0/24"}},
            {"guid": "g4", "name": "other", "attributes": {"vpc": "elsewhere", "zone": "a", "cidr": "10.9.0.0/24"}},
        ],
    }
    rows = {r["name"]: r for r in compare_network(expected, actual)}
    assert {n: r["status"] for n, r in rows.items()} == {
        "dc": "ok",
        "v": "ok",
        "v-web-a": "changed",
        "v-web-b": "missing",
        "v-old-a": "extra",
    }
    assert rows["v-web-a"]["diff"] == [{"attribute": "prefix_length", "designed": 24, "actual": 25}]
