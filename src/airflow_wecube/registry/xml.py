"""Load WeCube's ``register.xml`` into a :class:`Package`.

Manifests are untrusted: parsed with defusedxml (no DTDs, entities or external references), and
every problem is reported with the file, line and element at fault.
"""

from __future__ import annotations

import re
from typing import Any
from xml.etree.ElementTree import Element, ParseError

from defusedxml import DefusedXmlException
from defusedxml.ElementTree import DefusedXMLParser
from pydantic import ValidationError

from airflow_wecube.exceptions import ManifestError, PlaceholderVersionError
from airflow_wecube.registry.models import (
    Authority,
    Entity,
    EntityAttribute,
    Interface,
    Menu,
    Package,
    PackageDependency,
    Parameter,
    Plugin,
    ResourceDependency,
    SystemParameter,
)

PLACEHOLDER = re.compile(r"\{\{\s*[A-Za-z0-9_]+\s*\}\}")


class _LineParser(DefusedXMLParser):
    """defusedxml's parser, recording each element's line so errors can point at it."""

    def __init__(self) -> None:
        super().__init__(forbid_dtd=True, forbid_entities=True, forbid_external=True)

    def _start(self, tag, attr_list):  # noqa: ANN001 - expat callback
        elem = super()._start(tag, attr_list)
        elem.sourceline = self.parser.CurrentLineNumber
        return elem


def _parse(data: bytes, source: str) -> Element:
    parser = _LineParser()
    try:
        parser.feed(data)
        return parser.close()
    except ParseError as e:
        line = e.position[0] if getattr(e, "position", None) else None
        raise ManifestError(f"malformed XML: {e}", source=source, line=line) from None
    except DefusedXmlException as e:
        raise ManifestError(
            f"refused unsafe XML ({type(e).__name__}): DTDs, entities and external references are not allowed",
            source=source,
        ) from None


def _yn(value: str | None, default: bool = False) -> bool:
    if value is None or value.strip() == "":
        return default
    v = value.strip().upper()
    if v in ("Y", "YES", "TRUE"):
        return True
    if v in ("N", "NO", "FALSE"):
        return False
    raise ValueError(f"expected Y or N, got {value!r}")


def _a(elem: Element, name: str, default: str = "") -> str:
    return (elem.get(name) or default).strip()


