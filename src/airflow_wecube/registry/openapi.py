"""Load an OpenAPI 3.0/3.1 document (YAML or JSON) into a :class:`Package` of REST services.

Each operation becomes the service ``PACKAGE/TAG/OPERATION`` (docs/openapi.md): its path, query and
header parameters and its JSON body's properties are the inputs, the properties of its 2xx JSON
response the outputs, each with its JSON Schema (local ``$ref`` resolved, normalised to JSON Schema
2020-12) so calls are validated before any request. The document is untrusted input: YAML aliases,
remote ``$ref``, oversized files and runaway nesting are refused with the place named, and nothing
is written. Pure: no Airflow import.
"""

from __future__ import annotations

import json
import re
from typing import Any
from urllib.parse import unquote

import yaml
from pydantic import ValidationError

from airflow_wecube.exceptions import ManifestError
from airflow_wecube.registry.models import Package

#: a larger document is refused before it is parsed
MAX_OPENAPI_BYTES = 16 * 1024 * 1024
#: structural nesting of the document, and ``$ref`` hops on one resolution path (beyond: ``{}``)
MAX_NESTING = 64
MAX_REF_DEPTH = 32
#: JSON Schema nodes one input or output may expand to once its ``$ref`` are inlined
MAX_SCHEMA_NODES = 50_000

METHODS = ("get", "put", "post", "delete", "patch", "head", "options")
#: header parameters the OpenAPI specification says to ignore (the client sets them)
IGNORED_HEADERS = frozenset({"accept", "content-type", "authorization"})
#: inputs are resolved in this order; a later name already taken gets ``{location}_`` in front
LOCATIONS = ("path", "query", "header", "body")
#: characters not kept in a service name's tag and operation parts (they would split the name)
_NAME_UNSAFE = re.compile(r"[\s/@#]+")
_SPACE = re.compile(r"\s")
_PATH_PARAM = re.compile(r"\{([^{}/]+)\}")
_DETECT = re.compile(rb"""^(?:\{\s*)?["']?(openapi|swagger)["']?\s*:""", re.M)
# keys whose values are data, not schemas: never walked for $ref
_DATA_KEYS = frozenset({"example", "examples", "enum", "const", "default", "x-examples"})


def is_openapi(data: bytes) -> bool:
    """Whether a YAML/JSON text has a top-level ``openapi:`` (or ``swagger:``) key."""
    return bool(_DETECT.search(data[: 1024 * 1024]))


def operation_name(method: str, path: str) -> str:
    """The name of an operation without ``operationId``: method and path, non-alphanumerics as ``_``.

    ``GET /items/{item_id}/tags`` -> ``get_items_item_id_tags``; ``GET /`` -> ``get_root``.
    """
    words = re.sub(r"[^A-Za-z0-9]+", "_", path).strip("_")
    return f"{method.lower()}_{words or 'root'}"


def safe_name(text: str) -> str:
    """A tag or operationId as a service-name part: whitespace, ``/``, ``@``, ``#`` become ``_``."""
    name = _NAME_UNSAFE.sub("_", text.strip()).strip("_")
    return "_" + name[1:] if name.startswith(".") else name


def _slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.\-]+", "-", text.strip().lower()).strip("-.") or "api"


def _pointer(*parts: Any) -> str:
    return "/" + "/".join(str(p).replace("~", "~0").replace("/", "~1") for p in parts)


# -- parsing -----------------------------------------------------------------------------------------


def _parse(data: bytes, source: str) -> Any:
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as e:
        raise ManifestError(f"not UTF-8 text (byte {e.start})", source=source) from None
    if text.lstrip().startswith("{"):
        try:
            return json.loads(text)
        except json.JSONDecodeError as e:
            raise ManifestError(f"malformed JSON: {e.msg} (column {e.colno})", source=source, line=e.lineno) from None
        except RecursionError:
            raise ManifestError("refused: JSON nested too deeply", source=source) from None
    try:
        return _yaml_load(text)
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        raise ManifestError(
            f"malformed YAML: {getattr(e, 'problem', None) or e}", source=source, line=mark.line + 1 if mark else None
        ) from None
    except _YamlRefused as e:
        raise ManifestError(e.message, source=source, line=e.line) from None


