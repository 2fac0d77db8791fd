"""An operation's schemas as parameters: locations, types, name clashes, sensitivity."""

from __future__ import annotations

import json

import yaml

from airflow_wecube.registry.openapi import load_openapi
from airflow_wecube.registry.openapi.params import (
    Inputs,
    datatype,
    json_media,
    merged_properties,
    sensitive,
)
from tests.fixtures.openapi import inputs, services


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


def test_input_names_unique_with_location_prefix_and_counter():
    inputs = Inputs()
    for name, location in [
        ("callbackParameter", "query"),
        ("id", "path"),
        ("id", "query"),
        ("query_id", "header"),
        ("id", "header"),
        ("id", "header"),
        ("a b", "body"),
    ]:
        inputs.add(name, location, {"type": "integer"}, False, False, "")
    assert [(i["name"], i["wire_name"]) for i in inputs.items] == [
        ("query_callbackParameter", "callbackParameter"),  # reserved for the WeCube callback
        ("id", None),
        ("query_id", "id"),
        ("header_query_id", "query_id"),
        ("header_id", "id"),
        ("header_id_2", "id"),
        ("a_b", "a b"),
    ]
    assert {i["datatype"] for i in inputs.items} == {"int"}


def test_types_sensitivity_and_media():
    assert [datatype(s) for s in ({"type": ["null", "array"]}, {"properties": {}}, {"type": "number"}, {})] == [
        "list",
        "object",
        "string",
        "string",
    ]
    assert sensitive({}, {"writeOnly": True}) and not sensitive({"writeOnly": "yes"}, {"format": "secret"})
    assert json_media({"text/plain": {}, "application/problem+json; charset=utf-8": None}) == (
        "application/problem+json; charset=utf-8",
        {},
    )
    assert json_media({"application/xml": {}}) is None and json_media(None) is None
    assert merged_properties({"allOf": [{"properties": {"a": {}}, "required": ["a"]}, {"properties": {"b": {}}}]}) == (
        {"a": {}, "b": {}},
        ["a"],
    )
    assert merged_properties({"properties": {"a": {}}, "oneOf": [{}]}) is None


def test_ignored_headers_cookies_and_content_parameters():
    doc = yaml.safe_load(
        """
openapi: 3.0.0
info: {title: t, version: '1'}
paths:
  /a:
    get:
      parameters:
        - {name: Content-Type, in: header, schema: {type: string}}
        - {name: session, in: cookie, schema: {type: string}}
        - {name: filter, in: query, content: {application/json: {schema: {type: object, properties: {q: {}}}}}}
        - {name: passwd, in: query, required: true, schema: {type: string}}
      responses: {'200': {description: ok}}
"""
    )
    ins = inputs(load_openapi(json.dumps(doc), package="t").services()["t/api/get_a"])
    assert list(ins) == ["filter", "passwd"]
    assert ins["filter"].datatype == "object" and not ins["filter"].required
    assert ins["passwd"].sensitive and ins["passwd"].required
