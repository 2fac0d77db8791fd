"""OpenAPI 3 documents -> REST services: naming, the schema -> parameters mapping, and bad input."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import pytest
import yaml

from airflow_wecube.exceptions import ManifestError
from airflow_wecube.registry import Registry, load_manifest
from airflow_wecube.registry.openapi import is_openapi, load_openapi, operation_name

TICKETS = """\
openapi: 3.0.3
info: {title: Ticket Desk, version: 2.3.0}
servers: [{url: /api}]
components:
  securitySchemes:
    key: {type: apiKey, in: header, name: X-API-Key}
  schemas:
    Ticket:
      type: object
      required: [title]
      properties:
        id: {type: integer, readOnly: true}
        title: {type: string, minLength: 3}
        priority: {type: string, enum: [low, high], default: low}
        due: {type: string, format: date, nullable: true}
        labels: {type: array, items: {type: string}}
        owner: {$ref: '#/components/schemas/User'}
    User:
      type: object
      properties:
        name: {type: string}
        manager: {$ref: '#/components/schemas/User'}
security: [{key: []}]
paths:
  /tickets/{id}:
    parameters:
      - {name: id, in: path, required: true, schema: {type: integer, minimum: 1}}
    get:
      tags: [tickets]
      operationId: getTicket
      parameters:
        - {name: Authorization, in: header, schema: {type: string}}
        - {name: X-Trace, in: header, schema: {type: string}}
      responses:
        '200':
          description: ok
          content: {application/json: {schema: {$ref: '#/components/schemas/Ticket'}}}
    put:
      tags: [tickets]
      operationId: updateTicket
      requestBody:
        required: true
        content:
          application/json:
            schema:
              type: object
              required: [id, title]
              properties:
                id: {type: string}
                title: {type: string}
                secret: {type: string, format: password}
                note: {type: string, writeOnly: true}
                pin: {type: string, x-sensitive: true}
      responses: {'204': {description: done}}
  /tickets:
    get:
      parameters:
        - {name: status, in: query, schema: {type: string, enum: [open, closed]}}
        - {name: limit, in: query, schema: {type: integer, default: 20, maximum: 100}}
      responses:
        '200':
          description: ok
          content: {application/json: {schema: {type: array, items: {$ref: '#/components/schemas/Ticket'}}}}
    post:
      tags: [admin tools]
      security: []
      requestBody:
        content: {application/json: {schema: {type: array, items: {type: string}}}}
      responses: {'201': {description: created}}
