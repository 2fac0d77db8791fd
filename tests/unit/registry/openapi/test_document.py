"""Reading an OpenAPI document safely: version, YAML aliases and tags, malformed text, nesting."""

from __future__ import annotations

import pytest
import yaml

from airflow_wecube.exceptions import ManifestError
from airflow_wecube.registry.openapi import load_openapi
from airflow_wecube.registry.openapi.document import MAX_OPENAPI_BYTES, is_openapi, parse, read_document
from tests.fixtures.openapi import TICKETS, refused


def test_swagger_2_says_convert_it():
    msg = refused("swagger: '2.0'\ninfo: {title: t, version: '1'}\npaths: {}\n")
    assert "Swagger 2.0 is not supported: convert it to OpenAPI 3" in msg


def test_unsupported_version():
    assert "unsupported OpenAPI version '4.0.0'" in refused(TICKETS.replace("3.0.3", "4.0.0"))


def test_yaml_alias_bomb_refused_with_line():
    bomb = "openapi: 3.0.0\ninfo: {title: t, version: '1'}\nx-a: &a [lol, lol, lol, lol, lol, lol, lol, lol, lol]\n"
    for i, prev in zip("bcdefghi", "abcdefgh", strict=True):
        bomb += f"x-{i}: &{i} [*{prev}, *{prev}, *{prev}, *{prev}, *{prev}, *{prev}, *{prev}, *{prev}, *{prev}]\n"
    bomb += "paths: {}\n"
    msg = refused(bomb)
    assert "YAML aliases (*a) are not allowed" in msg and "api.yaml:4" in msg


def test_malformed_yaml_and_json_name_the_line():
    assert "api.yaml:3" in refused("openapi: 3.0.0\ninfo: {title: t\npaths: [\n")
    with pytest.raises(ManifestError, match=r"malformed JSON: .* \(column"):
        load_openapi('{"openapi": "3.1.0",\n "info": }')


def test_runaway_nesting_refused():
    """YAML and JSON nesting is bounded before any schema is walked."""
    deep = "openapi: 3.0.0\ninfo: {title: t, version: '1'}\nx-deep: " + "[" * 300 + "]" * 300 + "\npaths: {}\n"
    assert "YAML nested deeper than 256 levels" in refused(deep)
    with pytest.raises(ManifestError, match="JSON nested too deeply"):
        load_openapi('{"openapi": "3.1.0", "x": ' + "[" * 100000 + "]" * 100000 + "}")


def test_yaml_scalars_read_as_the_safe_loader_reads_them():
    """The event-driven reader matches PyYAML's safe loader on YAML 1.1 scalars (dates stay text)."""
    text = (
        "openapi: 3.0.0\nx: [~, null, yes, Off, 0x1F, 017, 0b101, -0x1, 1_000, 1.5e+3, .inf, -.INF, "
        "'yes', \"1\", !!str 12, !!int '7', !!float 2, 2024-01-02, plain text]\n"
    )
    doc = parse(text.encode(), "api.yaml")
    expected = yaml.safe_load(text)["x"]
    expected[-2] = "2024-01-02"
    assert doc["x"] == expected
    assert parse(b'\xef\xbb\xbf{"openapi": "3.1.0"}', "api.json") == {"openapi": "3.1.0"}  # BOM-prefixed JSON


def test_document_refusals_name_the_line():
    with pytest.raises(ManifestError, match=r"YAML tag !!python/name:os.system is not allowed") as e:
        parse(b"openapi: 3.0.0\nx: !!python/name:os.system ''\n", "api.yaml")
    assert e.value.line == 2
    with pytest.raises(ManifestError, match="more than one YAML document") as e:
        parse(b"openapi: 3.0.0\n---\nopenapi: 3.0.0\n", "api.yaml")
    assert e.value.line == 2
    with pytest.raises(ManifestError, match="a mapping key must be a scalar"):
        parse(b"openapi: 3.0.0\n? [a]\n: b\n", "api.yaml")
    with pytest.raises(ManifestError, match=r"not UTF-8 text \(byte 1\)"):
        parse(b"o\xffpenapi: 3", "api.yaml")
    with pytest.raises(ManifestError, match=f"larger than {MAX_OPENAPI_BYTES} bytes"):
        read_document(b"openapi: 3.0.0\n" + b" " * MAX_OPENAPI_BYTES, "api.yaml")


def test_version_and_detection():
    assert read_document(b"openapi: 3.1.0\npaths: {}\n", "a.yaml") == ({"openapi": "3.1.0", "paths": {}}, True)
    assert read_document(b'{"openapi": "3.0.3"}', "a.json")[1] is False
    with pytest.raises(ManifestError, match="must be a mapping"):
        read_document(b"- openapi\n", "a.yaml")
    assert is_openapi(b'{\n  "openapi": "3.1.0"}') and is_openapi(b"swagger: '2.0'\n")
    assert not is_openapi(b"package: p\nopenapi_like: 1\n")
