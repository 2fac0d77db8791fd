"""Alerts as Airflow Assets: what a runbook DAG schedules on and how it reads the alert.

Alertmanager delivers to ``POST /wecube/alerts`` (:mod:`airflow_wecube.ui.alert_webhook`), which records one
Asset event on ``wecube-alert://<alertname>`` per alert state change. A DAG::

    from airflow_wecube.alertmanager.assets import alert_asset, alerts_from_context

    with DAG("my_runbook", schedule=[alert_asset("AccountServiceDown")], tags=["runbook"]):

        @task
        def act(**context):
            for alert in alerts_from_context(context, status="firing"):
                print(alert["labels"]["instance"], alert["annotations"].get("summary"))

Each event's ``extra``: ``alertname``, ``status`` (``firing`` | ``resolved``), ``labels``,
``annotations``, ``fingerprint``, ``startsAt``, ``endsAt`` (None while firing), ``generatorURL``,
``key`` (``fingerprint/startsAt/status``: the state change, recorded once). One run may carry several
events (the scheduler folds events that arrive before it creates the run), and a resolved alert starts
a run too: read every event, act on the status you handle.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any

from airflow_wecube.alertmanager.payload import ALERTNAME

#: scheme of the alert assets
ALERT_SCHEME = "wecube-alert"

if TYPE_CHECKING:
    from airflow.sdk import Asset


def alert_uri(alertname: str) -> str:
    """``wecube-alert://<alertname>``; ``ValueError`` for a name that cannot be one (see ``ALERTNAME``)."""
    if not isinstance(alertname, str) or not ALERTNAME.fullmatch(alertname):
        raise ValueError(
            f"alert name {alertname!r} cannot name an asset: letters, digits, _ : . - (first a letter, _ or :), "
            "at most 200 characters, as in the Prometheus rule's 'alert:'"
        )
    return f"{ALERT_SCHEME}://{alertname}"


def alert_asset(alertname: str) -> Asset:
    """The Asset that Alertmanager's deliveries of ``alertname`` update: ``schedule=[alert_asset("X")]``."""
    from airflow.sdk import Asset  # here, not at the top: the alertmanager package stays free of Airflow

    return Asset(alert_uri(alertname))


def alerts_from_events(events: Iterable[Any], *, status: str | None = None) -> list[dict[str, Any]]:
    """The alerts (each event's ``extra``) among asset events, oldest first; only those with ``status``
    (``firing`` | ``resolved``) when given. Events not on a ``wecube-alert://`` asset are skipped."""
    out = []
    for event in events:
        extra = getattr(event, "extra", None) if not isinstance(event, Mapping) else event.get("extra")
        asset = getattr(event, "asset", None)
        uri = getattr(asset, "uri", "") if asset is not None else ""
        if uri and not uri.startswith(f"{ALERT_SCHEME}://"):
            continue
        if not isinstance(extra, Mapping) or "fingerprint" not in extra:
            continue
        if status is None or extra.get("status") == status:
            out.append(dict(extra))
    return out


def alerts_from_context(context: Mapping[str, Any], *, status: str | None = None) -> list[dict[str, Any]]:
    """The alerts that started this run (``triggering_asset_events`` of the task's context), see
    :func:`alerts_from_events`; empty for a run started by hand."""
    triggering = context.get("triggering_asset_events") or {}
    events = [event for batch in triggering.values() for event in batch]
    return alerts_from_events(events, status=status)
