"""Load an OpenAPI 3.0/3.1 document (YAML or JSON) into a :class:`Package` of REST services.

Each operation becomes the service ``PACKAGE/TAG/OPERATION`` (docs/openapi.md): its path, query and
header parameters and its JSON body's properties are the inputs, the properties of its 2xx JSON
response the outputs, each with its JSON Schema (local ``$ref`` resolved, normalised to JSON Schema
2020-12) so calls are validated before any request. The document is untrusted input: YAML aliases,
remote ``$ref``, oversized files and runaway nesting are refused with the place named, and nothing
is written. Pure: no Airflow import.

The modules, in the order a load uses them: :mod:`.document` (reading the text safely, size,
nesting and alias limits, version), :mod:`.refs` (``$ref`` resolution, cycle and size bounds,
3.0 -> 2020-12), :mod:`.operations` (service names, server, auth) and :mod:`.params` (schemas
as inputs and outputs, name clashes, sensitivity).
"""

from __future__ import annotations

import re
from typing import Any

from pydantic import ValidationError

from airflow_wecube.exceptions import ManifestError
from airflow_wecube.registry.models import Package
from airflow_wecube.registry.openapi.document import MAX_NESTING, MAX_OPENAPI_BYTES, is_openapi, read_document
from airflow_wecube.registry.openapi.operations import METHODS, Builder, operation_name, safe_name
from airflow_wecube.registry.openapi.params import IGNORED_HEADERS, LOCATIONS
from airflow_wecube.registry.openapi.refs import MAX_REF_DEPTH, MAX_SCHEMA_NODES, pointer

__all__ = [
    "IGNORED_HEADERS",
    "LOCATIONS",
    "MAX_NESTING",
    "MAX_OPENAPI_BYTES",
    "MAX_REF_DEPTH",
    "MAX_SCHEMA_NODES",
    "METHODS",
    "is_openapi",
    "load_openapi",
    "operation_name",
    "safe_name",
]


def _slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.\-]+", "-", text.strip().lower()).strip("-.") or "api"


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
    doc, oas31 = read_document(raw, source)
    info = doc.get("info") if isinstance(doc.get("info"), dict) else {}
    paths = doc.get("paths")
    if paths is None and oas31 and doc.get("webhooks"):
        paths = {}
    if not isinstance(paths, dict):
        raise ManifestError("the document has no paths mapping (nothing to call)", source=source, element="/paths")
    builder = Builder(doc, source, oas31)
    plugins: dict[str, list[dict[str, Any]]] = {}
    first_seen: dict[str, str] = {}
    for path, item in paths.items():
        where = pointer("paths", path)
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
            owhere = pointer("paths", path, method)
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