"""


def services(text: str = TICKETS, **kw):
    return load_openapi(text, **kw).services()


def inputs(svc) -> dict:
    return {p.name: p for p in svc.interface.inputs}


def test_services_named_package_tag_operation():
    pkg = load_openapi(TICKETS, package="tickets")
    assert pkg.source_format == "openapi" and pkg.version == "2.3.0"
    assert sorted(pkg.services()) == [
        "tickets/admin_tools/post_tickets",  # tag with a space; no operationId: method + path
        "tickets/api/get_tickets",  # no tag: "api"
        "tickets/tickets/getTicket",
        "tickets/tickets/updateTicket",
    ]
    for svc in pkg.services().values():
        assert svc.interface.protocol == "rest"
        assert svc.summary()["protocol"] == "rest"


def test_package_and_version_defaults_and_overrides():
    pkg = load_openapi(TICKETS)
    assert (pkg.name, pkg.version) == ("ticket-desk", "2.3.0")
    pkg = load_openapi(TICKETS, package="desk", version="9.0.0")
    assert (pkg.name, pkg.version) == ("desk", "9.0.0")


def test_operation_name_is_derived_from_method_and_path():
    assert operation_name("GET", "/items/{item_id}/tags") == "get_items_item_id_tags"
    assert operation_name("delete", "/") == "delete_root"
    assert operation_name("POST", "/a-b.c/{x}") == "post_a_b_c_x"


def test_parameters_typed_from_the_schema():
    get = services(package="t")["t/tickets/getTicket"]
    ins = inputs(get)
    # path-item parameter inherited; Authorization header ignored (the connection's auth sets it)
    assert list(ins) == ["id", "X-Trace"]
    assert ins["id"].location == "path" and ins["id"].required and ins["id"].datatype == "int"
    assert ins["id"].json_schema == {"type": "integer", "minimum": 1}
    assert ins["X-Trace"].location == "header" and not ins["X-Trace"].required
    listing = inputs(services(package="t")["t/api/get_tickets"])
    assert listing["status"].json_schema["enum"] == ["open", "closed"]
    assert listing["limit"].json_schema["default"] == 20
    assert listing["limit"].location == "query"


def test_outputs_from_2xx_json_with_refs_resolved_and_cycles_bounded():
    get = services(package="t")["t/tickets/getTicket"]
    outs = {p.name: p for p in get.interface.outputs}
    assert list(outs) == ["id", "title", "priority", "due", "labels", "owner"]
    # OpenAPI 3.0 nullable -> JSON Schema 2020-12
    assert outs["due"].json_schema == {"type": ["string", "null"], "format": "date"}
    owner = outs["owner"].json_schema
    assert owner["properties"]["name"] == {"type": "string"}
    assert owner["properties"]["manager"] == {"description": "(recursive: #/components/schemas/User)"}
    # a non-object response is one output, "result"
    assert [p.name for p in services(package="t")["t/api/get_tickets"].interface.outputs] == ["result"]


def test_body_properties_clash_and_sensitive():
    put = services(package="t")["t/tickets/updateTicket"]
    ins = inputs(put)
    assert list(ins) == ["id", "body_id", "title", "secret", "note", "pin"]
    assert ins["id"].location == "path"
    assert ins["body_id"].location == "body" and ins["body_id"].wire_name == "id" and ins["body_id"].required
    assert ins["title"].required and not ins["note"].required
    assert {n for n, p in ins.items() if p.sensitive} == {"secret", "note", "pin"}
    assert put.interface.rest.body == "properties"
    assert put.interface.sensitive_inputs == {"secret", "note", "pin"}


def test_whole_body_server_and_auth():
    svcs = services(package="t")
    post = svcs["t/admin_tools/post_tickets"].interface
    assert post.rest.body == "whole" and [p.name for p in post.inputs] == ["body"]
    assert post.rest.auth.type == "none"  # security: [] on the operation
    get = svcs["t/tickets/getTicket"].interface
    assert get.rest.server_url == "/api"
    assert (get.rest.auth.type, get.rest.auth.location, get.rest.auth.name) == ("apiKey", "header", "X-API-Key")


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
            "get": {"operationId": f"op{i}", "tags": [f"t{i % 10}"],
                    "parameters": [{"name": "id", "in": "path", "required": True, "schema": {"type": "string"}}],
                    "responses": {"200": {"description": "ok"}}},
            "post": {"operationId": f"make{i}", "tags": [f"t{i % 10}"],
                     "parameters": [{"name": "id", "in": "path", "required": True, "schema": {"type": "string"}}],
                     "responses": {"200": {"description": "ok"}}},
        }
        for i in range(1000)
    }
    f = tmp_path / "big.yaml"
    f.write_text(yaml.safe_dump({"openapi": "3.0.0", "info": {"title": "big", "version": "1"}, "paths": paths}))
    pkg = load_manifest(f)
    assert len(pkg.services()) == 2000
    Registry(tmp_path / "reg").register(pkg)


# -- bad input: a clear error naming where, nothing returned ---------------------------------------------


def refused(text: str, **kw) -> str:
    with pytest.raises(ManifestError) as e:
        load_openapi(text, source="api.yaml", **kw)
    return str(e.value)


def test_swagger_2_says_convert_it():
    msg = refused("swagger: '2.0'\ninfo: {title: t, version: '1'}\npaths: {}\n")
    assert "Swagger 2.0 is not supported: convert it to OpenAPI 3" in msg


def test_unsupported_version():
    assert "unsupported OpenAPI version '4.0.0'" in refused(TICKETS.replace("3.0.3", "4.0.0"))


def test_duplicate_operation_ids_named_with_both_places():
    text = TICKETS.replace("operationId: updateTicket", "operationId: getTicket")
    msg = refused(text)
    assert "duplicate operationId 'getTicket'" in msg
    assert "/paths/~1tickets~1{id}/put" in msg and "/paths/~1tickets~1{id}/get" in msg


def test_remote_ref_refused_with_the_pointer():
    text = TICKETS.replace("$ref: '#/components/schemas/User'}\n    User", "$ref: 'https://evil.example/user.json'}\n    User")
    msg = refused(text)
    assert "remote $ref 'https://evil.example/user.json' refused" in msg
    assert "/paths/~1tickets~1{id}/get/responses/200" in msg


def test_dangling_ref():
    msg = refused(TICKETS.replace("'#/components/schemas/Ticket'}}}\n    put", "'#/components/schemas/Nope'}}}\n    put"))
    assert "$ref '#/components/schemas/Nope' points to nothing" in msg


def test_yaml_alias_bomb_refused_with_line():
    bomb = "openapi: 3.0.0\ninfo: {title: t, version: '1'}\nx-a: &a [lol, lol, lol, lol, lol, lol, lol, lol, lol]\n"
    for i, prev in zip("bcdefghi", "abcdefgh"):
        bomb += f"x-{i}: &{i} [*{prev}, *{prev}, *{prev}, *{prev}, *{prev}, *{prev}, *{prev}, *{prev}, *{prev}]\n"
    bomb += "paths: {}\n"
    msg = refused(bomb)
    assert "YAML aliases (*a) are not allowed" in msg and "api.yaml:4" in msg


def test_malformed_yaml_and_json_name_the_line():
    assert "api.yaml:3" in refused("openapi: 3.0.0\ninfo: {title: t\npaths: [\n")
    with pytest.raises(ManifestError, match=r"malformed JSON: .* \(column"):
        load_openapi('{"openapi": "3.1.0",\n "info": }')


def test_structural_problems_all_listed():
    text = """\
openapi: 3.0.0
info: {title: t, version: '1'}
paths:
  /a/{x}:
    get: {responses: {}}
  b: {}
  /c:
    post: nope
"""
    msg = refused(text)
    assert msg.startswith("api.yaml <")
    assert "3 problem(s)" in msg
    assert "path parameter(s) x used in the path but not declared" in msg
    assert "/paths/b: a path must start with '/'" in msg
    assert "/paths/~1c/post: an operation must be a mapping" in msg


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


def test_runaway_nesting_refused():
    deep = "openapi: 3.0.0\ninfo: {title: t, version: '1'}\nx-deep: " + "[" * 300 + "]" * 300 + "\npaths: {}\n"
    assert "YAML nested deeper than 256 levels" in refused(deep)
    with pytest.raises(ManifestError, match="JSON nested too deeply"):
        load_openapi('{"openapi": "3.1.0", "x": ' + "[" * 100000 + "]" * 100000 + "}")
    schema = "{type: object, properties: {a: " * 70 + "{type: string}" + "}}" * 70
    text = TICKETS.replace("labels: {type: array, items: {type: string}}", f"labels: {schema}")
    assert "schema nested deeper than 64 levels" in refused(text)
