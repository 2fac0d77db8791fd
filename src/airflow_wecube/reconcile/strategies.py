"""Strategies: what the reconcile does for each kind x class of difference, declared in
``dags/designs/strategies.yml`` beside the design (docs/reconcile.md).

Actions: ``create``, ``update``, ``recreate`` (delete, then create), ``delete``, ``ask`` (a person
decides in Required Actions) and ``ignore``. Built-in defaults: missing -> create, changed ->
update (ask where a kind cannot be updated in place), extra -> ask, stale_record -> update (the
record is written again from what the plugin reports). Nothing real is deleted unless the file says
so for that kind: ``delete`` and ``recreate`` are refused under ``default:``.

A file with mistakes is refused as a whole, every mistake named with where it is.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from airflow_wecube.reconcile.differences import CHANGED, CLASSES, EXTRA, KINDS, MISSING, STALE_RECORD

CREATE, UPDATE, RECREATE, DELETE, ASK, IGNORE = "create", "update", "recreate", "delete", "ask", "ignore"
ACTIONS = (CREATE, UPDATE, RECREATE, DELETE, ASK, IGNORE)
#: actions that remove something real
DESTRUCTIVE = frozenset({RECREATE, DELETE})
#: actions that change something (the others only record or ask)
CHANGING = frozenset({CREATE, UPDATE, RECREATE, DELETE})

#: per kind and class, the changing actions the owning plugins make possible (ask and ignore always are)
POSSIBLE: dict[str, dict[str, frozenset[str]]] = {
    "data_center": {MISSING: frozenset({CREATE}), STALE_RECORD: frozenset({UPDATE})},
    "vpc": {MISSING: frozenset({CREATE}), STALE_RECORD: frozenset({UPDATE})},
    "subnet": {
        MISSING: frozenset({CREATE}),
        CHANGED: frozenset({RECREATE}),
        EXTRA: frozenset({DELETE}),
        STALE_RECORD: frozenset({UPDATE}),
    },
    **{
        kind: {
            MISSING: frozenset({CREATE}),
            CHANGED: frozenset({UPDATE, RECREATE}),
            EXTRA: frozenset({DELETE}),
            STALE_RECORD: frozenset({UPDATE}),
        }
        for kind in ("route_table", "security_group")
    },
    "app_instance": {
        MISSING: frozenset({CREATE}),
        CHANGED: frozenset({UPDATE}),
        EXTRA: frozenset({DELETE}),
        STALE_RECORD: frozenset({UPDATE}),
    },
}
#: why an action is not possible, for the error message
WHY_NOT = {
    ("vpc", CHANGED): "a VPC's address space cannot change",
    ("vpc", EXTRA): "only the designed VPC is compared",
    ("subnet", CHANGED): "a subnet's block cannot change in place: recreate it",
    ("data_center", CHANGED): "a data center has no attributes to change",
    ("data_center", EXTRA): "only the designed data center is compared",
}
BUILTIN = {MISSING: CREATE, CHANGED: UPDATE, EXTRA: ASK, STALE_RECORD: UPDATE}
#: desired instance count sources of an app
DESIRED = ("record", "capacity")
DEFAULT_MAX_CHANGES = 20


class StrategyError(ValueError):
    """The strategies file is not usable; the message lists every problem. Nothing was changed."""


@dataclass(frozen=True)
class AppStrategy:
    """How many instances an app should run: as recorded by its rollout, a fixed count, or the
    capacity model's count (kept within ``floor`` and ``ceiling``; it only adds to what is recorded)."""

    desired: str | int = "record"
    model: str | None = None
    floor: int = 1
    ceiling: int = 6


@dataclass(frozen=True)
class Strategies:
    actions: dict[str, dict[str, str]]
    apps: dict[str, AppStrategy] = field(default_factory=dict)
    max_changes: int = DEFAULT_MAX_CHANGES

    def action(self, kind: str, cls: str) -> str:
        return self.actions.get(kind, {}).get(cls, ASK)


def _default_action(kind: str, cls: str) -> str:
    action = BUILTIN[cls]
    return action if action in POSSIBLE.get(kind, {}).get(cls, frozenset()) or action in (ASK, IGNORE) else ASK


def _check_action(kind: str | None, cls: str, value: Any, where: str, problems: list[str]) -> str | None:
    if cls not in CLASSES:
        problems.append(f"{where}: unknown class {cls!r}; the classes are {', '.join(CLASSES)}")
        return None
    if value not in ACTIONS:
        problems.append(f"{where}.{cls}: unknown action {value!r}; the actions are {', '.join(ACTIONS)}")
        return None
    if kind is None and value in DESTRUCTIVE:
        problems.append(
            f"{where}.{cls}: {value} removes real things and is never a default: name the kind under kinds:"
        )
        return None
    kinds = [kind] if kind else list(KINDS)
    for k in kinds:
        if value in CHANGING and value not in POSSIBLE.get(k, {}).get(cls, frozenset()):
            if kind is None:
                continue  # a default applies where it can; elsewhere the built-in stays
            possible = sorted(POSSIBLE.get(k, {}).get(cls, frozenset()) | {ASK, IGNORE})
            why = WHY_NOT.get((k, cls), f"the {k.replace('_', ' ')} plugin cannot {value} one")
            problems.append(f"{where}.{cls}: {value} is not possible for {k} ({why}); use {' or '.join(possible)}")
            return None
    return value