class _Builder:
    def __init__(self, source: str):
        self.source = source

    def fail(self, elem: Element, message: str) -> ManifestError:
        return ManifestError(message, source=self.source, line=getattr(elem, "sourceline", None), element=elem.tag)

    def build(self, elem: Element, model: type, **fields: Any):
        try:
            return model(**fields)
        except (ValidationError, ValueError) as e:
            if isinstance(e, ValidationError):
                msg = "; ".join(
                    f"{'.'.join(str(x) for x in err['loc']) or 'value'}: {err['msg']}" for err in e.errors()
                )
            else:
                msg = str(e)
            raise self.fail(elem, msg) from None

    def yn(self, elem: Element, attr: str, default: bool = False) -> bool:
        try:
            return _yn(elem.get(attr), default)
        except ValueError as e:
            raise self.fail(elem, f"attribute {attr}: {e}") from None

    def parameter(self, elem: Element) -> Parameter:
        name = "".join(elem.itertext()).strip()
        if not name:
            raise self.fail(elem, "parameter has no name (the element text is the name)")
        return self.build(
            elem,
            Parameter,
            name=name,
            datatype=_a(elem, "datatype", "string").lower() or "string",
            required=self.yn(elem, "required"),
            sensitive=self.yn(elem, "sensitiveData"),
            mapping_type=_a(elem, "mappingType") or None,
            mapping_entity_expression=_a(elem, "mappingEntityExpression") or None,
            mapping_system_variable_name=_a(elem, "mappingSystemVariableName") or None,
            multiple=self.yn(elem, "multiple"),
            description=_a(elem, "description"),
        )

    def interface(self, elem: Element) -> Interface:
        if not _a(elem, "action"):
            raise self.fail(elem, "interface has no action")
        if not _a(elem, "path"):
            raise self.fail(elem, f"interface {_a(elem, 'action')!r} has no path")
        params = {}
        for group, key in (("inputParameters", "inputs"), ("outputParameters", "outputs")):
            block = elem.find(group)
            items = [] if block is None else [self.parameter(p) for p in block.findall("parameter")]
            names = [p.name for p in items]
            dupes = sorted({n for n in names if names.count(n) > 1})
            if dupes:
                raise self.fail(block, f"parameter(s) declared twice: {', '.join(dupes)}")
            params[key] = tuple(items)
        return self.build(
            elem,
            Interface,
            action=_a(elem, "action"),
            path=_a(elem, "path"),
            http_method=_a(elem, "httpMethod", "POST").upper() or "POST",
            is_async=self.yn(elem, "isAsyncProcessing"),
            type=_a(elem, "type", "EXECUTION").upper() or "EXECUTION",
            filter_rule=_a(elem, "filterRule"),
            description=_a(elem, "description"),
            **params,
        )

    def plugin(self, elem: Element) -> Plugin:
        return self.build(
            elem,
            Plugin,
            name=_a(elem, "name"),
            register_name=_a(elem, "registerName"),
            target_package=_a(elem, "targetPackage"),
            target_entity=_a(elem, "targetEntity"),
            target_entity_filter_rule=_a(elem, "targetEntityFilterRule"),
            interfaces=tuple(self.interface(i) for i in elem.findall("interface")),
        )

    def entity(self, elem: Element) -> Entity:
        attrs = tuple(
            self.build(
                a,
                EntityAttribute,
                name=_a(a, "name"),
                datatype=_a(a, "datatype"),
                description=_a(a, "description"),
                ref_package=_a(a, "refPackage"),
                ref_entity=_a(a, "refEntity"),
            )
            for a in elem.findall("attribute")
        )
        return self.build(
            elem,
            Entity,
            name=_a(elem, "name"),
            display_name=_a(elem, "displayName"),
            description=_a(elem, "description"),
            attributes=attrs,
        )

    def package(self, root: Element, version: str | None) -> Package:
        if root.tag != "package":
            raise self.fail(root, f"root element must be <package>, not <{root.tag}>")
        declared = _a(root, "version")
        if version is None:
            if not declared:
                raise self.fail(root, "package has no version; pass one explicitly (--version)")
            if PLACEHOLDER.search(declared):
                raise PlaceholderVersionError(
                    declared, source=self.source, line=getattr(root, "sourceline", None), element=root.tag
                )
            version = declared

        def each(path: str) -> list[Element]:
            return root.findall(path)

        plugins_blocks = each("plugins")
        if not plugins_blocks:
            raise self.fail(root, "package declares no <plugins>")
        return self.build(
            root,
            Package,
            name=_a(root, "name"),
            version=version,
            description=_a(root, "description"),
            source_format="register.xml",
            dependencies=tuple(
                self.build(d, PackageDependency, name=_a(d, "name"), version=_a(d, "version"))
                for d in each("packageDependencies/packageDependency")
            ),
            system_parameters=tuple(
                self.build(
                    s,
                    SystemParameter,
                    name=_a(s, "name"),
                    scope_type=_a(s, "scopeType"),
                    default_value=s.get("defaultValue") or "",
                )
                for s in each("systemParameters/systemParameter")
            ),
            entities=tuple(self.entity(e) for e in each("dataModel/entity")),
            menus=tuple(
                self.build(
                    m,
                    Menu,
                    code=_a(m, "code"),
                    category=_a(m, "cat"),
                    display_name=_a(m, "displayName"),
                    local_display_name=_a(m, "localDisplayName"),
                    url=(m.text or "").strip(),
                )
                for m in each("menus/menu")
            ),
            authorities=tuple(
                self.build(
                    a,
                    Authority,
                    role=_a(a, "systemRoleName"),
                    menus=tuple(_a(m, "code") for m in a.findall("menu")),
                )
                for a in each("authorities/authority")
            ),
            resource_dependencies=tuple(
                ResourceDependency(kind=r.tag, attributes={k: v for k, v in r.attrib.items()})
                for r in each("resourceDependencies/*")
            ),
            plugins=tuple(self.plugin(p) for block in plugins_blocks for p in block.findall("plugin")),
        )


def load_register_xml(data: bytes | str, *, source: str = "register.xml", version: str | None = None) -> Package:
    """Parse a ``register.xml`` document.

    :param data: the document (bytes preferred, so the XML declaration's encoding applies)
    :param source: name used in error messages
    :param version: the package version to register; required when the file's version is a
        build placeholder such as ``{{PLUGIN_VERSION}}``
    """
    if isinstance(data, str):
        data = data.encode("utf-8")
    root = _parse(data, source)
    return _Builder(source).package(root, version)
