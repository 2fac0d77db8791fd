"""Alerts as the runbook DAGs receive them: the ``extra`` of each Asset event on
``wecube-alert://<alertname>`` holds one Alertmanager alert (webhook payload version 4)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

FIRING, RESOLVED = "firing", "resolved"


class AlertError(ValueError):
    """An Asset event whose extra is not an alert."""


@dataclass(frozen=True)
class Alert:
    """One alert state change: the labels say what (``alertname``) and where (``app``, ``job``, ``instance``)."""

    status: str
    labels: dict[str, str]
    annotations: dict[str, str] = field(default_factory=dict)
    fingerprint: str = ""
    starts_at: str = ""
    ends_at: str = ""
    #: when the Asset event was recorded (ISO 8601), if known
    received_at: str = ""

    @property
    def name(self) -> str:
        return self.labels.get("alertname", "")

    @property
    def app(self) -> str:
        return self.labels.get("app", "")

    @property
    def instance(self) -> str:
        return self.labels.get("instance", "")

    @property
    def job(self) -> str:
        return self.labels.get("job", "")

    @property
    def key(self) -> str:
        """One firing episode: the same alert delivered twice has the same key."""
        return f"{self.fingerprint or self.name + '/' + self.instance}@{self.starts_at}"

    def to_dict(self) -> dict[str, Any]:
        return {
            "alertname": self.name,
            "status": self.status,
            "labels": dict(self.labels),
            "annotations": dict(self.annotations),
            "fingerprint": self.fingerprint,
            "startsAt": self.starts_at,
            "endsAt": self.ends_at,
            "received_at": self.received_at,
        }


def alert_from_extra(extra: Mapping[str, Any] | None, received_at: str = "") -> Alert:
    """The alert in an Asset event's extra; :class:`AlertError` saying what is missing."""
    if not isinstance(extra, Mapping):
        raise AlertError(f"the event's extra must be an object holding an alert, got {type(extra).__name__}")
    labels = extra.get("labels")
    if not isinstance(labels, Mapping) or not labels.get("alertname"):
        raise AlertError("the event's extra has no labels.alertname: it was not made from an Alertmanager alert")
    status = extra.get("status")
    if status not in (FIRING, RESOLVED):
        raise AlertError(f"the alert's status must be {FIRING!r} or {RESOLVED!r}, got {status!r}")
    annotations = extra.get("annotations") or {}
    return Alert(
        status=status,
        labels={str(k): str(v) for k, v in labels.items()},
        annotations={str(k): str(v) for k, v in annotations.items()} if isinstance(annotations, Mapping) else {},
        fingerprint=str(extra.get("fingerprint") or ""),
        starts_at=str(extra.get("startsAt") or ""),
        ends_at=str(extra.get("endsAt") or ""),
        received_at=received_at,
    )


def alerts_from_events(events: Iterable[tuple[Mapping[str, Any] | None, str]]) -> tuple[list[Alert], list[str]]:
    """The alerts of ``(extra, received_at)`` events, each state change once, and the events that were not alerts.

    The same (fingerprint, startsAt, status) twice is one alert: a webhook delivered twice (Alertmanager
    retries, or two Alertmanagers of a cluster) must not act twice.
    """
    alerts: dict[tuple[str, str], Alert] = {}
    problems: list[str] = []
    for i, (extra, received_at) in enumerate(events):
        try:
            alert = alert_from_extra(extra, received_at)
        except AlertError as e:
            problems.append(f"event {i + 1}: {e}")
            continue
        alerts.setdefault((alert.key, alert.status), alert)
    return list(alerts.values()), problems


__all__ = ["FIRING", "RESOLVED", "Alert", "AlertError", "alert_from_extra", "alerts_from_events"]