def _mapping(value: Any, where: str, problems: list[str]) -> dict:
    if value is None:
        return {}
    if not isinstance(value, dict):
        problems.append(f"{where} must be a mapping, got {type(value).__name__}")
        return {}
    return value


def _int(value: Any, where: str, problems: list[str], low: int) -> int | None:
    if not isinstance(value, int) or isinstance(value, bool) or value < low:
        problems.append(f"{where} must be an integer of at least {low}, got {value!r}")
        return None
    return value


def _app(name: str, spec: Any, problems: list[str]) -> AppStrategy | None:
    where = f"apps.{name}"
    spec = _mapping(spec, where, problems)
    unknown = set(spec) - {"desired", "model", "floor", "ceiling"}
    if unknown:
        problems.append(f"{where}: unknown key(s) {', '.join(sorted(unknown))} (desired, model, floor, ceiling)")
    desired = spec.get("desired", "record")
    if isinstance(desired, bool) or not (desired in DESIRED or (isinstance(desired, int) and desired >= 0)):
        problems.append(f"{where}.desired must be record, capacity or an instance count, got {desired!r}")
        return None
    model = spec.get("model")
    if desired == "capacity" and not (isinstance(model, str) and model):
        problems.append(f"{where}: desired: capacity needs model: (the capacity spec's name, e.g. account_service)")
    floor = _int(spec.get("floor", 1), f"{where}.floor", problems, 1)
    ceiling = _int(spec.get("ceiling", 6), f"{where}.ceiling", problems, 1)
    if floor is not None and ceiling is not None and floor > ceiling:
        problems.append(f"{where}: floor {floor} is above ceiling {ceiling}")
    if floor is None or ceiling is None:
        return None
    return AppStrategy(desired=desired, model=model, floor=floor, ceiling=ceiling)


def parse_strategies(data: Any, source: str = "strategies") -> Strategies:
    """Strategies from the file's content (``None``: the built-in defaults).

    :raises StrategyError: listing every problem, each with where it is
    """
    problems: list[str] = []
    data = _mapping(data, source, problems)
    unknown = set(data) - {"default", "kinds", "apps", "max_changes"}
    if unknown:
        problems.append(f"unknown key(s) {', '.join(sorted(unknown))} (default, kinds, apps, max_changes)")
    actions = {k: {c: _default_action(k, c) for c in CLASSES} for k in KINDS}
    for cls, value in _mapping(data.get("default"), "default", problems).items():
        if (action := _check_action(None, cls, value, "default", problems)) is not None:
            for k in KINDS:
                if action in (ASK, IGNORE) or action in POSSIBLE.get(k, {}).get(cls, frozenset()):
                    actions[k][cls] = action
    for kind, per_class in _mapping(data.get("kinds"), "kinds", problems).items():
        if kind not in KINDS:
            problems.append(f"kinds: unknown kind {kind!r}; the kinds are {', '.join(KINDS)}")
            continue
        for cls, value in _mapping(per_class, f"kinds.{kind}", problems).items():
            if (action := _check_action(kind, cls, value, f"kinds.{kind}", problems)) is not None:
                actions[kind][cls] = action
    apps = {}
    for name, spec in _mapping(data.get("apps"), "apps", problems).items():
        if (app := _app(str(name), spec, problems)) is not None:
            apps[str(name)] = app
    max_changes = _int(data.get("max_changes", DEFAULT_MAX_CHANGES), "max_changes", problems, 0)
    if problems:
        raise StrategyError(f"{source} is not usable:\n  - " + "\n  - ".join(problems))
    return Strategies(actions=actions, apps=apps, max_changes=max_changes or 0)


def load_strategies(path: Path | str) -> Strategies:
    """Strategies from a YAML file; a missing file means the built-in defaults."""
    import yaml

    path = Path(path)
    if not path.exists():
        return parse_strategies(None, str(path))
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as e:
        raise StrategyError(f"{path} is not YAML: {e}") from None
    return parse_strategies(data, str(path))


__all__ = [
    "ACTIONS",
    "ASK",
    "CHANGING",
    "CREATE",
    "DELETE",
    "DESTRUCTIVE",
    "IGNORE",
    "POSSIBLE",
    "RECREATE",
    "UPDATE",
    "AppStrategy",
    "StrategyError",
    "Strategies",
    "load_strategies",
    "parse_strategies",
]