class _YamlRefused(Exception):
    def __init__(self, message: str, line: int):
        self.message, self.line = message, line


_NULLS = frozenset({"", "~", "null", "Null", "NULL"})
_BOOLS = {v: True for v in ("true", "True", "TRUE", "yes", "Yes", "YES", "on", "On", "ON")} | {
    v: False for v in ("false", "False", "FALSE", "no", "No", "NO", "off", "Off", "OFF")
}
_INT = re.compile(r"[-+]?(0|[1-9][0-9_]*)")
_INT_OTHER = re.compile(r"[-+]?0(x[0-9a-fA-F_]+|o?[0-7_]+|b[01_]+)")
_FLOAT = re.compile(r"[-+]?(\.[0-9]+|[0-9][0-9_]*\.[0-9_]*)([eE][-+]?[0-9]+)?")
_SPECIAL_FLOATS = {".inf": float("inf"), "+.inf": float("inf"), "-.inf": float("-inf"), ".nan": float("nan")}


def _scalar(event: Any) -> Any:
    """A YAML 1.1 plain scalar as PyYAML's safe loader reads it (null, bool, int, float), else str.

    Dates stay strings (JSON has no date type). Explicit tags other than the core ones are refused.
    """
    value, tag = event.value, event.tag
    if tag not in (None, "!"):
        short = tag.replace("tag:yaml.org,2002:", "!!")
        conv = {"!!str": str, "!!int": lambda v: int(v, 0), "!!float": float, "!!bool": lambda v: _BOOLS[v],
                "!!null": lambda v: None}.get(short)
        if conv is None:
            raise _YamlRefused(f"YAML tag {short} is not allowed in an OpenAPI document", event.start_mark.line + 1)
        try:
            return conv(value)
        except (ValueError, KeyError):
            raise _YamlRefused(f"{value!r} is not a valid {short}", event.start_mark.line + 1) from None
    if not event.implicit[0]:  # quoted
        return value
    if value in _NULLS:
        return None
    if value in _BOOLS:
        return _BOOLS[value]
    if _INT.fullmatch(value):
        return int(value.replace("_", ""))
    if _INT_OTHER.fullmatch(value):
        v = value.replace("_", "").lower()
        sign = -1 if v.startswith("-") else 1
        v = v.lstrip("+-")
        return sign * (int(v, 16) if v.startswith("0x") else int(v[2:], 2) if v.startswith("0b") else int(v.lstrip("0o") or "0", 8))
    if _FLOAT.fullmatch(value) and any(c.isdigit() for c in value):
        return float(value.replace("_", ""))
    if value.lower() in _SPECIAL_FLOATS:
        return _SPECIAL_FLOATS[value.lower()]
    return value


def _yaml_load(text: str) -> Any:
    """Build Python objects straight from libyaml's events (several times faster than the safe
    loader's constructor, which dominates for a large document). Aliases are refused as met."""
    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    stack: list[tuple[Any, list, int]] = []  # (container, [pending key], line); keys alternate with values
    root: Any = None
    for event in yaml.parse(text, Loader=loader):
        kind = type(event)
        if kind is yaml.ScalarEvent:
            value: Any = _scalar(event)
        elif kind is yaml.MappingStartEvent or kind is yaml.SequenceStartEvent:
            if len(stack) >= MAX_NESTING * 4:
                raise _YamlRefused(f"YAML nested deeper than {MAX_NESTING * 4} levels", event.start_mark.line + 1)
            stack.append(({} if kind is yaml.MappingStartEvent else [], [], event.start_mark.line + 1))
            continue
        elif kind is yaml.MappingEndEvent or kind is yaml.SequenceEndEvent:
            value = stack.pop()[0]
        elif kind is yaml.AliasEvent:
            raise _YamlRefused(
                f"YAML aliases (*{event.anchor}) are not allowed in an OpenAPI document "
                "(nested aliases expand exponentially); write the value out or use a $ref",
                event.start_mark.line + 1,
            )
        elif kind is yaml.DocumentStartEvent and root is not None:
            raise _YamlRefused("more than one YAML document in the file", event.start_mark.line + 1)
        else:
            continue
        if not stack:
            root = value
            continue
        container, pending, _ = stack[-1]
        if isinstance(container, list):
            container.append(value)
        elif not pending:
            if isinstance(value, (dict, list)):
                raise _YamlRefused("a mapping key must be a scalar", event.start_mark.line + 1)
            pending.append(value)
        else:
            container[pending.pop()] = value
    return root


