"""Alertmanager matchers: ``name="value"``, ``name!="value"``, ``name=~"regex"``, ``name!~"regex"``.

Pure: no Airflow import. :func:`matcher_strings` turns what a DAG author writes (a mapping of equality
matchers, or matcher strings) into the ``filter`` strings of ``GET /api/v2/alerts``;
:func:`silence_matchers` into the matcher objects of ``POST /api/v2/silences``.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping
from typing import Any

from airflow_wecube.alertmanager.errors import AlertmanagerConfigError

#: label names as Prometheus and Alertmanager allow them
LABEL_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
#: one matcher string: name, operator, double-quoted value (JSON string escapes)
_MATCHER = re.compile(r'\s*([A-Za-z_][A-Za-z0-9_]*)\s*(=~|!~|!=|=)\s*("(?:[^"\\]|\\.)*")\s*')
_OPS = {"=": (True, False), "!=": (False, False), "=~": (True, True), "!~": (False, True)}

Matchers = Mapping[str, str] | Iterable[str]


def _parse(matchers: Matchers | None) -> list[tuple[str, str, str]]:
    """``[(name, operator, value)]``; every bad matcher is named in one error."""
    if matchers is None:
        return []
    if isinstance(matchers, str):
        matchers = [matchers]
    out, problems = [], []
    if isinstance(matchers, Mapping):
        for name, value in matchers.items():
            if not isinstance(name, str) or not LABEL_NAME.fullmatch(name):
                problems.append(f"label name {name!r} is not a valid label name ([A-Za-z_][A-Za-z0-9_]*)")
            elif not isinstance(value, str):
                problems.append(f"label {name}: value must be a string, got {value!r}")
            else:
                out.append((name, "=", value))
    else:
        for text in matchers:
            match = _MATCHER.fullmatch(text) if isinstance(text, str) else None
            if not match:
                problems.append(f'matcher {text!r} is not name="value", name!="value", name=~"re" or name!~"re"')
                continue
            name, op, quoted = match.groups()
            try:
                value = json.loads(quoted)
            except ValueError:
                problems.append(f"matcher {text!r}: the quoted value has a bad escape")
                continue
            out.append((name, op, value))
    for name, op, value in out:
        if op in ("=~", "!~"):
            try:
                re.compile(value)
            except re.error as exc:
                problems.append(f"matcher on {name}: {value!r} is not a regular expression ({exc})")
    if problems:
        raise AlertmanagerConfigError("bad matchers: " + "; ".join(problems))
    return out


def matcher_strings(matchers: Matchers | None) -> list[str]:
    """The ``filter`` strings for ``GET /api/v2/alerts`` (values quoted and escaped)."""
    return [f"{name}{op}{json.dumps(value)}" for name, op, value in _parse(matchers)]


def silence_matchers(matchers: Matchers) -> list[dict[str, Any]]:
    """The ``matchers`` of a silence; a silence needs at least one matcher that is not empty-matching."""
    parsed = _parse(matchers)
    if not parsed:
        raise AlertmanagerConfigError("a silence needs at least one matcher (e.g. {'alertname': 'AccountServiceDown'})")
    out = []
    for name, op, value in parsed:
        is_equal, is_regex = _OPS[op]
        out.append({"name": name, "value": value, "isEqual": is_equal, "isRegex": is_regex})
    return out
