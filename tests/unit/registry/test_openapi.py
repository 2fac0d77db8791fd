"""OpenAPI 3 documents -> REST services through ``load_openapi``/``load_manifest``: package name
and version, detection, real and large documents, file-level refusals.

``TICKETS`` and its helpers are in tests/fixtures/openapi.py, shared with tests/unit/registry/openapi/
(one test module per source module) and tests/unit/cli.
"""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import pytest
import yaml

from airflow_wecube.exceptions import ManifestError
from airflow_wecube.registry import Registry, load_manifest
from airflow_wecube.registry.openapi import is_openapi, load_openapi
from tests.fixtures.openapi import TICKETS, inputs, refused


def test_package_and_version_defaults_and_overrides():
    pkg = load_openapi(TICKETS)
    assert (pkg.name, pkg.version) == ("ticket-desk", "2.3.0")
    pkg = load_openapi(TICKETS, package="desk", version="9.0.0")
    assert (pkg.name, pkg.version) == ("desk", "9.0.0")


def test_openapi_31_json_detected_by_its_key(tmp_path):
    doc = {
        "openapi": "3.1.0",
        "info": {"title": "t", "version": "1"},
        "servers": [{"url": "https://tickets.example/v1"}],
        "paths": {"/ping": {"get": {"operationId": "ping", "responses": {"200": {"description": "ok"}}}}},
    }
    f = tmp_path / "api.json"
    f.write_text(json.dumps(doc))
    pkg = load_manifest(f, package="ping")
    svc = pkg.services()["ping/api/ping"]
    assert svc.interface.rest.server_url == "https://tickets.example/v1"
    assert svc.interface.rest.auth.type == "bearer"  # no security declared: the connection's token
    assert is_openapi(f.read_bytes()) and is_openapi(TICKETS.encode())
    yml = tmp_path / "api.yaml"
    yml.write_text(TICKETS)
    assert load_manifest(yml, package="t").source_format == "openapi"


def test_airflow_rest_api_document_registers(tmp_path):
    """The real document of Airflow's own REST API, as the installed package ships it."""
    spec = importlib.util.find_spec("airflow")
    doc = Path(next(iter(spec.submodule_search_locations))) / "api_fastapi/core_api/openapi/v2-rest-api-generated.yaml"
    pkg = load_manifest(doc, package="airflow")
    svcs = pkg.services()
    assert len(svcs) > 100
    get_dag = svcs["airflow/DAG/get_dag"]
    assert get_dag.interface.http_method == "GET" and get_dag.interface.path == "/api/v2/dags/{dag_id}"
    assert [(p.name, p.location, p.required) for p in get_dag.interface.inputs] == [("dag_id", "path", True)]
    assert "is_paused" in {p.name for p in get_dag.interface.outputs}
    # Airflow's connection password has no format: password; its name marks it sensitive
    assert {p.name for p in svcs["airflow/Connection/post_connection"].interface.inputs if p.sensitive} == {"password"}
    list_dags = inputs(svcs["airflow/DAG/get_dags"])
    assert list_dags["limit"].json_schema["type"] == "integer" and list_dags["limit"].location == "query"
    registry = Registry(tmp_path / "reg")
    registry.register(pkg)
    assert registry.service("airflow/DAG/get_dag").interface.rest.auth.type == "bearer"


def test_many_operations_register(tmp_path):
    """2,000 operations (bench/README.md has the timing)."""
    paths = {
        f"/r{i}/{{id}}": {
            "get": {
                "operationId": f"op{i}",
                "tags": [f"t{i % 10}"],
                "parameters": [{"name": "id", "in": "path", "required": True, "schema": {"type": "string"}}],
                "responses": {"200": {"description": "ok"}},
            },
            "post": {
                "operationId": f"make{i}",
                "tags": [f"t{i % 10}"],
                "parameters": [{"name": "id", "in": "path", "required": True, "schema": {"type": "string"}}],
                "responses": {"200": {"description": "ok"}},
            },
        }
        for i in range(1000)
    }
    f = tmp_path / "big.yaml"
    f.write_text(yaml.safe_dump({"openapi": "3.0.0", "info": {"title": "big", "version": "1"}, "paths": paths}))
    pkg = load_manifest(f)
    assert len(pkg.services()) == 2000
    Registry(tmp_path / "reg").register(pkg)


# -- bad input: a clear error naming where, nothing returned ---------------------------------------------


def test_bad_version_and_package_names():
    assert "pass --version" in refused(TICKETS.replace("version: 2.3.0", "version: 2.3 beta"))
    assert "pass --package" in refused(TICKETS, package="../etc")


def test_oversized_file_refused_before_parsing(tmp_path):
    big = tmp_path / "huge.yaml"
    with big.open("wb") as f:
        f.write(b"openapi: 3.0.0\n")
        f.truncate(50 * 1024 * 1024)
    with pytest.raises(ManifestError, match="refused: file larger than"):
        load_manifest(big, package="x")


def test_package_option_only_for_openapi(tmp_path):
    f = tmp_path / "m.yaml"
    f.write_text("package: p\nversion: '1'\nplugins: [{name: a, interfaces: [{action: b, path: /b}]}]\n")
    with pytest.raises(ManifestError, match="--package applies to OpenAPI documents only"):
        load_manifest(f, package="x")