def _check_version(doc: Any, source: str) -> bool:
    """True for OpenAPI 3.1, False for 3.0; anything else is refused."""
    if not isinstance(doc, dict):
        raise ManifestError("an OpenAPI document must be a mapping with openapi, info and paths", source=source)
    if "swagger" in doc and "openapi" not in doc:
        raise ManifestError(
            f"Swagger {doc.get('swagger')} is not supported: convert it to OpenAPI 3 first "
            "(e.g. `npx swagger2openapi api.yaml -o api3.yaml`, or 'Convert to OpenAPI 3' in editor.swagger.io)",
            source=source,
            element="swagger",
        )
    version = str(doc.get("openapi", ""))
    if not re.fullmatch(r"3\.[01](\.\d+)?(-[\w.]+)?", version):
        raise ManifestError(
            f"unsupported OpenAPI version {version!r}: OpenAPI 3.0 and 3.1 are supported", source=source, element="openapi"
        )
    return version.startswith("3.1")


# -- $ref resolution and schema normalisation --------------------------------------------------------


class _Resolver:
    """Resolve local ``$ref`` and normalise schemas to JSON Schema 2020-12.

    Resolved components are memoised and shared (a document with 2,000 operations resolves each
    component once). A ``$ref`` cycle, or more than ``MAX_REF_DEPTH`` hops, becomes ``{}`` (any value).
    """

    def __init__(self, doc: dict, source: str, oas31: bool):
        self.doc = doc
        self.source = source
        self.oas31 = oas31
        self._memo: dict[str, tuple[Any, int]] = {}

    def error(self, message: str, where: str) -> ManifestError:
        return ManifestError(message, source=self.source, element=where)

    def target(self, ref: Any, where: str) -> Any:
        """The node a ``$ref`` points to (only ``#/...`` in this document)."""
        if not isinstance(ref, str):
            raise self.error(f"$ref must be a string, got {type(ref).__name__}", where)
        if not ref.startswith("#"):
            raise self.error(
                f"remote $ref {ref!r} refused: only references inside the document ('#/...') are resolved; "
                "bundle the document first (e.g. `npx @redocly/cli bundle`)",
                where,
            )
        node: Any = self.doc
        for raw in ref[1:].split("/")[1:] if ref not in ("#", "#/") else []:
            part = unquote(raw).replace("~1", "/").replace("~0", "~")
            if isinstance(node, dict) and part in node:
                node = node[part]
            elif isinstance(node, list) and part.isdigit() and int(part) < len(node):
                node = node[int(part)]
            else:
                raise self.error(f"$ref {ref!r} points to nothing in the document", where)
        return node

    def follow(self, node: Any, where: str) -> Any:
        """A parameter/requestBody/response object, following ``$ref`` chains (bounded)."""
        seen = []
        while isinstance(node, dict) and "$ref" in node:
            ref = node["$ref"]
            if ref in seen or len(seen) > MAX_REF_DEPTH:
                raise self.error(f"$ref cycle: {' -> '.join(seen + [str(ref)])}", where)
            seen.append(ref)
            node = self.target(ref, where)
        return node

    def schema(self, node: Any, where: str) -> dict[str, Any]:
        """A resolved, normalised schema; refuses one that expands beyond ``MAX_SCHEMA_NODES``."""
        if node is None:
            return {}
        result, size, _ = self._walk(node, where, (), 0)
        if size > MAX_SCHEMA_NODES:
            raise self.error(f"schema expands to more than {MAX_SCHEMA_NODES} nodes once its $ref are inlined", where)
        return result if isinstance(result, dict) else {}

    def _walk(self, node: Any, where: str, stack: tuple[str, ...], depth: int) -> tuple[Any, int, frozenset]:
        """(resolved node, its size in nodes, the refs cut as recursive inside it)."""
        if depth > MAX_NESTING:
            raise self.error(f"schema nested deeper than {MAX_NESTING} levels", where)
        cuts: frozenset = frozenset()
        if isinstance(node, list):
            out, size = [], 1
            for item in node:
                value, n, c = self._walk(item, where, stack, depth + 1)
                out.append(value)
                size, cuts = size + n, cuts | c
            return out, size, cuts
        if not isinstance(node, dict):
            return node, 1, cuts
        if "$ref" in node:
            ref = node["$ref"]
            siblings = {k: v for k, v in node.items() if k != "$ref"} if self.oas31 else {}
            if ref in stack or len(stack) >= MAX_REF_DEPTH:
                # a cycle (or too many hops): any value; the cut depends on the stack, so not memoised
                resolved, size, cuts = {"description": f"(recursive: {ref})"}, 1, frozenset({ref if ref in stack else None})
            elif ref in self._memo:
                resolved, size = self._memo[ref]
            else:
                resolved, size, cuts = self._walk(self.target(ref, where), where, stack + (ref,), depth + 1)
                cuts = cuts - {ref}
                if not cuts:
                    self._memo[ref] = (resolved, size)
            if siblings:
                extra, n, c = self._walk(siblings, where, stack, depth + 1)
                return ({**resolved, **extra} if isinstance(resolved, dict) else extra), size + n, cuts | c
            return resolved, size, cuts
        out: dict[str, Any] = {}
        size = 1
        for key, value in node.items():
            if key in _DATA_KEYS or str(key).startswith("x-") or not isinstance(value, (dict, list)):
                out[key] = value
                size += 1
                continue
            if key in ("properties", "patternProperties", "$defs", "definitions", "dependentSchemas") and isinstance(value, dict):
                sub = {}
                for name, prop in value.items():
                    sub[name], n, c = self._walk(prop, where, stack, depth + 1)
                    size, cuts = size + n, cuts | c
                out[key] = sub
                continue
            out[key], n, c = self._walk(value, where, stack, depth + 1)
            size, cuts = size + n, cuts | c
        if not self.oas31:
            _normalise_30(out)
        return out, size, cuts


