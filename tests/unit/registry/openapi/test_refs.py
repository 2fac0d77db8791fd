"""$ref resolution: local only, dangling refs named, cycles and nesting bounded, 3.0 -> 2020-12."""

from __future__ import annotations

import pytest

from airflow_wecube.exceptions import ManifestError
from airflow_wecube.registry.openapi.refs import MAX_SCHEMA_NODES, Resolver, pointer
from tests.fixtures.openapi import TICKETS, refused, services


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


def test_remote_ref_refused_with_the_pointer():
    user = "$ref: '#/components/schemas/User'}\n    User"
    text = TICKETS.replace(user, "$ref: 'https://evil.example/user.json'}\n    User")
    msg = refused(text)
    assert "remote $ref 'https://evil.example/user.json' refused" in msg
    assert "/paths/~1tickets~1{id}/get/responses/200" in msg


def test_dangling_ref():
    ticket = "'#/components/schemas/Ticket'}}}\n    put"
    msg = refused(TICKETS.replace(ticket, "'#/components/schemas/Nope'}}}\n    put"))
    assert "$ref '#/components/schemas/Nope' points to nothing" in msg


def test_schema_nesting_refused():
    schema = "{type: object, properties: {a: " * 70 + "{type: string}" + "}}" * 70
    text = TICKETS.replace("labels: {type: array, items: {type: string}}", f"labels: {schema}")
    assert "schema nested deeper than 64 levels" in refused(text)


def test_openapi_30_spellings_normalised_to_2020_12():
    r = Resolver({"components": {"schemas": {"S": {"type": "string"}}}}, "api.yaml", oas31=False)
    assert r.schema({"type": "integer", "minimum": 0, "exclusiveMinimum": True}, "/x") == {
        "type": "integer",
        "exclusiveMinimum": 0,
    }
    not_exclusive = {"type": "integer", "maximum": 9, "exclusiveMaximum": False}
    assert r.schema(not_exclusive, "/x") == {"type": "integer", "maximum": 9}
    assert r.schema({"type": "string", "enum": ["a"], "nullable": True}, "/x") == {
        "type": ["string", "null"],
        "enum": ["a", None],
    }
    assert r.schema({"allOf": [{"$ref": "#/components/schemas/S"}], "nullable": True}, "/x") == {
        "anyOf": [{"allOf": [{"type": "string"}]}, {"type": "null"}]
    }
    # 3.1 keeps the keywords next to a $ref; 3.0 ignores them
    sibling = {"$ref": "#/components/schemas/S", "description": "d"}
    assert r.schema(sibling, "/x") == {"type": "string"}
    assert Resolver(r.doc, "api.yaml", oas31=True).schema(sibling, "/x") == {"type": "string", "description": "d"}


def test_ref_chain_cycle_and_expansion_bounded():
    doc = {
        "components": {
            "parameters": {"a": {"$ref": "#/components/parameters/b"}, "b": {"$ref": "#/components/parameters/a"}}
        }
    }
    with pytest.raises(ManifestError, match=r"\$ref cycle: #/components/parameters/b -> #/components/parameters/a"):
        Resolver(doc, "api.yaml", oas31=False).follow({"$ref": "#/components/parameters/b"}, "/p")
    # ten properties per level, five levels of $ref: 10**5 nodes once inlined, from a few lines
    levels = {f"L{i}": {"properties": {c: {"$ref": f"#/L{i + 1}"} for c in "abcdefghij"}} for i in range(5)}
    levels["L5"] = {"type": "string"}
    with pytest.raises(ManifestError, match=f"more than {MAX_SCHEMA_NODES} nodes") as e:
        Resolver(levels, "api.yaml", oas31=True).schema({"$ref": "#/L0"}, "/paths/~1x/get")
    assert e.value.element == "/paths/~1x/get"
    assert pointer("paths", "/a/{b}", "get") == "/paths/~1a~1{b}/get"
