"""The Airflow side of the runbooks: the alerts of a run, the kill switch, whether a lock's run still
runs, silences. The Asset a runbook is scheduled on is :func:`airflow_wecube.alertmanager.assets.alert_asset`.
Airflow is imported inside the functions (DAG files import this at parse time)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from airflow_wecube.remediation.alerts import Alert, alerts_from_events
from airflow_wecube.remediation.guard import VARIABLE, parse_mode

#: run states in which a run may still be acting
ACTIVE_RUN_STATES = frozenset({"queued", "running"})


def run_alerts(triggering_asset_events: Mapping[Any, Any] | None) -> tuple[list[Alert], list[str]]:
    """The alerts that started this run (each state change once) and the events that were not alerts;
    events on other Assets than ``wecube-alert://`` ones are left out."""
    from airflow_wecube.alertmanager.assets import ALERT_SCHEME

    events = []
    for asset_events in (triggering_asset_events or {}).values():
        for event in asset_events:
            uri = getattr(getattr(event, "asset", None), "uri", "") or ""
            if uri and not uri.startswith(f"{ALERT_SCHEME}://"):
                continue
            stamp = getattr(event, "timestamp", None)
            events.append((getattr(event, "extra", None), stamp.isoformat() if stamp else ""))
    return alerts_from_events(events)


def kill_switch() -> tuple[str, str | None]:
    """``(mode, problem)`` from the Variable ``wecube_auto_remediation`` (unset: ``on``)."""
    from airflow.sdk import Variable

    return parse_mode(Variable.get(VARIABLE, default=None))


def holder_name(dag_id: str, run_id: str) -> str:
    return f"{dag_id}/{run_id}"


def run_is_active(ti: Any):
    """``holder -> bool | None``: whether the run that holds a lock is still queued or running."""

    def running(holder: str) -> bool | None:
        dag_id, _, run_id = holder.partition("/")
        if not run_id:
            return None
        try:
            state = ti.get_dagrun_state(dag_id=dag_id, run_id=run_id)
        except Exception:  # the run is gone (deleted): nothing holds the lock any more
            return False
        return str(getattr(state, "value", state)) in ACTIVE_RUN_STATES

    return running


#: how long a silence lasts at most (expired as soon as the remediation ends)
SILENCE_MINUTES = 15


def _alertmanager():
    from airflow_wecube.hooks.alertmanager import AlertmanagerHook  # type: ignore[import-not-found]

    return AlertmanagerHook()


def silence_alerts(entries, *, created_by: str, comment: str) -> tuple[dict[str, str], list[str]]:
    """Silence the alerts of ``entries`` (best effort): ``({target: silence id}, problems)``."""
    from airflow_wecube.remediation import silences

    try:
        hook = _alertmanager()
    except Exception as e:  # no Alertmanager to talk to: fix anyway, and say so
        return {}, [f"not silenced: {e}"]
    return silences.silence(hook, entries, minutes=SILENCE_MINUTES, created_by=created_by, comment=comment)


def expire_silences(ids: Mapping[str, str]) -> list[str]:
    """Expire the silences ``{target: id}`` (those expired already are left as they are); the problems."""
    from airflow_wecube.remediation import silences

    if not ids:
        return []
    try:
        hook = _alertmanager()
    except Exception as e:
        return [f"could not expire silence(s) {', '.join(ids.values())}: {e}"]
    return silences.expire(hook, ids)


__all__ = [
    "expire_silences",
    "holder_name",
    "kill_switch",
    "run_alerts",
    "run_is_active",
    "silence_alerts",
]