def _normalise_30(schema: dict[str, Any]) -> None:
    """OpenAPI 3.0 spellings as JSON Schema 2020-12: ``nullable``, boolean ``exclusiveMinimum``."""
    if schema.pop("nullable", False) is True:
        t = schema.get("type")
        if isinstance(t, str):
            schema["type"] = [t, "null"]
            if "enum" in schema and None not in schema["enum"]:
                schema["enum"] = [*schema["enum"], None]
        elif t is None and any(k in schema for k in ("allOf", "anyOf", "oneOf", "$ref")):
            schema.update(anyOf=[{k: schema.pop(k) for k in list(schema) if k in ("allOf", "anyOf", "oneOf")}, {"type": "null"}])
    for bound in ("Minimum", "Maximum"):
        flag = schema.get(f"exclusive{bound}")
        if isinstance(flag, bool):
            del schema[f"exclusive{bound}"]
            if flag and bound.lower() in schema:
                schema[f"exclusive{bound}"] = schema.pop(bound.lower())


# -- operations -> interfaces ------------------------------------------------------------------------


def _datatype(schema: dict[str, Any]) -> str:
    t = schema.get("type")
    if isinstance(t, list):
        t = next((x for x in t if x != "null"), None)
    if t is None and "properties" in schema:
        t = "object"
    return {"integer": "int", "array": "list", "object": "object"}.get(t, "string")


