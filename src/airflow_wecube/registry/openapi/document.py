"""Read an OpenAPI document's text safely: YAML or JSON, size, nesting and alias limits, version.

The document is untrusted input: a file over ``MAX_OPENAPI_BYTES``, YAML aliases (which expand
exponentially), tags other than the core ones, more than one document and runaway nesting are
refused with the line named. Pure: no Airflow import.
"""

from __future__ import annotations

import json
import re
from typing import Any

import yaml

from airflow_wecube.exceptions import ManifestError

#: a larger document is refused before it is parsed
MAX_OPENAPI_BYTES = 16 * 1024 * 1024
#: structural nesting of the document (YAML gets four times this; schemas are walked to it)
MAX_NESTING = 64
_DETECT = re.compile(rb"""^(?:\{\s*)?["']?(openapi|swagger)["']?\s*:""", re.M)


def is_openapi(data: bytes) -> bool:
    """Whether a YAML/JSON text has a top-level ``openapi:`` (or ``swagger:``) key."""
    return bool(_DETECT.search(data[: 1024 * 1024]))


def read_document(data: bytes, source: str) -> tuple[dict[str, Any], bool]:
    """The parsed document and whether it is OpenAPI 3.1 (else 3.0); refused if too large or not 3.x."""
    if len(data) > MAX_OPENAPI_BYTES:
        raise ManifestError(f"refused: OpenAPI document larger than {MAX_OPENAPI_BYTES} bytes", source=source)
    doc = parse(data, source)
    return doc, check_version(doc, source)


def parse(data: bytes, source: str) -> Any:
    """The text as plain values: JSON if it starts with ``{``, else YAML read by :func:`_yaml_load`."""
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
        conv = {
            "!!str": str,
            "!!int": lambda v: int(v, 0),
            "!!float": float,
            "!!bool": lambda v: _BOOLS[v],
            "!!null": lambda v: None,
        }.get(short)
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
        if v.startswith("0x"):
            return sign * int(v, 16)
        return sign * (int(v[2:], 2) if v.startswith("0b") else int(v.lstrip("0o") or "0", 8))
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


def check_version(doc: Any, source: str) -> bool:
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
            f"unsupported OpenAPI version {version!r}: OpenAPI 3.0 and 3.1 are supported",
            source=source,
            element="openapi",
        )
    return version.startswith("3.1")
