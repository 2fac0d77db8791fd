"""Pydantic models of a plugin package as WeCube's ``register.xml`` describes it.

Pure data: no Airflow import, so DAG files can load the registry cheaply at parse time.
"""

from __future__ import annotations

import re
from typing import Any, Literal
from urllib.parse import unquote

from pydantic import BaseModel, ConfigDict, Field, field_validator

DataType = Literal["string", "int", "object", "list"]
InterfaceType = Literal["EXECUTION", "APPROVAL", "DYNAMICFORM"]
HttpMethod = Literal["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"]
#: how an interface is called: the WeCube plugin protocol, or plain REST (an OpenAPI operation)
Protocol = Literal["wecube", "rest"]
#: where a REST input goes in the request (OpenAPI ``in``, or a property of the JSON ``body``)
Location = Literal["path", "query", "header", "body"]


_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
_ENCODED_SEPARATOR = re.compile(r"%(?:2f|5c)", re.IGNORECASE)
_PACKAGE_CHARS = re.compile(r"[A-Za-z0-9_.\-]+")
_VERSION_CHARS = re.compile(r"[A-Za-z0-9_.\-+]+")


def path_segment_problem(value: str) -> str | None:
    """Why ``value`` cannot be one folder or file name of the registry, or None when it can.

    Package names and versions become ``{root}/{package}/{version}.json``, and plugin names sit
    between the ``/`` of a service name: ``.``/``..``, a leading dot (a hidden file that never
    lists), a path separator or a control character (a trailing newline) would break out of that.
    """
    if value in (".", ".."):
        return f"{value!r} is a relative folder name"
    if value.startswith("."):
        return f"{value!r} starts with a dot"
    if "/" in value or "\\" in value:
        return f"{value!r} contains a path separator"
    if _CONTROL.search(value):
        return f"{value!r} contains a control character (a newline?)"
    return None


def interface_path_problem(path: str) -> str | None:
    """Why ``path`` may leave the plugin's base URL once joined to it, or None when it cannot.

    ``requests`` collapses ``..`` and ``.`` segments, so ``/x/../../admin`` would call another
    endpoint of the gateway than the plugin's. Percent-encoded dots and separators are decoded
    by many servers, so they are refused too, however often they are encoded.
    """
    if not path.startswith("/"):
        return "it must start with '/'"
    if _CONTROL.search(path):
        return "it contains a control character"
    decoded = path
    for _ in range(5):  # %252e -> %2e -> .
        if _ENCODED_SEPARATOR.search(decoded):
            return "it contains a percent-encoded '/' or '\\' (%2f, %5c)"
        once = unquote(decoded)
        if once == decoded:
            break
        decoded = once
    if "\\" in decoded:
        return "it contains a backslash"
    # the whole path, query included (an encoded '?' is no query to requests), and Java servers
    # read '..;x' as '..'
    segments = decoded.split("/")[1:]
    if any(s.split(";", 1)[0] in (".", "..") for s in segments):
        return "it has a '.' or '..' segment (also when percent-encoded)"
    if "" in segments[:-1]:  # a trailing '/' is fine, '//' is not
        return "it contains '//'"
    return None


def _segment(what: str, hint: str, allowed: re.Pattern[str] | None = None):
    """A pydantic validator refusing names that are no safe path segment (or have other characters)."""

    def check(cls, v: str) -> str:
        problem = path_segment_problem(v)
        if problem is None and allowed is not None and not allowed.fullmatch(v):
            problem = f"{v!r} has other characters"
        if problem:
            raise ValueError(f"{what} {problem}; {hint}")
        return v

    return classmethod(check)


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Parameter(_Model):
    """One input or output parameter of an interface."""

    name: str = Field(min_length=1, pattern=r"^\S+$")
    datatype: DataType = "string"
    required: bool = False
    sensitive: bool = False
    mapping_type: str | None = None
    mapping_entity_expression: str | None = None
    mapping_system_variable_name: str | None = None
    multiple: bool = False
    description: str = ""
    # REST services (OpenAPI) only: where the value goes, its name on the wire when it differs
    # from ``name`` (clashes, see docs/openapi.md), and its JSON Schema (local $refs resolved)
    location: Location | None = None
    wire_name: str | None = None
    json_schema: dict[str, Any] | None = None


class RestAuth(_Model):
    """How a REST service takes the connection's secret: bearer token, or an API key by name."""

    type: Literal["bearer", "apiKey", "none"] = "bearer"
    name: str = ""
    location: Literal["header", "query", ""] = ""


class RestDetails(_Model):
    """What calling an OpenAPI operation needs beyond method and path."""

    server_url: str = ""
    auth: RestAuth = RestAuth()
    body: Literal["none", "properties", "whole"] = "none"
    content_type: str = "application/json"
    operation_id: str = ""


class Interface(_Model):
    """One callable action of a plugin: an HTTP endpoint with typed parameters."""

    action: str = Field(min_length=1)
    path: str = Field(min_length=1)
    http_method: HttpMethod = "POST"
    is_async: bool = False
    type: InterfaceType = "EXECUTION"
    filter_rule: str = ""
    description: str = ""
    inputs: tuple[Parameter, ...] = ()
    outputs: tuple[Parameter, ...] = ()
    protocol: Protocol = "wecube"
    rest: RestDetails | None = None

    @field_validator("path")
    @classmethod
    def _path_is_safe(cls, v: str) -> str:
        problem = interface_path_problem(v)
        if problem:
            raise ValueError(
                f"interface path {v!r} is refused: {problem}; write the plain path below the plugin's base URL,"
                " e.g. /plugin/v1/resource/action"
            )
        return v

    @property
    def sensitive_inputs(self) -> frozenset[str]:
        return frozenset(p.name for p in self.inputs if p.sensitive)