#: parameter names that hold a secret whatever the schema says (Airflow's own ``password`` has no
#: ``format: password``): masked like ``sensitiveData="Y"``
SECRET_NAMES = re.compile(r"password|passwd|secret|api_?key|private_?key|credential|(access|refresh|auth|bearer|id)_?token", re.I)


def _secret_name(name: str) -> bool:
    return bool(SECRET_NAMES.search(name.replace("-", "_")))


def _sensitive(*nodes: dict[str, Any]) -> bool:
    for n in nodes:
        if isinstance(n, dict) and (n.get("format") == "password" or n.get("writeOnly") is True or n.get("x-sensitive") is True):
            return True
    return False


def _json_media(content: Any) -> tuple[str, Any] | None:
    """The JSON media type of a ``content`` map (``application/json``, ``*/*+json``), if any."""
    if not isinstance(content, dict):
        return None
    for media, obj in content.items():
        base = media.split(";")[0].strip().lower()
        if base == "application/json" or base.endswith("+json") or base == "*/*":
            return media, obj if isinstance(obj, dict) else {}
    return None


def _merged_properties(schema: dict[str, Any]) -> tuple[dict[str, Any], list[str]] | None:
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


def _server_url(*levels: Any) -> str:
    for servers in levels:
        if isinstance(servers, list) and servers and isinstance(servers[0], dict):
            url = str(servers[0].get("url", ""))
            for var, spec in (servers[0].get("variables") or {}).items():
                if isinstance(spec, dict):
                    url = url.replace("{" + var + "}", str(spec.get("default", "")))
            if "://" not in url and url and not url.startswith("/"):
                url = "/" + url
            return url.rstrip("/")
    return ""


def _auth(doc: dict, op: dict) -> dict[str, str]:
    """How the connection's secret is sent: the first security requirement we can meet."""
    requirements = op["security"] if "security" in op else doc.get("security")
    if requirements is None:
        return {"type": "bearer"}
    if not requirements:
        return {"type": "none"}
    schemes = (doc.get("components") or {}).get("securitySchemes") or {}
    for requirement in requirements:
        if not isinstance(requirement, dict):
            continue
        if not requirement:
            return {"type": "bearer"}
        for name in requirement:
            s = schemes.get(name) or {}
            if s.get("type") == "apiKey" and s.get("in") in ("header", "query") and s.get("name"):
                return {"type": "apiKey", "name": str(s["name"]), "location": s["in"]}
            if s.get("type") in ("oauth2", "openIdConnect") or (s.get("type") == "http" and str(s.get("scheme", "")).lower() == "bearer"):
                return {"type": "bearer"}
    return {"type": "bearer"}


