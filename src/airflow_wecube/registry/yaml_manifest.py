"""Load the native YAML manifest (schema: docs/manifest-yaml.md) into a :class:`Package`.

Errors name the file, the line and the key at fault: the YAML is composed first so every
pydantic error location can be mapped back to the node it came from.
"""

from __future__ import annotations

from typing import Any

import yaml
from pydantic import ValidationError

from airflow_wecube.exceptions import ManifestError, PlaceholderVersionError
from airflow_wecube.registry.models import Package

# YAML spelling -> model field, where they differ (the YAML reads like register.xml)
_ALIASES = {"method": "http_method", "async": "is_async", "sensitiveData": "sensitive"}


class _NoAliasLoader(yaml.SafeLoader):
    """Manifests are untrusted: YAML aliases (``*a``) are refused, since nested ones expand
    exponentially (the "billion laughs" of YAML); a manifest never needs them."""

    def compose_node(self, parent, index):
        if self.check_event(yaml.AliasEvent):
            event = self.peek_event()
            raise yaml.composer.ComposerError(
                None, None, "YAML aliases (*name) are not allowed in a manifest", event.start_mark
            )
        return super().compose_node(parent, index)


def _rename(value: Any) -> Any:
    if isinstance(value, dict):
        return {_ALIASES.get(k, k): _rename(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_rename(v) for v in value]
    return value


def _node_at(node: yaml.Node, loc: tuple) -> yaml.Node:
    """The deepest YAML node along a pydantic error location."""
    reverse = {v: k for k, v in _ALIASES.items()}
    for part in loc:
        if isinstance(node, yaml.MappingNode):
            for key, value in node.value:
                if key.value in (part, reverse.get(part)):
                    node = value
                    break
            else:
                return node
        elif isinstance(node, yaml.SequenceNode) and isinstance(part, int) and part < len(node.value):
            node = node.value[part]
        else:
            return node
    return node


def load_yaml_manifest(data: bytes | str, *, source: str = "manifest.yaml", version: str | None = None) -> Package:
    """Parse a YAML manifest.

    :param version: overrides the manifest's ``version`` (needed when it is a build placeholder)
    """
    try:
        node = yaml.compose(data, Loader=_NoAliasLoader)
        raw = yaml.load(data, Loader=_NoAliasLoader)  # noqa: S506 - a SafeLoader without aliases
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        raise ManifestError(
            f"malformed YAML: {getattr(e, 'problem', None) or e}",
            source=source,
            line=mark.line + 1 if mark else None,
        ) from None
    if not isinstance(raw, dict) or node is None:
        raise ManifestError(
            "a YAML manifest must be a mapping with package, version and plugins", source=source, line=1
        )
    fields = _rename(raw)
    if "package" in fields:
        fields["name"] = fields.pop("package")
    if version is not None:
        fields["version"] = version
    elif "{{" in str(fields.get("version", "")):
        raise PlaceholderVersionError(
            str(fields["version"]),
            source=source,
            line=_node_at(node, ("version",)).start_mark.line + 1,
            element="version",
        )
    fields["source_format"] = "yaml"
    if not fields.get("plugins"):
        raise ManifestError("manifest declares no plugins", source=source, line=1, element="plugins")
    try:
        return Package.model_validate(fields)
    except ValidationError as e:
        found = []
        for err in e.errors()[:10]:
            loc = tuple("package" if p == "name" and i == 0 else p for i, p in enumerate(err["loc"]))
            found.append((_node_at(node, loc).start_mark.line + 1, ".".join(str(p) for p in loc), err["msg"]))
        line, key, _ = found[0]
        text = "; ".join(f"line {ln} {k}: {msg}" for ln, k, msg in found)
        raise ManifestError(text, source=source, line=line, element=key) from None