class Plugin(_Model):
    """A ``<plugin>`` element: a group of interfaces acting on one target entity."""

    name: str = Field(min_length=1)
    register_name: str = ""
    target_package: str = ""
    target_entity: str = ""
    target_entity_filter_rule: str = ""
    interfaces: tuple[Interface, ...] = ()

    _name = field_validator("name")(
        _segment("plugin name", "use letters, digits, '_', '-' or '.', not starting with a dot and without '/' or '\\'")
    )


class PackageDependency(_Model):
    name: str
    version: str = ""


class SystemParameter(_Model):
    name: str
    scope_type: str = ""
    default_value: str = ""


class EntityAttribute(_Model):
    name: str
    datatype: str = ""
    description: str = ""
    ref_package: str = ""
    ref_entity: str = ""


class Entity(_Model):
    name: str
    display_name: str = ""
    description: str = ""
    attributes: tuple[EntityAttribute, ...] = ()


class Menu(_Model):
    code: str
    category: str = ""
    display_name: str = ""
    local_display_name: str = ""
    url: str = ""


class Authority(_Model):
    role: str
    menus: tuple[str, ...] = ()


class ResourceDependency(_Model):
    """A runtime resource the plugin needs (docker, mysql, s3...); described, not run by us."""

    kind: str
    attributes: dict[str, str] = Field(default_factory=dict)


class Service(_Model):
    """One interface of one plugin, addressable by its WeCube service name."""

    name: str
    package: str
    version: str
    plugin: str
    register_name: str = ""
    interface: Interface

    @property
    def method(self) -> str:
        return self.interface.http_method

    @property
    def path(self) -> str:
        return self.interface.path

    def summary(self) -> dict[str, Any]:
        """The flat row ``wecube plugins list --json`` prints."""
        i = self.interface
        return {
            "service": self.name,
            "package": self.package,
            "version": self.version,
            "plugin": self.plugin,
            "action": i.action,
            "path": i.path,
            "method": i.http_method,
            "async": i.is_async,
            "type": i.type,
            "protocol": i.protocol,
            "inputs": [p.name for p in i.inputs],
            "outputs": [p.name for p in i.outputs],
        }


def service_name(package: str, plugin: str, action: str, register_name: str = "") -> str:
    """WeCube's service name: ``pkg/plugin/action`` or ``pkg/plugin(registerName)/action``."""
    middle = f"{plugin}({register_name})" if register_name else plugin
    return f"{package}/{middle}/{action}"


class Package(_Model):
    """A plugin package: the unit that is registered, versioned and pinned."""

    name: str = Field(min_length=1)
    version: str = Field(min_length=1)
    description: str = ""
    source_format: Literal["register.xml", "yaml", "zip", "openapi"] = "register.xml"
    dependencies: tuple[PackageDependency, ...] = ()
    system_parameters: tuple[SystemParameter, ...] = ()
    entities: tuple[Entity, ...] = ()
    menus: tuple[Menu, ...] = ()
    authorities: tuple[Authority, ...] = ()
    resource_dependencies: tuple[ResourceDependency, ...] = ()
    plugins: tuple[Plugin, ...] = ()

    _name = field_validator("name")(
        _segment("package name", "use letters, digits, '_', '-' or '.', not starting with a dot", _PACKAGE_CHARS)
    )
    _version = field_validator("version")(
        _segment(
            "package version",
            "use letters, digits, '_', '-', '+' or '.', not starting with a dot (e.g. 1.2.0)",
            _VERSION_CHARS,
        )
    )

    def services(self) -> dict[str, Service]:
        """Every interface by service name.

        When several interfaces share a name (open-monitor's two ``snmp_exporter`` ``add``), the
        first keeps the plain name and the n-th is addressed as ``name#n`` (``...add#2``).

        Built once per package object (the registry keeps one per file version), not on every
        lookup: a plugin call looks its service up each time.
        """
        key = (self.name, self.version, id(self.plugins))  # a model_copy(update=...) gets its own
        cached = self.__dict__.get("_services")
        if cached is None or cached[0] != key:
            cached = (key, self._build_services())
            self.__dict__["_services"] = cached  # frozen model: not a field, so not dumped nor compared
        return dict(cached[1])

    def _build_services(self) -> dict[str, Service]:
        out: dict[str, Service] = {}
        for plugin in self.plugins:
            for itf in plugin.interfaces:
                base = service_name(self.name, plugin.name, itf.action, plugin.register_name)
                name, n = base, 1
                while name in out:
                    n += 1
                    name = f"{base}#{n}"
                out[name] = Service(
                    name=name,
                    package=self.name,
                    version=self.version,
                    plugin=plugin.name,
                    register_name=plugin.register_name,
                    interface=itf,
                )
        return out

    def warnings(self) -> list[str]:
        """Problems that WeCube accepts and so do we, reported to the user at registration."""
        groups: dict[str, list[Service]] = {}
        for svc in self.services().values():
            groups.setdefault(svc.name.split("#", 1)[0], []).append(svc)
        return [
            f"service {base} is declared {len(same)} times ("
            + ", ".join(f"{svc.name} -> {svc.path}" for svc in same)
            + ")"
            for base, same in groups.items()
            if len(same) > 1
        ]