class _Builder:
    def __init__(self, doc: dict, source: str, oas31: bool):
        self.doc = doc
        self.source = source
        self.r = _Resolver(doc, source, oas31)
        self.problems: list[tuple[str, str]] = []  # (pointer, message)

    def problem(self, where: str, message: str) -> None:
        self.problems.append((where, message))

    def interface(self, path: str, method: str, item: dict, op: dict, action: str) -> dict[str, Any]:
        where = _pointer("paths", path, method)
        inputs: list[dict[str, Any]] = []
        taken: set[str] = {"callbackParameter"}

        def add(name: str, location: str, schema: dict, required: bool, sensitive: bool, description: str) -> None:
            base = re.sub(r"\s+", "_", name) if _SPACE.search(name) else name
            final = base if base not in taken else f"{location}_{base}"
            n = 2
            while final in taken:
                final, n = f"{location}_{base}_{n}", n + 1
            taken.add(final)
            inputs.append(
                {
                    "name": final,
                    "datatype": _datatype(schema),
                    "required": required,
                    "sensitive": sensitive,
                    "description": description,
                    "location": location,
                    "wire_name": name if final != name else None,
                    "json_schema": schema,
                }
            )

        params: dict[tuple[str, str], dict] = {}
        for level, raw in (("path item", item.get("parameters")), ("operation", op.get("parameters"))):
            if raw is None:
                continue
            if not isinstance(raw, list):
                self.problem(where, f"{level} parameters must be a list")
                continue
            for i, p in enumerate(raw):
                p = self.r.follow(p, f"{where}/parameters/{i}")
                if not isinstance(p, dict) or not isinstance(p.get("name"), str) or p.get("in") not in ("path", "query", "header", "cookie"):
                    self.problem(f"{where}/parameters/{i}", "a parameter needs a name and in: path|query|header|cookie")
                    continue
                params[(p["in"], p["name"])] = p
        declared_path = {name for (loc, name) in params if loc == "path"}
        in_template = set(_PATH_PARAM.findall(path))
        if in_template - declared_path:
            self.problem(where, f"path parameter(s) {', '.join(sorted(in_template - declared_path))} used in the path but not declared")
        if declared_path - in_template:
            self.problem(where, f"path parameter(s) {', '.join(sorted(declared_path - in_template))} declared but not in the path")
        for location in ("path", "query", "header"):
            for (loc, name), p in params.items():
                if loc != location or (loc == "header" and name.lower() in IGNORED_HEADERS):
                    continue
                pwhere = f"{where}/parameters/{name}"
                raw_schema = p.get("schema")
                if raw_schema is None and isinstance(p.get("content"), dict) and p["content"]:
                    raw_schema = next(iter(p["content"].values()), {}).get("schema")
                schema = self.r.schema(raw_schema, pwhere)
                add(name, loc, schema, loc == "path" or p.get("required") is True,
                    _sensitive(p, schema) or _secret_name(name), str(p.get("description") or schema.get("description") or ""))

        body_mode, content_type = "none", "application/json"
        body = self.r.follow(op.get("requestBody"), f"{where}/requestBody")
        if isinstance(body, dict):
            bwhere = f"{where}/requestBody"
            body_required = body.get("required") is True
            media = _json_media(body.get("content"))
            if media:
                content_type = media[0] if media[0] != "*/*" else "application/json"
                schema = self.r.schema(media[1].get("schema"), bwhere)
                merged = _merged_properties(schema)
                if merged:
                    body_mode = "properties"
                    props, required = merged
                    for name, prop in props.items():
                        prop = prop if isinstance(prop, dict) else {}
                        add(name, "body", prop, body_required and name in required, _sensitive(prop) or _secret_name(name), str(prop.get("description", "")))
                else:
                    body_mode = "whole"
                    add("body", "body", schema, body_required, _sensitive(schema), str(body.get("description", "")))
            elif isinstance(body.get("content"), dict) and body["content"]:
                body_mode, content_type = "whole", next(iter(body["content"]))
                add("body", "body", {}, body_required, False, str(body.get("description", "")))

        outputs = []
        responses = op.get("responses") if isinstance(op.get("responses"), dict) else {}
        ok = sorted(str(c) for c in responses if str(c).startswith("2"))
        if ok:
            resp = self.r.follow(responses.get(ok[0], responses.get(int(ok[0]) if ok[0].isdigit() else ok[0])), f"{where}/responses/{ok[0]}")
            media = _json_media(resp.get("content")) if isinstance(resp, dict) else None
            if media:
                schema = self.r.schema(media[1].get("schema"), f"{where}/responses/{ok[0]}")
                merged = _merged_properties(schema)
                for name, prop in (merged[0] if merged else {"result": schema} if schema else {}).items():
                    prop = prop if isinstance(prop, dict) else {}
                    outputs.append({"name": re.sub(r"\s+", "_", name), "datatype": _datatype(prop), "sensitive": _sensitive(prop) or _secret_name(name),
                                    "description": str(prop.get("description", "")), "json_schema": prop})

        description = str(op.get("summary") or op.get("description") or "").strip()
        return {
            "action": action,
            "path": path,
            "http_method": method.upper(),
            "description": description,
            "inputs": inputs,
            "outputs": outputs,
            "protocol": "rest",
            "rest": {
                "server_url": _server_url(op.get("servers"), item.get("servers"), self.doc.get("servers")),
                "auth": _auth(self.doc, op),
                "body": body_mode,
                "content_type": content_type,
                "operation_id": str(op.get("operationId") or ""),
            },
        }


