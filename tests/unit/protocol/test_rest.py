"""Request building and validation for REST services (pure: no server, no Airflow)."""

from __future__ import annotations

import json

import pytest

from airflow_wecube.exceptions import ParameterValidationError, WeCubePluginError
from airflow_wecube.protocol.rest import base_url, build_request, encode_path_value, prepare_rest
from airflow_wecube.registry.openapi import load_openapi

DOC = {
    "openapi": "3.1.0",
    "info": {"title": "files", "version": "1.0.0"},
    "components": {"securitySchemes": {"q": {"type": "apiKey", "in": "query", "name": "api_key"}}},
    "paths": {
        "/buckets/{bucket}/files/{name}": {
            "parameters": [
                {"name": "bucket", "in": "path", "required": True, "schema": {"type": "string"}},
                {"name": "name", "in": "path", "required": True, "schema": {"type": "string"}},
            ],
            "get": {
                "operationId": "getFile",
                "security": [{"q": []}],
                "parameters": [
                    {"name": "tag", "in": "query", "schema": {"type": "array", "items": {"type": "string"}}},
                    {"name": "flat", "in": "query", "schema": {"type": "boolean"}},
                    {"name": "X-Token", "in": "header", "schema": {"type": "string", "format": "password"}},
                ],
                "responses": {"200": {"description": "ok"}},
            },
            "post": {
                "operationId": "putFile",
                "requestBody": {
                    "required": True,
                    "content": {
                        "application/json": {
                            "schema": {
                                "type": "object",
                                "required": ["name", "size"],
                                "properties": {
                                    "name": {"type": "string"},
                                    "size": {"type": "integer", "minimum": 0},
                                    "meta": {
                                        "type": "object",
                                        "properties": {"owner": {"type": "string", "format": "email"}},
                                        "additionalProperties": False,
                                    },
                                },
                            }
                        }
                    },
                },
                "responses": {"200": {"description": "ok"}},
            },
        },
        "/raw": {
            "patch": {
                "operationId": "rawText",
                "requestBody": {"content": {"text/plain": {"schema": {"type": "string"}}}},
                "responses": {"204": {"description": "ok"}},
            },
        },
    },
}


@pytest.fixture(scope="module")
def svcs():
    return load_openapi(json.dumps(DOC), package="files").services()


def test_path_values_cannot_add_or_climb_segments():
    assert encode_path_value("a/b") == "a%2Fb"
    assert encode_path_value("..") == "%2E%2E"
    assert encode_path_value(".") == "%2E"
    assert encode_path_value("../x") == "..%2Fx"  # one segment named '..%2Fx', not a climb
    assert encode_path_value("a b?c#d%") == "a%20b%3Fc%23d%25"
    assert encode_path_value("report.v2.csv") == "report.v2.csv"


def test_get_request_path_query_header_and_api_key(svcs):
    svc = svcs["files/api/getFile"]
    entity = prepare_rest(svc, {"bucket": "b/1", "name": "..", "tag": ["x", "y z"], "flat": True, "X-Token": "s3"})[0]
    req = build_request(svc, entity, base="http://h:1/v1", api_key="K&1", idempotency_key="rid")
    assert req.method == "GET"
    assert req.url == "http://h:1/v1/buckets/b%2F1/files/%2E%2E?tag=x&tag=y+z&flat=true&api_key=K%261"
    assert req.headers == {"X-Token": "s3"}  # declared header; no Idempotency-Key on a GET; key in the query only
    assert req.json is None and not req.has_body
    assert svc.interface.sensitive_inputs == {"X-Token"}


def test_post_body_properties_clash_and_idempotency(svcs):
    svc = svcs["files/api/putFile"]
    names = {p.name: (p.location, p.wire_name) for p in svc.interface.inputs}
    assert names["name"] == ("path", None) and names["body_name"] == ("body", "name")
    entity = prepare_rest(svc, {"bucket": "b", "name": "f", "body_name": "g", "size": 3})[0]
    req = build_request(svc, entity, base="http://h", idempotency_key="rid-1")
    assert req.url == "http://h/buckets/b/files/f"
    assert req.json == {"name": "g", "size": 3}
    assert req.headers == {"Idempotency-Key": "rid-1"}
    assert "api_key" not in req.url  # this operation names no API key scheme


def test_non_json_body_sent_as_its_content_type(svcs):
    svc = svcs["files/api/rawText"]
    req = build_request(svc, prepare_rest(svc, {"body": "hello"})[0], base="http://h")
    assert (req.method, req.data, req.json) == ("PATCH", "hello", None)
    assert req.headers["Content-Type"] == "text/plain"


def test_every_problem_listed_nested_included(svcs):
    svc = svcs["files/api/putFile"]
    with pytest.raises(ParameterValidationError) as e:
        prepare_rest(svc, [{"bucket": "b", "name": "", "size": -1, "meta": {"owner": "not-an-email", "x": 1}}, {}])
    problems = e.value.problems
    assert "entity 0: name: a path parameter cannot be empty" in problems
    assert "entity 0: size: -1 is less than the minimum of 0" in problems
    assert "entity 0: meta.owner: 'not-an-email' is not a 'email'" in problems
    assert any(p.startswith("entity 0: meta: Additional properties are not allowed ('x'") for p in problems)
    assert "entity 1: missing required bucket, name, body_name, size" in problems


def test_sensitive_value_never_quoted_in_a_problem(svcs):
    svc = svcs["files/api/getFile"]
    with pytest.raises(ParameterValidationError) as e:
        prepare_rest(svc, {"bucket": "b", "name": "n", "X-Token": ["hunter2"]})
    assert "hunter2" not in str(e.value)
    assert "X-Token: invalid value (fails 'type'; sensitive, not shown)" in str(e.value)
    with pytest.raises(ParameterValidationError, match="X-Token: a header value cannot contain a line break"):
        prepare_rest(svc, {"bucket": "b", "name": "n", "X-Token": "a\r\nX-Evil: 1"})


def test_base_url_from_connection_and_servers():
    assert base_url("http://h:8080", True, "/api") == "http://h:8080/api"
    assert base_url("http://h:8080/", True, "https://default.example/v1") == "http://h:8080"  # connection wins
    assert base_url("http://", False, "https://default.example/v1") == "https://default.example/v1"
    with pytest.raises(WeCubePluginError, match="connection has no host"):
        base_url("http://", False, "/api")


def test_loader_and_request_building_import_without_airflow():
    """registry/openapi/ and rest.py are pure: a document loads, inputs validate and a request
    is built in a process that never imports Airflow."""
    import subprocess
    import sys

    code = (
        "import sys, json\n"
        "from airflow_wecube.registry.openapi import load_openapi\n"
        "from airflow_wecube.protocol.rest import build_request, prepare_rest\n"
        f"svc = load_openapi({json.dumps(json.dumps(DOC))}, package='f').services()['f/api/getFile']\n"
        "req = build_request(svc, prepare_rest(svc, {'bucket': 'b', 'name': 'n'})[0], base='http://h')\n"
        "assert req.url == 'http://h/buckets/b/files/n', req.url\n"
        "bad = sorted(m for m in sys.modules if m == 'airflow' or m.startswith('airflow.'))\n"
        "assert not bad, bad\n"
        "print('ok')\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.startswith("ok")
