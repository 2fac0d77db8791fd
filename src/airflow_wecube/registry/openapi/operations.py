"""An OpenAPI operation as a REST service interface: its name, server, auth and parameters.

Each operation becomes the service ``PACKAGE/TAG/OPERATION`` (docs/openapi.md); the interface
carries what :mod:`airflow_wecube.protocol.rest` needs to call it. Problems are collected (with the JSON
pointer at fault) so one load names them all. Pure: no Airflow import.
"""

from __future__ import annotations

import re
from typing import Any

from airflow_wecube.registry.openapi import params
from airflow_wecube.registry.openapi.refs import Resolver, pointer

METHODS = ("get", "put", "post", "delete", "patch", "head", "options")
#: characters not kept in a service name's tag and operation parts (they would split the name)
_NAME_UNSAFE = re.compile(r"[\s/@#]+")


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


def server_url(*levels: Any) -> str:
    """The first server of the innermost level that has one (operation, path item, document),
    its variables at their defaults; relative URLs start with ``/``."""
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


def auth(doc: dict, op: dict) -> dict[str, str]:
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
            if s.get("type") in ("oauth2", "openIdConnect") or (
                s.get("type") == "http" and str(s.get("scheme", "")).lower() == "bearer"
            ):
                return {"type": "bearer"}
    return {"type": "bearer"}


class Builder:
    """Builds the interfaces of one document, collecting its problems as (pointer, message)."""

    def __init__(self, doc: dict, source: str, oas31: bool):
        self.doc = doc
        self.source = source
        self.r = Resolver(doc, source, oas31)
        self.problems: list[tuple[str, str]] = []  # (pointer, message)

    def problem(self, where: str, message: str) -> None:
        self.problems.append((where, message))

    def interface(self, path: str, method: str, item: dict, op: dict, action: str) -> dict[str, Any]:
        where = pointer("paths", path, method)
        inputs = params.Inputs()
        declared = params.declared_parameters(self.r, path, item, op, where, self.problem)
        params.add_parameters(inputs, self.r, declared, where)
        body_mode, content_type = params.add_body(inputs, self.r, op, where)
        outputs = params.outputs(self.r, op, where)
        description = str(op.get("summary") or op.get("description") or "").strip()
        return {
            "action": action,
            "path": path,
            "http_method": method.upper(),
            "description": description,
            "inputs": inputs.items,
            "outputs": outputs,
            "protocol": "rest",
            "rest": {
                "server_url": server_url(op.get("servers"), item.get("servers"), self.doc.get("servers")),
                "auth": auth(self.doc, op),
                "body": body_mode,
                "content_type": content_type,
                "operation_id": str(op.get("operationId") or ""),
            },
        }