def load_openapi(
    data: bytes | str,
    *,
    source: str = "openapi.yaml",
    package: str | None = None,
    version: str | None = None,
) -> Package:
    """Parse an OpenAPI 3.0/3.1 document into a package of REST services.

    :param package: the package name (default: ``info.title`` as a slug)
    :param version: the package version (default: ``info.version``)
    :raises ManifestError: naming the file and the JSON pointer at fault; nothing is returned half-made
    """
    raw = data.encode() if isinstance(data, str) else data
    if len(raw) > MAX_OPENAPI_BYTES:
        raise ManifestError(f"refused: OpenAPI document larger than {MAX_OPENAPI_BYTES} bytes", source=source)
    doc = _parse(raw, source)
    oas31 = _check_version(doc, source)
    info = doc.get("info") if isinstance(doc.get("info"), dict) else {}
    paths = doc.get("paths")
    if paths is None and oas31 and doc.get("webhooks"):
        paths = {}
    if not isinstance(paths, dict):
        raise ManifestError("the document has no paths mapping (nothing to call)", source=source, element="/paths")
    builder = _Builder(doc, source, oas31)
    plugins: dict[str, list[dict[str, Any]]] = {}
    first_seen: dict[str, str] = {}
    for path, item in paths.items():
        where = _pointer("paths", path)
        if not isinstance(path, str) or not path.startswith("/"):
            builder.problem(where, "a path must start with '/'")
            continue
        item = builder.r.follow(item, where)
        if not isinstance(item, dict):
            builder.problem(where, "a path item must be a mapping")
            continue
        for method in METHODS:
            op = item.get(method)
            if op is None:
                continue
            owhere = _pointer("paths", path, method)
            if not isinstance(op, dict):
                builder.problem(owhere, "an operation must be a mapping")
                continue
            op_id = op.get("operationId")
            if op_id is not None and (not isinstance(op_id, str) or not safe_name(op_id)):
                builder.problem(owhere, f"operationId must be a non-empty string, got {op_id!r}")
                continue
            if op_id:
                if op_id in first_seen:
                    builder.problem(owhere, f"duplicate operationId {op_id!r} (also at {first_seen[op_id]})")
                    continue
                first_seen[op_id] = owhere
            tags = op.get("tags")
            tag = safe_name(str(tags[0])) if isinstance(tags, list) and tags and safe_name(str(tags[0])) else "api"
            action = safe_name(op_id) if op_id else operation_name(method, path)
            try:
                plugins.setdefault(tag, []).append(builder.interface(path, method, item, op, action))
            except ManifestError as e:
                builder.problem(e.element or owhere, e.message)
    if builder.problems:
        shown = "; ".join(f"{w}: {m}" for w, m in builder.problems[:20])
        more = f" (and {len(builder.problems) - 20} more)" if len(builder.problems) > 20 else ""
        raise ManifestError(
            f"{len(builder.problems)} problem(s): {shown}{more}", source=source, element=builder.problems[0][0]
        )
    if not plugins:
        raise ManifestError("the document declares no operations", source=source, element="/paths")
    name = package or _slug(str(info.get("title") or "api"))
    ver = version if version is not None else str(info.get("version") or "")
    fields = {
        "name": name,
        "version": ver,
        "description": str(info.get("description") or info.get("title") or "")[:2000],
        "source_format": "openapi",
        "plugins": [{"name": tag, "interfaces": itfs} for tag, itfs in plugins.items()],
    }
    try:
        return Package.model_validate(fields)
    except ValidationError as e:
        found = []
        for err in e.errors()[:10]:
            loc = err["loc"]
            if loc[:1] == ("name",):
                found.append(f"package name {name!r}: {err['msg']} (pass --package NAME)")
            elif loc[:1] == ("version",):
                found.append(f"version {ver!r} (info.version): {err['msg']} (pass --version)")
            else:
                found.append(f"{'.'.join(str(p) for p in loc)}: {err['msg']}")
        raise ManifestError("; ".join(found), source=source) from None
