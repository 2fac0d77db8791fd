"""Operations as services: names, server and auth, duplicate and malformed operations."""

from __future__ import annotations

from airflow_wecube.registry.openapi import load_openapi, operation_name
from airflow_wecube.registry.openapi.operations import auth, safe_name, server_url
from tests.fixtures.openapi import TICKETS, refused, services


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


def test_operation_name_is_derived_from_method_and_path():
    assert operation_name("GET", "/items/{item_id}/tags") == "get_items_item_id_tags"
    assert operation_name("delete", "/") == "delete_root"
    assert operation_name("POST", "/a-b.c/{x}") == "post_a_b_c_x"


def test_whole_body_server_and_auth():
    svcs = services(package="t")
    post = svcs["t/admin_tools/post_tickets"].interface
    assert post.rest.body == "whole" and [p.name for p in post.inputs] == ["body"]
    assert post.rest.auth.type == "none"  # security: [] on the operation
    get = svcs["t/tickets/getTicket"].interface
    assert get.rest.server_url == "/api"
    assert (get.rest.auth.type, get.rest.auth.location, get.rest.auth.name) == ("apiKey", "header", "X-API-Key")


def test_duplicate_operation_ids_named_with_both_places():
    text = TICKETS.replace("operationId: updateTicket", "operationId: getTicket")
    msg = refused(text)
    assert "duplicate operationId 'getTicket'" in msg
    assert "/paths/~1tickets~1{id}/put" in msg and "/paths/~1tickets~1{id}/get" in msg


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


def test_safe_name_and_server_url():
    assert safe_name(" admin tools/v2@x#y ") == "admin_tools_v2_x_y"
    assert safe_name(".hidden") == "_hidden"  # a leading dot would make a hidden file in the store
    variables = {"host": {"default": "api.example"}, "v": {"default": 2}}
    assert server_url(None, [{"url": "https://{host}/v{v}/", "variables": variables}]) == "https://api.example/v2"
    assert server_url([{"url": "api"}], [{"url": "/ignored"}]) == "/api"  # the innermost level wins
    assert server_url([], "nope", None) == ""


def test_auth_from_the_first_requirement_that_can_be_met():
    schemes = {
        "basic": {"type": "http", "scheme": "basic"},
        "q": {"type": "apiKey", "in": "query", "name": "k"},
        "c": {"type": "apiKey", "in": "cookie", "name": "s"},
        "oidc": {"type": "openIdConnect"},
    }
    doc = {"components": {"securitySchemes": schemes}, "security": [{"basic": []}, {"q": []}]}
    assert auth(doc, {}) == {"type": "apiKey", "name": "k", "location": "query"}
    assert auth(doc, {"security": [{"c": []}, {"oidc": []}]}) == {"type": "bearer"}
    assert auth(doc, {"security": []}) == {"type": "none"}
    assert auth({}, {}) == {"type": "bearer"}
