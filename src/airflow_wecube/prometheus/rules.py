"""Rule group files: one group per file ``<rules_dir>/<name>.yml``, checked by promtool before going live.

The hook adds the Prometheus side (reload, confirm with ``/api/v1/rules``); this module only
validates, renders and swaps files, so a bad rule never replaces a good file.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import tempfile
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import yaml

from airflow_wecube.prometheus.errors import PrometheusConfigError, PrometheusRuleError
from airflow_wecube.prometheus.times import prometheus_duration
from airflow_wecube.util.files import atomic_write_text

GROUP_RE = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.:-]{0,199}$")
RULE_KEYS = {"alert", "record", "expr", "for", "keep_firing_for", "labels", "annotations"}


def validate_group_name(name: str) -> str:
    """A group name that is also a safe file name (letters, digits, ``_ . : -``)."""
    if not isinstance(name, str) or not GROUP_RE.fullmatch(name):
        raise PrometheusConfigError(f"invalid rule group name {name!r}: use letters, digits, '_', '.', ':', '-'")
    return name


def _duration(value: Any, what: str) -> str:
    try:
        return prometheus_duration(value, allow_zero=True)
    except ValueError as e:
        raise PrometheusConfigError(f"{what}: {e}") from None


def normalise_rules(rules: Iterable[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """Rules as Prometheus writes them; shape checked here, PromQL and semantics by promtool."""
    if isinstance(rules, Mapping) or isinstance(rules, (str, bytes)):
        raise PrometheusConfigError("rules must be a list of rule dicts (each with 'alert' or 'record' and 'expr')")
    try:
        rules = list(rules)
    except TypeError:
        raise PrometheusConfigError(f"rules must be a list of rule dicts, got {rules!r}") from None
    if not rules:
        raise PrometheusConfigError("a rule group needs at least one rule")
    out = []
    for i, rule in enumerate(rules):
        where = f"rule {i + 1}"
        if not isinstance(rule, Mapping):
            raise PrometheusConfigError(f"{where} must be a dict, got {rule!r}")
        unknown = set(rule) - RULE_KEYS
        if unknown:
            raise PrometheusConfigError(f"{where}: unknown keys {sorted(unknown)}; allowed: {sorted(RULE_KEYS)}")
        kinds = [k for k in ("alert", "record") if k in rule]
        if len(kinds) != 1 or not isinstance(rule[kinds[0]], str) or not rule[kinds[0]].strip():
            raise PrometheusConfigError(f"{where} needs exactly one of 'alert' or 'record' (a name)")
        where = f"{kinds[0]} {rule[kinds[0]]!r}"
        expr = rule.get("expr")
        if isinstance(expr, (int, float)) and not isinstance(expr, bool):
            expr = str(expr)
        if not isinstance(expr, str) or not expr.strip():
            raise PrometheusConfigError(f"{where} needs a non-empty 'expr'")
        item: dict[str, Any] = {kinds[0]: rule[kinds[0]].strip(), "expr": expr.strip()}
        for key in ("for", "keep_firing_for"):
            if rule.get(key) is not None:
                item[key] = _duration(rule[key], f"{where}: '{key}'")
        for key in ("labels", "annotations"):
            if rule.get(key) is None:
                continue
            value = rule[key]
            if not isinstance(value, Mapping) or not all(isinstance(k, str) for k in value):
                raise PrometheusConfigError(f"{where}: '{key}' must be a mapping of names to strings")
            item[key] = {k: v if isinstance(v, str) else str(v) for k, v in value.items()}
        out.append(item)
    return out


def render_group(name: str, rules: Iterable[Mapping[str, Any]], interval: Any = None) -> str:
    """The YAML of a rule file holding the one group ``name``."""
    group: dict[str, Any] = {"name": validate_group_name(name)}
    if interval is not None:
        group["interval"] = _duration(interval, "interval")
    group["rules"] = normalise_rules(rules)
    return yaml.safe_dump({"groups": [group]}, sort_keys=False, allow_unicode=True, width=1000)


def find_promtool(promtool: str | None = None) -> str:
    """Path of promtool (the given one, else from PATH, else /usr/bin/promtool)."""
    candidate = promtool or shutil.which("promtool") or "/usr/bin/promtool"
    if not os.access(candidate, os.X_OK):
        raise PrometheusRuleError(f"promtool not found at {candidate!r}: it checks rules before they go live")
    return candidate


def check_rules_text(text: str, *, promtool: str | None = None, display_name: str = "rules.yml") -> None:
    """Run ``promtool check rules`` on ``text``; raises :class:`PrometheusRuleError` with promtool's message."""
    binary = find_promtool(promtool)
    with tempfile.TemporaryDirectory(prefix="wecube-rules-") as tmp:
        path = Path(tmp) / display_name
        path.write_text(text, encoding="utf-8")
        try:
            proc = subprocess.run(
                [binary, "check", "rules", str(path)], capture_output=True, text=True, timeout=60, check=False
            )
        except subprocess.TimeoutExpired:
            raise PrometheusRuleError("promtool check rules timed out") from None
        output = "\n".join(part.strip() for part in (proc.stdout, proc.stderr) if part.strip())
        output = output.replace(str(path), display_name)
    if proc.returncode != 0:
        raise PrometheusRuleError(f"promtool refused rule file {display_name}:\n{output}", output=output)


def rule_file(rules_dir: str | Path, name: str) -> Path:
    """``<rules_dir>/<name>.yml``; the folder must exist."""
    folder = Path(rules_dir)
    if not folder.is_dir():
        raise PrometheusConfigError(f"rules folder {str(folder)!r} does not exist")
    return folder / f"{validate_group_name(name)}.yml"


def read_text(path: Path) -> str | None:
    """The file's text, or None when absent."""
    try:
        return Path(path).read_text(encoding="utf-8")
    except FileNotFoundError:
        return None


def restore(path: Path, previous: str | None) -> None:
    """Put back what :func:`read_text` returned before a change."""
    if previous is None:
        Path(path).unlink(missing_ok=True)
    else:
        atomic_write_text(Path(path), previous)


__all__ = [
    "check_rules_text",
    "find_promtool",
    "normalise_rules",
    "read_text",
    "render_group",
    "restore",
    "rule_file",
    "validate_group_name",
]
