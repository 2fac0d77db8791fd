"""An OpenAPI operation's schemas as service parameters: names and clashes, types, sensitivity.

Path, query and header parameters and the JSON body's properties become the inputs, resolved in
``LOCATIONS`` order (a name already taken gets ``{location}_`` in front, docs/openapi.md); the
properties of the first 2xx JSON response become the outputs. Secrets are marked sensitive by
schema (``format: password``, ``writeOnly``, ``x-sensitive``) or by name. Pure: no Airflow import.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from airflow_wecube.registry.openapi.refs import Resolver
from airflow_wecube.util.secrets import secret_name  # names that hold a secret whatever the schema says

#: header parameters the OpenAPI specification says to ignore (the client sets them)
IGNORED_HEADERS = frozenset({"accept", "content-type", "authorization"})
#: inputs are resolved in this order; a later name already taken gets ``{location}_`` in front
LOCATIONS = ("path", "query", "header", "body")
_SPACE = re.compile(r"\s")
_PATH_PARAM = re.compile(r"\{([^{}/]+)\}")

#: records a problem (JSON pointer, message) and lets the load go on to find the others
Problem = Callable[[str, str], None]


def datatype(schema: dict[str, Any]) -> str:
    """The WeCube datatype of a JSON Schema: ``int``, ``list``, ``object``, else ``string``."""
    t = schema.get("type")
    if isinstance(t, list):
        t = next((x for x in t if x != "null"), None)
    if t is None and "properties" in schema:
        t = "object"
    return {"integer": "int", "array": "list", "object": "object"}.get(t, "string")


def sensitive(*nodes: dict[str, Any]) -> bool:
    for n in nodes:
        if isinstance(n, dict) and (
            n.get("format") == "password" or n.get("writeOnly") is True or n.get("x-sensitive") is True
        ):
            return True
    return False


def json_media(content: Any) -> tuple[str, Any] | None:
    """The JSON media type of a ``content`` map (``application/json``, ``*/*+json``), if any."""
    if not isinstance(content, dict):
        return None
    for media, obj in content.items():
        base = media.split(";")[0].strip().lower()
        if base == "application/json" or base.endswith("+json") or base == "*/*":
            return media, obj if isinstance(obj, dict) else {}
    return None


def merged_properties(schema: dict[str, Any]) -> tuple[dict[str, Any], list[str]] | None:
    """Properties and required names of an object schema (``allOf`` parts merged), else None."""
    props: dict[str, Any] = {}
    required: list[str] = []
    parts = [schema] + [p for p in schema.get("allOf", []) if isinstance(p, dict)]
    for part in parts:
        if isinstance(part.get("properties"), dict):
            props.update(part["properties"])
            required += [r for r in part.get("required", []) if isinstance(r, str)]
    if not props or any(k in schema for k in ("oneOf", "anyOf")):
        return None
    return props, required


class Inputs:
    """One operation's inputs, unique by name: ``callbackParameter`` is reserved, a name already
    taken gets ``{location}_`` in front (then ``_2``, ``_3``...) and keeps its ``wire_name``."""

    def __init__(self) -> None:
        self.items: list[dict[str, Any]] = []
        self.taken: set[str] = {"callbackParameter"}

    def add(self, name: str, location: str, schema: dict, required: bool, sensitive: bool, description: str) -> None:
        base = re.sub(r"\s+", "_", name) if _SPACE.search(name) else name
        final = base if base not in self.taken else f"{location}_{base}"
        n = 2
        while final in self.taken:
            final, n = f"{location}_{base}_{n}", n + 1
        self.taken.add(final)
        self.items.append(
            {
                "name": final,
                "datatype": datatype(schema),
                "required": required,
                "sensitive": sensitive,
                "description": description,
                "location": location,
                "wire_name": name if final != name else None,
                "json_schema": schema,
            }
        )


def declared_parameters(r: Resolver, path: str, item: dict, op: dict, where: str, problem: Problem) -> dict:
    """The path item's and operation's parameters by (in, name), the operation's winning; a path
    template that does not match the declared path parameters is a problem."""
    params: dict[tuple[str, str], dict] = {}
    for level, raw in (("path item", item.get("parameters")), ("operation", op.get("parameters"))):
        if raw is None:
            continue
        if not isinstance(raw, list):
            problem(where, f"{level} parameters must be a list")
            continue
        for i, p in enumerate(raw):
            p = r.follow(p, f"{where}/parameters/{i}")
            if (
                not isinstance(p, dict)
                or not isinstance(p.get("name"), str)
                or p.get("in") not in ("path", "query", "header", "cookie")
            ):
                problem(f"{where}/parameters/{i}", "a parameter needs a name and in: path|query|header|cookie")
                continue
            params[(p["in"], p["name"])] = p
    declared_path = {name for (loc, name) in params if loc == "path"}
    in_template = set(_PATH_PARAM.findall(path))
    if in_template - declared_path:
        missing = ", ".join(sorted(in_template - declared_path))
        problem(where, f"path parameter(s) {missing} used in the path but not declared")
    if declared_path - in_template:
        extra = ", ".join(sorted(declared_path - in_template))
        problem(where, f"path parameter(s) {extra} declared but not in the path")
    return params


def add_parameters(inputs: Inputs, r: Resolver, params: dict, where: str) -> None:
    """Path, then query, then header parameters as inputs (``IGNORED_HEADERS`` and cookies skipped)."""
    for location in ("path", "query", "header"):
        for (loc, name), p in params.items():
            if loc != location or (loc == "header" and name.lower() in IGNORED_HEADERS):
                continue
            pwhere = f"{where}/parameters/{name}"
            raw_schema = p.get("schema")
            if raw_schema is None and isinstance(p.get("content"), dict) and p["content"]:
                raw_schema = next(iter(p["content"].values()), {}).get("schema")
            schema = r.schema(raw_schema, pwhere)
            inputs.add(
                name,
                loc,
                schema,
                loc == "path" or p.get("required") is True,
                sensitive(p, schema) or secret_name(name),
                str(p.get("description") or schema.get("description") or ""),
            )


def add_body(inputs: Inputs, r: Resolver, op: dict, where: str) -> tuple[str, str]:
    """The request body as inputs; returns (body mode, content type): an object body's properties
    are inputs (``properties``), any other body is the one input ``body`` (``whole``)."""
    body_mode, content_type = "none", "application/json"
    body = r.follow(op.get("requestBody"), f"{where}/requestBody")
    if isinstance(body, dict):
        bwhere = f"{where}/requestBody"
        body_required = body.get("required") is True
        media = json_media(body.get("content"))
        if media:
            content_type = media[0] if media[0] != "*/*" else "application/json"
            schema = r.schema(media[1].get("schema"), bwhere)
            merged = merged_properties(schema)
            if merged:
                body_mode = "properties"
                props, required = merged
                for name, prop in props.items():
                    prop = prop if isinstance(prop, dict) else {}
                    inputs.add(
                        name,
                        "body",
                        prop,
                        body_required and name in required,
                        sensitive(prop) or secret_name(name),
                        str(prop.get("description", "")),
                    )
            else:
                body_mode = "whole"
                inputs.add("body", "body", schema, body_required, sensitive(schema), str(body.get("description", "")))
        elif isinstance(body.get("content"), dict) and body["content"]:
            body_mode, content_type = "whole", next(iter(body["content"]))
            inputs.add("body", "body", {}, body_required, False, str(body.get("description", "")))
    return body_mode, content_type


def outputs(r: Resolver, op: dict, where: str) -> list[dict[str, Any]]:
    """The properties of the first 2xx JSON response (a non-object response is the one ``result``)."""
    found: list[dict[str, Any]] = []
    responses = op.get("responses") if isinstance(op.get("responses"), dict) else {}
    ok = sorted(str(c) for c in responses if str(c).startswith("2"))
    if ok:
        code = ok[0]
        resp = r.follow(
            responses.get(code, responses.get(int(code) if code.isdigit() else code)), f"{where}/responses/{code}"
        )
        media = json_media(resp.get("content")) if isinstance(resp, dict) else None
        if media:
            schema = r.schema(media[1].get("schema"), f"{where}/responses/{code}")
            merged = merged_properties(schema)
            for name, prop in (merged[0] if merged else {"result": schema} if schema else {}).items():
                prop = prop if isinstance(prop, dict) else {}
                found.append(
                    {
                        "name": re.sub(r"\s+", "_", name),
                        "datatype": datatype(prop),
                        "sensitive": sensitive(prop) or secret_name(name),
                        "description": str(prop.get("description", "")),
                        "json_schema": prop,
                    }
                )
    return found
