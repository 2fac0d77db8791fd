"""Silence an alert while its runbook acts, and expire the silence afterwards (always).

The hook is an :class:`~airflow_wecube.hooks.alertmanager.AlertmanagerHook`, passed in. Silencing is
best effort: a runbook that cannot silence still fixes (the fix matters more than the noise) and
records why it could not.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any


def matchers(labels: Mapping[str, str]) -> dict[str, str]:
    """Equality matchers for exactly this alert on this instance: ``alertname``, ``instance``, ``job``."""
    return {name: labels[name] for name in ("alertname", "instance", "job") if labels.get(name)}


def silence(
    hook: Any, entries: Sequence[Mapping[str, Any]], *, minutes: float, created_by: str, comment: str
) -> tuple[dict[str, str], list[str]]:
    """One silence per entry: ``({target: silence id}, problems)``."""
    ids: dict[str, str] = {}
    problems: list[str] = []
    for e in entries:
        labels = (e.get("alert") or {}).get("labels") or {}
        try:
            ids[e["target"]] = hook.create_silence(
                matchers(labels), duration=minutes * 60, created_by=created_by, comment=comment
            )
        except Exception as ex:  # best effort: see the module docstring
            problems.append(f"could not silence {labels.get('alertname')} on {labels.get('instance')}: {ex}")
    return ids, problems


def expire(hook: Any, ids: Mapping[str, str]) -> list[str]:
    """Expire every silence in ``ids``; the problems (each one tried)."""
    problems = []
    for target, silence_id in ids.items():
        try:
            hook.expire_silence(silence_id)
        except Exception as ex:
            problems.append(f"could not expire silence {silence_id} of {target}: {ex}")
    return problems


__all__ = ["expire", "matchers", "silence"]
