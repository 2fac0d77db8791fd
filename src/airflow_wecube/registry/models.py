"""Pydantic models of a plugin package as WeCube's ``register.xml`` describes it.

Pure data: no Airflow import, so DAG files can load the registry cheaply at parse time.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

DataType = Literal["string", "int", "object", "list"]
InterfaceType = Literal["EXECUTION", "APPROVAL", "DYNAMICFORM"]
HttpMethod = Literal["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"]
#: how an interface is called: the WeCube plugin protocol, or plain REST (an OpenAPI operation)
Protocol = Literal["wecube", "rest"]
#: where a REST input goes in the request (OpenAPI ``in``, or a property of the JSON ``body``)
Location = Literal["path", "query", "header", "body"]


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
    def _path_is_absolute(cls, v: str) -> str:
        if not v.startswith("/"):
            raise ValueError(f"interface path must start with '/': {v!r}")
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

    name: str = Field(min_length=1, pattern=r"^[A-Za-z0-9_.\-]+$")
    version: str = Field(min_length=1, pattern=r"^[A-Za-z0-9_.\-+]+$")
    description: str = ""
    source_format: Literal["register.xml", "yaml", "zip", "openapi"] = "register.xml"
    dependencies: tuple[PackageDependency, ...] = ()
    system_parameters: tuple[SystemParameter, ...] = ()
    entities: tuple[Entity, ...] = ()
    menus: tuple[Menu, ...] = ()
    authorities: tuple[Authority, ...] = ()
    resource_dependencies: tuple[ResourceDependency, ...] = ()
    plugins: tuple[Plugin, ...] = ()

    def services(self) -> dict[str, Service]:
        """Every interface by service name.

        When several interfaces share a name (open-monitor's two ``snmp_exporter`` ``add``), the
        first keeps the plain name and the n-th is addressed as ``name#n`` (``...add#2``).
        """
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
