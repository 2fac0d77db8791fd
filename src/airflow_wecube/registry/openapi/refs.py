"""Resolve an OpenAPI document's local ``$ref`` and normalise its schemas to JSON Schema 2020-12.

Only references inside the document (``#/...``) are followed: a remote one is refused. Chains and
cycles are bounded (``MAX_REF_DEPTH`` hops; a recursive schema becomes "any value" where it recurs)
and a schema that expands beyond ``MAX_SCHEMA_NODES`` is refused, so a small document cannot
expand into a huge one. Pure: no Airflow import.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import unquote

from airflow_wecube.exceptions import ManifestError
from airflow_wecube.registry.openapi.document import MAX_NESTING

#: ``$ref`` hops on one resolution path (beyond: ``{}``)
MAX_REF_DEPTH = 32
#: JSON Schema nodes one input or output may expand to once its ``$ref`` are inlined
MAX_SCHEMA_NODES = 50_000
# keys whose values are data, not schemas: never walked for $ref
_DATA_KEYS = frozenset({"example", "examples", "enum", "const", "default", "x-examples"})
# keys whose values map names to schemas (the names are not walked as schema keywords)
_SCHEMA_MAPS = ("properties", "patternProperties", "$defs", "definitions", "dependentSchemas")


def pointer(*parts: Any) -> str:
    """A JSON pointer to a place in the document (``/`` and ``~`` escaped), for error messages."""
    return "/" + "/".join(str(p).replace("~", "~0").replace("/", "~1") for p in parts)


class Resolver:
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
                cut = frozenset({ref if ref in stack else None})
                resolved, size, cuts = {"description": f"(recursive: {ref})"}, 1, cut
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
            if key in _SCHEMA_MAPS and isinstance(value, dict):
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
            combined = {k: schema.pop(k) for k in list(schema) if k in ("allOf", "anyOf", "oneOf")}
            schema.update(anyOf=[combined, {"type": "null"}])
    for bound in ("Minimum", "Maximum"):
        flag = schema.get(f"exclusive{bound}")
        if isinstance(flag, bool):
            del schema[f"exclusive{bound}"]
            if flag and bound.lower() in schema:
                schema[f"exclusive{bound}"] = schema.pop(bound.lower())
